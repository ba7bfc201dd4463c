//! The local event store of the embedded default (ADR 0006 point 6): with no Kafka and no
//! ClickHouse, the outbox relay hands events to a SQLite file of its own,
//! `<data dir>/events.sqlite`, and analytics are answered from it
//! ([`crate::analytics::Analytics`]).
//!
//! The schema is `migrations/events-sqlite/` (run at open, embedded in the binary): the columns
//! of the ClickHouse table, `event_id` the primary key. Inserts are `INSERT OR IGNORE`, one
//! transaction per batch, so an event delivered twice is stored once and a batch is all or
//! nothing.

use std::path::Path;
use std::time::Duration;

use cloudstore_events::Event;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::EventRow;

static MIGRATOR: Migrator = sqlx::migrate!("../migrations/events-sqlite");

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// Readers next to the one writer (WAL: they never block it, nor it them).
const READERS: u32 = 2;

const INSERT: &str = "INSERT OR IGNORE INTO events (event_id, event_type, occurred_at, schema_version, \
    account_id, user_id, access_key, principal_arn, bucket, object_key, version_id, etag, bytes, source_ip, \
    user_agent, request_id, status, detail) ";

/// Events per INSERT statement.
const ROWS_PER_STATEMENT: usize = 500;

/// The local event store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum LocalStoreError {
    /// The file could not be created or opened, or SQLite failed.
    #[error("local event store {what}: {source}")]
    Unavailable {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl LocalStoreError {
    fn db(source: sqlx::Error) -> Self {
        Self::Unavailable { what: "database".into(), source: Box::new(source) }
    }
}

/// Events in a SQLite file of their own (the embedded default's analytics).
#[derive(Debug, Clone)]
pub struct LocalEventStore {
    /// One connection: SQLite has one writer, and a single one never meets `SQLITE_BUSY`.
    writer: SqlitePool,
    /// Read-only connections for the analytics queries.
    pub(crate) reader: SqlitePool,
}

impl LocalEventStore {
    /// Opens the store at `path`, creating the file (mode 0600 whatever the umask, before
    /// SQLite opens it; SQLite gives its -wal and -shm files the same mode) and the schema if
    /// missing.
    ///
    /// # Errors
    /// [`LocalStoreError::Unavailable`] when the file cannot be created or opened, or the
    /// schema cannot be applied.
    pub async fn open(path: &Path) -> Result<Self, LocalStoreError> {
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                    return Err(LocalStoreError::Unavailable { what: path.display().to_string(), source: Box::new(e) });
                }
                _ => {}
            }
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(5))
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await
            .map_err(LocalStoreError::db)?;
        MIGRATOR.run(&writer).await.map_err(|e| LocalStoreError::Unavailable {
            what: format!("{} migrations", path.display()),
            source: Box::new(e),
        })?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.read_only(true))
            .await
            .map_err(LocalStoreError::db)?;
        Ok(Self { writer, reader })
    }

    /// Stores `events` in one transaction: all of them or none. An event already stored (same
    /// `event_id`) is left as it is, so delivering a batch again changes nothing.
    ///
    /// # Errors
    /// [`LocalStoreError::Unavailable`] when SQLite fails; then nothing of the batch is written.
    pub async fn insert(&self, events: &[Event]) -> Result<(), LocalStoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin().await.map_err(LocalStoreError::db)?;
        // Multi-row statements: one round trip to SQLite's worker per ROWS_PER_STATEMENT events
        // (18 parameters each, well under SQLite's 32,766).
        for chunk in events.chunks(ROWS_PER_STATEMENT) {
            let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(INSERT);
            q.push_values(chunk, |mut b, e| {
                let r = EventRow::from(e);
                b.push_bind(r.event_id)
                    .push_bind(r.event_type)
                    .push_bind(r.occurred_at)
                    .push_bind(i64::from(r.schema_version))
                    .push_bind(r.account_id)
                    .push_bind(r.user_id)
                    .push_bind(r.access_key)
                    .push_bind(r.principal_arn)
                    .push_bind(r.bucket)
                    .push_bind(r.object_key)
                    .push_bind(r.version_id)
                    .push_bind(r.etag)
                    // Byte counts above i64::MAX (8 EiB) do not occur; saturate rather than wrap.
                    .push_bind(i64::try_from(r.bytes).unwrap_or(i64::MAX))
                    .push_bind(r.source_ip)
                    .push_bind(r.user_agent)
                    .push_bind(r.request_id)
                    .push_bind(i64::from(r.status))
                    .push_bind(r.detail);
            });
            q.build().execute(&mut *tx).await.map_err(LocalStoreError::db)?;
        }
        tx.commit().await.map_err(LocalStoreError::db)?;
        tracing::debug!(events = events.len(), "stored in the local event store");
        Ok(())
    }

    /// How many events are stored (each once).
    ///
    /// # Errors
    /// [`LocalStoreError::Unavailable`] when SQLite fails.
    pub async fn count_events(&self, event_type: Option<&str>) -> Result<u64, LocalStoreError> {
        let n: i64 = match event_type {
            Some(t) => sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = ?").bind(t),
            None => sqlx::query_scalar("SELECT count(*) FROM events"),
        }
        .fetch_one(&self.reader)
        .await
        .map_err(LocalStoreError::db)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
