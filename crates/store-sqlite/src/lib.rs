//! [`SqliteMetadataStore`]: the metadata store for embedded, development and test setups,
//! on one SQLite file through sqlx.
//!
//! # Concurrency
//!
//! SQLite allows one writer at a time. The store keeps two pools on the same file:
//!
//! - a **writer pool with exactly one connection**. Every state change runs on it, inside
//!   `BEGIN IMMEDIATE`, so write transactions queue in the pool (cheaply, in-process) instead
//!   of fighting over the database lock, and a transaction holds the write lock from its first
//!   statement. A deferred transaction that reads and then writes could otherwise fail with
//!   `SQLITE_BUSY` on lock upgrade, which `busy_timeout` cannot resolve. `BEGIN IMMEDIATE`
//!   still matters with one connection: another process (or a second store on the same file)
//!   waits on `busy_timeout` instead of failing mid-transaction.
//! - a **reader pool** of several `query_only` connections. In WAL mode readers never block the
//!   writer nor each other, and each statement sees a committed snapshot.
//!
//! Each pool connection sets WAL, `synchronous = NORMAL` (durable across process crashes; a
//! power loss may drop the last commits, never corrupt), `busy_timeout` and foreign keys.
//!
//! Keys compare with SQLite's default `BINARY` collation, i.e. `memcmp` over UTF-8: S3 order.
//!
//! The statements and transactions this store shares with PostgreSQL are written once in
//! `cloudstore-store-sql` (ADR 0008) and expanded here without row-lock clauses (a write
//! transaction holds the database's one write lock from its first statement) and with
//! `json_each` for lists of blob ids; what is SQLite's own (the two pools, `BEGIN IMMEDIATE`,
//! and the object write: read, check the condition, upsert) is this crate's [`SqlBackend`]
//! implementation.

mod error;

use std::path::Path;
use std::time::Duration as StdDuration;

use cloudstore_store_api::{ObjectMeta, OutboxEvent, Result, StoreError, WriteCondition};
use cloudstore_store_sql::SqlBackend;
use cloudstore_store_sql::codec::{ObjectRow, distinct_blobs, from_json, json, ms_after, now_ms};
use cloudstore_store_sql::object_columns;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, Transaction};
use time::Duration;

use crate::error::{db_err, migrate_err};

cloudstore_outbox::sql_outbox!(sqlx::Sqlite);

cloudstore_store_sql::sql_metadata_store! {
    mod shared for SqliteMetadataStore {
        for_update: "",
        for_share: "",
        for_key_share: "",
        row_locks: false,
        claim_pending: "DELETE FROM blob_gc WHERE blob IN (SELECT value FROM json_each($1))",
        queue_blobs: "INSERT INTO blob_gc (blob, not_before) SELECT value, $2 FROM json_each($1) WHERE true \
            ON CONFLICT (blob) DO UPDATE SET not_before = max(blob_gc.not_before, excluded.not_before)",
        // One writer at a time already.
        key_lock: "",
    }
}

/// The schema, embedded at compile time from `migrations/sqlite`.
static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

/// How long a statement waits for the database lock held by another connection or process.
const BUSY_TIMEOUT: StdDuration = StdDuration::from_secs(5);
/// How long an operation waits for a pooled connection before reporting `Unavailable`.
const ACQUIRE_TIMEOUT: StdDuration = StdDuration::from_secs(30);
/// Connections of the reader pool.
const READERS: u32 = 4;

/// The metadata store on a SQLite file. Cheap to clone (both pools are shared).
#[derive(Debug, Clone)]
pub struct SqliteMetadataStore {
    /// One connection: every write transaction runs here, serialized.
    writer: SqlitePool,
    /// Read-only connections for lookups and scans.
    reader: SqlitePool,
}

/// Creates the database file, empty and readable by its owner only (0600), unless it exists.
/// SQLite would create it with the umask's mode (0644), and it gives its `-wal` and `-shm`
/// files the mode of the database file.
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

