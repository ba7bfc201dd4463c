//! Logging setup and request ids shared by the cloudstore binaries.

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// Installs the global tracing subscriber: `RUST_LOG` (or `default_filter`) decides what is
/// logged; `CLOUDSTORE_LOG_FORMAT=json` switches to one JSON object per line. Logs go to
/// stderr so stdout stays free for what a command prints. Text logs are coloured only on a
/// terminal (and not when `NO_COLOR` is set), so a log file or journal gets plain text.
pub fn init(default_filter: &str) {
    use std::io::IsTerminal as _;
    let json = std::env::var("CLOUDSTORE_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let ansi = colour(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR").as_deref());
    let rust_log = std::env::var("RUST_LOG").ok();
    // A second init (tests) keeps the first subscriber.
    let _ = subscriber(rust_log.as_deref(), default_filter, std::io::stderr, ansi, json).try_init();
}

/// Where s3s logs, at debug level, the signature it computed for a request whose signature did
/// not match: the valid signature of a request the client chose, which anyone reading the log
/// could then send. Never logged below `info`, whatever `RUST_LOG` says.
const SIGNATURE_TARGET: &str = "s3s::ops::signature";

/// The subscriber [`init`] installs, writing to `writer`: `rust_log` if it parses, else
/// `default_filter` — and, as a second filter that nothing in `rust_log` can widen (not even
/// a span-based directive such as `[request]=debug`), nothing from [`SIGNATURE_TARGET`] below
/// `info`.
fn subscriber<W>(
    rust_log: Option<&str>,
    default_filter: &str,
    writer: W,
    ansi: bool,
    json: bool,
) -> impl Subscriber + for<'a> LookupSpan<'a> + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = rust_log.and_then(|v| EnvFilter::try_new(v).ok()).unwrap_or_else(|| EnvFilter::new(default_filter));
    let cap = tracing_subscriber::filter::filter_fn(|m| {
        !(m.target().starts_with(SIGNATURE_TARGET) && *m.level() > tracing::Level::INFO)
    });
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(ansi);
    let fmt = if json { fmt.json().boxed() } else { fmt.boxed() };
    tracing_subscriber::registry().with(fmt).with(filter).with(cap)
}

/// Whether text logs get ANSI colours: only on a terminal, and not when `NO_COLOR` is set to
/// anything but the empty string (<https://no-color.org/>).
fn colour(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(std::ffi::OsStr::is_empty)
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

#[cfg(test)]
mod tests {
    use super::{SIGNATURE_TARGET, colour};
    use std::ffi::OsStr;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// A log sink the test can read.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("sink").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What the subscriber of [`super::subscriber`] with `rust_log` writes for a debug line
    /// of s3s's signature check and one of another target, both inside a `request` span.
    fn logged(rust_log: Option<&str>) -> String {
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = super::subscriber(rust_log, "info", move || writer.clone(), false, false);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info_span!("request", request_id = "r1").in_scope(|| {
                tracing::debug!(target: "s3s::ops::signature", signature = "c0ffee", "signature mismatch");
                tracing::debug!(target: "s3s::ops::other", "other debug line");
            });
        });
        String::from_utf8(sink.0.lock().expect("sink").clone()).expect("utf-8")
    }

    #[test]
    fn signature_debug_lines_are_never_logged() {
        assert_eq!(SIGNATURE_TARGET, "s3s::ops::signature");
        for rust_log in [
            Some("debug"),
            Some("trace"),
            Some("s3s=debug"),
            Some("s3s=trace,s3s::ops::signature=trace"),
            Some("info,[request]=debug"),
        ] {
            let out = logged(rust_log);
            assert!(out.contains("other debug line"), "{rust_log:?}: debug logging is on: {out}");
            assert!(!out.contains("c0ffee"), "{rust_log:?} logged a signature: {out}");
        }
        assert!(!logged(None).contains("debug line"), "the default is info");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(OsStr::new(""))));
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None));
        assert!(!colour(false, Some(OsStr::new(""))));
    }
}
