//! `impl S3 for Gateway`: one-line delegations to one function per operation, grouped by
//! resource (bucket.rs, object.rs, multipart.rs, list.rs). Operations not listed here answer
//! s3s's default `NotImplemented` (501).

mod acl;
mod bucket;
pub(crate) mod checksum;
mod condition;
mod cors;
mod lifecycle;
mod list;
mod multipart;
mod notification;
mod object;
mod object_acl;
mod object_lock;
pub(crate) mod post;
mod public_access;
pub(crate) mod read;
mod reserve;
pub(crate) mod sse;
pub(crate) mod tagging;
mod torrent;
mod unconfigured;
mod versioning;
mod write;

pub(crate) use lifecycle::stored_rules as stored_lifecycle;
pub use lifecycle::{LifecycleDone, LifecycleWorker};

use std::sync::Arc;
use std::time::Duration;

use cloudstore_store_api::{BlobStore, MetadataStore};
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};

/// Settings of the S3 layer.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Region reported by GetBucketLocation and used for new buckets without a constraint.
    pub region: String,
    /// Account id that owns the buckets the root key creates.
    pub owner_id: String,
    /// Display name of that account.
    pub owner_name: String,
    /// How long a blob may stay pending (written, not committed) before the collector
    /// reclaims it: longer than the slowest upload of one object or part.
    pub pending_ttl: Duration,
    /// How long a replaced or deleted blob stays readable for reads already under way.
    pub gc_grace: Duration,
    /// Largest object (or part) accepted by a single PUT.
    pub max_object_size: u64,
    /// The events side (ADR 0006): changes, downloads and refusals become events; `None`: off.
    pub events: Option<crate::events::Events>,
    /// Whether bucket notifications can be delivered (events on, published to Kafka).
    pub notifications: bool,
    /// The length of a lifecycle "day" (`CLOUDSTORE_LIFECYCLE_DAY_SECS`; tests shorten it).
    pub lifecycle_day: Duration,
    /// The Object Ownership of a bucket created without `x-amz-object-ownership` and without
    /// an ACL granting more than its owner's FULL_CONTROL (ADR 0013; AWS: BucketOwnerEnforced).
    pub default_ownership: crate::acl::Ownership,
    /// The keys of encryption at rest, from the SSE master key (ADR 0014); `None`: a random
    /// master key for this process only (tests).
    pub sse: Option<cloudstore_sse::Keyring>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            owner_id: "cloudstore".into(),
            owner_name: "cloudstore".into(),
            pending_ttl: Duration::from_secs(6 * 3600),
            gc_grace: Duration::from_secs(15 * 60),
            max_object_size: 5 * 1024 * 1024 * 1024,
            events: None,
            notifications: false,
            lifecycle_day: Duration::from_secs(86_400),
            default_ownership: crate::acl::Ownership::BucketOwnerEnforced,
            sse: None,
        }
    }
}

/// The S3 service over a metadata store and a blob store.
#[derive(Debug, Clone)]
pub struct Gateway {
    pub(crate) meta: Arc<dyn MetadataStore>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) cfg: Arc<GatewayConfig>,
    /// Access control's bucket cache, told about bucket and policy changes made here.
    pub(crate) buckets: Option<Arc<crate::identity::BucketCache>>,
    /// Blob ids registered as pending ahead of need.
    pub(crate) reserve: Arc<reserve::BlobReserve>,
    /// The events of the gateway's changes and reads (ADR 0006); `None`: events off.
    pub(crate) events: Option<crate::events::Events>,
    /// Account names and e-mail lookups for ACLs; `None`: ids stand for themselves and grants
    /// naming accounts cannot be checked (503).
    pub(crate) accounts: Option<Arc<crate::identity::Accounts>>,
    /// The keys of encryption at rest (ADR 0014).
    pub(crate) sse: Arc<cloudstore_sse::Keyring>,
}

