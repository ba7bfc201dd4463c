//! Connections for the hot path: the single statements of every GET, HEAD and PUT.
//!
//! sqlx's pool sends a ping (a Sync round trip) whenever a connection goes back to it, so each
//! pooled query costs two round trips: CPU in this process and a wake-up of a PostgreSQL
//! backend, on machines where both share a few cores with the blob backend (ADR 0005). This
//! small pool hands a connection back without a ping when its statement completed — with rows
//! or with an ordinary database error, either way the server is ready for the next statement
//! — and closes it otherwise: after a transport error or a FATAL one (the server ended the
//! session), after [`STATEMENT_TIMEOUT`], or when the request was cancelled midway.
//!
//! Statements that may safely run twice (reads and upserts) are retried once on a new
//! connection when a reused one turns out dead (the server restarted, or dropped it). A dead
//! connection also closes every idle one, so that after a restart at most the statements
//! already under way fail; a PUT's commit, never retried, then fails with `Unavailable`.
//! Connections idle longer than [`MAX_IDLE`] are closed rather than reused (a firewall may
//! have dropped them silently), and connecting is bounded by the acquire timeout.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgDatabaseError, PgSeverity};
use tokio::sync::{Semaphore, SemaphorePermit};

/// How many connections the hot path keeps at most.
pub(crate) const MAX_HOT_CONNECTIONS: usize = 16;

/// Idle connections older than this are closed instead of reused.
pub(crate) const MAX_IDLE: Duration = Duration::from_secs(60);

/// The longest one hot statement may take before its connection is given up.
pub(crate) const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub(crate) struct HotPool {
    opts: PgConnectOptions,
    /// Idle connections with when they went idle, newest last.
    idle: Mutex<Vec<(PgConnection, Instant)>>,
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

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<(PgConnection, Instant)>> {
        self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Closes every idle connection (one was found dead: the others may be too).
    pub(crate) fn clear_idle(&self) {
        self.idle().clear();
    }

    /// A connection: an idle one, or a new one when `fresh` or none is idle.
    pub(crate) async fn acquire(&self, fresh: bool) -> Result<HotConn<'_>, sqlx::Error> {
        let started = Instant::now();
        let permit = match tokio::time::timeout(self.acquire_timeout, self.permits.acquire()).await {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return Err(sqlx::Error::PoolClosed),
            Err(_) => return Err(sqlx::Error::PoolTimedOut),
        };
        let idle = if fresh {
            None
        } else {
            let mut idle = self.idle();
            // The oldest are at the front: drop those idle too long, take the newest.
            idle.retain(|(_, since)| since.elapsed() <= MAX_IDLE);
            idle.pop().map(|(c, _)| c)
        };
        let (conn, reused) = match idle {
            Some(c) => (c, true),
            None => {
                let left = self.acquire_timeout.saturating_sub(started.elapsed());
                match tokio::time::timeout(left, PgConnection::connect_with(&self.opts)).await {
                    Ok(c) => (c?, false),
                    Err(_) => return Err(sqlx::Error::PoolTimedOut),
                }
            }
        };
        Ok(HotConn { conn: Some(conn), reused, pool: self, _permit: permit })
    }
}

/// Runs one statement on a [`HotPool`]: `hot!(pool, retry: bool, |conn| statement(conn))`
/// evaluates to a future of the statement's `Result<T, sqlx::Error>`, bounded by
/// [`STATEMENT_TIMEOUT`]. With `retry: true`, a dead reused connection runs the statement
/// again once on a new connection: only for statements that may run twice.
macro_rules! hot {
    ($pool:expr, retry: $retry:expr, |$conn:ident| $body:expr) => {
        async {
            let mut hot = $pool.acquire(false).await?;
            let result = {
                let $conn = hot.conn();
                $crate::hot::bounded($body).await
            };
            if $retry && hot.reused() && result.as_ref().is_err_and($crate::hot::is_dead) {
                drop(hot);
                $pool.clear_idle();
                let mut hot = $pool.acquire(true).await?;
                let result = {
                    let $conn = hot.conn();
                    $crate::hot::bounded($body).await
                };
                return hot.finish(result);
            }
            hot.finish(result)
        }
    };
}
pub(crate) use hot;

/// `fut` with [`STATEMENT_TIMEOUT`]; running out is an I/O error (so the connection is closed).
pub(crate) async fn bounded<T>(fut: impl Future<Output = Result<T, sqlx::Error>>) -> Result<T, sqlx::Error> {
    match tokio::time::timeout(STATEMENT_TIMEOUT, fut).await {
        Ok(r) => r,
        Err(_) => Err(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no answer from PostgreSQL within {STATEMENT_TIMEOUT:?}"),
        ))),
    }
}

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
            Err(e) => matches!(e, sqlx::Error::Database(_) | sqlx::Error::RowNotFound) && !is_dead(e),
        };
        if clean && let Some(c) = self.conn.take() {
            self.pool.idle().push((c, Instant::now()));
        } else if result.as_ref().is_err_and(is_dead) {
            // The server may have dropped the idle ones too (a restart): start afresh.
            self.pool.clear_idle();
        }
        result
    }
}

/// Errors after which the connection is unusable: transport failures and timeouts, and any
/// error of FATAL or PANIC severity (the server ended the session: shutdown, restart, a
/// terminated backend, idle or transaction timeouts), plus connection exceptions.
pub(crate) fn is_dead(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(d) => {
            let fatal = d
                .try_downcast_ref::<PgDatabaseError>()
                .is_some_and(|pg| matches!(pg.severity(), PgSeverity::Fatal | PgSeverity::Panic));
            fatal || d.code().is_some_and(|c| c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03"))
        }
        _ => false,
    }
}
