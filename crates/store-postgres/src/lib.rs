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
//!
//! The statements and transactions this store shares with SQLite are written once in
//! `cloudstore-store-sql` (ADR 0008) and expanded here with PostgreSQL's row-lock clauses and
//! array parameters; what is PostgreSQL's own (the hot path above, and the object write of a
//! multipart completion) is this crate's [`SqlBackend`] implementation.

mod batch;
mod error;
mod hot;

use std::time::Duration as StdDuration;

use cloudstore_store_api::{ObjectMeta, OutboxEvent, Result, StoreError, WriteCondition};
use cloudstore_store_sql::SqlBackend;
use cloudstore_store_sql::codec::{ObjectRow, distinct_blobs, ms_after, now_ms};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use time::Duration;

use crate::error::{db_err, migrate_err};

/// The schema, embedded at compile time from `migrations/postgres`.
static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

/// Connections in the pool [`PgMetadataStore::connect`] opens.
const MAX_CONNECTIONS: u32 = 32;
/// How long an operation waits for a pooled connection before reporting `Unavailable`.
const ACQUIRE_TIMEOUT: StdDuration = StdDuration::from_secs(10);

cloudstore_outbox::sql_outbox!(sqlx::Postgres);

cloudstore_store_sql::sql_metadata_store! {
    mod shared for PgMetadataStore {
        for_update: " FOR UPDATE",
        for_share: " FOR SHARE",
        for_key_share: " FOR KEY SHARE",
        row_locks: true,
        claim_pending: "DELETE FROM blob_gc WHERE blob = ANY($1)",
        queue_blobs: "INSERT INTO blob_gc (blob, not_before) SELECT unnest($1::text[]), $2 \
            ON CONFLICT (blob) DO UPDATE SET not_before = GREATEST(blob_gc.not_before, EXCLUDED.not_before)",
        key_lock: "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))",
    }
}

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

impl SqlBackend for PgMetadataStore {
    type Db = Postgres;
    type BlobList<'a> = &'a [&'a str];

    fn reads(&self) -> &PgPool {
        &self.pool
    }

    fn writes(&self) -> &PgPool {
        &self.pool
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(db_err)
    }

    fn db_err(e: sqlx::Error) -> StoreError {
        db_err(e)
    }

    fn blob_list<'a>(blobs: &'a [&'a str]) -> Result<&'a [&'a str]> {
        Ok(blobs)
    }

    /// One statement: the function `put_object` (migrations 0003 and 0004, which follows the
    /// protocol in the module docs) inside the caller's transaction.
    async fn write_object(
        conn: &mut PgConnection,
        obj: &ObjectMeta,
        cond: &WriteCondition,
        grace: Duration,
    ) -> Result<()> {
        let row = ObjectRow::from_meta(obj)?;
        let blobs = distinct_blobs(&obj.parts);
        let q = sqlx::query(
            "SELECT put_object($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19, false, $20, $21, $22)",
        );
        let row = cloudstore_store_sql::bind_object!(q, &row)
            .bind(&blobs)
            .bind(cond.if_match.as_deref())
            .bind(cond.if_none_match)
            .bind(ms_after(now_ms(), grace))
            .fetch_one(conn)
            .await
            .map_err(db_err)?;
        put_outcome(sqlx::Row::try_get(&row, 0).map_err(db_err)?)
    }

    /// Batched with the reads of concurrent requests, on the hot path (see [`batch`]).
    async fn read_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectMeta>> {
        self.reader.submit((bucket.to_owned(), key.to_owned())).await?.map(ObjectRow::into_meta).transpose()
    }

    /// Group commit through the function `put_objects` (see [`batch`]).
    async fn commit_object(
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

    /// An upsert (safe to run twice) on the hot path, with asynchronous commit for this
    /// statement only: a registration lost in a crash can only leak a blob (never lose data),
    /// and it saves a WAL flush on every upload.
    async fn register_pending(&self, blobs: &[&str], deadline_ms: i64) -> Result<()> {
        hot::hot!(self.hot, retry: true, |conn| {
            sqlx::query(
                "INSERT INTO blob_gc (blob, not_before) \
         SELECT b, $2 FROM unnest($1::text[]) AS b, \
              (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit \
         ON CONFLICT (blob) DO UPDATE SET not_before = EXCLUDED.not_before",
            )
            .bind(blobs)
            .bind(deadline_ms)
            .execute(conn)
        })
        .await
        .map_err(db_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::shared::locks;

    /// The locking reads of the module docs' protocol, as `sql_metadata_store!` expands them
    /// here: the same statements the store ran when it wrote them itself.
    #[test]
    fn locking_reads_keep_the_protocol() {
        assert_eq!(locks::BUCKET_SHARED, "SELECT 1 FROM buckets WHERE name = $1 FOR KEY SHARE");
        assert_eq!(locks::BUCKET_EXCLUSIVE, "SELECT 1 FROM buckets WHERE name = $1 FOR UPDATE");
        assert_eq!(locks::BUCKET_UPLOADS, "SELECT 1 FROM uploads WHERE bucket = $1 ORDER BY upload_id FOR UPDATE");
        assert_eq!(
            locks::UPLOAD_SHARED,
            "SELECT 1 FROM uploads WHERE upload_id = $1 AND bucket = $2 AND key = $3 FOR SHARE"
        );
        assert_eq!(
            locks::UPLOAD_EXCLUSIVE,
            "SELECT 1 FROM uploads WHERE upload_id = $1 AND bucket = $2 AND key = $3 FOR UPDATE"
        );
        assert_eq!(locks::PART, "SELECT blob FROM parts WHERE upload_id = $1 AND part_number = $2 FOR UPDATE");
        const { assert!(locks::ROW_LOCKS) };
    }
}