impl Gateway {
    /// Builds the gateway.
    pub fn new(meta: Arc<dyn MetadataStore>, blobs: Arc<dyn BlobStore>, cfg: GatewayConfig) -> Self {
        let reserve = Arc::new(reserve::BlobReserve::new(meta.clone(), cfg.pending_ttl));
        let events = cfg.events.clone();
        let sse = Arc::new(cfg.sse.clone().unwrap_or_else(cloudstore_sse::Keyring::ephemeral));
        Self { meta, blobs, cfg: Arc::new(cfg), buckets: None, reserve, events, accounts: None, sse }
    }

    /// The outbox rows of a change's event (none when events are off).
    pub(crate) fn outbox(
        &self,
        make: impl FnOnce() -> cloudstore_events::Event,
    ) -> Vec<cloudstore_store_api::OutboxEvent> {
        match &self.events {
            Some(_) => vec![crate::events::to_outbox(&make())],
            None => Vec::new(),
        }
    }

    /// Counts the events of a committed change.
    pub(crate) fn committed(&self, events: &[cloudstore_store_api::OutboxEvent]) {
        self.committed_count(events.len());
    }

    /// Counts `n` events committed with a change (when events are on).
    pub(crate) fn committed_count(&self, n: usize) {
        if let Some(e) = &self.events {
            e.committed(n);
        }
    }

    /// Records an event that describes no change (a download).
    pub(crate) fn record(&self, make: impl FnOnce() -> cloudstore_events::Event) {
        if let Some(e) = &self.events {
            e.record(&make());
        }
    }

    /// Invalidates `cache` entries when this gateway changes a bucket or its policy.
    #[must_use]
    pub fn with_bucket_cache(mut self, cache: Arc<crate::identity::BucketCache>) -> Self {
        self.buckets = Some(cache);
        self
    }

    /// Names accounts in ACLs and resolves grants through `accounts`.
    #[must_use]
    pub fn with_accounts(mut self, accounts: Arc<crate::identity::Accounts>) -> Self {
        self.accounts = Some(accounts);
        self
    }

    pub(crate) fn bucket_changed(&self, bucket: &str) {
        if let Some(c) = &self.buckets {
            c.invalidate(bucket);
        }
    }

    pub(crate) fn owner(&self) -> Owner {
        Owner { id: Some(self.cfg.owner_id.clone()), display_name: Some(self.cfg.owner_name.clone()) }
    }

    pub(crate) fn grace(&self) -> time::Duration {
        time::Duration::try_from(self.cfg.gc_grace).unwrap_or(time::Duration::minutes(15))
    }

    /// A new blob id, registered as pending (ADR 0001), to write a body into.
    pub(crate) async fn pending_blob(&self) -> S3Result<cloudstore_store_api::BlobId> {
        self.reserve.take().await.map_err(crate::error::store_error)
    }
}

type R<T> = S3Result<S3Response<T>>;

