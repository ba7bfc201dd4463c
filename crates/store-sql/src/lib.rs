//! The metadata stores' SQL, written once for PostgreSQL (`store-postgres`) and SQLite
//! (`store-sqlite`) (ADR 0008).
//!
//! - [`codec`]: the rows of the metadata tables and their conversions to the domain records.
//! - [`sql_metadata_store!`]: `impl MetadataStore` for a store type, expanded in each store
//!   crate over its own sqlx driver (both drivers accept `$N` parameters). Every statement
//!   and every transaction's sequence of statements is written here once.
//! - [`SqlBackend`]: what the expansion asks of the store — its pools, how a write
//!   transaction begins, how a list of blob ids is bound, its errors — and the object
//!   operations each database does its own way (PostgreSQL's hot path: PL/pgSQL functions,
//!   batched reads and group commit; SQLite's read-and-upsert under its single writer).
//!
//! What differs in the SQL itself is given to the macro as literals, by name: the row-lock
//! clauses (`FOR UPDATE`, `FOR SHARE`, `FOR KEY SHARE` on PostgreSQL; empty on SQLite, whose
//! write transactions hold the database's one write lock from their first statement), and the
//! two statements over a list of blob ids (arrays on PostgreSQL, `json_each` on SQLite).
//! The concurrency each store guarantees is documented in its crate.

pub mod codec;

use std::future::Future;

use cloudstore_store_api::{ObjectMeta, OutboxEvent, Result, StoreError, WriteCondition};
use time::Duration;

/// Rounds of "read for update, else insert" before giving up with `Conflict` (each extra round
/// means a concurrent writer created and then deleted the row meanwhile; under SQLite's single
/// writer the first round always settles). PostgreSQL's function `put_object` (migration 0003)
/// makes as many rounds for objects.
pub const WRITE_ATTEMPTS: usize = 16;

/// Every column of `objects`, in [`codec::ObjectRow`]'s order.
#[macro_export]
macro_rules! object_columns {
    () => {
        "bucket, key, size, etag, last_modified, content_type, content_encoding, content_disposition, \
         content_language, cache_control, expires, user_metadata, checksum_algorithm, checksum_value, \
         checksum_type, parts, multipart_parts, attributes"
    };
}

/// The columns of `uploads`, in [`codec::UploadRow`]'s order.
#[macro_export]
macro_rules! upload_columns {
    () => {
        "upload_id, bucket, key, initiated, template, checksum_algorithm, checksum_type"
    };
}

/// The columns of `buckets`, in [`codec::BucketRow`]'s order.
#[macro_export]
macro_rules! bucket_columns {
    () => {
        "name, owner, region, created_at, policy, notification, cors, public_access_block, tagging, lifecycle, acl, \
         object_ownership, encryption, versioning, object_lock"
    };
}

/// The columns of `object_versions`, in [`codec::VersionRow`]'s order.
#[macro_export]
macro_rules! version_columns {
    () => {
        concat!("seq, version_id, is_delete_marker, ", $crate::object_columns!())
    };
}

/// The scan behind `scan_versions`: `objects` rows (position `i64::MAX`) and `object_versions`
/// rows by key, newest first. `$1` bucket, `$2` from, then `$3` the position when `below`, then
/// the bound when `bounded`, then the limit.
#[must_use]
pub fn versions_scan_sql(below: bool, inclusive: bool, bounded: bool) -> String {
    let mut n = 3;
    let after = if below {
        n += 1;
        " AND (key > $2 OR seq < $3)"
    } else if inclusive {
        ""
    } else {
        " AND key > $2"
    };
    let to = if bounded {
        let s = format!(" AND key < ${n}");
        n += 1;
        s
    } else {
        String::new()
    };
    format!(
        "SELECT {cols} FROM (SELECT 9223372036854775807 AS seq, '' AS version_id, FALSE AS is_delete_marker, {obj} \
         FROM objects WHERE bucket = $1 AND key >= $2{to} UNION ALL SELECT {cols} FROM object_versions \
         WHERE bucket = $1 AND key >= $2{to}) AS v WHERE TRUE{after} ORDER BY key, seq DESC LIMIT ${n}",
        cols = version_columns!(),
        obj = object_columns!(),
    )
}

/// The columns of `shares`, in [`codec::ShareRow`]'s order.
#[macro_export]
macro_rules! share_columns {
    () => {
        "id, token_hash, account_id, creator_arn, bucket, key, filename, created_at, expires_at, max_downloads, \
         downloads, last_used_at, last_counted_at, revoked, password_hash, guesses, guesses_since, upload_rules, folder"
    };
}

/// The columns of a listing, in [`codec::SummaryRow`]'s order.
#[macro_export]
macro_rules! summary_columns {
    () => {
        "key, size, etag, last_modified, checksum_algorithm, checksum_type"
    };
}

/// The columns of `parts` but the upload id, in [`codec::PartRow`]'s order.
#[macro_export]
macro_rules! part_columns {
    () => {
        "part_number, blob, size, etag, checksum, last_modified"
    };
}

/// Binds `$1..$18` of `$query` to the columns of `$row` (a [`codec::ObjectRow`]), in
/// [`object_columns!`] order.
#[macro_export]
macro_rules! bind_object {
    ($query:expr, $row:expr) => {{
        let row: &$crate::codec::ObjectRow = $row;
        $query
            .bind(&row.bucket)
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
            .bind(&row.attributes)
    }};
}

/// Objects deleted by one transaction of `delete_objects_if_unchanged` at most (one bind per key
/// in its two statements: well inside both databases' limits).
pub const DELETE_BATCH: usize = 1000;

/// One object by bucket (`$1`) and key (`$2`): every column, in [`codec::ObjectRow`]'s order.
pub const OBJECT_BY_KEY: &str = concat!("SELECT ", object_columns!(), " FROM objects WHERE bucket = $1 AND key = $2");

/// The scan of `objects` behind `scan_objects`: `$1` bucket, `$2` from, then `$3` to when
/// `bounded`, then the limit.
#[must_use]
pub fn objects_scan_sql(inclusive: bool, bounded: bool) -> &'static str {
    macro_rules! sql {
        ($cmp:literal, $rest:literal) => {
            concat!("SELECT ", summary_columns!(), " FROM objects WHERE bucket = $1 AND key ", $cmp, " $2", $rest)
        };
    }
    match (inclusive, bounded) {
        (true, true) => sql!(">=", " AND key < $3 ORDER BY key LIMIT $4"),
        (true, false) => sql!(">=", " ORDER BY key LIMIT $3"),
        (false, true) => sql!(">", " AND key < $3 ORDER BY key LIMIT $4"),
        (false, false) => sql!(">", " ORDER BY key LIMIT $3"),
    }
}

/// The scan of `uploads` behind `scan_uploads`: `$1` bucket, `$2` key marker, then `$3` the
/// upload-id marker when `after_id`, then the bound when `bounded`, then the limit.
#[must_use]
pub fn uploads_scan_sql(after_id: bool, inclusive: bool, bounded: bool) -> &'static str {
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

/// The connection type of a store's database.
pub type Conn<S> = <<S as SqlBackend>::Db as sqlx::Database>::Connection;

/// What [`sql_metadata_store!`] asks of a store: the named hooks where the databases differ.
pub trait SqlBackend: Send + Sync + Sized + 'static {
    /// The sqlx database.
    type Db: sqlx::Database;
    /// How a list of blob ids is bound (an array, or JSON text).
    type BlobList<'a>;

    /// The pool lookups and scans run on.
    fn reads(&self) -> &sqlx::Pool<Self::Db>;
    /// The pool single-statement writes run on (outside a transaction).
    fn writes(&self) -> &sqlx::Pool<Self::Db>;
    /// Starts a write transaction.
    fn begin(&self) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>>> + Send;
    /// Maps a driver error to the store's error (each database classifies its own codes).
    fn db_err(e: sqlx::Error) -> StoreError;
    /// Binds `blobs` for the macro's `claim_pending` and `queue_blobs` statements.
    fn blob_list<'a>(blobs: &'a [&'a str]) -> Result<Self::BlobList<'a>>;

    /// Makes `obj`, the object of a completed multipart upload whose blobs are its parts, live
    /// inside the caller's transaction (see `MetadataStore::complete_upload`); on an error
    /// (`NoSuchBucket`, `PreconditionFailed`, `Conflict`) it has written nothing.
    fn write_object(
        conn: &mut Conn<Self>,
        obj: &ObjectMeta,
        cond: &WriteCondition,
        grace: Duration,
    ) -> impl Future<Output = Result<()>> + Send;
    /// `MetadataStore::get_object`.
    fn read_object(&self, bucket: &str, key: &str) -> impl Future<Output = Result<Option<ObjectMeta>>> + Send;
    /// `MetadataStore::put_object`.
    fn commit_object(
        &self,
        obj: &ObjectMeta,
        cond: &WriteCondition,
        grace: Duration,
        events: &[OutboxEvent],
    ) -> impl Future<Output = Result<()>> + Send;
    /// `MetadataStore::register_blobs` of distinct, non-empty `blobs`, due at `deadline_ms`.
    fn register_pending(&self, blobs: &[&str], deadline_ms: i64) -> impl Future<Output = Result<()>> + Send;
}

