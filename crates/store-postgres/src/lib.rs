//! [`PgMetadataStore`]: the production metadata store, on PostgreSQL through sqlx.
//!
//! # Concurrency
//!
//! Transactions run at `READ COMMITTED`, and races are settled with row locks and unique
//! constraints, not with retries of whole serializable transactions:
//!
//! - **Buckets.** Writers that add rows under a bucket take `FOR KEY SHARE` on the bucket row;
//!   `delete_bucket` takes `FOR UPDATE` on it first, so it waits for those writers and then
//!   sees their rows (each statement of a `READ COMMITTED` transaction takes a new snapshot),
//!   and writers that come later find the bucket gone.
//! - **`If-None-Match: *`** is `INSERT … ON CONFLICT DO NOTHING`: the unique index admits
//!   exactly one of concurrent inserts; the others see 0 rows affected and fail.
//! - **`If-Match`** reads the current row `FOR UPDATE` and updates it. **Unconditional writes**
//!   insert with `ON CONFLICT DO NOTHING` and, when the key exists, read it `FOR UPDATE` and
//!   replace it (a row deleted meanwhile sends them back to the insert), so the replaced
//!   object's blobs always reach the collector's queue.
//! - **Pending blobs.** A PUT's commit takes the blobs' `blob_gc` rows before it writes — locked
//!   `FOR UPDATE` (conditional writes, multipart completion) or deleted at once (unconditional
//!   writes; a `DELETE` locks the rows just the same) — and writes nothing unless all were
//!   there; rows it deleted for a write it then refuses go back as they were. `put_part`
//!   deletes them and requires as many rows affected as blobs. The collector's `claim_blob`
//!   deletes a row only when due. Both delete the same row, so the row lock makes at most one
//!   of them win (a refused commit leaves the rows pending, for the collector at their
//!   deadline; a claim that waited on a row put back claims nothing and gets it next pass).
//! - **Uploads.** `put_part` holds `FOR SHARE` on the upload (parts upload in parallel);
//!   `complete_upload` and `abort_upload` take `FOR UPDATE`, so they wait for parts in flight
//!   and later parts find the upload gone. A part number is written with the same
//!   read-for-update/insert-on-conflict pattern as objects.
//!
//! Writing an object (the first four points) is the PL/pgSQL function `put_object`
//! (`migrations/postgres/0003_put_object.sql`, redefined in 0004), so that a PUT is one
//! statement in autocommit, one round trip; its statements take new snapshots just as a
//! transaction's would. It locks the pending blobs' rows before writing and returns why it
//! wrote nothing (no bucket, precondition, reclaimed blob, conflict; `put_outcome`).
//! Concurrent PUTs share one statement and its commit: `put_objects` (migrations 0004 and
//! 0005) writes each, in bucket and key order (see [`batch`]), with the same protocol in fewer
//! statements: an unconditional write deletes its pending rows first (the delete locks them
//! as `FOR UPDATE` would) and puts them back if one was missing or the write lost too many
//! races; conditional ones call `put_object`. `complete_upload` calls `put_object` inside its
//! own transaction.
//!
//! Key columns use `COLLATE "C"`: keys compare in byte order, whatever the database locale.

mod codec;
mod error;
mod hot;

use std::time::Duration as StdDuration;

use cloudstore_store_api::{
    BlobId, Bucket, BucketConfig, DeletedEvents, MetadataStore, ObjectMeta, ObjectSummary, OutboxBacklog, OutboxEvent,
    OutboxRow, PartMeta, Result, StaleUpload, StoreError, Upload, WriteCondition,
};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgPoolOptions};
use sqlx::query::Query;
use sqlx::{Postgres, Transaction};
use time::{Duration, OffsetDateTime};

use crate::codec::{
    ObjectRow, PartRow, SummaryRow, TemplateJson, UploadRow, blob_id, distinct_blobs, from_ms, limit, ms_after, now_ms,
    to_i32, to_i64, to_ms,
};
use crate::error::{db_err, migrate_err};

/// The schema, embedded at compile time from `migrations/postgres`.
static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

/// Connections in the pool [`PgMetadataStore::connect`] opens.
const MAX_CONNECTIONS: u32 = 32;
/// How long an operation waits for a pooled connection before reporting `Unavailable`.
const ACQUIRE_TIMEOUT: StdDuration = StdDuration::from_secs(10);
/// Rounds of "read for update, else insert" before giving up with `Conflict` (each extra
/// round means a concurrent writer created and then deleted the row meanwhile). The function
/// `put_object` (migration 0003) makes as many rounds for objects.
const WRITE_ATTEMPTS: usize = 16;

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

