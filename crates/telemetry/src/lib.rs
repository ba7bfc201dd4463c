//! Logging setup and request ids shared by the cloudstore binaries.

use tracing_subscriber::EnvFilter;

/// Installs the global tracing subscriber: `RUST_LOG` (or `default_filter`) decides what is
/// logged; `CLOUDSTORE_LOG_FORMAT=json` switches to one JSON object per line. Logs go to
/// stderr so stdout stays free for what a command prints.
pub fn init(default_filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = std::env::var("CLOUDSTORE_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second init (tests) keeps the first subscriber.
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

/// A new request id: 16 hex digits, unique enough to find one request in the logs.
#[must_use]
pub fn new_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or_default();
    format!("{:016X}", t.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ n)
}