/// Expands to a module (`$module`) with the shared statements and `impl MetadataStore for
/// $store` on top of `$store`'s [`SqlBackend`] hooks. The invoking module holds `$store` and
/// the `outbox` module of `cloudstore_outbox::sql_outbox!`, and its crate depends on sqlx,
/// async-trait, time and cloudstore-store-api.
///
/// The dialect, by name (literals):
/// - `for_update`, `for_share`, `for_key_share`: the row-lock clauses appended to the reads
///   that lock (empty where a write transaction excludes every other writer anyway);
/// - `row_locks`: `true` where those clauses lock; then `delete_bucket` also locks the
///   bucket's uploads, to wait for their part writes and completions;
/// - `claim_pending`: deletes the pending registrations of the blob list `$1`;
/// - `queue_blobs`: queues the blob list `$1` for collection at `$2`, keeping a later time.
#[macro_export]
macro_rules! sql_metadata_store {
    (
        mod $module:ident for $store:ident {
            for_update: $for_update:literal,
            for_share: $for_share:literal,
            for_key_share: $for_key_share:literal,
            row_locks: $row_locks:literal,
            claim_pending: $claim_pending:literal,
            queue_blobs: $queue_blobs:literal,
            key_lock: $key_lock:literal $(,)?
        }
    ) => {
        /// The metadata store's shared SQL, from `cloudstore_store_sql::sql_metadata_store!`.
        pub(crate) mod $module {
            use ::cloudstore_store_api::{
                AccountConfig, AttributesChange, BlobId, Bucket, BucketConfig, DeleteCondition, DeletedEvents, DueVersion, KmsKeyRecord, MetadataStore,
                ObjectEvents, ObjectMeta, ObjectSummary, ObjectVersion, Versioning,
                OutboxBacklog, OutboxEvent, OutboxRow, PartMeta, Result, Share, ShareUse, StaleUpload, StoreError,
                Upload, VersionDue, WriteCondition,
            };
            use ::time::{Duration, OffsetDateTime};
            use $crate::SqlBackend as _;
            use $crate::codec::{
                BucketRow, KmsKeyRow, ObjectRow, PartRow, ShareRow, SummaryRow, TemplateJson, UploadRow, VersionRow, blob_id, distinct_blobs, distinct_ids, limit,
                ms_after, now_ms, to_i32, to_i64, to_ms,
            };
            use $crate::{bucket_columns, object_columns, part_columns, share_columns, upload_columns, version_columns};

            use super::outbox;

            type Store = super::$store;
            type Conn = $crate::Conn<Store>;
            type Tx = ::sqlx::Transaction<'static, <Store as $crate::SqlBackend>::Db>;

            /// The reads that lock (see the store's concurrency docs), with this database's
            /// clauses; in lock order: bucket, then its uploads or one upload, then a part.
            pub(crate) mod locks {
                /// Key-share on the bucket: writers adding rows under it (`delete_bucket` waits).
                pub(crate) const BUCKET_SHARED: &str = concat!("SELECT 1 FROM buckets WHERE name = $1", $for_key_share);
                /// The bucket, exclusively: `delete_bucket`.
                pub(crate) const BUCKET_EXCLUSIVE: &str = concat!("SELECT 1 FROM buckets WHERE name = $1", $for_update);
                /// Every upload of the bucket, exclusively: `delete_bucket` (only with row locks).
                pub(crate) const BUCKET_UPLOADS: &str =
                    concat!("SELECT 1 FROM uploads WHERE bucket = $1 ORDER BY upload_id", $for_update);
                /// Shared on the upload: `put_part` (parts upload in parallel).
                pub(crate) const UPLOAD_SHARED: &str =
                    concat!("SELECT 1 FROM uploads WHERE upload_id = $1 AND bucket = $2 AND key = $3", $for_share);
                /// The upload, exclusively: `complete_upload`, `abort_upload`.
                pub(crate) const UPLOAD_EXCLUSIVE: &str =
                    concat!("SELECT 1 FROM uploads WHERE upload_id = $1 AND bucket = $2 AND key = $3", $for_update);
                /// The part number's row, for update: `put_part` replacing a part.
                pub(crate) const PART: &str =
                    concat!("SELECT blob FROM parts WHERE upload_id = $1 AND part_number = $2", $for_update);
                /// One key's lock for the transaction, taken by every write that changes a
                /// versioned key's versions (ADR 0017): a key's versions move between `objects`
                /// and `object_versions`, so two such writes must not interleave. Empty where
                /// writers are serialized anyway (SQLite).
                pub(crate) const KEY: &str = $key_lock;
                /// Whether the clauses above lock rows.
                pub(crate) const ROW_LOCKS: bool = $row_locks;
            }

            fn db_err(e: ::sqlx::Error) -> StoreError {
                <Store as $crate::SqlBackend>::db_err(e)
            }

            async fn commit(tx: Tx) -> Result<()> {
                tx.commit().await.map_err(db_err)
            }

            /// Clears the pending registrations of `blobs` (distinct); `BlobReclaimed` unless
            /// every one was there.
            pub(crate) async fn claim_pending(conn: &mut Conn, blobs: &[&str]) -> Result<()> {
                if blobs.is_empty() {
                    return Ok(());
                }
                let done = ::sqlx::query($claim_pending)
                    .bind(Store::blob_list(blobs)?)
                    .execute(conn)
                    .await
                    .map_err(db_err)?
                    .rows_affected();
                if done == blobs.len() as u64 { Ok(()) } else { Err(StoreError::BlobReclaimed) }
            }

            /// Queues `blobs` (distinct) for collection at `not_before`, keeping a later time if
            /// one is queued.
            pub(crate) async fn queue_blobs(conn: &mut Conn, blobs: &[&str], not_before: i64) -> Result<()> {
                if blobs.is_empty() {
                    return Ok(());
                }
                ::sqlx::query($queue_blobs)
                    .bind(Store::blob_list(blobs)?)
                    .bind(not_before)
                    .execute(conn)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            /// Whether the bucket exists.
            pub(crate) async fn bucket_exists(conn: &mut Conn, name: &str) -> Result<bool> {
                let row: Option<i32> = ::sqlx::query_scalar("SELECT 1 FROM buckets WHERE name = $1")
                    .bind(name)
                    .fetch_optional(conn)
                    .await
                    .map_err(db_err)?;
                Ok(row.is_some())
            }

            /// Takes a key-share lock on the bucket row (so `delete_bucket` waits for this
            /// transaction); `false` if there is no such bucket.
            /// Takes `locks::KEY` for `bucket`/`key` until the transaction ends (nothing where it
            /// is empty).
            async fn lock_key(conn: &mut Conn, bucket: &str, key: &str) -> Result<()> {
                if !locks::KEY.is_empty() {
                    ::sqlx::query(locks::KEY).bind(bucket).bind(key).execute(conn).await.map_err(db_err)?;
                }
                Ok(())
            }

            async fn lock_bucket(conn: &mut Conn, name: &str) -> Result<bool> {
                let row: Option<i32> =
                    ::sqlx::query_scalar(locks::BUCKET_SHARED).bind(name).fetch_optional(conn).await.map_err(db_err)?;
                Ok(row.is_some())
            }

            /// Locks the upload (shared for parts, exclusive to finish it); `false` if it does
            /// not exist under this bucket and key.
            async fn lock_upload(
                conn: &mut Conn,
                bucket: &str,
                key: &str,
                upload_id: &str,
                exclusive: bool,
            ) -> Result<bool> {
                let sql = if exclusive { locks::UPLOAD_EXCLUSIVE } else { locks::UPLOAD_SHARED };
                let row: Option<i32> = ::sqlx::query_scalar(sql)
                    .bind(upload_id)
                    .bind(bucket)
                    .bind(key)
                    .fetch_optional(conn)
                    .await
                    .map_err(db_err)?;
                Ok(row.is_some())
            }

            async fn part_blobs(conn: &mut Conn, upload_id: &str) -> Result<Vec<String>> {
                ::sqlx::query_scalar("SELECT blob FROM parts WHERE upload_id = $1")
                    .bind(upload_id)
                    .fetch_all(conn)
                    .await
                    .map_err(db_err)
            }

            async fn remove_upload(conn: &mut Conn, upload_id: &str) -> Result<()> {
                ::sqlx::query("DELETE FROM parts WHERE upload_id = $1")
                    .bind(upload_id)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
                ::sqlx::query("DELETE FROM uploads WHERE upload_id = $1")
                    .bind(upload_id)
                    .execute(conn)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            /// Sorted, distinct.
            fn distinct_sorted(mut blobs: Vec<&str>) -> Vec<&str> {
                blobs.sort_unstable();
                blobs.dedup();
                blobs
            }

            /// The versioned object writes (ADR 0017), inside the caller's transaction.
            pub(crate) mod versions {
                use super::*;

                /// The stored id of a version (`'null'` for the null version).
                pub(crate) fn stored_id(id: Option<&str>) -> &str {
                    id.unwrap_or("null")
                }

                /// `ObjectLocked` if the attributes (JSON, as stored) of a version about to be
                /// removed say object lock protects it now (ADR 0018: the store's clock).
                pub(crate) fn unlocked(attributes: &str, bypass_governance: bool) -> Result<()> {
                    let a: ::cloudstore_store_api::ObjectAttributes = $crate::codec::from_json(attributes)?;
                    if a.locked_at(now_ms(), bypass_governance) {
                        return Err(StoreError::ObjectLocked);
                    }
                    Ok(())
                }

                /// The attributes `change` makes of `meta`'s, unless they weaken a COMPLIANCE
                /// retention in force (`ObjectLocked`; ADR 0018).
                pub(crate) fn changed(
                    meta: &ObjectMeta,
                    change: AttributesChange<'_>,
                ) -> Result<::cloudstore_store_api::ObjectAttributes> {
                    let new = change(meta)?;
                    if meta.attributes.weakens_compliance(&new, now_ms()) {
                        return Err(StoreError::ObjectLocked);
                    }
                    Ok(new)
                }

                /// The current object of a key, locked for update.
                pub(crate) async fn current(conn: &mut Conn, bucket: &str, key: &str) -> Result<Option<ObjectRow>> {
                    ::sqlx::query_as(concat!(
                        "SELECT ",
                        object_columns!(),
                        " FROM objects WHERE bucket = $1 AND key = $2",
                        $for_update
                    ))
                    .bind(bucket)
                    .bind(key)
                    .fetch_optional(conn)
                    .await
                    .map_err(db_err)
                }

                /// The next free position among the key's noncurrent versions.
                async fn next_seq(conn: &mut Conn, bucket: &str, key: &str) -> Result<i64> {
                    let max: Option<i64> =
                        ::sqlx::query_scalar("SELECT MAX(seq) FROM object_versions WHERE bucket = $1 AND key = $2")
                            .bind(bucket)
                            .bind(key)
                            .fetch_one(conn)
                            .await
                            .map_err(db_err)?;
                    Ok(max.unwrap_or(0) + 1)
                }

                /// Copies the current object (whose version id is `id`) into `object_versions`
                /// as the newest noncurrent version; returns its position. Retries when a
                /// concurrent writer took the position.
                async fn keep_current(conn: &mut Conn, bucket: &str, key: &str, id: Option<&str>) -> Result<i64> {
                    for _ in 0..$crate::WRITE_ATTEMPTS {
                        let seq = next_seq(&mut *conn, bucket, key).await?;
                        let n = ::sqlx::query(concat!(
                            "INSERT INTO object_versions (",
                            version_columns!(),
                            ") SELECT $3, $4, FALSE, ",
                            object_columns!(),
                            " FROM objects WHERE bucket = $1 AND key = $2 ON CONFLICT DO NOTHING"
                        ))
                        .bind(bucket)
                        .bind(key)
                        .bind(seq)
                        .bind(stored_id(id))
                        .execute(&mut *conn)
                        .await
                        .map_err(db_err)?
                        .rows_affected();
                        if n == 1 {
                            return Ok(seq);
                        }
                    }
                    Err(StoreError::Conflict)
                }

                /// Removes the key's noncurrent null version (object or marker), queueing its
                /// blobs at `not_before`.
                async fn drop_null(conn: &mut Conn, bucket: &str, key: &str, not_before: i64) -> Result<()> {
                    let rows: Vec<(String, String)> = ::sqlx::query_as(
                        "DELETE FROM object_versions WHERE bucket = $1 AND key = $2 AND version_id = 'null' \
                         RETURNING parts, attributes",
                    )
                    .bind(bucket)
                    .bind(key)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db_err)?;
                    for (p, a) in rows {
                        unlocked(&a, false)?;
                        let parts: Vec<::cloudstore_store_api::BlobPart> = $crate::codec::from_json(&p)?;
                        queue_blobs(&mut *conn, &distinct_blobs(&parts), not_before).await?;
                    }
                    Ok(())
                }

                /// Moves the current object of the key (`cur`) out of `objects`: kept as a
                /// noncurrent version, or (the null version, suspended) queued for collection,
                /// blobs still used by `keep` excepted.
                async fn retire(
                    conn: &mut Conn,
                    cur: ObjectRow,
                    versioning: Versioning,
                    keep: &[&str],
                    not_before: i64,
                ) -> Result<()> {
                    let meta = cur.into_meta()?;
                    let id = meta.attributes.version_id.as_deref();
                    if versioning == Versioning::Enabled || id.is_some() {
                        keep_current(&mut *conn, &meta.bucket, &meta.key, id).await?;
                    } else {
                        // The null version is replaced for good: never a locked one (ADR 0018).
                        if meta.attributes.locked_at(now_ms(), false) {
                            return Err(StoreError::ObjectLocked);
                        }
                        let old: Vec<&str> =
                            distinct_blobs(&meta.parts).into_iter().filter(|b| !keep.contains(b)).collect();
                        queue_blobs(&mut *conn, &old, not_before).await?;
                    }
                    Ok(())
                }

                /// Makes `obj` the current version (see `MetadataStore::put_object_version`);
                /// the caller has claimed its blobs if they were pending.
                pub(crate) async fn write(
                    conn: &mut Conn,
                    obj: &ObjectMeta,
                    cond: &WriteCondition,
                    versioning: Versioning,
                    grace: Duration,
                ) -> Result<()> {
                    let row = ObjectRow::from_meta(obj)?;
                    let not_before = ms_after(now_ms(), grace);
                    if !lock_bucket(&mut *conn, &obj.bucket).await? {
                        return Err(StoreError::NoSuchBucket);
                    }
                    lock_key(&mut *conn, &obj.bucket, &obj.key).await?;
                    if cond.if_none_match && cond.if_match.is_some() {
                        return Err(StoreError::PreconditionFailed);
                    }
                    let new_blobs = distinct_blobs(&obj.parts);
                    for _ in 0..$crate::WRITE_ATTEMPTS {
                        match current(&mut *conn, &obj.bucket, &obj.key).await? {
                            Some(cur) => {
                                if cond.if_none_match || cond.if_match.as_ref().is_some_and(|e| *e != cur.etag) {
                                    return Err(StoreError::PreconditionFailed);
                                }
                                retire(&mut *conn, cur, versioning, &new_blobs, not_before).await?;
                                if versioning == Versioning::Suspended {
                                    drop_null(&mut *conn, &obj.bucket, &obj.key, not_before).await?;
                                }
                                $crate::bind_object!(
                                    ::sqlx::query(
                                        "UPDATE objects SET size = $3, etag = $4, last_modified = $5, content_type = $6, \
                                         content_encoding = $7, content_disposition = $8, content_language = $9, \
                                         cache_control = $10, expires = $11, user_metadata = $12, checksum_algorithm = $13, \
                                         checksum_value = $14, checksum_type = $15, parts = $16, multipart_parts = $17, \
                                         attributes = $18 WHERE bucket = $1 AND key = $2"
                                    ),
                                    &row
                                )
                                .execute(&mut *conn)
                                .await
                                .map_err(db_err)?;
                                return Ok(());
                            }
                            None => {
                                if cond.if_match.is_some() {
                                    return Err(StoreError::PreconditionFailed);
                                }
                                if versioning == Versioning::Suspended {
                                    drop_null(&mut *conn, &obj.bucket, &obj.key, not_before).await?;
                                }
                                let n = $crate::bind_object!(
                                    ::sqlx::query(concat!(
                                        "INSERT INTO objects (",
                                        object_columns!(),
                                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                                         $17, $18) ON CONFLICT (bucket, key) DO NOTHING"
                                    )),
                                    &row
                                )
                                .execute(&mut *conn)
                                .await
                                .map_err(db_err)?
                                .rows_affected();
                                if n == 1 {
                                    return Ok(());
                                }
                                if cond.if_none_match {
                                    return Err(StoreError::PreconditionFailed);
                                }
                            }
                        }
                    }
                    Err(StoreError::Conflict)
                }

                /// Removes one version of a key (`None`: the null version) for good, the caller
                /// holding the key's lock: queues its blobs at `not_before` and, if it was the
                /// latest, promotes the next newest. `None` if there is no such version.
                /// `ObjectLocked` (ADR 0018), checked before anything changed (the caller's
                /// transaction stays usable, e.g. to skip the version and go on), while object
                /// lock protects it: a legal hold, or a retention until after the store's clock
                /// (a GOVERNANCE one not with `bypass_governance`).
                pub(crate) async fn remove(
                    conn: &mut Conn,
                    bucket: &str,
                    key: &str,
                    version_id: Option<&str>,
                    bypass_governance: bool,
                    not_before: i64,
                ) -> Result<Option<ObjectVersion>> {
                    let cur = current(&mut *conn, bucket, key).await?;
                    let cur_id = match &cur {
                        Some(c) => Some($crate::codec::from_json::<::cloudstore_store_api::ObjectAttributes>(&c.attributes)?.version_id),
                        None => None,
                    };
                    let removed = if let (Some(c), Some(id)) = (cur, cur_id.clone())
                        && id.as_deref() == version_id
                    {
                        let meta = c.into_meta()?;
                        if meta.attributes.locked_at(now_ms(), bypass_governance) {
                            return Err(StoreError::ObjectLocked);
                        }
                        ::sqlx::query("DELETE FROM objects WHERE bucket = $1 AND key = $2")
                            .bind(bucket)
                            .bind(key)
                            .execute(&mut *conn)
                            .await
                            .map_err(db_err)?;
                        ObjectVersion { meta, is_delete_marker: false, is_latest: true, seq: ObjectVersion::CURRENT }
                    } else {
                        // The version's lock first (the key's lock holds it still), then its removal.
                        let attributes: Option<String> = ::sqlx::query_scalar(
                            "SELECT attributes FROM object_versions WHERE bucket = $1 AND key = $2 AND version_id = $3",
                        )
                        .bind(bucket)
                        .bind(key)
                        .bind(stored_id(version_id))
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(db_err)?;
                        let Some(attributes) = attributes else {
                            return Ok(None);
                        };
                        unlocked(&attributes, bypass_governance)?;
                        let row: Option<VersionRow> = ::sqlx::query_as(concat!(
                            "DELETE FROM object_versions WHERE bucket = $1 AND key = $2 AND version_id = $3 RETURNING ",
                            version_columns!()
                        ))
                        .bind(bucket)
                        .bind(key)
                        .bind(stored_id(version_id))
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(db_err)?;
                        let Some(row) = row else {
                            return Ok(None);
                        };
                        let newest = ::sqlx::query_scalar::<_, Option<i64>>(
                            "SELECT MAX(seq) FROM object_versions WHERE bucket = $1 AND key = $2",
                        )
                        .bind(bucket)
                        .bind(key)
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(db_err)?;
                        let latest = cur_id.is_none() && newest.is_none_or(|n| n < row.seq);
                        row.into_version(latest)?
                    };
                    queue_blobs(&mut *conn, &distinct_blobs(&removed.meta.parts), not_before).await?;
                    if removed.is_latest {
                        promote(&mut *conn, bucket, key).await?;
                    }
                    Ok(Some(removed))
                }

                /// A delete marker's row.
                pub(crate) fn marker(bucket: &str, key: &str, id: Option<&str>, now: OffsetDateTime) -> ObjectMeta {
                    ObjectMeta {
                        bucket: bucket.to_owned(),
                        key: key.to_owned(),
                        size: 0,
                        etag: String::new(),
                        last_modified: now,
                        content_type: None,
                        content_encoding: None,
                        content_disposition: None,
                        content_language: None,
                        cache_control: None,
                        expires: None,
                        user_metadata: ::std::collections::BTreeMap::new(),
                        checksum: None,
                        parts: Vec::new(),
                        multipart_parts: None,
                        attributes: ::cloudstore_store_api::ObjectAttributes {
                            version_id: id.map(str::to_owned),
                            ..Default::default()
                        },
                    }
                }

                /// Adds `meta` as a delete marker, the newest version of its key.
                pub(crate) async fn insert_marker(conn: &mut Conn, meta: &ObjectMeta) -> Result<i64> {
                    let row = ObjectRow::from_meta(meta)?;
                    for _ in 0..$crate::WRITE_ATTEMPTS {
                        let seq = next_seq(&mut *conn, &meta.bucket, &meta.key).await?;
                        let n = $crate::bind_object!(
                            ::sqlx::query(concat!(
                                "INSERT INTO object_versions (",
                                object_columns!(),
                                ", seq, version_id, is_delete_marker) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
                                 $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, TRUE) ON CONFLICT DO NOTHING"
                            )),
                            &row
                        )
                        .bind(seq)
                        .bind(stored_id(meta.attributes.version_id.as_deref()))
                        .execute(&mut *conn)
                        .await
                        .map_err(db_err)?
                        .rows_affected();
                        if n == 1 {
                            return Ok(seq);
                        }
                    }
                    Err(StoreError::Conflict)
                }

                /// The newest noncurrent entry of a key, locked when `lock`.
                pub(crate) async fn newest(conn: &mut Conn, bucket: &str, key: &str) -> Result<Option<VersionRow>> {
                    ::sqlx::query_as(concat!(
                        "SELECT ",
                        version_columns!(),
                        " FROM object_versions WHERE bucket = $1 AND key = $2 ORDER BY seq DESC LIMIT 1",
                        $for_update
                    ))
                    .bind(bucket)
                    .bind(key)
                    .fetch_optional(conn)
                    .await
                    .map_err(db_err)
                }

                /// After the latest version of a key went away: the newest noncurrent version
                /// becomes current, unless it is a delete marker (or a writer made a new one).
                pub(crate) async fn promote(conn: &mut Conn, bucket: &str, key: &str) -> Result<()> {
                    let Some(top) = newest(&mut *conn, bucket, key).await? else {
                        return Ok(());
                    };
                    if top.is_delete_marker {
                        return Ok(());
                    }
                    let n = ::sqlx::query(concat!(
                        "INSERT INTO objects (",
                        object_columns!(),
                        ") SELECT ",
                        object_columns!(),
                        " FROM object_versions WHERE bucket = $1 AND key = $2 AND seq = $3 ON CONFLICT (bucket, key) DO NOTHING"
                    ))
                    .bind(bucket)
                    .bind(key)
                    .bind(top.seq)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?
                    .rows_affected();
                    if n == 1 {
                        ::sqlx::query("DELETE FROM object_versions WHERE bucket = $1 AND key = $2 AND seq = $3")
                            .bind(bucket)
                            .bind(key)
                            .bind(top.seq)
                            .execute(conn)
                            .await
                            .map_err(db_err)?;
                    }
                    Ok(())
                }
            }

            #[::async_trait::async_trait]
            impl MetadataStore for Store {
                async fn ping(&self) -> Result<()> {
                    ::sqlx::query("SELECT 1").execute(self.reads()).await.map_err(db_err)?;
                    Ok(())
                }

                async fn create_bucket(&self, bucket: &Bucket, events: &[OutboxEvent]) -> Result<()> {
                    let mut tx = self.begin().await?;
                    for _ in 0..$crate::WRITE_ATTEMPTS {
                        let inserted = ::sqlx::query(
                            "INSERT INTO buckets (name, owner, region, created_at, acl, object_ownership, versioning, \
                             object_lock) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO NOTHING",
                        )
                        .bind(&bucket.name)
                        .bind(&bucket.owner)
                        .bind(&bucket.region)
                        .bind(to_ms(bucket.created_at))
                        .bind(&bucket.acl)
                        .bind(&bucket.object_ownership)
                        .bind(bucket.versioning.map(Versioning::as_str))
                        .bind(&bucket.object_lock)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?
                        .rows_affected();
                        if inserted == 1 {
                            outbox::insert(&mut tx, events).await.map_err(db_err)?;
                            return commit(tx).await;
                        }
                        let owner: Option<String> = ::sqlx::query_scalar("SELECT owner FROM buckets WHERE name = $1")
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
                    let row: Option<BucketRow> =
                        ::sqlx::query_as(concat!("SELECT ", bucket_columns!(), " FROM buckets WHERE name = $1"))
                            .bind(name)
                            .fetch_optional(self.reads())
                            .await
                            .map_err(db_err)?;
                    row.map(BucketRow::into_bucket).transpose()
                }

                async fn list_buckets(&self) -> Result<Vec<Bucket>> {
                    let rows: Vec<BucketRow> =
                        ::sqlx::query_as(concat!("SELECT ", bucket_columns!(), " FROM buckets ORDER BY name"))
                            .fetch_all(self.reads())
                            .await
                            .map_err(db_err)?;
                    rows.into_iter().map(BucketRow::into_bucket).collect()
                }

                async fn set_bucket_config(
                    &self,
                    name: &str,
                    config: BucketConfig,
                    value: Option<&str>,
                    events: &[OutboxEvent],
                ) -> Result<()> {
                    let mut tx = self.begin().await?;
                    // Object lock keeps a bucket versioned for good, and needs versioning on
                    // (ADR 0018): checked in the update itself, so no concurrent change slips by.
                    let guard = match config {
                        BucketConfig::Versioning if value != Some(Versioning::Enabled.as_str()) => {
                            " AND object_lock IS NULL"
                        }
                        BucketConfig::ObjectLock if value.is_some() => {
                            " AND (versioning = 'Enabled' OR object_lock IS NOT NULL)"
                        }
                        _ => "",
                    };
                    // The column is one of BucketConfig's fixed names, never input.
                    let sql = format!("UPDATE buckets SET {} = $1 WHERE name = $2{guard}", config.column());
                    let done = ::sqlx::query(::sqlx::AssertSqlSafe(sql))
                        .bind(value)
                        .bind(name)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if done.rows_affected() == 0 {
                        if !guard.is_empty() && bucket_exists(&mut tx, name).await? {
                            return Err(StoreError::ObjectLocked);
                        }
                        return Err(StoreError::NoSuchBucket);
                    }
                    outbox::insert(&mut tx, events).await.map_err(db_err)?;
                    commit(tx).await
                }

                async fn get_account_config(&self, account_id: &str, config: AccountConfig) -> Result<Option<String>> {
                    // The column is one of AccountConfig's fixed names, never input.
                    let sql = format!("SELECT {} FROM account_settings WHERE account_id = $1", config.column());
                    let row: Option<(Option<String>,)> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                        .bind(account_id)
                        .fetch_optional(self.reads())
                        .await
                        .map_err(db_err)?;
                    Ok(row.and_then(|(v,)| v))
                }

                async fn set_account_config(
                    &self,
                    account_id: &str,
                    config: AccountConfig,
                    value: Option<&str>,
                    events: &[OutboxEvent],
                ) -> Result<()> {
                    let mut tx = self.begin().await?;
                    // The column is one of AccountConfig's fixed names, never input.
                    let col = config.column();
                    let sql = format!(
                        "INSERT INTO account_settings (account_id, {col}) VALUES ($1, $2) \
                         ON CONFLICT (account_id) DO UPDATE SET {col} = excluded.{col}"
                    );
                    ::sqlx::query(::sqlx::AssertSqlSafe(sql))
                        .bind(account_id)
                        .bind(value)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    outbox::insert(&mut tx, events).await.map_err(db_err)?;
                    commit(tx).await
                }

                async fn delete_bucket(&self, name: &str, events: &[OutboxEvent]) -> Result<()> {
                    let mut tx = self.begin().await?;
                    // Waits for writers holding a key-share lock; later writers find the bucket gone.
                    let row: Option<i32> = ::sqlx::query_scalar(locks::BUCKET_EXCLUSIVE)
                        .bind(name)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if row.is_none() {
                        return Err(StoreError::NoSuchBucket);
                    }
                    let busy: bool = ::sqlx::query_scalar(
                        "SELECT EXISTS (SELECT 1 FROM objects WHERE bucket = $1) \
                         OR EXISTS (SELECT 1 FROM object_versions WHERE bucket = $1)",
                    )
                        .bind(name)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if busy {
                        return Err(StoreError::BucketNotEmpty);
                    }
                    // In-progress multipart uploads are aborted with the bucket, as on AWS. With row
                    // locks, locking them waits for part writes and completions under way (they hold
                    // a share lock); later ones find the upload gone.
                    if locks::ROW_LOCKS {
                        ::sqlx::query(locks::BUCKET_UPLOADS).bind(name).execute(&mut *tx).await.map_err(db_err)?;
                    }
                    let parts: Vec<String> = ::sqlx::query_scalar(
                        "SELECT blob FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket = $1)",
                    )
                    .bind(name)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    let blobs = distinct_sorted(parts.iter().map(String::as_str).collect());
                    queue_blobs(&mut tx, &blobs, now_ms()).await?;
                    ::sqlx::query(
                        "DELETE FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket = $1)",
                    )
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    ::sqlx::query("DELETE FROM uploads WHERE bucket = $1")
                        .bind(name)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    ::sqlx::query("DELETE FROM buckets WHERE name = $1")
                        .bind(name)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    outbox::insert(&mut tx, events).await.map_err(db_err)?;
                    commit(tx).await
                }

                async fn register_blobs(&self, blobs: &[BlobId], deadline: OffsetDateTime) -> Result<()> {
                    let ids = distinct_ids(blobs);
                    if ids.is_empty() {
                        return Ok(());
                    }
                    self.register_pending(&ids, to_ms(deadline)).await
                }

                async fn abandon_blobs(&self, blobs: &[BlobId]) -> Result<()> {
                    // The same upsert, due now.
                    self.register_blobs(blobs, OffsetDateTime::now_utc()).await
                }

                async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectMeta>> {
                    self.read_object(bucket, key).await
                }

                async fn put_object(
                    &self,
                    obj: &ObjectMeta,
                    cond: &WriteCondition,
                    grace: Duration,
                    events: &[OutboxEvent],
                ) -> Result<()> {
                    self.commit_object(obj, cond, grace, events).await
                }

                async fn put_object_version(
                    &self,
                    obj: &ObjectMeta,
                    cond: &WriteCondition,
                    versioning: Versioning,
                    grace: Duration,
                    events: &[OutboxEvent],
                ) -> Result<()> {
                    let mut tx = self.begin().await?;
                    claim_pending(&mut tx, &distinct_blobs(&obj.parts)).await?;
                    versions::write(&mut tx, obj, cond, versioning, grace).await?;
                    outbox::insert(&mut tx, events).await.map_err(db_err)?;
                    commit(tx).await
                }

                async fn put_delete_marker(
                    &self,
                    bucket: &str,
                    key: &str,
                    marker_id: Option<&str>,
                    now: OffsetDateTime,
                    cond: &DeleteCondition,
                    versioning: Versioning,
                    grace: Duration,
                    events: DeletedEvents<'_>,
                ) -> Result<ObjectVersion> {
                    let mut tx = self.begin().await?;
                    if !lock_bucket(&mut tx, bucket).await? {
                        return Err(StoreError::NoSuchBucket);
                    }
                    lock_key(&mut tx, bucket, key).await?;
                    let not_before = ms_after(now_ms(), grace);
                    if let Some(cur) = versions::current(&mut tx, bucket, key).await? {
                        let meta = cur.into_meta()?;
                        if !cond.holds_for(&meta) {
                            return Err(StoreError::PreconditionFailed);
                        }
                        let id = meta.attributes.version_id.as_deref();
                        if versioning == Versioning::Enabled || id.is_some() {
                            // keep_current copies the row before it is deleted below.
                            let seq: Option<i64> = ::sqlx::query_scalar(
                                "SELECT MAX(seq) FROM object_versions WHERE bucket = $1 AND key = $2",
                            )
                            .bind(bucket)
                            .bind(key)
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(db_err)?;
                            let n = ::sqlx::query(concat!(
                                "INSERT INTO object_versions (",
                                version_columns!(),
                                ") SELECT $3, $4, FALSE, ",
                                object_columns!(),
                                " FROM objects WHERE bucket = $1 AND key = $2 ON CONFLICT DO NOTHING"
                            ))
                            .bind(bucket)
                            .bind(key)
                            .bind(seq.unwrap_or(0) + 1)
                            .bind(versions::stored_id(id))
                            .execute(&mut *tx)
                            .await
                            .map_err(db_err)?
                            .rows_affected();
                            if n != 1 {
                                return Err(StoreError::Conflict);
                            }
                        } else {
                            // The null version goes for good: never a locked one (ADR 0018).
                            if meta.attributes.locked_at(now_ms(), false) {
                                return Err(StoreError::ObjectLocked);
                            }
                            queue_blobs(&mut tx, &distinct_blobs(&meta.parts), not_before).await?;
                        }
                        ::sqlx::query("DELETE FROM objects WHERE bucket = $1 AND key = $2")
                            .bind(bucket)
                            .bind(key)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_err)?;
                    } else if *cond != DeleteCondition::default() {
                        // A condition on the current object, and there is none.
                        return Err(StoreError::PreconditionFailed);
                    }
                    if versioning == Versioning::Suspended {
                        let rows: Vec<(String, String)> = ::sqlx::query_as(
                            "DELETE FROM object_versions WHERE bucket = $1 AND key = $2 AND version_id = 'null' \
                             RETURNING parts, attributes",
                        )
                        .bind(bucket)
                        .bind(key)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db_err)?;
                        for (p, a) in rows {
                            versions::unlocked(&a, false)?;
                            let parts: Vec<::cloudstore_store_api::BlobPart> = $crate::codec::from_json(&p)?;
                            queue_blobs(&mut tx, &distinct_blobs(&parts), not_before).await?;
                        }
                    }
                    let meta = versions::marker(bucket, key, marker_id, now);
                    let seq = versions::insert_marker(&mut tx, &meta).await?;
                    outbox::insert(&mut tx, &events(&meta)).await.map_err(db_err)?;
                    commit(tx).await?;
                    Ok(ObjectVersion { meta, is_delete_marker: true, is_latest: true, seq })
                }

                async fn delete_object_version_with(
                    &self,
                    bucket: &str,
                    key: &str,
                    version_id: Option<&str>,
                    bypass_governance: bool,
                    grace: Duration,
                    events: DeletedEvents<'_>,
                ) -> Result<Option<ObjectVersion>> {
                    let mut tx = self.begin().await?;
                    if !lock_bucket(&mut tx, bucket).await? {
                        return Err(StoreError::NoSuchBucket);
                    }
                    lock_key(&mut tx, bucket, key).await?;
                    let not_before = ms_after(now_ms(), grace);
                    let Some(removed) =
                        versions::remove(&mut tx, bucket, key, version_id, bypass_governance, not_before).await?
                    else {
                        return Ok(None);
                    };
                    outbox::insert(&mut tx, &events(&removed.meta)).await.map_err(db_err)?;
                    commit(tx).await?;
                    Ok(Some(removed))
                }

                async fn delete_versions_if_due(
                    &self,
                    bucket: &str,
                    due: &[DueVersion],
                    grace: Duration,
                    events: DeletedEvents<'_>,
                ) -> Result<Vec<ObjectVersion>> {
                    let mut removed = Vec::with_capacity(due.len());
                    // By key (the order of the key locks: two passes at once never wait on each
                    // other in a cycle), each key's oldest first: a version's successor is still
                    // there when it is checked (removing the successor first would make its
                    // noncurrent time look later).
                    let mut due: Vec<&DueVersion> = due.iter().collect();
                    due.sort_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()).then(a.seq.cmp(&b.seq)));
                    for batch in due.chunks($crate::DELETE_BATCH) {
                        let mut tx = self.begin().await?;
                        if !lock_bucket(&mut tx, bucket).await? {
                            return Ok(removed);
                        }
                        let not_before = ms_after(now_ms(), grace);
                        let mut gone = Vec::new();
                        for d in batch {
                            lock_key(&mut tx, bucket, &d.key).await?;
                            // The version as it is now (the same id at the same position), the
                            // key's current object, and its entries newer and older.
                            let now: Option<(bool, Option<i64>, i64, Option<i64>, i64)> = ::sqlx::query_as(
                                "SELECT v.is_delete_marker, \
                                 (SELECT o.last_modified FROM objects o WHERE o.bucket = $1 AND o.key = $2), \
                                 (SELECT COUNT(*) FROM object_versions n WHERE n.bucket = $1 AND n.key = $2 AND n.seq > $3), \
                                 (SELECT n.last_modified FROM object_versions n WHERE n.bucket = $1 AND n.key = $2 \
                                  AND n.seq > $3 ORDER BY n.seq LIMIT 1), \
                                 (SELECT COUNT(*) FROM object_versions n WHERE n.bucket = $1 AND n.key = $2 AND n.seq < $3) \
                                 FROM object_versions v WHERE v.bucket = $1 AND v.key = $2 AND v.seq = $3 AND v.version_id = $4",
                            )
                            .bind(bucket)
                            .bind(&d.key)
                            .bind(d.seq)
                            .bind(versions::stored_id(d.version_id.as_deref()))
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(db_err)?;
                            let Some((marker, current, newer, next, older)) = now else {
                                continue; // removed, or moved back to current, since the scan
                            };
                            let still_due = match d.due {
                                VersionDue::Noncurrent { since, newer: keep } => {
                                    // Noncurrent: a newer entry or a current object. The latest
                                    // entry without a current object is not noncurrent.
                                    let newer_noncurrent = newer - i64::from(current.is_none());
                                    let became = next.or(current);
                                    newer_noncurrent >= i64::from(keep) && became.is_some_and(|t| t <= to_ms(since))
                                }
                                VersionDue::SoleMarker => marker && current.is_none() && newer == 0 && older == 0,
                            };
                            if !still_due {
                                continue;
                            }
                            // A version object lock protects is skipped (ADR 0018): nothing of it
                            // changed, the page goes on.
                            match versions::remove(&mut tx, bucket, &d.key, d.version_id.as_deref(), false, not_before)
                                .await
                            {
                                Ok(Some(v)) => gone.push(v),
                                Ok(None) | Err(StoreError::ObjectLocked) => {}
                                Err(e) => return Err(e),
                            }
                        }
                        if gone.is_empty() {
                            continue; // dropping the transaction ends it
                        }
                        let evs: Vec<OutboxEvent> = gone.iter().flat_map(|v| events(&v.meta)).collect();
                        outbox::insert(&mut tx, &evs).await.map_err(db_err)?;
                        commit(tx).await?;
                        removed.extend(gone);
                    }
                    Ok(removed)
                }

                async fn update_version_attributes(
                    &self,
                    bucket: &str,
                    key: &str,
                    version_id: Option<&str>,
                    change: AttributesChange<'_>,
                    events: ObjectEvents<'_>,
                ) -> Result<Option<ObjectMeta>> {
                    let mut tx = self.begin().await?;
                    lock_key(&mut tx, bucket, key).await?;
                    if let Some(cur) = versions::current(&mut tx, bucket, key).await? {
                        let mut meta = cur.into_meta()?;
                        if meta.attributes.version_id.as_deref() == version_id {
                            meta.attributes = versions::changed(&meta, change)?;
                            ::sqlx::query("UPDATE objects SET attributes = $3 WHERE bucket = $1 AND key = $2")
                                .bind(bucket)
                                .bind(key)
                                .bind($crate::codec::json(&meta.attributes)?)
                                .execute(&mut *tx)
                                .await
                                .map_err(db_err)?;
                            outbox::insert(&mut tx, &events(&meta)).await.map_err(db_err)?;
                            commit(tx).await?;
                            return Ok(Some(meta));
                        }
                    }
                    let row: Option<VersionRow> = ::sqlx::query_as(concat!(
                        "SELECT ",
                        version_columns!(),
                        " FROM object_versions WHERE bucket = $1 AND key = $2 AND version_id = $3",
                        $for_update
                    ))
                    .bind(bucket)
                    .bind(key)
                    .bind(versions::stored_id(version_id))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    let Some(row) = row.filter(|r| !r.is_delete_marker) else {
                        return Ok(None);
                    };
                    let seq = row.seq;
                    let mut meta = row.into_version(false)?.meta;
                    meta.attributes = versions::changed(&meta, change)?;
                    ::sqlx::query("UPDATE object_versions SET attributes = $4 WHERE bucket = $1 AND key = $2 AND seq = $3")
                        .bind(bucket)
                        .bind(key)
                        .bind(seq)
                        .bind($crate::codec::json(&meta.attributes)?)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    outbox::insert(&mut tx, &events(&meta)).await.map_err(db_err)?;
                    commit(tx).await?;
                    Ok(Some(meta))
                }

                async fn get_object_version(
                    &self,
                    bucket: &str,
                    key: &str,
                    version_id: Option<&str>,
                ) -> Result<Option<ObjectVersion>> {
                    let cur = self.read_object(bucket, key).await?;
                    if let Some(meta) = &cur
                        && meta.attributes.version_id.as_deref() == version_id
                    {
                        let meta = meta.clone();
                        return Ok(Some(ObjectVersion {
                            meta,
                            is_delete_marker: false,
                            is_latest: true,
                            seq: ObjectVersion::CURRENT,
                        }));
                    }
                    let row: Option<VersionRow> = ::sqlx::query_as(concat!(
                        "SELECT ",
                        version_columns!(),
                        " FROM object_versions WHERE bucket = $1 AND key = $2 AND version_id = $3"
                    ))
                    .bind(bucket)
                    .bind(key)
                    .bind(versions::stored_id(version_id))
                    .fetch_optional(self.reads())
                    .await
                    .map_err(db_err)?;
                    let Some(row) = row else {
                        return Ok(None);
                    };
                    let latest = if cur.is_some() {
                        false
                    } else {
                        let newest: Option<i64> = ::sqlx::query_scalar(
                            "SELECT MAX(seq) FROM object_versions WHERE bucket = $1 AND key = $2",
                        )
                        .bind(bucket)
                        .bind(key)
                        .fetch_one(self.reads())
                        .await
                        .map_err(db_err)?;
                        newest == Some(row.seq)
                    };
                    row.into_version(latest).map(Some)
                }

                async fn latest_version(&self, bucket: &str, key: &str) -> Result<Option<ObjectVersion>> {
                    if let Some(meta) = self.read_object(bucket, key).await? {
                        return Ok(Some(ObjectVersion {
                            meta,
                            is_delete_marker: false,
                            is_latest: true,
                            seq: ObjectVersion::CURRENT,
                        }));
                    }
                    let row: Option<VersionRow> = ::sqlx::query_as(concat!(
                        "SELECT ",
                        version_columns!(),
                        " FROM object_versions WHERE bucket = $1 AND key = $2 ORDER BY seq DESC LIMIT 1"
                    ))
                    .bind(bucket)
                    .bind(key)
                    .fetch_optional(self.reads())
                    .await
                    .map_err(db_err)?;
                    row.map(|r| r.into_version(true)).transpose()
                }

                async fn scan_versions(
                    &self,
                    bucket: &str,
                    from: &str,
                    below: Option<i64>,
                    inclusive: bool,
                    to: Option<&str>,
                    limit_: usize,
                ) -> Result<Vec<ObjectVersion>> {
                    let sql = $crate::versions_scan_sql(below.is_some(), inclusive, to.is_some());
                    let mut q = ::sqlx::query_as::<_, VersionRow>(::sqlx::AssertSqlSafe(sql)).bind(bucket).bind(from);
                    if let Some(b) = below {
                        q = q.bind(b);
                    }
                    if let Some(to) = to {
                        q = q.bind(to);
                    }
                    let rows = q.bind(limit(limit_)).fetch_all(self.reads()).await.map_err(db_err)?;
                    let mut out = Vec::with_capacity(rows.len());
                    let mut last: Option<String> = below.map(|_| from.to_owned());
                    for row in rows {
                        let latest = last.as_deref() != Some(row.object.key.as_str());
                        last = Some(row.object.key.clone());
                        out.push(row.into_version(latest)?);
                    }
                    Ok(out)
                }

                async fn delete_object(
                    &self,
                    bucket: &str,
                    key: &str,
                    cond: &DeleteCondition,
                    grace: Duration,
                    events: DeletedEvents<'_>,
                ) -> Result<Option<ObjectMeta>> {
                    let mut tx = self.begin().await?;
                    let row: Option<$crate::codec::ObjectRow> = ::sqlx::query_as(concat!(
                        "DELETE FROM objects WHERE bucket = $1 AND key = $2 RETURNING ",
                        object_columns!()
                    ))
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
                    if !cond.holds_for(&meta) {
                        // Dropping the transaction rolls the delete back.
                        return Err(StoreError::PreconditionFailed);
                    }
                    // Never reached through the gateway (a bucket with object lock is versioned
                    // for good), kept so that no path removes a locked row (ADR 0018).
                    if meta.attributes.locked_at(now_ms(), false) {
                        return Err(StoreError::ObjectLocked);
                    }
                    queue_blobs(&mut tx, &distinct_blobs(&meta.parts), ms_after(now_ms(), grace)).await?;
                    outbox::insert(&mut tx, &events(&meta)).await.map_err(db_err)?;
                    commit(tx).await?;
                    Ok(Some(meta))
                }

                async fn delete_objects_if_unchanged(
                    &self,
                    bucket: &str,
                    objects: &[ObjectSummary],
                    grace: Duration,
                    events: DeletedEvents<'_>,
                ) -> Result<Vec<ObjectMeta>> {
                    type Db = <Store as $crate::SqlBackend>::Db;
                    let mut deleted = Vec::with_capacity(objects.len());
                    for batch in objects.chunks($crate::DELETE_BATCH) {
                        let mut tx = self.begin().await?;
                        // The rows as they are now, locked until the commit where rows lock.
                        let mut q = ::sqlx::QueryBuilder::<Db>::new(
                            "SELECT key, etag, last_modified, size FROM objects WHERE bucket = ",
                        );
                        q.push_bind(bucket).push(" AND key IN (");
                        let mut keys = q.separated(", ");
                        for o in batch {
                            keys.push_bind(o.key.as_str());
                        }
                        q.push(")").push($for_update);
                        let now: Vec<(String, String, i64, i64)> =
                            q.build_query_as().fetch_all(&mut *tx).await.map_err(db_err)?;
                        let now: ::std::collections::HashMap<&str, (&str, i64, i64)> =
                            now.iter().map(|(k, e, t, n)| (k.as_str(), (e.as_str(), *t, *n))).collect();
                        let unchanged: Vec<&str> = batch
                            .iter()
                            .filter(|o| {
                                now.get(o.key.as_str()).is_some_and(|&(e, t, n)| {
                                    e == o.etag && t == to_ms(o.last_modified) && to_i64(o.size).is_ok_and(|s| s == n)
                                })
                            })
                            .map(|o| o.key.as_str())
                            .collect();
                        if unchanged.is_empty() {
                            continue; // dropping the transaction ends it
                        }
                        let mut q = ::sqlx::QueryBuilder::<Db>::new("DELETE FROM objects WHERE bucket = ");
                        q.push_bind(bucket).push(" AND key IN (");
                        let mut keys = q.separated(", ");
                        for k in &unchanged {
                            keys.push_bind(*k);
                        }
                        q.push(") RETURNING ").push(object_columns!());
                        let rows: Vec<$crate::codec::ObjectRow> =
                            q.build_query_as().fetch_all(&mut *tx).await.map_err(db_err)?;
                        let metas = rows.into_iter().map($crate::codec::ObjectRow::into_meta).collect::<Result<Vec<ObjectMeta>>>()?;
                        // Distinct over the batch: one upsert must not meet a blob twice.
                        let mut blobs: Vec<&str> = metas.iter().flat_map(|m| distinct_blobs(&m.parts)).collect();
                        blobs.sort_unstable();
                        blobs.dedup();
                        for b in blobs.chunks($crate::DELETE_BATCH) {
                            queue_blobs(&mut tx, b, ms_after(now_ms(), grace)).await?;
                        }
                        let evs: Vec<OutboxEvent> = metas.iter().flat_map(events).collect();
                        outbox::insert(&mut tx, &evs).await.map_err(db_err)?;
                        commit(tx).await?;
                        deleted.extend(metas);
                    }
                    Ok(deleted)
                }

                async fn update_object_attributes(
                    &self,
                    bucket: &str,
                    key: &str,
                    change: AttributesChange<'_>,
                    events: ObjectEvents<'_>,
                ) -> Result<Option<ObjectMeta>> {
                    let mut tx = self.begin().await?;
                    let row: Option<$crate::codec::ObjectRow> = ::sqlx::query_as(concat!(
                        "SELECT ",
                        object_columns!(),
                        " FROM objects WHERE bucket = $1 AND key = $2",
                        $for_update
                    ))
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
                    let mut meta = row.into_meta()?;
                    meta.attributes = versions::changed(&meta, change)?;
                    ::sqlx::query("UPDATE objects SET attributes = $3 WHERE bucket = $1 AND key = $2")
                        .bind(bucket)
                        .bind(key)
                        .bind($crate::codec::json(&meta.attributes)?)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
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
                    let sql = $crate::objects_scan_sql(inclusive, to.is_some());
                    let mut q = ::sqlx::query_as::<_, SummaryRow>(sql).bind(bucket).bind(from);
                    if let Some(to) = to {
                        q = q.bind(to);
                    }
                    let rows = q.bind(limit(limit_)).fetch_all(self.reads()).await.map_err(db_err)?;
                    rows.into_iter().map(SummaryRow::into_summary).collect()
                }

                async fn create_upload(&self, upload: &Upload) -> Result<()> {
                    let mut tx = self.begin().await?;
                    if !lock_bucket(&mut tx, &upload.bucket).await? {
                        return Err(StoreError::NoSuchBucket);
                    }
                    let inserted = ::sqlx::query(concat!(
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
                    let row: Option<UploadRow> = ::sqlx::query_as(concat!(
                        "SELECT ",
                        upload_columns!(),
                        " FROM uploads WHERE upload_id = $1 AND bucket = $2 AND key = $3"
                    ))
                    .bind(upload_id)
                    .bind(bucket)
                    .bind(key)
                    .fetch_optional(self.reads())
                    .await
                    .map_err(db_err)?;
                    row.map(UploadRow::into_upload).transpose()
                }

                async fn put_part(
                    &self,
                    bucket: &str,
                    key: &str,
                    upload_id: &str,
                    part: &PartMeta,
                    grace: Duration,
                ) -> Result<()> {
                    let mut tx = self.begin().await?;
                    if !lock_upload(&mut tx, bucket, key, upload_id, false).await? {
                        return Err(StoreError::NoSuchUpload);
                    }
                    claim_pending(&mut tx, &[part.blob.as_str()]).await?;
                    let number = to_i32(part.part_number)?;
                    let (size, last_modified) = (to_i64(part.size)?, to_ms(part.last_modified));
                    for _ in 0..$crate::WRITE_ATTEMPTS {
                        let old: Option<String> = ::sqlx::query_scalar(locks::PART)
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
                        let n = ::sqlx::query(sql)
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
                    let rows: Vec<PartRow> = ::sqlx::query_as(concat!(
                        "SELECT ",
                        part_columns!(),
                        " FROM parts WHERE upload_id = $1 AND part_number > $2 ORDER BY part_number LIMIT $3"
                    ))
                    .bind(upload_id)
                    .bind(i64::from(after))
                    .bind(limit(limit_))
                    .fetch_all(self.reads())
                    .await
                    .map_err(db_err)?;
                    rows.into_iter().map(PartRow::into_part).collect()
                }

                async fn complete_upload(
                    &self,
                    upload_id: &str,
                    obj: &ObjectMeta,
                    cond: &WriteCondition,
                    versioning: Option<Versioning>,
                    grace: Duration,
                    events: &[OutboxEvent],
                ) -> Result<()> {
                    let mut tx = self.begin().await?;
                    // Locks in delete_bucket's order, bucket then upload: the other order deadlocks
                    // with a DeleteBucket that holds the bucket and waits for this upload.
                    if !lock_bucket(&mut tx, &obj.bucket).await? {
                        return Err(StoreError::NoSuchBucket);
                    }
                    if !lock_upload(&mut tx, &obj.bucket, &obj.key, upload_id, true).await? {
                        return Err(StoreError::NoSuchUpload);
                    }
                    match versioning {
                        None => Store::write_object(&mut tx, obj, cond, grace).await?,
                        Some(v) => versions::write(&mut tx, obj, cond, v, grace).await?,
                    }
                    let parts = part_blobs(&mut tx, upload_id).await?;
                    let used = distinct_blobs(&obj.parts);
                    // Every blob of the object must still be a part of the upload: a part replaced
                    // since the caller listed the parts has been queued for collection and must not
                    // become live.
                    if !used.iter().all(|b| parts.iter().any(|p| p == b)) {
                        return Err(StoreError::Conflict);
                    }
                    let unused =
                        distinct_sorted(parts.iter().map(String::as_str).filter(|p| !used.contains(p)).collect());
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
                    let blobs = distinct_sorted(parts.iter().map(String::as_str).collect());
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
                    let sql = $crate::uploads_scan_sql(upload_id_marker.is_some(), inclusive, to.is_some());
                    let mut q = ::sqlx::query_as::<_, UploadRow>(sql).bind(bucket).bind(key_marker);
                    if let Some(id) = upload_id_marker {
                        q = q.bind(id);
                    }
                    if let Some(to) = to {
                        q = q.bind(to);
                    }
                    let rows = q.bind(limit(limit_)).fetch_all(self.reads()).await.map_err(db_err)?;
                    rows.into_iter().map(UploadRow::into_upload).collect()
                }

                async fn due_blobs(&self, now: OffsetDateTime, limit_: usize) -> Result<Vec<BlobId>> {
                    let rows: Vec<String> = ::sqlx::query_scalar(
                        "SELECT blob FROM blob_gc WHERE not_before <= $1 ORDER BY not_before, blob LIMIT $2",
                    )
                    .bind(to_ms(now))
                    .bind(limit(limit_))
                    .fetch_all(self.reads())
                    .await
                    .map_err(db_err)?;
                    rows.into_iter().map(blob_id).collect()
                }

                async fn claim_blob(&self, blob: &BlobId, now: OffsetDateTime) -> Result<bool> {
                    let done = ::sqlx::query("DELETE FROM blob_gc WHERE blob = $1 AND not_before <= $2")
                        .bind(blob.as_str())
                        .bind(to_ms(now))
                        .execute(self.writes())
                        .await
                        .map_err(db_err)?
                        .rows_affected();
                    Ok(done == 1)
                }

                async fn stale_uploads(&self, before: OffsetDateTime, limit_: usize) -> Result<Vec<StaleUpload>> {
                    let rows: Vec<(String, String, String)> = ::sqlx::query_as(
                        "SELECT bucket, key, upload_id FROM uploads WHERE initiated < $1 \
                         ORDER BY initiated, upload_id LIMIT $2",
                    )
                    .bind(to_ms(before))
                    .bind(limit(limit_))
                    .fetch_all(self.reads())
                    .await
                    .map_err(db_err)?;
                    let stale = rows.into_iter().map(|(bucket, key, upload_id)| StaleUpload { bucket, key, upload_id });
                    Ok(stale.collect())
                }

                async fn append_events(&self, events: &[OutboxEvent]) -> Result<()> {
                    if events.is_empty() {
                        return Ok(());
                    }
                    let mut tx = self.begin().await?;
                    outbox::insert(&mut tx, events).await.map_err(db_err)?;
                    commit(tx).await
                }

                async fn outbox_lease(&self, owner: &str, ttl: ::std::time::Duration) -> Result<bool> {
                    outbox::lease(self.writes(), owner, ttl).await.map_err(db_err)
                }

                async fn outbox_rows(&self, limit: usize) -> Result<Vec<OutboxRow>> {
                    outbox::rows(self.reads(), limit).await.map_err(db_err)
                }

                async fn outbox_remove(&self, ids: &[i64]) -> Result<()> {
                    outbox::remove(self.writes(), ids).await.map_err(db_err)
                }

                async fn outbox_backlog(&self) -> Result<OutboxBacklog> {
                    outbox::backlog(self.reads()).await.map_err(db_err)
                }

                async fn create_share(&self, share: &Share, events: &[OutboxEvent]) -> Result<()> {
                    let mut tx = self.begin().await?;
                    let inserted = ::sqlx::query(concat!(
                        "INSERT INTO shares (",
                        share_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) ON CONFLICT DO NOTHING"
                    ))
                    .bind(&share.id)
                    .bind(&share.token_hash)
                    .bind(&share.account_id)
                    .bind(&share.creator_arn)
                    .bind(&share.bucket)
                    .bind(&share.key)
                    .bind(&share.filename)
                    .bind(to_ms(share.created_at))
                    .bind(to_ms(share.expires_at))
                    .bind(share.max_downloads.map(to_i64).transpose()?)
                    .bind(to_i64(share.downloads)?)
                    .bind(share.last_used_at.map(to_ms))
                    .bind(share.last_counted_at.map(to_ms))
                    .bind(share.revoked)
                    .bind(&share.password_hash)
                    .bind(i64::from(share.guesses))
                    .bind(share.guesses_since.map(to_ms))
                    .bind(&share.upload_rules)
                    .bind(share.folder)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?
                    .rows_affected();
                    if inserted == 0 {
                        return Err(StoreError::Conflict);
                    }
                    outbox::insert(&mut tx, events).await.map_err(db_err)?;
                    commit(tx).await
                }

                async fn get_share(&self, id: &str) -> Result<Option<Share>> {
                    let row: Option<ShareRow> =
                        ::sqlx::query_as(concat!("SELECT ", share_columns!(), " FROM shares WHERE id = $1"))
                            .bind(id)
                            .fetch_optional(self.reads())
                            .await
                            .map_err(db_err)?;
                    row.map(ShareRow::into_share).transpose()
                }

                async fn share_by_token(&self, token_hash: &str) -> Result<Option<Share>> {
                    let row: Option<ShareRow> =
                        ::sqlx::query_as(concat!("SELECT ", share_columns!(), " FROM shares WHERE token_hash = $1"))
                            .bind(token_hash)
                            .fetch_optional(self.reads())
                            .await
                            .map_err(db_err)?;
                    row.map(ShareRow::into_share).transpose()
                }

                async fn list_shares(&self, account_id: &str, limit_: usize) -> Result<Vec<Share>> {
                    let rows: Vec<ShareRow> = ::sqlx::query_as(concat!(
                        "SELECT ",
                        share_columns!(),
                        " FROM shares WHERE account_id = $1 ORDER BY created_at DESC, id LIMIT $2"
                    ))
                    .bind(account_id)
                    .bind(limit(limit_))
                    .fetch_all(self.reads())
                    .await
                    .map_err(db_err)?;
                    rows.into_iter().map(ShareRow::into_share).collect()
                }

                async fn live_shares(
                    &self,
                    bucket: &str,
                    key: Option<&str>,
                    now: OffsetDateTime,
                    limit_: usize,
                ) -> Result<Vec<Share>> {
                    // A folder link's key is a prefix of the key (compared by `substr`, as LIKE
                    // would read `%` and `_` in keys).
                    let rows: Vec<ShareRow> = ::sqlx::query_as(concat!(
                        "SELECT ",
                        share_columns!(),
                        " FROM shares WHERE bucket = $1 AND NOT revoked AND expires_at > $3 \
                         AND upload_rules IS NULL AND (max_downloads IS NULL OR downloads < max_downloads) \
                         AND ($2 IS NULL OR key = $2 OR (folder AND substr($2, 1, length(key)) = key)) \
                         ORDER BY created_at, id LIMIT $4"
                    ))
                    .bind(bucket)
                    .bind(key)
                    .bind(to_ms(now))
                    .bind(limit(limit_))
                    .fetch_all(self.reads())
                    .await
                    .map_err(db_err)?;
                    rows.into_iter().map(ShareRow::into_share).collect()
                }

                async fn revoke_share(&self, id: &str) -> Result<bool> {
                    let done = ::sqlx::query("UPDATE shares SET revoked = TRUE WHERE id = $1")
                        .bind(id)
                        .execute(self.writes())
                        .await
                        .map_err(db_err)?
                        .rows_affected();
                    Ok(done == 1)
                }

                async fn charge_share_guess(
                    &self,
                    id: &str,
                    now: OffsetDateTime,
                    window: Duration,
                    max: u32,
                ) -> Result<bool> {
                    let now = to_ms(now);
                    let ended = ms_after(now, -window);
                    let done = ::sqlx::query(
                        "UPDATE shares SET \
                         guesses = CASE WHEN guesses_since IS NULL OR guesses_since <= $3 THEN 1 ELSE guesses + 1 END, \
                         guesses_since = CASE WHEN guesses_since IS NULL OR guesses_since <= $3 THEN $2 ELSE guesses_since END \
                         WHERE id = $1 AND (guesses_since IS NULL OR guesses_since <= $3 OR guesses < $4)",
                    )
                    .bind(id)
                    .bind(now)
                    .bind(ended)
                    .bind(i64::from(max))
                    .execute(self.writes())
                    .await
                    .map_err(db_err)?
                    .rows_affected();
                    Ok(done == 1)
                }

                async fn refund_share_use(&self, id: &str) -> Result<()> {
                    ::sqlx::query("UPDATE shares SET downloads = downloads - 1 WHERE id = $1 AND downloads > 0")
                        .bind(id)
                        .execute(self.writes())
                        .await
                        .map_err(db_err)?;
                    Ok(())
                }

                async fn refund_share_guess(&self, id: &str) -> Result<()> {
                    ::sqlx::query("UPDATE shares SET guesses = guesses - 1 WHERE id = $1 AND guesses > 0")
                        .bind(id)
                        .execute(self.writes())
                        .await
                        .map_err(db_err)?;
                    Ok(())
                }

                async fn use_share(&self, id: &str, now: OffsetDateTime, use_: ShareUse) -> Result<Option<Share>> {
                    // One statement: the check and the count cannot be split by a concurrent use.
                    let row: Option<ShareRow> = match use_ {
                        ShareUse::Download => ::sqlx::query_as(concat!(
                            "UPDATE shares SET downloads = downloads + 1, last_used_at = $2, last_counted_at = $2 \
                             WHERE id = $1 AND NOT revoked AND expires_at > $2 \
                             AND (max_downloads IS NULL OR downloads < max_downloads) RETURNING ",
                            share_columns!()
                        ))
                        .bind(id)
                        .bind(to_ms(now)),
                        ShareUse::Resume { counted_after } => ::sqlx::query_as(concat!(
                            "UPDATE shares SET last_used_at = $2 \
                             WHERE id = $1 AND NOT revoked AND expires_at > $2 \
                             AND (max_downloads IS NULL OR downloads < max_downloads OR last_counted_at > $3) RETURNING ",
                            share_columns!()
                        ))
                        .bind(id)
                        .bind(to_ms(now))
                        .bind(to_ms(counted_after)),
                    }
                    .fetch_optional(self.writes())
                    .await
                    .map_err(db_err)?;
                    row.map(ShareRow::into_share).transpose()
                }

                async fn create_kms_key(&self, key: &KmsKeyRecord) -> Result<()> {
                    let inserted = ::sqlx::query(
                        "INSERT INTO kms_keys (id, account_id, sealed_material, description, created_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    )
                    .bind(&key.id)
                    .bind(&key.account_id)
                    .bind(&key.sealed_material)
                    .bind(&key.description)
                    .bind(to_ms(key.created_at))
                    .execute(self.writes())
                    .await
                    .map_err(db_err)?
                    .rows_affected();
                    if inserted == 0 {
                        return Err(StoreError::Conflict);
                    }
                    Ok(())
                }

                async fn get_kms_key(&self, id: &str) -> Result<Option<KmsKeyRecord>> {
                    let row: Option<KmsKeyRow> = ::sqlx::query_as(
                        "SELECT id, account_id, sealed_material, description, created_at FROM kms_keys WHERE id = $1",
                    )
                    .bind(id)
                    .fetch_optional(self.reads())
                    .await
                    .map_err(db_err)?;
                    row.map(KmsKeyRow::into_record).transpose()
                }

                async fn list_kms_keys(&self) -> Result<Vec<KmsKeyRecord>> {
                    let rows: Vec<KmsKeyRow> = ::sqlx::query_as(
                        "SELECT id, account_id, sealed_material, description, created_at FROM kms_keys ORDER BY id",
                    )
                    .fetch_all(self.reads())
                    .await
                    .map_err(db_err)?;
                    rows.into_iter().map(KmsKeyRow::into_record).collect()
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The highest `$N` of `sql`.
    fn params(sql: &str) -> usize {
        sql.split('$')
            .skip(1)
            .filter_map(|s| s.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn scans_number_their_parameters_as_they_are_bound() {
        for inclusive in [true, false] {
            for bounded in [true, false] {
                // bucket, from, [to], limit
                assert_eq!(params(objects_scan_sql(inclusive, bounded)), 3 + usize::from(bounded));
                for after_id in [true, false] {
                    // bucket, key marker, [upload id marker], [to], limit
                    let want = 3 + usize::from(after_id) + usize::from(bounded);
                    assert_eq!(params(uploads_scan_sql(after_id, inclusive, bounded)), want);
                }
            }
        }
        assert_eq!(params(OBJECT_BY_KEY), 2);
    }
}