impl SqliteMetadataStore {
    /// Opens (creating if needed) the database file at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        create_private(path).map_err(StoreError::backend)?;
        let base = SqliteConnectOptions::new()
            .filename(path)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .synchronous(SqliteSynchronous::Normal);
        // WAL is a property of the file; setting it needs the writer, so only the writer does.
        let writer_options = base.clone().create_if_missing(true).journal_mode(SqliteJournalMode::Wal);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(writer_options)
            .await
            .map_err(db_err)?;
        MIGRATOR.run(&writer).await.map_err(migrate_err)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(base.pragma("query_only", "ON"))
            .await
            .map_err(db_err)?;
        Ok(Self { writer, reader })
    }
}

fn check_condition(current_etag: Option<&str>, cond: &WriteCondition) -> Result<()> {
    if cond.if_none_match && current_etag.is_some() {
        return Err(StoreError::PreconditionFailed);
    }
    match (&cond.if_match, current_etag) {
        (Some(want), Some(have)) if want == have => Ok(()),
        (Some(_), _) => Err(StoreError::PreconditionFailed),
        (None, _) => Ok(()),
    }
}

/// Makes `obj` live (see [`cloudstore_store_api::MetadataStore::put_object`]) inside the
/// caller's write transaction: no other writer runs until it commits, so reading the current
/// object and then upserting cannot race. With `pending`, `obj`'s blobs must be pending
/// registrations, which are cleared; otherwise they are parts of a completed upload.
async fn write_object(
    conn: &mut SqliteConnection,
    obj: &ObjectMeta,
    cond: &WriteCondition,
    grace: Duration,
    pending: bool,
) -> Result<()> {
    if !shared::bucket_exists(conn, &obj.bucket).await? {
        return Err(StoreError::NoSuchBucket);
    }
    let current: Option<(String, String)> =
        sqlx::query_as("SELECT etag, parts FROM objects WHERE bucket = $1 AND key = $2")
            .bind(&obj.bucket)
            .bind(&obj.key)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    check_condition(current.as_ref().map(|(etag, _)| etag.as_str()), cond)?;
    let new_blobs = distinct_blobs(&obj.parts);
    if pending {
        shared::claim_pending(conn, &new_blobs).await?;
    }
    let row = ObjectRow::from_meta(obj)?;
    let q = sqlx::query(concat!(
        "INSERT INTO objects (",
        object_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
         ON CONFLICT (bucket, key) DO UPDATE SET size = excluded.size, etag = excluded.etag, \
         last_modified = excluded.last_modified, content_type = excluded.content_type, \
         content_encoding = excluded.content_encoding, content_disposition = excluded.content_disposition, \
         content_language = excluded.content_language, cache_control = excluded.cache_control, \
         expires = excluded.expires, user_metadata = excluded.user_metadata, \
         checksum_algorithm = excluded.checksum_algorithm, checksum_value = excluded.checksum_value, \
         checksum_type = excluded.checksum_type, parts = excluded.parts, multipart_parts = excluded.multipart_parts, \
         attributes = excluded.attributes"
    ));
    cloudstore_store_sql::bind_object!(q, &row).execute(&mut *conn).await.map_err(db_err)?;
    if let Some((_, old_parts)) = current {
        let old_parts: Vec<cloudstore_store_api::BlobPart> = from_json(&old_parts)?;
        let old: Vec<&str> = distinct_blobs(&old_parts).into_iter().filter(|b| !new_blobs.contains(b)).collect();
        shared::queue_blobs(conn, &old, ms_after(now_ms(), grace)).await?;
    }
    Ok(())
}

impl SqlBackend for SqliteMetadataStore {
    type Db = Sqlite;
    type BlobList<'a> = String;

    fn reads(&self) -> &SqlitePool {
        &self.reader
    }

    fn writes(&self) -> &SqlitePool {
        &self.writer
    }

