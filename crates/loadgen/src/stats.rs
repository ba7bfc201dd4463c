//! Per-operation counters and latency histograms (microseconds), merged across workers.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Put = 0,
    Get = 1,
    Head = 2,
    Delete = 3,
    List = 4,
}

pub(crate) const KINDS: [Kind; 5] = [Kind::Put, Kind::Get, Kind::Head, Kind::Delete, Kind::List];

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Put => "put",
            Kind::Get => "get",
            Kind::Head => "head",
            Kind::Delete => "delete",
            Kind::List => "list",
        }
    }
}

/// Keeps at most this many distinct error messages.
const MAX_ERROR_SAMPLES: usize = 8;

#[derive(Debug)]
pub(crate) struct KindStats {
    pub(crate) hist: Histogram<u64>,
    pub(crate) ops: u64,
    pub(crate) bytes: u64,
    pub(crate) errors: u64,
}

impl KindStats {
    fn new() -> Self {
        // 1 µs .. 1 hour, 3 significant digits.
        let hist = Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant histogram bounds are valid");
        KindStats { hist, ops: 0, bytes: 0, errors: 0 }
    }

    fn merge(&mut self, other: &KindStats) {
        // Same bounds on both sides, so adding cannot fail; saturate rather than panic if it did.
        let _ = self.hist.add(&other.hist);
        self.ops += other.ops;
        self.bytes += other.bytes;
        self.errors += other.errors;
    }
}

#[derive(Debug)]
pub(crate) struct Stats {
    pub(crate) per: Vec<KindStats>,
    pub(crate) error_samples: Vec<String>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats { per: KINDS.iter().map(|_| KindStats::new()).collect(), error_samples: Vec::new() }
    }
}

impl Stats {
    pub(crate) fn record_ok(&mut self, kind: Kind, latency: Duration, bytes: u64) {
        let s = &mut self.per[kind as usize];
        s.hist.saturating_record(latency.as_micros().max(1) as u64);
        s.ops += 1;
        s.bytes += bytes;
    }

    pub(crate) fn record_err(&mut self, kind: Kind, msg: String) {
        self.per[kind as usize].errors += 1;
        self.note_error(msg);
    }

    fn note_error(&mut self, msg: String) {
        if self.error_samples.len() < MAX_ERROR_SAMPLES && !self.error_samples.contains(&msg) {
            self.error_samples.push(msg);
        }
    }

    pub(crate) fn merge(&mut self, other: Stats) {
        for (a, b) in self.per.iter_mut().zip(&other.per) {
            a.merge(b);
        }
        for e in other.error_samples {
            self.note_error(e);
        }
    }

    pub(crate) fn total(&self) -> KindStats {
        let mut t = KindStats::new();
        for s in &self.per {
            t.merge(s);
        }
        t
    }

    /// The kinds that saw any traffic.
    pub(crate) fn active(&self) -> impl Iterator<Item = (Kind, &KindStats)> {
        KINDS.iter().map(|&k| (k, &self.per[k as usize])).filter(|(_, s)| s.ops + s.errors > 0)
    }
}

pub(crate) struct Summary {
    pub(crate) p50: u64,
    pub(crate) p90: u64,
    pub(crate) p99: u64,
    pub(crate) max: u64,
    pub(crate) mean: f64,
}

impl std::fmt::Debug for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "p50={} p90={} p99={} max={}", self.p50, self.p90, self.p99, self.max)
    }
}

pub(crate) fn summarize(h: &Histogram<u64>) -> Summary {
    if h.is_empty() {
        return Summary { p50: 0, p90: 0, p99: 0, max: 0, mean: 0.0 };
    }
    Summary {
        p50: h.value_at_quantile(0.50),
        p90: h.value_at_quantile(0.90),
        p99: h.value_at_quantile(0.99),
        max: h.max(),
        mean: h.mean(),
    }
}

pub(crate) fn latency_json(s: &Summary) -> Value {
    json!({ "p50": s.p50, "p90": s.p90, "p99": s.p99, "max": s.max, "mean": (s.mean * 10.0).round() / 10.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_summarizes() {
        let mut a = Stats::default();
        let mut b = Stats::default();
        for ms in 1..=100u64 {
            a.record_ok(Kind::Get, Duration::from_millis(ms), 10);
        }
        b.record_ok(Kind::Put, Duration::from_secs(2), 5);
        b.record_err(Kind::Put, "boom".into());
        b.record_err(Kind::Put, "boom".into());
        a.merge(b);
        let t = a.total();
        assert_eq!((t.ops, t.bytes, t.errors), (101, 1005, 2));
        assert_eq!(a.error_samples, vec!["boom".to_string()]);
        let s = summarize(&a.per[Kind::Get as usize].hist);
        assert!((49_900..=50_100).contains(&s.p50), "{s:?}");
        assert!((98_900..=99_100).contains(&s.p99), "{s:?}");
        assert_eq!(a.active().count(), 2);
    }
}
