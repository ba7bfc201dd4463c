//! Versioning (issue #14 item 1, ADR 0017): Put/GetBucketVersioning, version ids, the reads
//! of one version and delete markers. The stores keep the current version of each key in
//! `objects` (so unversioned buckets keep their hot path) and every other version and delete
//! marker beside it; the gateway picks the versioned writes when the bucket's state, as access
//! control read it with the bucket, says so.

use cloudstore_events::EventType;
use cloudstore_store_api::{BucketConfig, ObjectMeta, ObjectVersion, Versioning};
use rand::distr::{Alphanumeric, SampleString as _};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Gateway;
use super::object::{format_http_date, unstorable};
use crate::error::StoreResultExt as _;

/// A `versionId` argument: `None` when absent, `Some(None)` for the null version.
pub(crate) fn version_arg(v: Option<&str>) -> Option<Option<&str>> {
    v.map(|v| (v != "null").then_some(v))
}

/// A fresh version id: 32 URL-safe characters (about 190 random bits), never `null`.
pub(crate) fn new_version_id() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 32)
}

/// How a version id is shown (`null` for the null version).
pub(crate) fn shown(id: Option<&str>) -> String {
    id.unwrap_or("null").to_owned()
}

/// Headers for an error answer: they replace those s3s sets, so its XML content type is kept
/// (the server adds the `RequestId` only to XML error bodies).
fn error_headers() -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/xml"));
    headers
}

/// The headers AWS adds to an answer about a delete marker.
fn marker_error(mut e: s3s::S3Error, marker: &ObjectVersion) -> s3s::S3Error {
    let mut headers = error_headers();
    headers.insert("x-amz-delete-marker", http::HeaderValue::from_static("true"));
    if let Ok(v) = http::HeaderValue::from_str(&shown(marker.version_id())) {
        headers.insert("x-amz-version-id", v);
    }
    if let Some(v) =
        format_http_date(&marker.meta.last_modified.into()).and_then(|d| http::HeaderValue::from_str(&d).ok())
    {
        headers.insert(http::header::LAST_MODIFIED, v);
    }
    e.set_headers(headers);
    e
}

impl Gateway {
    /// The bucket's versioning state as access control read it with the bucket (no query),
    /// else from the store.
    pub(crate) async fn versioning(&self, ext: &http::Extensions, bucket: &str) -> S3Result<Option<Versioning>> {
        if let Some(info) = ext.get::<crate::access::Authorized>().and_then(|a| a.bucket.as_ref()) {
            return Ok(info.versioning);
        }
        Ok(self.bucket(bucket).await?.versioning)
    }

    /// The `x-amz-version-id` of an answer about `obj`: its id, `null` in a versioned bucket,
    /// nothing in a bucket that was never versioned.
    pub(crate) fn version_out(ext: &http::Extensions, obj: &ObjectMeta) -> Option<String> {
        if let Some(id) = &obj.attributes.version_id {
            return Some(id.clone());
        }
        let versioned = ext
            .get::<crate::access::Authorized>()
            .and_then(|a| a.bucket.as_ref())
            .is_some_and(|b| b.versioning.is_some());
        versioned.then(|| "null".to_owned())
    }

    /// A missing key: `NoSuchKey`, with the delete marker's headers when the key's latest
    /// version is one, `x-amz-delete-marker: false` in a bucket never versioned (`NoSuchBucket`
    /// if the bucket is gone).
    pub(crate) async fn no_such_key(&self, bucket: &str, key: &str) -> s3s::S3Error {
        let versioned = match self.bucket(bucket).await {
            Ok(b) => b.versioning.is_some(),
            Err(e) => return e,
        };
        let mut e = s3_error!(NoSuchKey, "The specified key does not exist.");
        if !versioned {
            // What RGW answers (s3-tests' test_delete_marker_nonversioned): no marker here.
            let mut headers = error_headers();
            headers.insert("x-amz-delete-marker", http::HeaderValue::from_static("false"));
            e.set_headers(headers);
            return e;
        }
        if versioned
            && !unstorable(key)
            && let Ok(Some(latest)) = self.meta.latest_version(bucket, key).await
            && latest.is_delete_marker
        {
            return marker_error(e, &latest);
        }
        e
    }

