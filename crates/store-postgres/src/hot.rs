//! Connections for the hot path: the single statements of every GET, HEAD and PUT.
//!
//! sqlx's pool sends a ping (a Sync round trip) whenever a connection goes back to it, so each
//! pooled query costs two round trips: CPU in this process and a wake-up of a PostgreSQL
//! backend, on machines where both share a few cores with the blob backend (ADR 0005). This
//! small pool hands a connection back without a ping when its statement completed — with rows
//! or with a database error, either way the server is ready for the next statement — and
//! closes it otherwise: after a transport error, or when the request was cancelled midway.
//! Statements that may safely run twice (reads and upserts) are retried once on a new
//! connection when a reused one turns out dead (the server restarted, or dropped it); such an
//! error also closes every idle connection, so that at most one statement that must not run
//! twice (a PUT's commit) fails per server restart, with `Unavailable`.

use std::sync::Mutex;
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tokio::sync::{Semaphore, SemaphorePermit};

/// How many connections the hot path keeps at most.
pub(crate) const MAX_HOT_CONNECTIONS: usize = 16;

#[derive(Debug)]
pub(crate) struct HotPool {
    opts: PgConnectOptions,
    idle: Mutex<Vec<PgConnection>>,
    /// One permit per open connection.
    permits: Semaphore,
    acquire_timeout: Duration,
}

/// A connection taken from a [`HotPool`]. Dropped without [`HotConn::finish`], it is closed.
pub(crate) struct HotConn<'a> {
    conn: Option<PgConnection>,
    /// Whether the connection had been used before (so it may have died while idle).
    reused: bool,
    pool: &'a HotPool,
    _permit: SemaphorePermit<'a>,
}

impl HotPool {
    pub(crate) fn new(opts: PgConnectOptions, max: usize, acquire_timeout: Duration) -> Self {
        HotPool { opts, idle: Mutex::new(Vec::with_capacity(max)), permits: Semaphore::new(max), acquire_timeout }
    }

    /// A connection: an idle one, or a new one when `fresh` or none is idle.
    pub(crate) async fn acquire(&self, fresh: bool) -> Result<HotConn<'_>, sqlx::Error> {
        let permit = match tokio::time::timeout(self.acquire_timeout, self.permits.acquire()).await {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return Err(sqlx::Error::PoolClosed),
            Err(_) => return Err(sqlx::Error::PoolTimedOut),
        };
        let idle = if fresh { None } else { self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() };
        let (conn, reused) = match idle {
            Some(c) => (c, true),
            None => (PgConnection::connect_with(&self.opts).await?, false),
        };
        Ok(HotConn { conn: Some(conn), reused, pool: self, _permit: permit })
    }
}

/// Runs one statement on a [`HotPool`]: `hot!(pool, retry, |conn| statement(conn))` evaluates
/// to a future of the statement's `Result<T, sqlx::Error>`. With `retry: true`, a transport
/// error on a reused connection runs the statement again once on a new connection: only for
/// statements that may run twice.
macro_rules! hot {
    ($pool:expr, retry: $retry:expr, |$conn:ident| $body:expr) => {
        async {
            let mut hot = $pool.acquire(false).await?;
            let result = {
                let $conn = hot.conn();
                $body.await
            };
            if $retry && hot.reused() && result.as_ref().is_err_and($crate::hot::is_transport) {
                drop(hot);
                let mut hot = $pool.acquire(true).await?;
                let result = {
                    let $conn = hot.conn();
                    $body.await
                };
                return hot.finish(result);
            }
            hot.finish(result)
        }
    };
}
pub(crate) use hot;

impl HotConn<'_> {
    pub(crate) fn reused(&self) -> bool {
        self.reused
    }

    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        // Present until finish or drop.
        self.conn.as_mut().unwrap_or_else(|| unreachable!("hot connection used after finish"))
    }

    /// Keeps the connection if the statement completed, then passes `result` on.
    pub(crate) fn finish<T>(mut self, result: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
        let clean = match &result {
            Ok(_) => true,
            Err(e) => matches!(e, sqlx::Error::Database(_) | sqlx::Error::RowNotFound) && !is_transport(e),
        };
        let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
        if clean && let Some(c) = self.conn.take() {
            idle.push(c);
        } else if result.as_ref().is_err_and(is_transport) {
            // The server may have dropped the idle ones too (a restart): start afresh.
            idle.clear();
        }
        drop(idle);
        result
    }
}

/// Errors that say the connection is gone or unusable: transport failures, and the server
/// ending the session (shutdown, restart, a terminated backend, connection exceptions).
pub(crate) fn is_transport(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(d) => {
            d.code().is_some_and(|c| matches!(c.as_ref(), "57P01" | "57P02" | "57P03") || c.starts_with("08"))
        }
        _ => false,
    }
}
