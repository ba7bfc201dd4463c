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

mod codec;
mod error;

use std::path::Path;
use std::time::Duration as StdDuration;

use cloudstore_store_api::{
    BlobId, Bucket, BucketConfig, DeletedEvents, MetadataStore, ObjectMeta, ObjectSummary, OutboxBacklog, OutboxEvent,
    OutboxRow, PartMeta, Result, StaleUpload, StoreError, Upload, WriteCondition,
};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection};
use time::{Duration, OffsetDateTime};

use crate::codec::{
    ObjectRow, PartRow, SummaryRow, TemplateJson, UploadRow, blob_id, checksum_columns, distinct_blobs, from_json,
    from_ms, json, limit, ms_after, now_ms, to_i64, to_ms,
};
use crate::error::{db_err, migrate_err};

cloudstore_outbox::sql_outbox!(sqlx::Sqlite);

/// The schema, embedded at compile time from `migrations/sqlite`.
static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

/// How long a statement waits for the database lock held by another connection or process.
const BUSY_TIMEOUT: StdDuration = StdDuration::from_secs(5);
/// How long an operation waits for a pooled connection before reporting `Unavailable`.
const ACQUIRE_TIMEOUT: StdDuration = StdDuration::from_secs(30);
/// Connections of the reader pool.
const READERS: u32 = 4;

/// Every column of `objects`, in [`ObjectRow`]'s order.
macro_rules! object_columns {
    () => {
        "bucket, key, size, etag, last_modified, content_type, content_encoding, content_disposition, \
         content_language, cache_control, expires, user_metadata, checksum_algorithm, checksum_value, \
         checksum_type, parts, multipart_parts"
    };
}

/// The columns of `uploads`, in [`UploadRow`]'s order.
macro_rules! upload_columns {
    () => {
        "upload_id, bucket, key, initiated, template, checksum_algorithm, checksum_type"
    };
}

type Tx = sqlx::Transaction<'static, Sqlite>;

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

    /// Starts a write transaction holding the database's write lock.
    async fn begin(&self) -> Result<Tx> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)
    }
}

async fn commit(tx: Tx) -> Result<()> {
    tx.commit().await.map_err(db_err)
}

async fn bucket_exists(conn: &mut SqliteConnection, name: &str) -> Result<bool> {
    let row: Option<i64> = sqlx::query_scalar("SELECT 1 FROM buckets WHERE name = ?")
        .bind(name)
        .fetch_optional(conn)
        .await
        .map_err(db_err)?;
    Ok(row.is_some())
}

/// Clears the pending registrations of `blobs`; `BlobReclaimed` unless every one was there.
async fn claim_pending(conn: &mut SqliteConnection, blobs: &[&str]) -> Result<()> {
    if blobs.is_empty() {
        return Ok(());
    }
    let done = sqlx::query("DELETE FROM blob_gc WHERE blob IN (SELECT value FROM json_each(?))")
        .bind(json(blobs)?)
        .execute(conn)
        .await
        .map_err(db_err)?
        .rows_affected();
    if done == blobs.len() as u64 { Ok(()) } else { Err(StoreError::BlobReclaimed) }
}

/// Queues `blobs` for collection at `not_before` (keeping a later time if one is queued).
async fn queue_blobs(conn: &mut SqliteConnection, blobs: &[&str], not_before: i64) -> Result<()> {
    if blobs.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO blob_gc (blob, not_before) SELECT value, ? FROM json_each(?) WHERE true \
         ON CONFLICT (blob) DO UPDATE SET not_before = max(blob_gc.not_before, excluded.not_before)",
    )
    .bind(not_before)
    .bind(json(blobs)?)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
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