    /// A write transaction holding the database's write lock from its first statement.
    async fn begin(&self) -> Result<Transaction<'static, Sqlite>> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)
    }

    fn db_err(e: sqlx::Error) -> StoreError {
        db_err(e)
    }

    /// JSON text, for `json_each`.
    fn blob_list<'a>(blobs: &'a [&'a str]) -> Result<String> {
        json(blobs)
    }

    async fn write_object(
        conn: &mut SqliteConnection,
        obj: &ObjectMeta,
        cond: &WriteCondition,
        grace: Duration,
    ) -> Result<()> {
        write_object(conn, obj, cond, grace, false).await
    }

    async fn read_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectMeta>> {
        let row: Option<ObjectRow> = sqlx::query_as(cloudstore_store_sql::OBJECT_BY_KEY)
            .bind(bucket)
            .bind(key)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        row.map(ObjectRow::into_meta).transpose()
    }

    async fn commit_object(
        &self,
        obj: &ObjectMeta,
        cond: &WriteCondition,
        grace: Duration,
        events: &[OutboxEvent],
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        write_object(&mut tx, obj, cond, grace, true).await?;
        outbox::insert(&mut tx, events).await.map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn register_pending(&self, blobs: &[&str], deadline_ms: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO blob_gc (blob, not_before) SELECT value, $2 FROM json_each($1) WHERE true \
             ON CONFLICT (blob) DO UPDATE SET not_before = excluded.not_before",
        )
        .bind(json(blobs)?)
        .bind(deadline_ms)
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use cloudstore_store_api::{Bucket, MetadataStore};
    use time::OffsetDateTime;

    use super::*;

    struct TempDir(std::path::PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    async fn store() -> (SqliteMetadataStore, TempDir) {
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        let dir = std::env::temp_dir().join(format!("cloudstore-sqlite-unit-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let store = SqliteMetadataStore::open(&dir.join("meta.db")).await.expect("open");
        (store, TempDir(dir))
    }

    async fn pragma(pool: &SqlitePool, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(pool).await.expect("pragma")
    }

    /// No row-lock clause reaches SQLite (it has none): the single writer serializes instead.
    #[test]
    fn locking_reads_have_no_lock_clauses() {
        for sql in [
            shared::locks::BUCKET_SHARED,
            shared::locks::BUCKET_EXCLUSIVE,
            shared::locks::BUCKET_UPLOADS,
            shared::locks::UPLOAD_SHARED,
            shared::locks::UPLOAD_EXCLUSIVE,
            shared::locks::PART,
        ] {
            assert!(!sql.contains(" FOR "), "{sql}");
        }
        const { assert!(!shared::locks::ROW_LOCKS) };
    }

    #[tokio::test]
    async fn connections_are_configured() {
        let (store, _dir) = store().await;
        for (pool, query_only) in [(&store.writer, 0), (&store.reader, 1)] {
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(pool).await.expect("pragma");
            assert_eq!(mode, "wal");
            assert_eq!(pragma(pool, "PRAGMA synchronous").await, 1, "synchronous = NORMAL");
            assert_eq!(pragma(pool, "PRAGMA foreign_keys").await, 1);
            assert_eq!(pragma(pool, "PRAGMA busy_timeout").await, 5000);
            assert_eq!(pragma(pool, "PRAGMA query_only").await, query_only);
        }
        // The reader pool cannot write.
        assert!(sqlx::query("DELETE FROM blob_gc").execute(&store.reader).await.is_err());
    }

    #[tokio::test]
    async fn readers_are_not_blocked_by_an_open_write_transaction() {
        let (store, _dir) = store().await;
        let bucket = Bucket {
            name: "wal-bucket".into(),
            owner: "o".into(),
            region: "r".into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            policy: None,
            notification: None,
            cors: None,
            public_access_block: None,
            tagging: None,
            lifecycle: None,
            acl: None,
            object_ownership: None,
            encryption: None,
            versioning: None,
            object_lock: None,
        };
        store.create_bucket(&bucket, &[]).await.expect("create");
        let mut tx = store.begin().await.expect("begin immediate");
        sqlx::query("DELETE FROM buckets").execute(&mut *tx).await.expect("delete in tx");
        // The uncommitted delete is invisible and does not block readers.
        let read = tokio::time::timeout(StdDuration::from_secs(2), store.get_bucket("wal-bucket")).await;
        assert_eq!(read.expect("reader blocked by the writer").expect("get"), Some(bucket));
        tx.rollback().await.expect("rollback");
    }
}