    /// One version of an object (`id` `None`: the null version) for a read: `NoSuchVersion`
    /// if there is none (`InvalidArgument` for any id but `null` in a bucket never versioned),
    /// `MethodNotAllowed` with the marker's headers for a delete marker.
    pub(crate) async fn object_version(&self, bucket: &str, key: &str, id: Option<&str>) -> S3Result<ObjectMeta> {
        let found = if unstorable(key) { None } else { self.meta.get_object_version(bucket, key, id).await.s3()? };
        match found {
            Some(v) if v.is_delete_marker => Err(marker_error(
                s3_error!(MethodNotAllowed, "The specified method is not allowed against this resource."),
                &v,
            )),
            Some(v) => Ok(v.meta),
            None => {
                let b = self.bucket(bucket).await?;
                match (b.versioning, id) {
                    (None, Some(_)) => Err(s3_error!(InvalidArgument, "Invalid version id specified")),
                    (None, None) => Err(s3_error!(NoSuchKey, "The specified key does not exist.")),
                    _ => Err(s3_error!(NoSuchVersion, "The specified version does not exist.")),
                }
            }
        }
    }

    /// The object a read names: the current one, or the version `version_id` asks for.
    pub(crate) async fn object_or_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> S3Result<ObjectMeta> {
        match version_arg(version_id) {
            None => self.object(bucket, key).await,
            Some(id) => self.object_version(bucket, key, id).await,
        }
    }

    /// Makes `obj` live the way the bucket's versioning asks: `put_object` (the hot path)
    /// when it was never versioned, else a new version (its id set here).
    pub(crate) async fn commit_write(
        &self,
        obj: &ObjectMeta,
        cond: &cloudstore_store_api::WriteCondition,
        versioning: Option<Versioning>,
        events: &[cloudstore_store_api::OutboxEvent],
    ) -> Result<(), cloudstore_store_api::StoreError> {
        match versioning {
            None => self.meta.put_object(obj, cond, self.grace(), events).await,
            Some(v) => self.meta.put_object_version(obj, cond, v, self.grace(), events).await,
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetBucketVersioning", bucket = %req.input.bucket))]
    pub(crate) async fn op_get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        // Read afresh: a client that just changed it expects to see its change.
        let b = self.bucket(&req.input.bucket).await?;
        let status = b.versioning.map(|v| BucketVersioningStatus::from(v.as_str().to_owned()));
        Ok(S3Response::new(GetBucketVersioningOutput { mfa_delete: None, status }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "PutBucketVersioning", bucket = %req.input.bucket))]
    pub(crate) async fn op_put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        let actor = crate::events::Actor::of(
            &req.extensions,
            &req.headers,
            req.credentials.as_ref().map(|c| c.access_key.as_str()),
        );
        let bucket = req.input.bucket;
        let config = req.input.versioning_configuration;
        if config.mfa_delete.as_ref().is_some_and(|m| m.as_str() == MFADelete::ENABLED) {
            return Err(s3_error!(NotImplemented, "MFA delete is not supported."));
        }
        let Some(state) = config.status.as_ref().and_then(|s| Versioning::parse(s.as_str())) else {
            // No status (or an unknown one): a bucket can't go back to never versioned.
            return Err(s3_error!(MalformedXML, "The versioning status must be Enabled or Suspended."));
        };
        // Object lock keeps a bucket versioned for good (ADR 0018).
        if state != Versioning::Enabled && self.bucket(&bucket).await?.object_lock.is_some() {
            let mut e = s3s::S3Error::with_message(
                s3s::S3ErrorCode::InvalidBucketState,
                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed."
                    .to_owned(),
            );
            e.set_status_code(http::StatusCode::CONFLICT);
            return Err(e);
        }
        let events = self.outbox(|| {
            let mut e = actor.event(EventType::BucketConfigChanged, &bucket, None);
            e.status = Some(200);
            e.detail.insert("config".into(), "versioning".into());
            e.detail.insert("status".into(), state.as_str().into());
            e
        });
        let done = self
            .meta
            .set_bucket_config(&bucket, BucketConfig::Versioning, Some(state.as_str()), &events)
            .await
            .map_err(super::object_lock::config_error);
        self.bucket_changed(&bucket);
        done?;
        self.committed(&events);
        Ok(S3Response::new(PutBucketVersioningOutput {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ids_are_url_safe_unique_and_never_null() {
        let a = new_version_id();
        let b = new_version_id();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(version_arg(Some("null")), Some(None));
        assert_eq!(version_arg(Some("abc")), Some(Some("abc")));
        assert_eq!(version_arg(None), None);
        assert_eq!(shown(None), "null");
    }
}