/// Makes `obj` live (see [`MetadataStore::put_object`]). With `pending`, `obj`'s blobs must be
/// pending registrations, which are cleared; otherwise they are parts of a completed upload.
async fn write_object(
    conn: &mut SqliteConnection,
    obj: &ObjectMeta,
    cond: &WriteCondition,
    grace: Duration,
    pending: bool,
) -> Result<()> {
    if !bucket_exists(conn, &obj.bucket).await? {
        return Err(StoreError::NoSuchBucket);
    }
    let current: Option<(String, String)> =
        sqlx::query_as("SELECT etag, parts FROM objects WHERE bucket = ? AND key = ?")
            .bind(&obj.bucket)
            .bind(&obj.key)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    check_condition(current.as_ref().map(|(etag, _)| etag.as_str()), cond)?;
    let new_blobs = distinct_blobs(&obj.parts);
    if pending {
        claim_pending(conn, &new_blobs).await?;
    }
    let (ck_algorithm, ck_value, ck_type) = checksum_columns(obj.checksum.as_ref());
    sqlx::query(concat!(
        "INSERT INTO objects (",
        object_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (bucket, key) DO UPDATE SET size = excluded.size, etag = excluded.etag, \
         last_modified = excluded.last_modified, content_type = excluded.content_type, \
         content_encoding = excluded.content_encoding, content_disposition = excluded.content_disposition, \
         content_language = excluded.content_language, cache_control = excluded.cache_control, \
         expires = excluded.expires, user_metadata = excluded.user_metadata, \
         checksum_algorithm = excluded.checksum_algorithm, checksum_value = excluded.checksum_value, \
         checksum_type = excluded.checksum_type, parts = excluded.parts, multipart_parts = excluded.multipart_parts"
    ))
    .bind(&obj.bucket)
    .bind(&obj.key)
    .bind(to_i64(obj.size)?)
    .bind(&obj.etag)
    .bind(to_ms(obj.last_modified))
    .bind(&obj.content_type)
    .bind(&obj.content_encoding)
    .bind(&obj.content_disposition)
    .bind(&obj.content_language)
    .bind(&obj.cache_control)
    .bind(&obj.expires)
    .bind(json(&obj.user_metadata)?)
    .bind(ck_algorithm)
    .bind(ck_value)
    .bind(ck_type)
    .bind(json(&obj.parts)?)
    .bind(obj.multipart_parts.map(i64::from))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    if let Some((_, old_parts)) = current {
        let old_parts: Vec<cloudstore_store_api::BlobPart> = from_json(&old_parts)?;
        let old: Vec<&str> = distinct_blobs(&old_parts).into_iter().filter(|b| !new_blobs.contains(b)).collect();
        queue_blobs(conn, &old, ms_after(now_ms(), grace)).await?;
    }
    Ok(())
}

/// Whether the upload exists under this bucket and key.
async fn upload_exists(conn: &mut SqliteConnection, bucket: &str, key: &str, upload_id: &str) -> Result<bool> {
    let row: Option<i64> = sqlx::query_scalar("SELECT 1 FROM uploads WHERE upload_id = ? AND bucket = ? AND key = ?")
        .bind(upload_id)
        .bind(bucket)
        .bind(key)
        .fetch_optional(conn)
        .await
        .map_err(db_err)?;
    Ok(row.is_some())
}

async fn part_blobs(conn: &mut SqliteConnection, upload_id: &str) -> Result<Vec<String>> {
    sqlx::query_scalar("SELECT blob FROM parts WHERE upload_id = ?")
        .bind(upload_id)
        .fetch_all(conn)
        .await
        .map_err(db_err)
}

async fn remove_upload(conn: &mut SqliteConnection, upload_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM parts WHERE upload_id = ?").bind(upload_id).execute(&mut *conn).await.map_err(db_err)?;
    sqlx::query("DELETE FROM uploads WHERE upload_id = ?").bind(upload_id).execute(conn).await.map_err(db_err)?;
    Ok(())
}

