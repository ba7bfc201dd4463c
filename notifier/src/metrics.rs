//! Prometheus text metrics of the consumer: events consumed, inserted and dead-lettered,
//! insert and commit failures, batch latency and consumer lag per partition. Plain atomics, no
//! registry crate (the style of `s3-frontend/src/metrics.rs`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the batch latency histogram's buckets.
const BATCH_BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The consumer's counters, shared with the HTTP listener that renders them.
#[derive(Debug, Default)]
pub struct Metrics {
    consumed: AtomicU64,
    inserted: AtomicU64,
    dead_lettered: AtomicU64,
    insert_failures: AtomicU64,
    commit_failures: AtomicU64,
    batches: AtomicU64,
    batch_micros_sum: AtomicU64,
    batch_buckets: [AtomicU64; BATCH_BUCKETS.len()],
    /// (topic, partition) → high watermark − committed offset, for the partitions this
    /// consumer holds.
    lag: Mutex<BTreeMap<(String, i32), i64>>,
}

impl Metrics {
    /// Counts `n` messages read from Kafka (events and messages that are not).
    pub fn count_consumed(&self, n: u64) {
        self.consumed.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `n` events ClickHouse acknowledged.
    pub fn count_inserted(&self, n: u64) {
        self.inserted.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts one message sent to the dead-letter topic.
    pub fn count_dead_lettered(&self) {
        self.dead_lettered.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one failed insert attempt (the batch is retried).
    pub fn count_insert_failure(&self) {
        self.insert_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one failed offset commit (the batch's events are in ClickHouse; they will be
    /// delivered again and deduplicated).
    pub fn count_commit_failure(&self) {
        self.commit_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one batch, from its first message read to its offsets committed.
    pub fn observe_batch(&self, took: Duration) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.batch_micros_sum.fetch_add(micros, Ordering::Relaxed);
        let secs = took.as_secs_f64();
        for (bound, n) in BATCH_BUCKETS.iter().zip(&self.batch_buckets) {
            if secs <= *bound {
                n.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Replaces the lag of every partition (partitions no longer held disappear).
    pub fn set_lag(&self, lag: BTreeMap<(String, i32), i64>) {
        if let Ok(mut m) = self.lag.lock() {
            *m = lag;
        }
    }

    /// Events ClickHouse acknowledged so far.
    #[must_use]
    pub fn inserted(&self) -> u64 {
        self.inserted.load(Ordering::Relaxed)
    }

    /// Messages sent to the dead-letter topic so far.
    #[must_use]
    pub fn dead_lettered(&self) -> u64 {
        self.dead_lettered.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Ordering::Relaxed));
        };
        counter(
            &mut out,
            "cloudstore_notifier_events_consumed_total",
            "Messages read from the events topic.",
            &self.consumed,
        );
        counter(
            &mut out,
            "cloudstore_notifier_events_inserted_total",
            "Events ClickHouse acknowledged (re-deliveries included).",
            &self.inserted,
        );
        counter(
            &mut out,
            "cloudstore_notifier_events_dead_lettered_total",
            "Messages that are not events, sent to the dead-letter topic.",
            &self.dead_lettered,
        );
        counter(
            &mut out,
            "cloudstore_notifier_insert_failures_total",
            "Failed ClickHouse insert attempts (each batch is retried until it succeeds).",
            &self.insert_failures,
        );
        counter(
            &mut out,
            "cloudstore_notifier_commit_failures_total",
            "Failed offset commits (the events are inserted and will be re-delivered).",
            &self.commit_failures,
        );
        out.push_str(
            "# HELP cloudstore_notifier_batch_duration_seconds Time from a batch's first message to its offsets committed.\n\
             # TYPE cloudstore_notifier_batch_duration_seconds histogram\n",
        );
        for (bound, n) in BATCH_BUCKETS.iter().zip(&self.batch_buckets) {
            let _ = writeln!(
                out,
                "cloudstore_notifier_batch_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        let count = self.batches.load(Ordering::Relaxed);
        let sum = self.batch_micros_sum.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "cloudstore_notifier_batch_duration_seconds_bucket{{le=\"+Inf\"}} {count}\n\
             cloudstore_notifier_batch_duration_seconds_sum {sum}\n\
             cloudstore_notifier_batch_duration_seconds_count {count}"
        );
        out.push_str(
            "# HELP cloudstore_notifier_consumer_lag Messages not yet committed: high watermark minus committed offset.\n\
             # TYPE cloudstore_notifier_consumer_lag gauge\n",
        );
        if let Ok(m) = self.lag.lock() {
            for ((topic, partition), lag) in m.iter() {
                let _ = writeln!(
                    out,
                    "cloudstore_notifier_consumer_lag{{topic=\"{topic}\",partition=\"{partition}\"}} {lag}"
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.count_consumed(3);
        m.count_inserted(2);
        m.count_dead_lettered();
        m.count_insert_failure();
        m.observe_batch(Duration::from_millis(30));
        m.observe_batch(Duration::from_secs(20));
        m.set_lag(BTreeMap::from([(("cloudstore.events".to_owned(), 2), 17)]));
        let text = m.render();
        for line in [
            "cloudstore_notifier_events_consumed_total 3",
            "cloudstore_notifier_events_inserted_total 2",
            "cloudstore_notifier_events_dead_lettered_total 1",
            "cloudstore_notifier_insert_failures_total 1",
            "cloudstore_notifier_commit_failures_total 0",
            "cloudstore_notifier_batch_duration_seconds_bucket{le=\"0.025\"} 0",
            "cloudstore_notifier_batch_duration_seconds_bucket{le=\"0.05\"} 1",
            "cloudstore_notifier_batch_duration_seconds_bucket{le=\"10\"} 1",
            "cloudstore_notifier_batch_duration_seconds_bucket{le=\"+Inf\"} 2",
            "cloudstore_notifier_batch_duration_seconds_count 2",
            "cloudstore_notifier_consumer_lag{topic=\"cloudstore.events\",partition=\"2\"} 17",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        m.set_lag(BTreeMap::new());
        assert!(!m.render().contains("partition=\"2\""), "a lost partition's lag is gone");
    }
}