#[async_trait::async_trait]
impl S3 for Gateway {
    // ---- buckets ----
    async fn list_buckets(&self, req: S3Request<ListBucketsInput>) -> R<ListBucketsOutput> {
        self.op_list_buckets(req).await
    }
    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> R<CreateBucketOutput> {
        self.op_create_bucket(req).await
    }
    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> R<HeadBucketOutput> {
        self.op_head_bucket(req).await
    }
    async fn get_bucket_location(&self, req: S3Request<GetBucketLocationInput>) -> R<GetBucketLocationOutput> {
        self.op_get_bucket_location(req).await
    }
    async fn put_bucket_policy(&self, req: S3Request<PutBucketPolicyInput>) -> R<PutBucketPolicyOutput> {
        self.op_put_bucket_policy(req).await
    }
    async fn get_bucket_policy(&self, req: S3Request<GetBucketPolicyInput>) -> R<GetBucketPolicyOutput> {
        self.op_get_bucket_policy(req).await
    }
    async fn put_bucket_notification_configuration(
        &self,
        req: S3Request<PutBucketNotificationConfigurationInput>,
    ) -> R<PutBucketNotificationConfigurationOutput> {
        self.op_put_bucket_notification_configuration(req).await
    }
    async fn get_bucket_notification_configuration(
        &self,
        req: S3Request<GetBucketNotificationConfigurationInput>,
    ) -> R<GetBucketNotificationConfigurationOutput> {
        self.op_get_bucket_notification_configuration(req).await
    }
    async fn put_bucket_cors(&self, req: S3Request<PutBucketCorsInput>) -> R<PutBucketCorsOutput> {
        self.op_put_bucket_cors(req).await
    }
    async fn get_bucket_cors(&self, req: S3Request<GetBucketCorsInput>) -> R<GetBucketCorsOutput> {
        self.op_get_bucket_cors(req).await
    }
    async fn delete_bucket_cors(&self, req: S3Request<DeleteBucketCorsInput>) -> R<DeleteBucketCorsOutput> {
        self.op_delete_bucket_cors(req).await
    }
    async fn delete_bucket_policy(&self, req: S3Request<DeleteBucketPolicyInput>) -> R<DeleteBucketPolicyOutput> {
        self.op_delete_bucket_policy(req).await
    }
    async fn get_bucket_policy_status(
        &self,
        req: S3Request<GetBucketPolicyStatusInput>,
    ) -> R<GetBucketPolicyStatusOutput> {
        self.op_get_bucket_policy_status(req).await
    }
    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> R<DeleteBucketOutput> {
        self.op_delete_bucket(req).await
    }
    async fn get_bucket_versioning(&self, req: S3Request<GetBucketVersioningInput>) -> R<GetBucketVersioningOutput> {
        self.op_get_bucket_versioning(req).await
    }
    async fn put_bucket_versioning(&self, req: S3Request<PutBucketVersioningInput>) -> R<PutBucketVersioningOutput> {
        self.op_put_bucket_versioning(req).await
    }