fn objects_scan_sql(inclusive: bool, bounded: bool) -> &'static str {
    macro_rules! sql {
        ($cmp:literal, $to:literal) => {
            concat!(
                "SELECT key, size, etag, last_modified, checksum_algorithm, checksum_type FROM objects \
                 WHERE bucket = ? AND key ",
                $cmp,
                " ?",
                $to,
                " ORDER BY key LIMIT ?"
            )
        };
    }
    match (inclusive, bounded) {
        (true, true) => sql!(">=", " AND key < ?"),
        (true, false) => sql!(">=", ""),
        (false, true) => sql!(">", " AND key < ?"),
        (false, false) => sql!(">", ""),
    }
}

/// The three ways a scan of uploads starts.
enum UploadStart {
    AfterId,
    Inclusive,
    Exclusive,
}

fn uploads_scan_sql(start: &UploadStart, bounded: bool) -> &'static str {
    macro_rules! sql {
        ($from:literal, $to:literal) => {
            concat!(
                "SELECT ",
                upload_columns!(),
                " FROM uploads WHERE bucket = ? AND ",
                $from,
                $to,
                " ORDER BY key, upload_id LIMIT ?"
            )
        };
    }
    match (start, bounded) {
        (UploadStart::AfterId, true) => sql!("(key, upload_id) > (?, ?)", " AND key < ?"),
        (UploadStart::AfterId, false) => sql!("(key, upload_id) > (?, ?)", ""),
        (UploadStart::Inclusive, true) => sql!("key >= ?", " AND key < ?"),
        (UploadStart::Inclusive, false) => sql!("key >= ?", ""),
        (UploadStart::Exclusive, true) => sql!("key > ?", " AND key < ?"),
        (UploadStart::Exclusive, false) => sql!("key > ?", ""),
    }
}