mod batch;

cloudstore_outbox::sql_outbox!(sqlx::Postgres);

type Tx = Transaction<'static, Postgres>;
type PgQuery<'a> = Query<'a, Postgres, PgArguments>;

/// The metadata store on PostgreSQL. Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct PgMetadataStore {
    pool: PgPool,
    /// The statements of GET, HEAD and PUT (see [`hot`]).
    hot: std::sync::Arc<hot::HotPool>,
    /// Object reads, batched under load (see [`batch`]).
    reader: batch::Batcher<batch::Reads>,
    /// PUT commits, batched under load (group commit, see [`batch`]).
    commits: batch::Batcher<batch::Commits>,
}

impl PgMetadataStore {
    /// Connects to `url` (`postgres://user@host:port/db`) and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .map_err(db_err)?;
        Self::from_pool(pool).await
    }

    /// Uses an existing pool (to choose its size and timeouts) and applies pending migrations.
    pub async fn from_pool(pool: PgPool) -> Result<Self> {
        MIGRATOR.run(&pool).await.map_err(migrate_err)?;
        let opts = (*pool.connect_options()).clone();
        let hot = hot::HotPool::new(opts, hot::MAX_HOT_CONNECTIONS, ACQUIRE_TIMEOUT);
        let hot = std::sync::Arc::new(hot);
        let reader = batch::Batcher::new(batch::Reads { hot: hot.clone() }, batch::MAX_READS, ACQUIRE_TIMEOUT);
        let commits = batch::Batcher::new(batch::Commits { hot: hot.clone() }, batch::MAX_COMMITS, ACQUIRE_TIMEOUT);
        Ok(Self { pool, reader, commits, hot })
    }

    async fn begin(&self) -> Result<Tx> {
        self.pool.begin().await.map_err(db_err)
    }
}

async fn commit(tx: Tx) -> Result<()> {
    tx.commit().await.map_err(db_err)
}

/// Takes a key-share lock on the bucket row (so `delete_bucket` waits for this transaction);
/// `false` if there is no such bucket.
async fn lock_bucket(conn: &mut PgConnection, name: &str) -> Result<bool> {
    let row: Option<i32> = sqlx::query_scalar("SELECT 1 FROM buckets WHERE name = $1 FOR KEY SHARE")
        .bind(name)
        .fetch_optional(conn)
        .await
        .map_err(db_err)?;
    Ok(row.is_some())
}

async fn bucket_exists(conn: &mut PgConnection, name: &str) -> Result<bool> {
    let row: Option<i32> = sqlx::query_scalar("SELECT 1 FROM buckets WHERE name = $1")
        .bind(name)
        .fetch_optional(conn)
        .await
        .map_err(db_err)?;
    Ok(row.is_some())
}

/// Clears the pending registrations of `blobs` (distinct); `BlobReclaimed` unless every one
/// was there.
async fn claim_pending(conn: &mut PgConnection, blobs: &[&str]) -> Result<()> {
    if blobs.is_empty() {
        return Ok(());
    }
    let done = sqlx::query("DELETE FROM blob_gc WHERE blob = ANY($1)")
        .bind(blobs)
        .execute(conn)
        .await
        .map_err(db_err)?
        .rows_affected();
    if done == blobs.len() as u64 { Ok(()) } else { Err(StoreError::BlobReclaimed) }
}

/// Queues `blobs` (distinct) for collection at `not_before`, keeping a later time if one is queued.
async fn queue_blobs(conn: &mut PgConnection, blobs: &[&str], not_before: i64) -> Result<()> {
    if blobs.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO blob_gc (blob, not_before) SELECT unnest($1::text[]), $2 \
         ON CONFLICT (blob) DO UPDATE SET not_before = GREATEST(blob_gc.not_before, EXCLUDED.not_before)",
    )
    .bind(blobs)
    .bind(not_before)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Binds `$1..$17` (the columns of `row`) in [`object_columns!`] order.