    // ---- configurations not offered (yet), answered as for a bucket without one ----
    async fn get_bucket_accelerate_configuration(
        &self,
        req: S3Request<GetBucketAccelerateConfigurationInput>,
    ) -> R<GetBucketAccelerateConfigurationOutput> {
        self.op_get_bucket_accelerate_configuration(req).await
    }
    async fn put_bucket_accelerate_configuration(
        &self,
        req: S3Request<PutBucketAccelerateConfigurationInput>,
    ) -> R<PutBucketAccelerateConfigurationOutput> {
        self.op_put_bucket_accelerate_configuration(req).await
    }
    async fn get_bucket_request_payment(
        &self,
        req: S3Request<GetBucketRequestPaymentInput>,
    ) -> R<GetBucketRequestPaymentOutput> {
        self.op_get_bucket_request_payment(req).await
    }
    async fn put_bucket_request_payment(
        &self,
        req: S3Request<PutBucketRequestPaymentInput>,
    ) -> R<PutBucketRequestPaymentOutput> {
        self.op_put_bucket_request_payment(req).await
    }
    async fn get_bucket_logging(&self, req: S3Request<GetBucketLoggingInput>) -> R<GetBucketLoggingOutput> {
        self.op_get_bucket_logging(req).await
    }
    async fn put_bucket_logging(&self, req: S3Request<PutBucketLoggingInput>) -> R<PutBucketLoggingOutput> {
        self.op_put_bucket_logging(req).await
    }
    async fn get_bucket_website(&self, req: S3Request<GetBucketWebsiteInput>) -> R<GetBucketWebsiteOutput> {
        self.op_get_bucket_website(req).await
    }
    async fn put_bucket_website(&self, req: S3Request<PutBucketWebsiteInput>) -> R<PutBucketWebsiteOutput> {
        self.op_put_bucket_website(req).await
    }
    async fn delete_bucket_website(&self, req: S3Request<DeleteBucketWebsiteInput>) -> R<DeleteBucketWebsiteOutput> {
        self.op_delete_bucket_website(req).await
    }
    async fn get_bucket_replication(&self, req: S3Request<GetBucketReplicationInput>) -> R<GetBucketReplicationOutput> {
        self.op_get_bucket_replication(req).await
    }
    async fn put_bucket_replication(&self, req: S3Request<PutBucketReplicationInput>) -> R<PutBucketReplicationOutput> {
        self.op_put_bucket_replication(req).await
    }
    async fn delete_bucket_replication(
        &self,
        req: S3Request<DeleteBucketReplicationInput>,
    ) -> R<DeleteBucketReplicationOutput> {
        self.op_delete_bucket_replication(req).await
    }
    async fn put_bucket_encryption(&self, req: S3Request<PutBucketEncryptionInput>) -> R<PutBucketEncryptionOutput> {
        self.op_put_bucket_encryption(req).await
    }
    async fn get_bucket_encryption(&self, req: S3Request<GetBucketEncryptionInput>) -> R<GetBucketEncryptionOutput> {
        self.op_get_bucket_encryption(req).await
    }
    async fn delete_bucket_encryption(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> R<DeleteBucketEncryptionOutput> {
        self.op_delete_bucket_encryption(req).await
    }
    async fn get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> R<GetBucketLifecycleConfigurationOutput> {
        self.op_get_bucket_lifecycle_configuration(req).await
    }
    async fn delete_bucket_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> R<DeleteBucketLifecycleOutput> {
        self.op_delete_bucket_lifecycle(req).await
    }
    async fn put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> R<PutBucketLifecycleConfigurationOutput> {
        self.op_put_bucket_lifecycle_configuration(req).await
    }
    async fn get_bucket_tagging(&self, req: S3Request<GetBucketTaggingInput>) -> R<GetBucketTaggingOutput> {
        self.op_get_bucket_tagging(req).await
    }
    async fn put_bucket_tagging(&self, req: S3Request<PutBucketTaggingInput>) -> R<PutBucketTaggingOutput> {
        self.op_put_bucket_tagging(req).await
    }
    async fn get_object_tagging(&self, req: S3Request<GetObjectTaggingInput>) -> R<GetObjectTaggingOutput> {
        self.op_get_object_tagging(req).await
    }
    async fn put_object_tagging(&self, req: S3Request<PutObjectTaggingInput>) -> R<PutObjectTaggingOutput> {
        self.op_put_object_tagging(req).await
    }
    async fn delete_object_tagging(&self, req: S3Request<DeleteObjectTaggingInput>) -> R<DeleteObjectTaggingOutput> {
        self.op_delete_object_tagging(req).await
    }
    async fn delete_bucket_tagging(&self, req: S3Request<DeleteBucketTaggingInput>) -> R<DeleteBucketTaggingOutput> {
        self.op_delete_bucket_tagging(req).await
    }
    async fn get_object_lock_configuration(
        &self,
        req: S3Request<GetObjectLockConfigurationInput>,
    ) -> R<GetObjectLockConfigurationOutput> {
        self.op_get_object_lock_configuration(req).await
    }
    async fn put_object_lock_configuration(
        &self,
        req: S3Request<PutObjectLockConfigurationInput>,
    ) -> R<PutObjectLockConfigurationOutput> {
        self.op_put_object_lock_configuration(req).await
    }
    async fn put_object_retention(&self, req: S3Request<PutObjectRetentionInput>) -> R<PutObjectRetentionOutput> {
        self.op_put_object_retention(req).await
    }
    async fn get_object_retention(&self, req: S3Request<GetObjectRetentionInput>) -> R<GetObjectRetentionOutput> {
        self.op_get_object_retention(req).await
    }
    async fn put_object_legal_hold(&self, req: S3Request<PutObjectLegalHoldInput>) -> R<PutObjectLegalHoldOutput> {
        self.op_put_object_legal_hold(req).await
    }
    async fn get_object_legal_hold(&self, req: S3Request<GetObjectLegalHoldInput>) -> R<GetObjectLegalHoldOutput> {
        self.op_get_object_legal_hold(req).await
    }
    async fn put_public_access_block(
        &self,
        req: S3Request<PutPublicAccessBlockInput>,
    ) -> R<PutPublicAccessBlockOutput> {
        self.op_put_public_access_block(req).await
    }
    async fn get_public_access_block(
        &self,
        req: S3Request<GetPublicAccessBlockInput>,
    ) -> R<GetPublicAccessBlockOutput> {
        self.op_get_public_access_block(req).await
    }
    async fn delete_public_access_block(
        &self,
        req: S3Request<DeletePublicAccessBlockInput>,
    ) -> R<DeletePublicAccessBlockOutput> {
        self.op_delete_public_access_block(req).await
    }
    async fn get_bucket_ownership_controls(
        &self,
        req: S3Request<GetBucketOwnershipControlsInput>,
    ) -> R<GetBucketOwnershipControlsOutput> {
        self.op_get_bucket_ownership_controls(req).await
    }
    async fn put_bucket_ownership_controls(
        &self,
        req: S3Request<PutBucketOwnershipControlsInput>,
    ) -> R<PutBucketOwnershipControlsOutput> {
        self.op_put_bucket_ownership_controls(req).await
    }
    async fn delete_bucket_ownership_controls(
        &self,
        req: S3Request<DeleteBucketOwnershipControlsInput>,
    ) -> R<DeleteBucketOwnershipControlsOutput> {
        self.op_delete_bucket_ownership_controls(req).await
    }
    async fn get_bucket_acl(&self, req: S3Request<GetBucketAclInput>) -> R<GetBucketAclOutput> {
        self.op_get_bucket_acl(req).await
    }
    async fn put_bucket_acl(&self, req: S3Request<PutBucketAclInput>) -> R<PutBucketAclOutput> {
        self.op_put_bucket_acl(req).await
    }
    async fn get_object_acl(&self, req: S3Request<GetObjectAclInput>) -> R<GetObjectAclOutput> {
        self.op_get_object_acl(req).await
    }
    async fn put_object_acl(&self, req: S3Request<PutObjectAclInput>) -> R<PutObjectAclOutput> {
        self.op_put_object_acl(req).await
    }
    async fn list_bucket_analytics_configurations(
        &self,
        req: S3Request<ListBucketAnalyticsConfigurationsInput>,
    ) -> R<ListBucketAnalyticsConfigurationsOutput> {
        self.op_list_bucket_analytics_configurations(req).await
    }
    async fn get_bucket_analytics_configuration(
        &self,
        req: S3Request<GetBucketAnalyticsConfigurationInput>,
    ) -> R<GetBucketAnalyticsConfigurationOutput> {
        self.op_get_bucket_analytics_configuration(req).await
    }
    async fn delete_bucket_analytics_configuration(
        &self,
        req: S3Request<DeleteBucketAnalyticsConfigurationInput>,
    ) -> R<DeleteBucketAnalyticsConfigurationOutput> {
        self.op_delete_bucket_analytics_configuration(req).await
    }
    async fn list_bucket_inventory_configurations(
        &self,
        req: S3Request<ListBucketInventoryConfigurationsInput>,
    ) -> R<ListBucketInventoryConfigurationsOutput> {
        self.op_list_bucket_inventory_configurations(req).await
    }
    async fn get_bucket_inventory_configuration(
        &self,
        req: S3Request<GetBucketInventoryConfigurationInput>,
    ) -> R<GetBucketInventoryConfigurationOutput> {
        self.op_get_bucket_inventory_configuration(req).await
    }
    async fn delete_bucket_inventory_configuration(
        &self,
        req: S3Request<DeleteBucketInventoryConfigurationInput>,
    ) -> R<DeleteBucketInventoryConfigurationOutput> {
        self.op_delete_bucket_inventory_configuration(req).await
    }
    async fn list_bucket_metrics_configurations(
        &self,
        req: S3Request<ListBucketMetricsConfigurationsInput>,
    ) -> R<ListBucketMetricsConfigurationsOutput> {
        self.op_list_bucket_metrics_configurations(req).await
    }
    async fn get_bucket_metrics_configuration(
        &self,
        req: S3Request<GetBucketMetricsConfigurationInput>,
    ) -> R<GetBucketMetricsConfigurationOutput> {
        self.op_get_bucket_metrics_configuration(req).await
    }
    async fn delete_bucket_metrics_configuration(
        &self,
        req: S3Request<DeleteBucketMetricsConfigurationInput>,
    ) -> R<DeleteBucketMetricsConfigurationOutput> {
        self.op_delete_bucket_metrics_configuration(req).await
    }
    async fn list_bucket_intelligent_tiering_configurations(
        &self,
        req: S3Request<ListBucketIntelligentTieringConfigurationsInput>,
    ) -> R<ListBucketIntelligentTieringConfigurationsOutput> {
        self.op_list_bucket_intelligent_tiering_configurations(req).await
    }
    async fn get_bucket_intelligent_tiering_configuration(
        &self,
        req: S3Request<GetBucketIntelligentTieringConfigurationInput>,
    ) -> R<GetBucketIntelligentTieringConfigurationOutput> {
        self.op_get_bucket_intelligent_tiering_configuration(req).await
    }
    async fn delete_bucket_intelligent_tiering_configuration(
        &self,
        req: S3Request<DeleteBucketIntelligentTieringConfigurationInput>,
    ) -> R<DeleteBucketIntelligentTieringConfigurationOutput> {
        self.op_delete_bucket_intelligent_tiering_configuration(req).await
    }

    // ---- objects ----
    async fn put_object(&self, req: S3Request<PutObjectInput>) -> R<PutObjectOutput> {
        self.op_put_object(req).await
    }
    async fn get_object(&self, req: S3Request<GetObjectInput>) -> R<GetObjectOutput> {
        self.op_get_object(req).await
    }
    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> R<HeadObjectOutput> {
        self.op_head_object(req).await
    }
    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> R<DeleteObjectOutput> {
        self.op_delete_object(req).await
    }
    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> R<DeleteObjectsOutput> {
        self.op_delete_objects(req).await
    }
    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> R<CopyObjectOutput> {
        self.op_copy_object(req).await
    }
    async fn get_object_attributes(&self, req: S3Request<GetObjectAttributesInput>) -> R<GetObjectAttributesOutput> {
        self.op_get_object_attributes(req).await
    }
    async fn get_object_torrent(&self, req: S3Request<GetObjectTorrentInput>) -> R<GetObjectTorrentOutput> {
        self.op_get_object_torrent(req).await
    }

    // ---- listing ----
    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> R<ListObjectsOutput> {
        self.op_list_objects(req).await
    }
    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> R<ListObjectsV2Output> {
        self.op_list_objects_v2(req).await
    }
    async fn list_object_versions(&self, req: S3Request<ListObjectVersionsInput>) -> R<ListObjectVersionsOutput> {
        self.op_list_object_versions(req).await
    }

    // ---- multipart ----
    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> R<CreateMultipartUploadOutput> {
        self.op_create_multipart_upload(req).await
    }
    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> R<UploadPartOutput> {
        self.op_upload_part(req).await
    }
    async fn upload_part_copy(&self, req: S3Request<UploadPartCopyInput>) -> R<UploadPartCopyOutput> {
        self.op_upload_part_copy(req).await
    }
    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> R<CompleteMultipartUploadOutput> {
        self.op_complete_multipart_upload(req).await
    }
    async fn abort_multipart_upload(&self, req: S3Request<AbortMultipartUploadInput>) -> R<AbortMultipartUploadOutput> {
        self.op_abort_multipart_upload(req).await
    }
    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> R<ListPartsOutput> {
        self.op_list_parts(req).await
    }
    async fn list_multipart_uploads(&self, req: S3Request<ListMultipartUploadsInput>) -> R<ListMultipartUploadsOutput> {
        self.op_list_multipart_uploads(req).await
    }
}