#[async_trait::async_trait]
impl MetadataStore for SqliteMetadataStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map_err(db_err)?;
        Ok(())
    }

    async fn create_bucket(&self, bucket: &Bucket, events: &[OutboxEvent]) -> Result<()> {
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO buckets (name, owner, region, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&bucket.name)
        .bind(&bucket.owner)
        .bind(&bucket.region)
        .bind(to_ms(bucket.created_at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if inserted == 0 {
            let owner: String = sqlx::query_scalar("SELECT owner FROM buckets WHERE name = ?")
                .bind(&bucket.name)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
            return Err(StoreError::BucketExists { owner });
        }
        outbox::insert(&mut tx, events).await.map_err(db_err)?;
        commit(tx).await
    }

    async fn get_bucket(&self, name: &str) -> Result<Option<Bucket>> {
        let row: Option<(String, String, String, i64, Option<String>, Option<String>, Option<String>)> =
            sqlx::query_as(
                "SELECT name, owner, region, created_at, policy, notification, cors FROM buckets WHERE name = ?",
            )
            .bind(name)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        row.map(|(name, owner, region, created_at, policy, notification, cors)| {
            Ok(Bucket { name, owner, region, created_at: from_ms(created_at)?, policy, notification, cors })
        })
        .transpose()
    }

    async fn list_buckets(&self) -> Result<Vec<Bucket>> {
        let rows: Vec<(String, String, String, i64, Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT name, owner, region, created_at, policy, notification, cors FROM buckets ORDER BY name",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.into_iter()
            .map(|(name, owner, region, created_at, policy, notification, cors)| {
                Ok(Bucket { name, owner, region, created_at: from_ms(created_at)?, policy, notification, cors })
            })
            .collect()
    }

    async fn set_bucket_config(
        &self,
        name: &str,
        config: BucketConfig,
        value: Option<&str>,
        events: &[OutboxEvent],
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        // The column is one of BucketConfig's fixed names, never input.
        let sql = format!("UPDATE buckets SET {} = ? WHERE name = ?", config.column());
        let done =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(value).bind(name).execute(&mut *tx).await.map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NoSuchBucket);
        }
        outbox::insert(&mut tx, events).await.map_err(db_err)?;
        commit(tx).await
    }

    async fn delete_bucket(&self, name: &str, events: &[OutboxEvent]) -> Result<()> {
        let mut tx = self.begin().await?;
        if !bucket_exists(&mut tx, name).await? {
            return Err(StoreError::NoSuchBucket);
        }
        let busy: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM objects WHERE bucket = ?)")
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        if busy {
            return Err(StoreError::BucketNotEmpty);
        }
        // In-progress multipart uploads are aborted with the bucket, as on AWS.
        let parts: Vec<String> = sqlx::query_scalar(
            "SELECT blob FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket = ?)",
        )
        .bind(name)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let blobs: Vec<&str> = parts.iter().map(String::as_str).collect();
        queue_blobs(&mut tx, &blobs, now_ms()).await?;
        sqlx::query("DELETE FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket = ?)")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query("DELETE FROM uploads WHERE bucket = ?").bind(name).execute(&mut *tx).await.map_err(db_err)?;
        sqlx::query("DELETE FROM buckets WHERE name = ?").bind(name).execute(&mut *tx).await.map_err(db_err)?;
        outbox::insert(&mut tx, events).await.map_err(db_err)?;
        commit(tx).await
    }

    async fn register_blobs(&self, blobs: &[BlobId], deadline: OffsetDateTime) -> Result<()> {
        if blobs.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = blobs.iter().map(BlobId::as_str).collect();
        sqlx::query(
            "INSERT INTO blob_gc (blob, not_before) SELECT value, ? FROM json_each(?) WHERE true \
             ON CONFLICT (blob) DO UPDATE SET not_before = excluded.not_before",
        )
        .bind(to_ms(deadline))
        .bind(json(&ids)?)
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn abandon_blobs(&self, blobs: &[BlobId]) -> Result<()> {
        // The same upsert, due now.
        self.register_blobs(blobs, OffsetDateTime::now_utc()).await
    }

    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectMeta>> {
        let row: Option<ObjectRow> =
            sqlx::query_as(concat!("SELECT ", object_columns!(), " FROM objects WHERE bucket = ? AND key = ?"))
                .bind(bucket)
                .bind(key)
                .fetch_optional(&self.reader)
                .await
                .map_err(db_err)?;
        row.map(ObjectRow::into_meta).transpose()
    }

    async fn put_object(
        &self,
        obj: &ObjectMeta,
        cond: &WriteCondition,
        grace: Duration,
        events: &[OutboxEvent],
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        write_object(&mut tx, obj, cond, grace, true).await?;
        outbox::insert(&mut tx, events).await.map_err(db_err)?;
        commit(tx).await
    }

    async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        grace: Duration,
        events: DeletedEvents<'_>,
    ) -> Result<Option<ObjectMeta>> {
        let mut tx = self.begin().await?;
        let row: Option<ObjectRow> =
            sqlx::query_as(concat!("DELETE FROM objects WHERE bucket = ? AND key = ? RETURNING ", object_columns!()))
                .bind(bucket)
                .bind(key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        let Some(row) = row else {
            if !bucket_exists(&mut tx, bucket).await? {
                return Err(StoreError::NoSuchBucket);
            }
            return Ok(None);
        };
        let meta = row.into_meta()?;
        queue_blobs(&mut tx, &distinct_blobs(&meta.parts), ms_after(now_ms(), grace)).await?;
        outbox::insert(&mut tx, &events(&meta)).await.map_err(db_err)?;
        commit(tx).await?;
        Ok(Some(meta))
    }

    async fn scan_objects(
        &self,
        bucket: &str,
        from: &str,
        inclusive: bool,
        to: Option<&str>,
        limit_: usize,
    ) -> Result<Vec<ObjectSummary>> {
        let mut q = sqlx::query_as::<_, SummaryRow>(objects_scan_sql(inclusive, to.is_some())).bind(bucket).bind(from);
        if let Some(to) = to {
            q = q.bind(to);
        }
        let rows = q.bind(limit(limit_)).fetch_all(&self.reader).await.map_err(db_err)?;
        rows.into_iter().map(SummaryRow::into_summary).collect()
    }

    async fn create_upload(&self, upload: &Upload) -> Result<()> {
        let mut tx = self.begin().await?;
        if !bucket_exists(&mut tx, &upload.bucket).await? {
            return Err(StoreError::NoSuchBucket);
        }
        let inserted = sqlx::query(concat!(
            "INSERT INTO uploads (",
            upload_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (upload_id) DO NOTHING"
        ))
        .bind(&upload.upload_id)
        .bind(&upload.bucket)
        .bind(&upload.key)
        .bind(to_ms(upload.initiated))
        .bind(TemplateJson::encode(&upload.template)?)
        .bind(upload.checksum_algorithm.map(|a| a.as_str()))
        .bind(upload.checksum_type.map(|t| t.as_str()))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if inserted == 0 {
            // Upload ids are unique by construction; a clash is someone else's upload.
            return Err(StoreError::Conflict);
        }
        commit(tx).await
    }

    async fn get_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<Option<Upload>> {
        let row: Option<UploadRow> = sqlx::query_as(concat!(
            "SELECT ",
            upload_columns!(),
            " FROM uploads WHERE upload_id = ? AND bucket = ? AND key = ?"
        ))
        .bind(upload_id)
        .bind(bucket)
        .bind(key)
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?;
        row.map(UploadRow::into_upload).transpose()
    }

    async fn put_part(&self, bucket: &str, key: &str, upload_id: &str, part: &PartMeta, grace: Duration) -> Result<()> {
        let mut tx = self.begin().await?;
        if !upload_exists(&mut tx, bucket, key, upload_id).await? {
            return Err(StoreError::NoSuchUpload);
        }
        claim_pending(&mut tx, &[part.blob.as_str()]).await?;
        let old: Option<String> = sqlx::query_scalar("SELECT blob FROM parts WHERE upload_id = ? AND part_number = ?")
            .bind(upload_id)
            .bind(i64::from(part.part_number))
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO parts (upload_id, part_number, blob, size, etag, checksum, last_modified) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (upload_id, part_number) DO UPDATE SET blob = excluded.blob, \
             size = excluded.size, etag = excluded.etag, checksum = excluded.checksum, \
             last_modified = excluded.last_modified",
        )
        .bind(upload_id)
        .bind(i64::from(part.part_number))
        .bind(part.blob.as_str())
        .bind(to_i64(part.size)?)
        .bind(&part.etag)
        .bind(&part.checksum)
        .bind(to_ms(part.last_modified))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(old) = old.filter(|b| b != part.blob.as_str()) {
            queue_blobs(&mut tx, &[old.as_str()], ms_after(now_ms(), grace)).await?;
        }
        commit(tx).await
    }

    async fn list_parts(&self, upload_id: &str, after: u32, limit_: usize) -> Result<Vec<PartMeta>> {
        let rows: Vec<PartRow> = sqlx::query_as(
            "SELECT part_number, blob, size, etag, checksum, last_modified FROM parts \
             WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?",
        )
        .bind(upload_id)
        .bind(i64::from(after))
        .bind(limit(limit_))
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.into_iter().map(PartRow::into_part).collect()
    }

    async fn complete_upload(
        &self,
        upload_id: &str,
        obj: &ObjectMeta,
        cond: &WriteCondition,
        grace: Duration,
        events: &[OutboxEvent],
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        if !upload_exists(&mut tx, &obj.bucket, &obj.key, upload_id).await? {
            return Err(StoreError::NoSuchUpload);
        }
        write_object(&mut tx, obj, cond, grace, false).await?;
        let parts = part_blobs(&mut tx, upload_id).await?;
        let used = distinct_blobs(&obj.parts);
        // Every blob of the object must still be a part of the upload: a part replaced since the
        // caller listed the parts has been queued for collection and must not become live.
        if !used.iter().all(|b| parts.iter().any(|p| p == b)) {
            return Err(StoreError::Conflict);
        }
        let unused: Vec<&str> = parts.iter().map(String::as_str).filter(|p| !used.contains(p)).collect();
        queue_blobs(&mut tx, &unused, ms_after(now_ms(), grace)).await?;
        remove_upload(&mut tx, upload_id).await?;
        outbox::insert(&mut tx, events).await.map_err(db_err)?;
        commit(tx).await
    }

    async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        if !upload_exists(&mut tx, bucket, key, upload_id).await? {
            return Err(StoreError::NoSuchUpload);
        }
        let parts = part_blobs(&mut tx, upload_id).await?;
        let blobs: Vec<&str> = parts.iter().map(String::as_str).collect();
        queue_blobs(&mut tx, &blobs, now_ms()).await?;
        remove_upload(&mut tx, upload_id).await?;
        commit(tx).await
    }

    async fn scan_uploads(
        &self,
        bucket: &str,
        key_marker: &str,
        upload_id_marker: Option<&str>,
        inclusive: bool,
        to: Option<&str>,
        limit_: usize,
    ) -> Result<Vec<Upload>> {
        let start = match (upload_id_marker, inclusive) {
            (Some(_), _) => UploadStart::AfterId,
            (None, true) => UploadStart::Inclusive,
            (None, false) => UploadStart::Exclusive,
        };
        let mut q =
            sqlx::query_as::<_, UploadRow>(uploads_scan_sql(&start, to.is_some())).bind(bucket).bind(key_marker);
        if let Some(id) = upload_id_marker {
            q = q.bind(id);
        }
        if let Some(to) = to {
            q = q.bind(to);
        }
        let rows = q.bind(limit(limit_)).fetch_all(&self.reader).await.map_err(db_err)?;
        rows.into_iter().map(UploadRow::into_upload).collect()
    }

    async fn due_blobs(&self, now: OffsetDateTime, limit_: usize) -> Result<Vec<BlobId>> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT blob FROM blob_gc WHERE not_before <= ? ORDER BY not_before, blob LIMIT ?")
                .bind(to_ms(now))
                .bind(limit(limit_))
                .fetch_all(&self.reader)
                .await
                .map_err(db_err)?;
        rows.into_iter().map(blob_id).collect()
    }

    async fn claim_blob(&self, blob: &BlobId, now: OffsetDateTime) -> Result<bool> {
        let done = sqlx::query("DELETE FROM blob_gc WHERE blob = ? AND not_before <= ?")
            .bind(blob.as_str())
            .bind(to_ms(now))
            .execute(&self.writer)
            .await
            .map_err(db_err)?
            .rows_affected();
        Ok(done == 1)
    }

    async fn stale_uploads(&self, before: OffsetDateTime, limit_: usize) -> Result<Vec<StaleUpload>> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT bucket, key, upload_id FROM uploads WHERE initiated < ? ORDER BY initiated, upload_id LIMIT ?",
        )
        .bind(to_ms(before))
        .bind(limit(limit_))
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(|(bucket, key, upload_id)| StaleUpload { bucket, key, upload_id }).collect())
    }

    async fn append_events(&self, events: &[OutboxEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        outbox::insert(&mut tx, events).await.map_err(db_err)?;
        commit(tx).await
    }

    async fn outbox_lease(&self, owner: &str, ttl: StdDuration) -> Result<bool> {
        outbox::lease(&self.writer, owner, ttl).await.map_err(db_err)
    }

    async fn outbox_rows(&self, limit: usize) -> Result<Vec<OutboxRow>> {
        outbox::rows(&self.reader, limit).await.map_err(db_err)
    }

    async fn outbox_remove(&self, ids: &[i64]) -> Result<()> {
        outbox::remove(&self.writer, ids).await.map_err(db_err)
    }

    async fn outbox_backlog(&self) -> Result<OutboxBacklog> {
        outbox::backlog(&self.reader).await.map_err(db_err)
    }
}

#[cfg(test)]
mod tests {
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
