//! PostObject's write (ADR 0015): a browser form's file, already authorized and checked
//! against its policy by `post_object.rs`, streamed into a pending blob and committed as
//! PutObject commits (checksums, the size limits of the policy, the `file_uploaded` event).

use std::collections::BTreeMap;

use cloudstore_events::EventType;
use cloudstore_store_api::{ObjectMeta, WriteCondition};
use s3s::dto::StreamingBlob;
use s3s::{S3Result, s3_error};

use super::Gateway;
use super::bucket::now_ms;
use super::checksum::{self, ChecksumFields};
use super::object::{check_key, choose_algorithm, single_part, stored_content_encoding};
use super::write::Declared;
use crate::events::{Actor, with_object};

/// An `Expires` value as objects store it (an HTTP date), if it is one.
pub(crate) fn parse_expires(v: &str) -> Option<String> {
    super::object::parse_http_date(v.trim()).as_ref().and_then(super::object::format_http_date)
}

/// What a form asks to store, besides its file.
#[derive(Debug, Default)]
pub(crate) struct PostUpload {
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) content_type: Option<String>,
    pub(crate) cache_control: Option<String>,
    pub(crate) content_disposition: Option<String>,
    pub(crate) content_encoding: Option<String>,
    pub(crate) content_language: Option<String>,
    /// An HTTP date, already validated.
    pub(crate) expires: Option<String>,
    pub(crate) metadata: BTreeMap<String, String>,
    /// The `tagging` field's tags, checked.
    pub(crate) tags: Vec<cloudstore_store_api::Tag>,
    pub(crate) checksums: ChecksumFields,
    pub(crate) checksum_algorithm: Option<String>,
    /// Smallest and largest file allowed (the policy's content-length-range and our limit).
    pub(crate) min_len: u64,
    pub(crate) max_len: u64,
    /// When set, the write succeeds only if no object has the key (a file drop, ADR 0015).
    pub(crate) if_none_match: bool,
    /// The link an upload came through (ADR 0015), recorded in the event.
    pub(crate) share_id: Option<String>,
    /// The object's ACL from the form's `acl` field, as `new_object_acl` makes it (`None`:
    /// the default ACL).
    pub(crate) acl: Option<serde_json::Value>,
}

impl Gateway {
    /// Stores `file` as object `up.key`; the committed object's metadata.
    #[tracing::instrument(level = "debug", skip_all, fields(op = "PostObject", bucket = %up.bucket, key = %up.key))]
    pub(crate) async fn op_post_object(
        &self,
        up: PostUpload,
        file: StreamingBlob,
        actor: &Actor,
    ) -> S3Result<ObjectMeta> {
        check_key(&up.key)?;
        let meta_size: usize = up.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        if meta_size > 2048 {
            return Err(s3_error!(
                MetadataTooLarge,
                "Your metadata headers exceed the maximum allowed metadata size ({meta_size} > 2048 bytes)."
            ));
        }
        let value = up.checksums.single()?;
        let requested = up.checksum_algorithm.clone().map(s3s::dto::ChecksumAlgorithm::from);
        let algorithm = choose_algorithm(requested.as_ref(), value.as_ref(), &http::HeaderMap::new())?;
        let max = up.max_len.min(self.cfg.max_object_size);
        // A form carries no encryption fields we read: the bucket's default encryption applies.
        let sealing =
            self.write_sealing(&up.bucket, &http::Extensions::new(), &super::sse::WriteHeaders::default()).await?;
        let seal = sealing.as_ref().map(|s| &s.key);
        let written = self.write_body_max(Some(file), None, Some(algorithm), seal, max).await?;
        let etag = sealing.as_ref().map_or_else(|| written.digests.etag(), |s| s.etag(&written.digests.md5));
        let mut attributes = cloudstore_store_api::ObjectAttributes::with_tags(up.tags);
        attributes.encryption = sealing.as_ref().map(|s| s.enc.clone());
        attributes.acl = up.acl;
        if written.digests.len < up.min_len {
            return self
                .discard(
                    &written,
                    s3_error!(EntityTooSmall, "Your proposed upload is smaller than the minimum allowed size"),
                )
                .await;
        }
        self.verify_declared(&written, &Declared { content_md5: None, checksum: value }).await?;
        let obj = ObjectMeta {
            bucket: up.bucket,
            key: up.key,
            size: written.digests.len,
            etag: etag.clone(),
            last_modified: now_ms(),
            content_type: Some(up.content_type.unwrap_or_else(|| "binary/octet-stream".to_owned())),
            content_encoding: stored_content_encoding(up.content_encoding),
            content_disposition: up.content_disposition,
            content_language: up.content_language,
            cache_control: up.cache_control,
            expires: up.expires,
            user_metadata: up.metadata,
            checksum: written.digests.checksum.as_ref().map(|(a, v)| checksum::full_object(*a, v)),
            parts: single_part(&written, &etag),
            multipart_parts: None,
            attributes,
        };
        // PostObject is taken before access control: the bucket's versioning is read here.
        let (versioning, lock) = match self.meta.get_bucket(&obj.bucket).await {
            Ok(b) => (
                b.as_ref().and_then(|b| b.versioning),
                super::object_lock::default_lock(b.as_ref().and_then(|b| b.object_lock.as_deref())),
            ),
            Err(e) => return Err(self.commit_failed(&written, e).await),
        };
        let mut obj = obj;
        // A form's object lock is its bucket's default retention (form fields are not read).
        lock.apply(&mut obj.attributes);
        obj.attributes.version_id =
            (versioning == Some(cloudstore_store_api::Versioning::Enabled)).then(super::versioning::new_version_id);
        let o = &obj;
        let share_id = up.share_id;
        let events = self.outbox(|| {
            let mut e =
                with_object(actor.event(EventType::FileUploaded, &o.bucket, Some(&o.key)), o.size, &o.etag, 200);
            e.detail.insert("operation".into(), "PostObject".into());
            e.version_id.clone_from(&o.attributes.version_id);
            if let Some(id) = &share_id {
                e.detail.insert("share_id".into(), id.clone());
            }
            e
        });
        let evs = events.as_slice();
        let cond = WriteCondition { if_match: None, if_none_match: up.if_none_match };
        if let Err(e) = self.commit_write(o, &cond, versioning, evs).await {
            return Err(self.commit_failed(&written, e).await);
        }
        self.committed(&events);
        Ok(obj)
    }
}
