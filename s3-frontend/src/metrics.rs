//! Prometheus text metrics: request counts per S3 operation and per HTTP status, and request
//! latency totals. Plain atomics, no registry crate.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Process-wide counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// The events pipeline's producing side, when events are on.
    pub events: std::sync::OnceLock<std::sync::Arc<cloudstore_outbox::OutboxMetrics>>,
    ops: Mutex<BTreeMap<String, u64>>,
    statuses: Mutex<BTreeMap<u16, u64>>,
    latency_micros_sum: AtomicU64,
    requests: AtomicU64,
}

impl Metrics {
    /// Counts one request for S3 operation `op`.
    pub fn count_op(&self, op: &str) {
        if let Ok(mut m) = self.ops.lock() {
            match m.get_mut(op) {
                Some(n) => *n += 1,
                None => {
                    m.insert(op.to_owned(), 1);
                }
            }
        }
    }

    /// Counts one finished HTTP response.
    pub fn count_response(&self, status: u16, micros: u64) {
        if let Ok(mut m) = self.statuses.lock() {
            *m.entry(status).or_default() += 1;
        }
        self.latency_micros_sum.fetch_add(micros, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some(events) = self.events.get() {
            out.push_str(&events.render());
        }
        out.push_str("# HELP cloudstore_s3_requests_total S3 requests by operation.\n# TYPE cloudstore_s3_requests_total counter\n");
        if let Ok(m) = self.ops.lock() {
            for (op, n) in m.iter() {
                let _ = writeln!(out, "cloudstore_s3_requests_total{{op=\"{op}\"}} {n}");
            }
        }
        out.push_str("# HELP cloudstore_http_responses_total HTTP responses by status.\n# TYPE cloudstore_http_responses_total counter\n");
        if let Ok(m) = self.statuses.lock() {
            for (s, n) in m.iter() {
                let _ = writeln!(out, "cloudstore_http_responses_total{{status=\"{s}\"}} {n}");
            }
        }
        let sum = self.latency_micros_sum.load(Ordering::Relaxed) as f64 / 1e6;
        let count = self.requests.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP cloudstore_http_request_duration_seconds Time to response headers.\n# TYPE cloudstore_http_request_duration_seconds summary\ncloudstore_http_request_duration_seconds_sum {sum}\ncloudstore_http_request_duration_seconds_count {count}"
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.count_op("GetObject");
        m.count_op("GetObject");
        m.count_response(200, 1500);
        let text = m.render();
        assert!(text.contains("cloudstore_s3_requests_total{op=\"GetObject\"} 2"));
        assert!(text.contains("cloudstore_http_responses_total{status=\"200\"} 1"));
        assert!(text.contains("cloudstore_http_request_duration_seconds_count 1"));
    }
}