fn bind_object<'q>(q: PgQuery<'q>, row: &'q ObjectRow) -> PgQuery<'q> {
    q.bind(&row.bucket)
        .bind(&row.key)
        .bind(row.size)
        .bind(&row.etag)
        .bind(row.last_modified)
        .bind(&row.content_type)
        .bind(&row.content_encoding)
        .bind(&row.content_disposition)
        .bind(&row.content_language)
        .bind(&row.cache_control)
        .bind(&row.expires)
        .bind(&row.user_metadata)
        .bind(&row.checksum_algorithm)
        .bind(&row.checksum_value)
        .bind(&row.checksum_type)
        .bind(&row.parts)
        .bind(row.multipart_parts)
}

/// Makes `obj`, the object of a completed multipart upload whose blobs are its parts, live in
/// one statement: the function `put_object` (migrations 0003 and 0004, which follows the
/// protocol in the module docs) inside the caller's transaction.
async fn write_object(conn: &mut PgConnection, obj: &ObjectMeta, cond: &WriteCondition, grace: Duration) -> Result<()> {
    let row = ObjectRow::from_meta(obj)?;
    let blobs = distinct_blobs(&obj.parts);
    let q = sqlx::query(
        "SELECT put_object($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, false, $19, $20, $21)",
    );
    let row = bind_object(q, &row)
        .bind(&blobs)
        .bind(cond.if_match.as_deref())
        .bind(cond.if_none_match)
        .bind(ms_after(now_ms(), grace))
        .fetch_one(conn)
        .await
        .map_err(db_err)?;
    put_outcome(sqlx::Row::try_get(&row, 0).map_err(db_err)?)
}

/// What the function `put_object` returned: 0 written, else why not (nothing written).
fn put_outcome(code: i32) -> Result<()> {
    match code {
        0 => Ok(()),
        1 => Err(StoreError::NoSuchBucket),
        2 => Err(StoreError::PreconditionFailed),
        3 => Err(StoreError::BlobReclaimed),
        4 => Err(StoreError::Conflict),
        other => Err(StoreError::backend(std::io::Error::other(format!("put_object returned {other}")))),
    }
}

/// Locks the upload (shared for parts, exclusive to finish it); `false` if it does not exist
/// under this bucket and key.
async fn lock_upload(
    conn: &mut PgConnection,
    bucket: &str,
    key: &str,
    upload_id: &str,
    exclusive: bool,
) -> Result<bool> {
    let sql = if exclusive {
        "SELECT 1 FROM uploads WHERE upload_id = $1 AND bucket = $2 AND key = $3 FOR UPDATE"
    } else {
        "SELECT 1 FROM uploads WHERE upload_id = $1 AND bucket = $2 AND key = $3 FOR SHARE"
    };
    let row: Option<i32> =
        sqlx::query_scalar(sql).bind(upload_id).bind(bucket).bind(key).fetch_optional(conn).await.map_err(db_err)?;
    Ok(row.is_some())
}

async fn part_blobs(conn: &mut PgConnection, upload_id: &str) -> Result<Vec<String>> {
    sqlx::query_scalar("SELECT blob FROM parts WHERE upload_id = $1")
        .bind(upload_id)
        .fetch_all(conn)
        .await
        .map_err(db_err)
}

async fn remove_upload(conn: &mut PgConnection, upload_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM parts WHERE upload_id = $1").bind(upload_id).execute(&mut *conn).await.map_err(db_err)?;
    sqlx::query("DELETE FROM uploads WHERE upload_id = $1").bind(upload_id).execute(conn).await.map_err(db_err)?;
    Ok(())
}

/// Distinct blob ids, in order.
fn distinct_ids(blobs: &[BlobId]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::with_capacity(blobs.len());
    for b in blobs {
        if !out.contains(&b.as_str()) {
            out.push(b.as_str());
        }
    }
    out
}

fn objects_scan_sql(inclusive: bool, bounded: bool) -> &'static str {
    macro_rules! sql {
        ($cmp:literal, $rest:literal) => {
            concat!(
                "SELECT key, size, etag, last_modified, checksum_algorithm, checksum_type FROM objects \
                 WHERE bucket = $1 AND key ",
                $cmp,
                " $2",
                $rest
            )
        };
    }
    match (inclusive, bounded) {
        (true, true) => sql!(">=", " AND key < $3 ORDER BY key LIMIT $4"),
        (true, false) => sql!(">=", " ORDER BY key LIMIT $3"),
        (false, true) => sql!(">", " AND key < $3 ORDER BY key LIMIT $4"),
        (false, false) => sql!(">", " ORDER BY key LIMIT $3"),
    }
}

