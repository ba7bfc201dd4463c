use std::fmt::Debug;

use time::{Duration, OffsetDateTime};

use crate::{
    AccountConfig, AttributesChange, BlobId, Bucket, BucketConfig, DeleteCondition, DeletedEvents, DueVersion,
    KmsKeyRecord, ObjectEvents, ObjectMeta, ObjectSummary, ObjectVersion, OutboxBacklog, OutboxEvent, OutboxRow,
    PartMeta, Result, Share, ShareUse, StaleUpload, Upload, Versioning, WriteCondition,
};

/// The metadata database: buckets, objects, multipart uploads and the blob collector's queue.
///
/// Every method that changes state is one transaction. Keys compare in byte order (UTF-8
/// bytes, like `memcmp`), so listings are sorted the way S3 sorts them.
///
/// The methods that change what users see take the events describing the change and write them
/// to the outbox in the same transaction (ADR 0006): committed together or not at all.
#[async_trait::async_trait]
pub trait MetadataStore: Send + Sync + Debug + 'static {
    /// Checks that the database answers (for `/health/ready`).
    async fn ping(&self) -> Result<()>;

    // ---- buckets ----

    /// Creates a bucket. [`crate::StoreError::BucketExists`] (with the owner) if the name is taken.
    async fn create_bucket(&self, bucket: &Bucket, events: &[OutboxEvent]) -> Result<()>;
    /// Reads a bucket.
    async fn get_bucket(&self, name: &str) -> Result<Option<Bucket>>;
    /// Every bucket, sorted by name.
    async fn list_buckets(&self) -> Result<Vec<Bucket>>;
    /// Deletes a bucket that holds no objects ([`crate::StoreError::NoSuchBucket`], or
    /// [`crate::StoreError::BucketNotEmpty`] while it holds objects). Its multipart uploads in
    /// progress are aborted in the same transaction, their parts' blobs queued now.
    async fn delete_bucket(&self, name: &str, events: &[OutboxEvent]) -> Result<()>;
    /// Sets (`Some`) or removes (`None`) a bucket setting (the policy, the notification
    /// rules); `NoSuchBucket` if the bucket is gone. `ObjectLocked` (nothing changed) for a
    /// versioning state other than `Enabled` on a bucket with object lock, or an object lock
    /// configuration on a bucket whose versioning is not `Enabled` (ADR 0018).
    async fn set_bucket_config(
        &self,
        name: &str,
        config: BucketConfig,
        value: Option<&str>,
        events: &[OutboxEvent],
    ) -> Result<()>;

    /// An account-wide setting as stored (`None`: not configured).
    async fn get_account_config(&self, account_id: &str, config: AccountConfig) -> Result<Option<String>>;
    /// Sets (`Some`) or removes (`None`) an account-wide setting, with its events, in one
    /// transaction.
    async fn set_account_config(
        &self,
        account_id: &str,
        config: AccountConfig,
        value: Option<&str>,
        events: &[OutboxEvent],
    ) -> Result<()>;

    // ---- blob registrations (see the crate docs) ----

    /// Registers blobs about to be written as pending; the collector reclaims any that are
    /// still pending at `deadline`.
    async fn register_blobs(&self, blobs: &[BlobId], deadline: OffsetDateTime) -> Result<()>;
    /// Marks pending blobs as garbage now (the write that made them failed).
    async fn abandon_blobs(&self, blobs: &[BlobId]) -> Result<()>;

    // ---- objects ----

    /// Reads an object's metadata.
    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectMeta>>;

    /// Makes `obj` the live object at its bucket and key, in one transaction:
    /// fails with `NoSuchBucket` if the bucket is gone, `PreconditionFailed` if `cond` does not
    /// hold for the current object, `BlobReclaimed` if a blob of `obj.parts` is no longer
    /// pending; otherwise clears the pending registration of `obj.parts`, replaces the object
    /// and queues the replaced object's blobs for collection after `grace`.
    async fn put_object(
        &self,
        obj: &ObjectMeta,
        cond: &WriteCondition,
        grace: Duration,
        events: &[OutboxEvent],
    ) -> Result<()>;

    /// Changes an object's attributes in place (its tags, ...) in one transaction that holds
    /// the object's row: `change` gets the current object and answers its new attributes; its
    /// error changes nothing and is returned. Data, ETag and modification time stay as they
    /// are. Returns the object as changed, or `None` if there is no object at the key
    /// (`NoSuchBucket` if the bucket is gone). `events` makes the change's events from the
    /// changed object.
    async fn update_object_attributes(
        &self,
        bucket: &str,
        key: &str,
        change: AttributesChange<'_>,
        events: ObjectEvents<'_>,
    ) -> Result<Option<ObjectMeta>>;

    /// Deletes an object and queues its blobs for collection after `grace`. Returns the deleted
    /// object, or `None` if there was none (S3 DeleteObject succeeds either way). An object that
    /// fails `cond` is kept: `PreconditionFailed`. `events` makes the events of the deletion
    /// from the deleted object (not called when there was none).
    async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        cond: &DeleteCondition,
        grace: Duration,
        events: DeletedEvents<'_>,
    ) -> Result<Option<ObjectMeta>>;

    // ---- versions (ADR 0017) ----

    /// Makes `obj` (its version id in `obj.attributes.version_id`: a fresh one when
    /// `versioning` is `Enabled`, `None` when `Suspended`) the current version, in one
    /// transaction, with the checks of [`Self::put_object`]. The replaced current version is
    /// kept as a noncurrent version (its blobs stay) unless it is the null version and
    /// versioning is suspended: then its blobs are queued after `grace`, as are those of a
    /// noncurrent null version a suspended write replaces.
    async fn put_object_version(
        &self,
        obj: &ObjectMeta,
        cond: &WriteCondition,
        versioning: Versioning,
        grace: Duration,
        events: &[OutboxEvent],
    ) -> Result<()>;

    /// DeleteObject without a version id in a versioned bucket, one transaction: the current
    /// version becomes noncurrent (replaced, blobs queued, when it is the null version and
    /// versioning is suspended) and a delete marker with `marker_id` (`None`: the null
    /// version; a suspended bucket's noncurrent null version is replaced) and `now` becomes
    /// the latest version, even when the key had no object. A current object that fails
    /// `cond` is kept (`PreconditionFailed`, also when `cond` sets anything and there is no
    /// current object). Returns the marker; `events` gets it.
    #[allow(clippy::too_many_arguments)]
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
    ) -> Result<ObjectVersion>;

    /// Removes one version (`None`: the null version) for good, in one transaction: its blobs
    /// are queued after `grace`; if it was the latest, the next newest version becomes current
    /// (a delete marker stays latest without a current object). Returns what was removed, or
    /// `None` if there is no such version. `events` gets the removed version.
    /// [`crate::StoreError::ObjectLocked`] (nothing changed) while object lock protects the
    /// version (ADR 0018: a legal hold, or a retention until after the store's clock).
    async fn delete_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        grace: Duration,
        events: DeletedEvents<'_>,
    ) -> Result<Option<ObjectVersion>> {
        self.delete_object_version_with(bucket, key, version_id, false, grace, events).await
    }

    /// [`Self::delete_object_version`], where `bypass_governance` (the caller is allowed
    /// `s3:BypassGovernanceRetention` and asked for it) lets a GOVERNANCE retention in force
    /// be ignored; a COMPLIANCE retention or a legal hold still refuses (ADR 0018).
    async fn delete_object_version_with(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        bypass_governance: bool,
        grace: Duration,
        events: DeletedEvents<'_>,
    ) -> Result<Option<ObjectVersion>>;

    /// Removes those of `due` (versions of `bucket` a lifecycle scan found due; a key's due
    /// versions best given together) for which what made them due still holds (see [`crate::VersionDue`]; the same version:
    /// its id at the same position), each as [`Self::delete_object_version`] removes a
    /// version (blobs queued after `grace`, the next newest promoted), the others skipped.
    /// `events` makes each removed version's events, written in the transaction that removes
    /// it. SQL stores remove a page of up to 1,000 in one transaction. Returns the removed
    /// versions.
    async fn delete_versions_if_due(
        &self,
        bucket: &str,
        due: &[DueVersion],
        grace: Duration,
        events: DeletedEvents<'_>,
    ) -> Result<Vec<ObjectVersion>>;

    /// [`Self::update_object_attributes`] of one version (`None`: the null version), current or
    /// not; `None` if there is no such version or it is a delete marker.
    async fn update_version_attributes(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        change: AttributesChange<'_>,
        events: ObjectEvents<'_>,
    ) -> Result<Option<ObjectMeta>>;

    /// One version of a key (`None`: the null version), current or not, or a delete marker.
    async fn get_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<ObjectVersion>>;

    /// The latest version of a key: the current object, else the newest delete marker (or
    /// noncurrent version) left.
    async fn latest_version(&self, bucket: &str, key: &str) -> Result<Option<ObjectVersion>>;

    /// Versions and delete markers of `bucket` ordered by key, then newest first, from the
    /// position `(from, below)`: keys `> from` (`>=` when `inclusive`), or when `below` is
    /// given, versions of `from` with `seq < below` and then later keys. Only keys `< to`
    /// when given. At most `limit`. `is_latest` is set on each key's newest entry.
    async fn scan_versions(
        &self,
        bucket: &str,
        from: &str,
        below: Option<i64>,
        inclusive: bool,
        to: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ObjectVersion>>;

    /// Deletes those of `objects` (of `bucket`, as a scan listed them) that are still exactly as
    /// listed — the same ETag, modification time (to the millisecond) and size — and queues their
    /// blobs for collection after `grace`; the others (replaced or deleted meanwhile) are kept
    /// and skipped. `events` makes each deleted object's events, written in the transaction
    /// that deletes it. Returns the deleted objects. The lifecycle pass's expiry: SQL stores
    /// delete a batch in one transaction (a few statements, whatever its size); this default
    /// deletes one object at a time with [`Self::delete_object`].
    async fn delete_objects_if_unchanged(
        &self,
        bucket: &str,
        objects: &[ObjectSummary],
        grace: Duration,
        events: DeletedEvents<'_>,
    ) -> Result<Vec<ObjectMeta>> {
        let mut deleted = Vec::new();
        for o in objects {
            let cond = DeleteCondition {
                etag: Some(o.etag.clone()),
                last_modified: Some(o.last_modified),
                size: Some(o.size),
            };
            match self.delete_object(bucket, &o.key, &cond, grace, events).await {
                Ok(Some(meta)) => deleted.push(meta),
                Ok(None) | Err(crate::StoreError::PreconditionFailed | crate::StoreError::NoSuchBucket) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }

    /// Objects of `bucket` with `from < key` (or `from <= key` when `inclusive`) and, if `to` is
    /// given, `key < to`, in byte order, at most `limit`. The building block of
    /// [`crate::list_objects`].
    async fn scan_objects(
        &self,
        bucket: &str,
        from: &str,
        inclusive: bool,
        to: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ObjectSummary>>;

    // ---- multipart uploads ----

    /// Creates a multipart upload (`NoSuchBucket` if the bucket is gone).
    async fn create_upload(&self, upload: &Upload) -> Result<()>;
    /// Reads an upload; `None` if it does not exist under this bucket and key.
    async fn get_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<Option<Upload>>;
    /// Records an uploaded part (`NoSuchUpload` if the upload is gone, `BlobReclaimed` as in
    /// [`Self::put_object`]); a part with the same number is replaced and its blob queued
    /// after `grace`.
    async fn put_part(&self, bucket: &str, key: &str, upload_id: &str, part: &PartMeta, grace: Duration) -> Result<()>;
    /// Parts of an upload with `part_number > after`, ascending, at most `limit`.
    async fn list_parts(&self, upload_id: &str, after: u32, limit: usize) -> Result<Vec<PartMeta>>;
    /// Completes an upload in one transaction: `NoSuchUpload` if it is gone,
    /// `PreconditionFailed` if `cond` fails; otherwise makes `obj` live (as
    /// [`Self::put_object`], or as [`Self::put_object_version`] when `versioning` is given,
    /// but its blobs are the upload's parts), queues the blobs of parts not used by `obj` and
    /// of the replaced object after `grace`, and removes the upload.
    async fn complete_upload(
        &self,
        upload_id: &str,
        obj: &ObjectMeta,
        cond: &WriteCondition,
        versioning: Option<Versioning>,
        grace: Duration,
        events: &[OutboxEvent],
    ) -> Result<()>;
    /// Aborts an upload: `NoSuchUpload` if it is gone; its parts' blobs are queued now.
    async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()>;
    /// Uploads of `bucket` ordered by (key, upload id) (upload ids are time-ordered) after
    /// `(key_marker, upload_id_marker)`: with an upload-id marker, uploads of that key after
    /// it, then later keys; without, keys `> key_marker` (or `>= ` when `inclusive`).
    /// Only keys `< to` when given. At most `limit`.
    async fn scan_uploads(
        &self,
        bucket: &str,
        key_marker: &str,
        upload_id_marker: Option<&str>,
        inclusive: bool,
        to: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Upload>>;

    // ---- the collector ----

    /// Blobs whose collection time has come (queued garbage, and pending blobs past their
    /// deadline), oldest first, at most `limit`.
    async fn due_blobs(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<BlobId>>;
    /// Removes a due blob from the queue before the collector deletes it. `false` if it is no
    /// longer queued or no longer due (a commit claimed it meanwhile; or a refused commit took
    /// its row and put it back, and a later pass finds it again): then it must not be deleted.
    async fn claim_blob(&self, blob: &BlobId, now: OffsetDateTime) -> Result<bool>;
    /// Multipart uploads initiated before `before`, at most `limit`.
    async fn stale_uploads(&self, before: OffsetDateTime, limit: usize) -> Result<Vec<StaleUpload>>;

    // ---- the event outbox (ADR 0006) ----

    /// Appends events that describe no state change of this store (reads, denials, identity
    /// events), in one transaction.
    async fn append_events(&self, events: &[OutboxEvent]) -> Result<()>;
    /// Takes or renews the relay lease: `true` if `owner` holds it for the next `ttl` (no other
    /// relay holds an unexpired one). One relay publishes at a time, so the outbox leaves in
    /// commit order per key and is not published twice by concurrent relays.
    async fn outbox_lease(&self, owner: &str, ttl: std::time::Duration) -> Result<bool>;
    /// The oldest unpublished rows, by id, at most `limit`. No watermark: a row a slower
    /// transaction commits later with a smaller id is found by the next call.
    async fn outbox_rows(&self, limit: usize) -> Result<Vec<OutboxRow>>;
    /// Removes published rows.
    async fn outbox_remove(&self, ids: &[i64]) -> Result<()>;
    /// The backlog: unpublished rows and the age of the oldest.
    async fn outbox_backlog(&self) -> Result<OutboxBacklog>;

    // ---- share links (ADR 0010) ----

    /// Records a new share link with its events (`share_created`), in one transaction.
    /// `Conflict` if its id or token hash is taken.
    async fn create_share(&self, share: &Share, events: &[OutboxEvent]) -> Result<()>;
    /// A link by id.
    async fn get_share(&self, id: &str) -> Result<Option<Share>>;
    /// A link by its token's hash.
    async fn share_by_token(&self, token_hash: &str) -> Result<Option<Share>>;
    /// The links of `account_id`, newest first, at most `limit`.
    async fn list_shares(&self, account_id: &str, limit: usize) -> Result<Vec<Share>>;
    /// The live download links of `bucket` at `now` (not revoked, not expired, not used up; no
    /// upload links) that serve `key`: its own links and the folder links over it; with `key`
    /// `None`, every live download link of the bucket. Oldest first, at most `limit`. What the
    /// policy explain tool lists as making an object public (ADR 0010).
    async fn live_shares(
        &self,
        bucket: &str,
        key: Option<&str>,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Share>>;
    /// Revokes a link; `false` if there is none with this id.
    async fn revoke_share(&self, id: &str) -> Result<bool>;
    /// Uses a live link at `now` in one atomic statement: a [`ShareUse::Download`] counts one
    /// download unless `max_downloads` is reached; every use sets `last_used_at`. `None` if the
    /// link is unknown, revoked, expired at `now` or (as `use_` says) used up: then nothing
    /// changed. Returns the link as it is after the use.
    async fn use_share(&self, id: &str, now: OffsetDateTime, use_: ShareUse) -> Result<Option<Share>>;
    /// Charges one password guess to a link, atomically, before the password is checked: a
    /// window of `window` starts at the first guess after the last window ended; `false` (and
    /// nothing charged) once `max` guesses were charged in the current window.
    async fn charge_share_guess(&self, id: &str, now: OffsetDateTime, window: Duration, max: u32) -> Result<bool>;
    /// Gives back one charged guess (the password was right).
    async fn refund_share_guess(&self, id: &str) -> Result<()>;

    // ---- KMS keys (ADR 0014) ----

    /// Records a new KMS key; `Conflict` if its id is taken.
    async fn create_kms_key(&self, key: &KmsKeyRecord) -> Result<()>;
    /// A KMS key by id.
    async fn get_kms_key(&self, id: &str) -> Result<Option<KmsKeyRecord>>;
    /// Every KMS key, by id.
    async fn list_kms_keys(&self) -> Result<Vec<KmsKeyRecord>>;
    /// Gives back one counted use (an upload link's upload that failed after it was counted).
    async fn refund_share_use(&self, id: &str) -> Result<()>;
}
