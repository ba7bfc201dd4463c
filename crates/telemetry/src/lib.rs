//! Logging setup and request ids shared by the cloudstore binaries.

use tracing_subscriber::EnvFilter;

/// Installs the global tracing subscriber: `RUST_LOG` (or `default_filter`) decides what is
/// logged; `CLOUDSTORE_LOG_FORMAT=json` switches to one JSON object per line. Logs go to
/// stderr so stdout stays free for what a command prints. Text logs are coloured only on a
/// terminal (and not when `NO_COLOR` is set), so a log file or journal gets plain text.
pub fn init(default_filter: &str) {
    use std::io::IsTerminal as _;
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref(), default_filter);
    let json = std::env::var("CLOUDSTORE_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let ansi = colour(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR").as_deref());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    // A second init (tests) keeps the first subscriber.
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

/// Where s3s logs, at debug level, the signature it computed for a request whose signature did
/// not match: the valid signature of a request the client chose, which anyone reading the log
/// could then send. Capped at `info` whatever `RUST_LOG` says.
const SIGNATURE_TARGET: &str = "s3s::ops::signature";

/// The filter: `rust_log` if it parses, else `default_filter`; either way never below `info`
/// for [`SIGNATURE_TARGET`].
fn filter(rust_log: Option<&str>, default_filter: &str) -> EnvFilter {
    let base = rust_log.and_then(|v| EnvFilter::try_new(v).ok()).unwrap_or_else(|| EnvFilter::new(default_filter));
    match format!("{SIGNATURE_TARGET}=info").parse() {
        Ok(cap) => base.add_directive(cap),
        Err(_) => base,
    }
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
    use super::{SIGNATURE_TARGET, colour, filter};
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

    /// What the subscriber with `filter(rust_log, "info")` writes for a debug line of s3s's
    /// signature check and one of another target.
    fn logged(rust_log: Option<&str>) -> String {
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter(rust_log, "info"))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "s3s::ops::signature", signature = "c0ffee", "signature mismatch");
            tracing::debug!(target: "s3s::ops::other", "other debug line");
        });
        String::from_utf8(sink.0.lock().expect("sink").clone()).expect("utf-8")
    }

    #[test]
    fn signature_debug_lines_are_never_logged() {
        assert_eq!(SIGNATURE_TARGET, "s3s::ops::signature");
        for rust_log in [Some("debug"), Some("trace"), Some("s3s=debug"), Some("s3s=trace,s3s::ops::signature=trace")] {
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