fn uploads_scan_sql(after_id: bool, inclusive: bool, bounded: bool) -> &'static str {
    macro_rules! sql {
        ($rest:literal) => {
            concat!("SELECT ", upload_columns!(), " FROM uploads WHERE bucket = $1 AND ", $rest)
        };
    }
    match (after_id, inclusive, bounded) {
        (true, _, true) => sql!("(key, upload_id) > ($2, $3) AND key < $4 ORDER BY key, upload_id LIMIT $5"),
        (true, _, false) => sql!("(key, upload_id) > ($2, $3) ORDER BY key, upload_id LIMIT $4"),
        (false, true, true) => sql!("key >= $2 AND key < $3 ORDER BY key, upload_id LIMIT $4"),
        (false, true, false) => sql!("key >= $2 ORDER BY key, upload_id LIMIT $3"),
        (false, false, true) => sql!("key > $2 AND key < $3 ORDER BY key, upload_id LIMIT $4"),
        (false, false, false) => sql!("key > $2 ORDER BY key, upload_id LIMIT $3"),
    }
}

#[async_trait::async_trait]
impl MetadataStore for PgMetadataStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db_err)?;
        Ok(())
    }

    async fn create_bucket(&self, bucket: &Bucket, events: &[OutboxEvent]) -> Result<()> {
        let mut tx = self.begin().await?;
        for _ in 0..WRITE_ATTEMPTS {
            let inserted = sqlx::query(
                "INSERT INTO buckets (name, owner, region, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(&bucket.name)
            .bind(&bucket.owner)
            .bind(&bucket.region)
            .bind(to_ms(bucket.created_at))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
            if inserted == 1 {
                outbox::insert(&mut tx, events).await.map_err(db_err)?;
                return commit(tx).await;
            }
            let owner: Option<String> = sqlx::query_scalar("SELECT owner FROM buckets WHERE name = $1")
                .bind(&bucket.name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
            if let Some(owner) = owner {
                return Err(StoreError::BucketExists { owner });
            }
            // Deleted between the insert and the read: try again.
        }
        Err(StoreError::Conflict)
    }

    async fn get_bucket(&self, name: &str) -> Result<Option<Bucket>> {
        let row: Option<(String, String, String, i64, Option<String>, Option<String>, Option<String>)> =
            sqlx::query_as(
                "SELECT name, owner, region, created_at, policy, notification, cors FROM buckets WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(&self.pool)
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
        .fetch_all(&self.pool)
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
        let sql = format!("UPDATE buckets SET {} = $1 WHERE name = $2", config.column());
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
        // Waits for writers holding a key-share lock; later writers find the bucket gone.
        let row: Option<i32> = sqlx::query_scalar("SELECT 1 FROM buckets WHERE name = $1 FOR UPDATE")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        if row.is_none() {
            return Err(StoreError::NoSuchBucket);
        }
        let busy: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM objects WHERE bucket = $1)")
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        if busy {
            return Err(StoreError::BucketNotEmpty);
        }
        // In-progress multipart uploads are aborted with the bucket, as on AWS. Locking them
        // waits for part writes and completions under way (they hold a share lock); later ones
        // find the upload gone.
        sqlx::query("SELECT 1 FROM uploads WHERE bucket = $1 ORDER BY upload_id FOR UPDATE")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let mut parts: Vec<String> = sqlx::query_scalar(
            "SELECT blob FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket = $1)",
        )
        .bind(name)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        parts.sort_unstable();
        parts.dedup();
        let blobs: Vec<&str> = parts.iter().map(String::as_str).collect();
        queue_blobs(&mut tx, &blobs, now_ms()).await?;
        sqlx::query("DELETE FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket = $1)")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query("DELETE FROM uploads WHERE bucket = $1").bind(name).execute(&mut *tx).await.map_err(db_err)?;
        sqlx::query("DELETE FROM buckets WHERE name = $1").bind(name).execute(&mut *tx).await.map_err(db_err)?;
        outbox::insert(&mut tx, events).await.map_err(db_err)?;
        commit(tx).await
    }

    async fn register_blobs(&self, blobs: &[BlobId], deadline: OffsetDateTime) -> Result<()> {
        let ids = distinct_ids(blobs);
        if ids.is_empty() {
            return Ok(());
        }
        // Asynchronous commit for this statement only: a registration lost in a crash can
        // only leak a blob (never lose data), and it saves a WAL flush on every upload.
        let deadline = to_ms(deadline);
        // An upsert: safe to run twice.
        hot::hot!(self.hot, retry: true, |conn| {
            sqlx::query(
                "INSERT INTO blob_gc (blob, not_before) \
         SELECT b, $2 FROM unnest($1::text[]) AS b, \
              (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit \
         ON CONFLICT (blob) DO UPDATE SET not_before = EXCLUDED.not_before",
            )
            .bind(&ids)
            .bind(deadline)
            .execute(conn)
        })
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn abandon_blobs(&self, blobs: &[BlobId]) -> Result<()> {
        // The same upsert, due now.
        self.register_blobs(blobs, OffsetDateTime::now_utc()).await
    }

    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectMeta>> {
        self.reader.submit((bucket.to_owned(), key.to_owned())).await?.map(ObjectRow::into_meta).transpose()
    }

    async fn put_object(
        &self,
        obj: &ObjectMeta,
        cond: &WriteCondition,
        grace: Duration,
        events: &[OutboxEvent],
    ) -> Result<()> {
        let commit = batch::Commit {
            events: events.to_vec(),
            row: ObjectRow::from_meta(obj)?,
            blobs: distinct_blobs(&obj.parts).into_iter().map(str::to_owned).collect(),
            if_match: cond.if_match.clone(),
            if_none_match: cond.if_none_match,
            not_before: ms_after(now_ms(), grace),
        };
        self.commits.submit(commit).await
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
            sqlx::query_as(concat!("DELETE FROM objects WHERE bucket = $1 AND key = $2 RETURNING ", object_columns!()))
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
        let rows = q.bind(limit(limit_)).fetch_all(&self.pool).await.map_err(db_err)?;
        rows.into_iter().map(SummaryRow::into_summary).collect()
    }

    async fn create_upload(&self, upload: &Upload) -> Result<()> {
        let mut tx = self.begin().await?;
        if !lock_bucket(&mut tx, &upload.bucket).await? {
            return Err(StoreError::NoSuchBucket);
        }
        let inserted = sqlx::query(concat!(
            "INSERT INTO uploads (",
            upload_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (upload_id) DO NOTHING"
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
            " FROM uploads WHERE upload_id = $1 AND bucket = $2 AND key = $3"
        ))
        .bind(upload_id)
        .bind(bucket)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(UploadRow::into_upload).transpose()
    }

    async fn put_part(&self, bucket: &str, key: &str, upload_id: &str, part: &PartMeta, grace: Duration) -> Result<()> {
        let mut tx = self.begin().await?;
        if !lock_upload(&mut tx, bucket, key, upload_id, false).await? {
            return Err(StoreError::NoSuchUpload);
        }
        claim_pending(&mut tx, &[part.blob.as_str()]).await?;
        let number = to_i32(part.part_number)?;
        let (size, last_modified) = (to_i64(part.size)?, to_ms(part.last_modified));
        for _ in 0..WRITE_ATTEMPTS {
            let old: Option<String> =
                sqlx::query_scalar("SELECT blob FROM parts WHERE upload_id = $1 AND part_number = $2 FOR UPDATE")
                    .bind(upload_id)
                    .bind(number)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
            let sql = if old.is_some() {
                "UPDATE parts SET blob = $3, size = $4, etag = $5, checksum = $6, last_modified = $7 \
                 WHERE upload_id = $1 AND part_number = $2"
            } else {
                "INSERT INTO parts (upload_id, part_number, blob, size, etag, checksum, last_modified) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (upload_id, part_number) DO NOTHING"
            };
            let n = sqlx::query(sql)
                .bind(upload_id)
                .bind(number)
                .bind(part.blob.as_str())
                .bind(size)
                .bind(&part.etag)
                .bind(&part.checksum)
                .bind(last_modified)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
            if n == 0 {
                // A concurrent insert of this part number won; replace it next round.
                continue;
            }
            if let Some(old) = old.filter(|b| b != part.blob.as_str()) {
                queue_blobs(&mut tx, &[old.as_str()], ms_after(now_ms(), grace)).await?;
            }
            return commit(tx).await;
        }
        Err(StoreError::Conflict)
    }

    async fn list_parts(&self, upload_id: &str, after: u32, limit_: usize) -> Result<Vec<PartMeta>> {
        let rows: Vec<PartRow> = sqlx::query_as(
            "SELECT part_number, blob, size, etag, checksum, last_modified FROM parts \
             WHERE upload_id = $1 AND part_number > $2 ORDER BY part_number LIMIT $3",
        )
        .bind(upload_id)
        .bind(i64::from(after))
        .bind(limit(limit_))
        .fetch_all(&self.pool)
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
        // Locks in delete_bucket's order, bucket then upload: the other order deadlocks with a
        // DeleteBucket that holds the bucket and waits for this upload.
        if !lock_bucket(&mut tx, &obj.bucket).await? {
            return Err(StoreError::NoSuchBucket);
        }
        if !lock_upload(&mut tx, &obj.bucket, &obj.key, upload_id, true).await? {
            return Err(StoreError::NoSuchUpload);
        }
        write_object(&mut tx, obj, cond, grace).await?;
        let parts = part_blobs(&mut tx, upload_id).await?;
        let used = distinct_blobs(&obj.parts);
        // Every blob of the object must still be a part of the upload: a part replaced since the
        // caller listed the parts has been queued for collection and must not become live.
        if !used.iter().all(|b| parts.iter().any(|p| p == b)) {
            return Err(StoreError::Conflict);
        }
        let mut unused: Vec<&str> = parts.iter().map(String::as_str).filter(|p| !used.contains(p)).collect();
        unused.sort_unstable();
        unused.dedup();
        queue_blobs(&mut tx, &unused, ms_after(now_ms(), grace)).await?;
        remove_upload(&mut tx, upload_id).await?;
        outbox::insert(&mut tx, events).await.map_err(db_err)?;
        commit(tx).await
    }

    async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        if !lock_upload(&mut tx, bucket, key, upload_id, true).await? {
            return Err(StoreError::NoSuchUpload);
        }
        let parts = part_blobs(&mut tx, upload_id).await?;
        let mut blobs: Vec<&str> = parts.iter().map(String::as_str).collect();
        blobs.sort_unstable();
        blobs.dedup();
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
        let sql = uploads_scan_sql(upload_id_marker.is_some(), inclusive, to.is_some());
        let mut q = sqlx::query_as::<_, UploadRow>(sql).bind(bucket).bind(key_marker);
        if let Some(id) = upload_id_marker {
            q = q.bind(id);
        }
        if let Some(to) = to {
            q = q.bind(to);
        }
        let rows = q.bind(limit(limit_)).fetch_all(&self.pool).await.map_err(db_err)?;
        rows.into_iter().map(UploadRow::into_upload).collect()
    }

    async fn due_blobs(&self, now: OffsetDateTime, limit_: usize) -> Result<Vec<BlobId>> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT blob FROM blob_gc WHERE not_before <= $1 ORDER BY not_before, blob LIMIT $2")
                .bind(to_ms(now))
                .bind(limit(limit_))
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        rows.into_iter().map(blob_id).collect()
    }

    async fn claim_blob(&self, blob: &BlobId, now: OffsetDateTime) -> Result<bool> {
        let done = sqlx::query("DELETE FROM blob_gc WHERE blob = $1 AND not_before <= $2")
            .bind(blob.as_str())
            .bind(to_ms(now))
            .execute(&self.pool)
            .await
            .map_err(db_err)?
            .rows_affected();
        Ok(done == 1)
    }

    async fn stale_uploads(&self, before: OffsetDateTime, limit_: usize) -> Result<Vec<StaleUpload>> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT bucket, key, upload_id FROM uploads WHERE initiated < $1 ORDER BY initiated, upload_id LIMIT $2",
        )
        .bind(to_ms(before))
        .bind(limit(limit_))
        .fetch_all(&self.pool)
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
        outbox::lease(&self.pool, owner, ttl).await.map_err(db_err)
    }

    async fn outbox_rows(&self, limit: usize) -> Result<Vec<OutboxRow>> {
        outbox::rows(&self.pool, limit).await.map_err(db_err)
    }

    async fn outbox_remove(&self, ids: &[i64]) -> Result<()> {
        outbox::remove(&self.pool, ids).await.map_err(db_err)
    }

    async fn outbox_backlog(&self) -> Result<OutboxBacklog> {
        outbox::backlog(&self.pool).await.map_err(db_err)
    }
}
