//! The async runtime the gateway runs on.
//!
//! Worker threads default to half the CPUs, at least one. A gateway request is mostly waiting:
//! on the client, the metadata database and the S3 backend. Each extra worker adds wake-ups
//! between workers (a task woken on one, idle workers unparked to steal it), and on a machine
//! that also runs the database and the backend those cost more CPU than the parallelism gains.
//! Measured on 2 cores with PostgreSQL and SeaweedFS alongside (docs/benchmarks.md): 4 KiB GET
//! at 32 clients took 450-520 µs of gateway CPU per request with 2 workers and 305-345 µs with
//! one, and served 15-25% more requests per second. With one worker the runtime is a
//! current-thread one (no work-stealing machinery; the serving thread runs every task): in
//! A/B runs on the same stack that cut gateway CPU per 4 KiB PUT by about 10% (258-281 against
//! 304-331 µs) and did not cost GETs anything. A host that runs the gateway alone sets
//! `CLOUDSTORE_WORKER_THREADS` to its CPU count.

use std::io;

/// The default number of worker threads on this machine.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get() / 2).max(1)
}

/// A runtime with `workers` threads (the default when `None`): one worker is a current-thread
/// runtime (the thread that serves runs every task), more a multi-threaded one.
pub fn build(workers: Option<u16>) -> io::Result<tokio::runtime::Runtime> {
    let workers = workers.map_or_else(default_workers, usize::from);
    if workers == 1 {
        return tokio::runtime::Builder::new_current_thread().enable_all().build();
    }
    tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build()
}

/// Raises the soft open-file limit to the hard one (every connection is a descriptor) and
/// returns the soft limit now in force (2^20 for "unlimited").
pub fn raise_open_file_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    const UNLIMITED: u64 = 1 << 20;
    let now = getrlimit(Resource::Nofile);
    let current = now.current.unwrap_or(UNLIMITED);
    let target = now.maximum.unwrap_or(UNLIMITED);
    if current >= target {
        return current;
    }
    match setrlimit(Resource::Nofile, Rlimit { current: Some(target), maximum: now.maximum }) {
        Ok(()) => target,
        Err(e) => {
            tracing::warn!(error = %e, current, target, "cannot raise the open-file limit");
            current
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_has_the_asked_workers() {
        assert!(default_workers() >= 1);
        for n in [1u16, 3] {
            let rt = build(Some(n)).expect("runtime");
            assert_eq!(rt.metrics().num_workers(), usize::from(n));
        }
        assert_eq!(build(None).expect("runtime").metrics().num_workers(), default_workers());
    }
}
