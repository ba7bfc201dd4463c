//! Object operations: PutObject, GetObject, HeadObject, DeleteObject(s), CopyObject,
//! GetObjectAttributes.

use crate::events::{Actor, with_object};
use cloudstore_events::EventType;
use cloudstore_store_api::OutboxEvent;
use std::collections::BTreeMap;

use cloudstore_store_api::{BlobPart, DeleteCondition, ObjectMeta, Versioning, WriteCondition};
use cloudstore_types::{ChecksumAlgorithm, ChecksumType, validate_object_key};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Gateway;
use super::bucket::now_ms;
use super::checksum::{self, ChecksumFields, announced_algorithm, from_dto_algorithm, trailer_checksum};
use super::condition::WriteIf;
use super::read::{Precondition, check_preconditions};
use super::sse::{CustomerHeaders, Echo, WriteHeaders, echo_sse, refuse_on_read};
use super::write::{Declared, Written};
use crate::error::StoreResultExt;

/// The object a request names, with its key validated.
pub(crate) fn check_key(key: &str) -> S3Result<()> {
    validate_object_key(key).map_err(|e| match e {
        cloudstore_types::NameError::KeyTooLong => s3_error!(KeyTooLongError),
        e => s3_error!(InvalidArgument, "{e}"),
    })
}

/// A key no object can have (writes refuse NUL, see [`check_key`]; PostgreSQL text cannot hold
/// it): reads and deletes of it answer as for a missing key without asking the store.
pub(crate) fn unstorable(key: &str) -> bool {
    key.contains('\0')
}

/// Picks the checksum algorithm of an upload: the one whose value the client sent, else the
/// one it announced (header or trailer), else CRC64NVME (what AWS computes by default).
pub(crate) fn choose_algorithm(
    requested: Option<&s3s::dto::ChecksumAlgorithm>,
    value: Option<&(ChecksumAlgorithm, String)>,
    headers: &http::HeaderMap,
) -> S3Result<ChecksumAlgorithm> {
    let requested = requested.map(from_dto_algorithm).transpose()?;
    let announced = announced_algorithm(headers);
    let from_value = value.map(|(a, _)| *a);
    if let (Some(r), Some(v)) = (requested, from_value)
        && r != v
    {
        return Err(s3_error!(
            InvalidRequest,
            "Value for x-amz-checksum-algorithm does not match the checksum header."
        ));
    }
    Ok(from_value.or(announced).or(requested).unwrap_or(ChecksumAlgorithm::Crc64nvme))
}

/// `Content-Encoding` as stored: without `aws-chunked`, which describes only how this request's
/// body was sent (AWS drops it too); `None` if nothing else is left.
/// Otherwise the value is kept exactly as sent (`deflate, gzip` stays `deflate, gzip`).
pub(crate) fn stored_content_encoding(v: Option<String>) -> Option<String> {
    let v = v?;
    let tokens = || v.split(',').map(str::trim).filter(|t| !t.is_empty());
    if !tokens().any(|t| t.eq_ignore_ascii_case("aws-chunked")) {
        return (!v.trim().is_empty()).then_some(v);
    }
    let kept: Vec<&str> = tokens().filter(|t| !t.eq_ignore_ascii_case("aws-chunked")).collect();
    (!kept.is_empty()).then(|| kept.join(", "))
}

pub(crate) fn format_http_date(t: &Timestamp) -> Option<String> {
    let mut buf = Vec::new();
    t.format(TimestampFormat::HttpDate, &mut buf).ok()?;
    String::from_utf8(buf).ok()
}

pub(crate) fn parse_http_date(s: &str) -> Option<Timestamp> {
    Timestamp::parse(TimestampFormat::HttpDate, s).ok()
}

fn metadata_out(m: &BTreeMap<String, String>) -> Option<Metadata> {
    (!m.is_empty()).then(|| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// Largest user metadata (AWS: 2 KB, the UTF-8 bytes of every key, without `x-amz-meta-`, and
/// value).
const MAX_USER_METADATA: usize = 2048;

/// Refuses user metadata over [`MAX_USER_METADATA`] with `MetadataTooLarge`, as AWS does.
pub(crate) fn check_metadata_size(m: Option<&Metadata>) -> S3Result<()> {
    let size: usize = m.map_or(0, |m| m.iter().map(|(k, v)| k.len() + v.len()).sum());
    if size > MAX_USER_METADATA {
        return Err(s3_error!(
            MetadataTooLarge,
            "Your metadata headers exceed the maximum allowed metadata size ({size} > {MAX_USER_METADATA} bytes)."
        ));
    }
    Ok(())
}

pub(crate) fn metadata_in(m: Option<Metadata>) -> BTreeMap<String, String> {
    m.unwrap_or_default().into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect()
}

pub(crate) fn etag_out(etag: &str) -> ETag {
    ETag::Strong(etag.to_owned())
}

/// The checksum to report for a whole-object read, when the client asked for it.
fn checksum_out(obj: &ObjectMeta, mode: Option<&ChecksumMode>) -> (ChecksumFields, Option<s3s::dto::ChecksumType>) {
    match (&obj.checksum, mode) {
        (Some(c), Some(m)) if m.as_str() == ChecksumMode::ENABLED => {
            (ChecksumFields::of(c), Some(checksum::to_dto_type(c.kind)))
        }
        _ => (ChecksumFields::default(), None),
    }
}

/// The checksum of one part of a multipart object, read by `partNumber`: AWS sends it (with
/// the object's checksum type) whether or not the client asked for checksums.
fn part_checksum_out(obj: &ObjectMeta, part: &BlobPart) -> (ChecksumFields, Option<s3s::dto::ChecksumType>) {
    match (&obj.checksum, &part.checksum) {
        (Some(c), Some(v)) => (ChecksumFields::with(c.algorithm, v.clone()), Some(checksum::to_dto_type(c.kind))),
        _ => (ChecksumFields::default(), None),
    }
}

/// The object and the bytes a GET or HEAD answers with.
struct ReadPlan {
    obj: ObjectMeta,
    selection: Selection,
    checksum: ChecksumFields,
    checksum_type: Option<s3s::dto::ChecksumType>,
    /// The data key, when the object is encrypted.
    key: Option<cloudstore_sse::DataKey>,
    /// The SSE response headers.
    echo: Echo,
}

/// Fills the headers GetObjectOutput and HeadObjectOutput share (same field names in both).
macro_rules! object_headers {
    ($ty:ident, $plan:expr, $($extra:ident: $value:expr,)*) => {{
        let ReadPlan { obj, selection, checksum, checksum_type, echo, .. } = $plan;
        let mut out = $ty {
            $($extra: $value,)*
            accept_ranges: Some("bytes".into()),
            content_length: Some(len_i64(selection.range.end - selection.range.start)),
            content_range: selection.content_range,
            parts_count: selection.parts_count,
            e_tag: Some(etag_out(&obj.etag)),
            last_modified: Some(obj.last_modified.into()),
            expires: obj.expires.as_deref().and_then(parse_http_date),
            metadata: metadata_out(&obj.user_metadata),
            content_type: obj.content_type,
            content_encoding: obj.content_encoding,
            content_disposition: obj.content_disposition,
            content_language: obj.content_language,
            cache_control: obj.cache_control,
            checksum_crc32: checksum.crc32,
            checksum_crc32c: checksum.crc32c,
            checksum_crc64nvme: checksum.crc64nvme,
            checksum_sha1: checksum.sha1,
            checksum_sha256: checksum.sha256,
            checksum_type,
            ..Default::default()
        };
        echo_sse!(out, echo);
        (out.object_lock_mode, out.object_lock_retain_until_date, out.object_lock_legal_hold_status) =
            super::object_lock::headers_out(&obj.attributes);
        out
    }};
}

impl Gateway {
    #[tracing::instrument(level = "debug", skip_all, fields(op = "PutObject", bucket = %req.input.bucket, key = %req.input.key))]
    pub(crate) async fn op_put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let S3Request { input, headers, trailing_headers, extensions, credentials, .. } = req;
        let actor = Actor::of(&extensions, &headers, credentials.as_ref().map(|c| c.access_key.as_str()));
        check_key(&input.key)?;
        check_metadata_size(input.metadata.as_ref())?;
        if input.write_offset_bytes.is_some() {
            return Err(s3_error!(NotImplemented, "Appending to objects is not supported."));
        }
        // An empty Content-MD5 is no digest at all (s3s reads it as absent).
        if headers.get("content-md5").is_some_and(|v| v.as_bytes().trim_ascii().is_empty()) {
            return Err(s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid."));
        }
        let want = WriteIf::new(input.if_match.as_ref(), input.if_none_match.as_ref());
        // No bucket read here: access control has just seen the bucket (a missing one is
        // refused before the body is read), and the commit fails with NoSuchBucket if it was
        // deleted meanwhile, abandoning the blob.
        self.precheck_write(&input.bucket, &input.key, &want).await?;
        // The ACL asked for is checked (and its grantees resolved) before the body is read.
        let acl = self.new_object_acl(&extensions, &headers).await?;
        // So is the object lock asked for (ADR 0018).
        let lock = self
            .new_lock(
                &extensions,
                &input.bucket,
                &input.key,
                input.object_lock_mode.as_ref(),
                input.object_lock_retain_until_date.as_ref(),
                input.object_lock_legal_hold_status.as_ref(),
            )
            .await?;
        let fields = ChecksumFields {
            crc32: input.checksum_crc32.clone(),
            crc32c: input.checksum_crc32c.clone(),
            crc64nvme: input.checksum_crc64nvme.clone(),
            sha1: input.checksum_sha1.clone(),
            sha256: input.checksum_sha256.clone(),
        };
        let value = fields.single()?;
        let algorithm = choose_algorithm(input.checksum_algorithm.as_ref(), value.as_ref(), &headers)?;
        let tags = input.tagging.as_deref().map(super::tagging::parse_header).transpose()?.unwrap_or_default();
        let sealing = self.write_sealing(&input.bucket, &extensions, &put_sse_headers(&input)).await?;
        let seal = sealing.as_ref().map(|s| &s.key);
        let len = input.content_length.and_then(|n| u64::try_from(n).ok());
        let written = self.write_body(input.body, len, Some(algorithm), seal).await?;
        if let Err(e) = checksum::check_announced_trailer(&headers, trailing_headers.as_ref()) {
            return self.discard(&written, e).await;
        }
        let declared = Declared {
            content_md5: input.content_md5.as_deref(),
            checksum: value.or_else(|| trailer_checksum(trailing_headers.as_ref())),
        };
        self.verify_declared(&written, &declared).await?;
        let etag = sealing.as_ref().map_or_else(|| written.digests.etag(), |s| s.etag(&written.digests.md5));

        let mut obj = ObjectMeta {
            bucket: input.bucket,
            key: input.key,
            size: written.digests.len,
            etag: etag.clone(),
            last_modified: now_ms(),
            content_type: Some(input.content_type.unwrap_or_else(|| "binary/octet-stream".to_owned())),
            content_encoding: stored_content_encoding(input.content_encoding),
            content_disposition: input.content_disposition,
            content_language: input.content_language,
            cache_control: input.cache_control,
            expires: input.expires.as_ref().and_then(format_http_date),
            user_metadata: metadata_in(input.metadata),
            checksum: written.digests.checksum.as_ref().map(|(a, v)| checksum::full_object(*a, v)),
            parts: single_part(&written, &etag),
            multipart_parts: None,
            attributes: cloudstore_store_api::ObjectAttributes {
                acl,
                ..cloudstore_store_api::ObjectAttributes::with_tags(tags)
            },
        };
        obj.attributes.encryption = sealing.as_ref().map(|s| s.enc.clone());
        lock.apply(&mut obj.attributes);
        let versioning = self.versioning(&extensions, &obj.bucket).await?;
        obj.attributes.version_id = (versioning == Some(Versioning::Enabled)).then(super::versioning::new_version_id);
        let o = &obj;
        let events = self.outbox(|| {
            let mut e =
                with_object(actor.event(EventType::FileUploaded, &o.bucket, Some(&o.key)), o.size, &o.etag, 200);
            e.version_id.clone_from(&o.attributes.version_id);
            e
        });
        let evs = events.as_slice();
        let committed =
            self.commit_if(&o.bucket, &o.key, &want, |cond| async move {
                self.commit_write(o, &cond, versioning, evs).await
            })
            .await;
        if let Err(e) = committed {
            return Err(self.commit_failed(&written, e).await);
        }
        self.committed(&events);
        let fields = obj.checksum.as_ref().map(ChecksumFields::of).unwrap_or_default();
        let mut out = PutObjectOutput {
            expiration: self.expiration_of(&extensions, &obj),
            e_tag: Some(etag_out(&obj.etag)),
            checksum_crc32: fields.crc32,
            checksum_crc32c: fields.crc32c,
            checksum_crc64nvme: fields.crc64nvme,
            checksum_sha1: fields.sha1,
            checksum_sha256: fields.sha256,
            checksum_type: obj.checksum.as_ref().map(|c| checksum::to_dto_type(c.kind)),
            version_id: obj.attributes.version_id.clone(),
            ..Default::default()
        };
        echo_sse!(out, Echo::of_sealing(sealing.as_ref()));
        Ok(S3Response::new(out))
    }

    /// The `x-amz-expiration` header of `obj`: when the bucket's lifecycle rules (as access
    /// control read them with the bucket) expire it, and by which rule.
    pub(crate) fn expiration_of(&self, extensions: &http::Extensions, obj: &ObjectMeta) -> Option<String> {
        let rules = extensions.get::<crate::access::Authorized>()?.bucket.as_ref()?.lifecycle.as_ref()?;
        let day = time::Duration::try_from(self.cfg.lifecycle_day).ok()?;
        let (at, rule) = rules.expiry_of(obj, day)?;
        Some(crate::lifecycle::expiration_header(at, rule))
    }

    /// Reads an object's metadata or fails with `NoSuchKey`.
    pub(crate) async fn object(&self, bucket: &str, key: &str) -> S3Result<ObjectMeta> {
        let found = if unstorable(key) { None } else { self.meta.get_object(bucket, key).await.s3()? };
        match found {
            Some(o) => Ok(o),
            // Tell a missing bucket from a missing key, as S3 does (and a deleted key's
            // marker in a versioned bucket).
            None => Err(self.no_such_key(bucket, key).await),
        }
    }

    /// What GET and HEAD share: the object, after the version check and preconditions, the
    /// bytes selected by `Range`/`partNumber`, and the checksum to report.
    #[allow(clippy::too_many_arguments)]
    async fn read_plan(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        conditions: (Option<&ETagCondition>, Option<&ETagCondition>, Option<&Timestamp>, Option<&Timestamp>),
        range: Option<&Range>,
        part_number: Option<i32>,
        checksum_mode: Option<&ChecksumMode>,
        sse: (&http::HeaderMap, CustomerHeaders<'_>),
    ) -> S3Result<ReadPlan> {
        refuse_on_read(sse.0)?;
        let customer = sse.1.parse()?;
        let obj = self.object_or_version(bucket, key, version_id).await?;
        // SSE-C objects answer nothing, not even a 304, without their key; a part number or range
        // the object cannot satisfy is answered first, as AWS does.
        if obj.attributes.encryption.is_some() {
            select(&obj, range, part_number)?;
        }
        let data_key = self.object_key(&obj, customer.as_ref()).await?;
        let echo =
            Echo::of(obj.attributes.encryption.as_ref(), customer.as_ref().map(cloudstore_sse::CustomerKey::md5_b64));
        let (if_match, if_none_match, if_modified_since, if_unmodified_since) = conditions;
        if check_preconditions(&obj, if_match, if_none_match, if_modified_since, if_unmodified_since)?
            == Precondition::NotModified
        {
            // As on AWS (RFC 9110), a 304 still names the representation: ETag and Last-Modified.
            let mut e = s3_error!(NotModified, "Not Modified");
            let mut headers = http::HeaderMap::new();
            if let Ok(v) = http::HeaderValue::from_str(&format!("\"{}\"", obj.etag)) {
                headers.insert(http::header::ETAG, v);
            }
            if let Some(v) =
                format_http_date(&obj.last_modified.into()).and_then(|d| http::HeaderValue::from_str(&d).ok())
            {
                headers.insert(http::header::LAST_MODIFIED, v);
            }
            e.set_headers(headers);
            return Err(e);
        }
        let selection = select(&obj, range, part_number)?;
        let (checksum, checksum_type) = match selection.part.and_then(|i| obj.parts.get(i)) {
            Some(part) => part_checksum_out(&obj, part),
            None if selection.whole => checksum_out(&obj, checksum_mode),
            None => Default::default(),
        };
        Ok(ReadPlan { obj, selection, checksum, checksum_type, key: data_key, echo })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetObject", bucket = %req.input.bucket, key = %req.input.key))]
    pub(crate) async fn op_get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let actor = self
            .events
            .is_some()
            .then(|| Actor::of(&req.extensions, &req.headers, req.credentials.as_ref().map(|c| c.access_key.as_str())));
        let i = req.input;
        let plan = self
            .read_plan(
                &i.bucket,
                &i.key,
                i.version_id.as_deref(),
                (
                    i.if_match.as_ref(),
                    i.if_none_match.as_ref(),
                    i.if_modified_since.as_ref(),
                    i.if_unmodified_since.as_ref(),
                ),
                i.range.as_ref(),
                i.part_number,
                i.checksum_mode.as_ref(),
                (
                    &req.headers,
                    CustomerHeaders::new(
                        i.sse_customer_algorithm.as_ref(),
                        i.sse_customer_key.as_ref(),
                        i.sse_customer_key_md5.as_ref(),
                    ),
                ),
            )
            .await?;
        let stream = self.open_range(&plan.obj, plan.selection.range.clone(), plan.key.as_ref()).await?;
        if let Some(actor) = actor {
            // Counted when the answer starts: the bytes it promises (a range's, or the whole).
            let sent = plan.selection.range.end - plan.selection.range.start;
            let status = if plan.selection.content_range.is_some() { 206 } else { 200 };
            self.record(|| {
                let mut e = with_object(
                    actor.event(EventType::FileDownloaded, &i.bucket, Some(&i.key)),
                    sent,
                    &plan.obj.etag,
                    status,
                );
                e.version_id.clone_from(&plan.obj.attributes.version_id);
                e
            });
        }
        let body = StreamingBlob::wrap(sync_wrapper::SyncStream::new(stream));
        let tag_count = i32::try_from(plan.obj.attributes.tags.len()).ok().filter(|n| *n > 0);
        let expiration = self.expiration_of(&req.extensions, &plan.obj);
        let version_id = Self::version_out(&req.extensions, &plan.obj);
        let lock_seen = super::object_lock::LockSeen::of(&req.extensions, &plan.obj);
        let mut out = object_headers!(
            GetObjectOutput,
            plan,
            body: Some(body),
            tag_count: tag_count,
            expiration: expiration,
            version_id: version_id,
        );
        lock_seen.hide(
            &mut out.object_lock_mode,
            &mut out.object_lock_retain_until_date,
            &mut out.object_lock_legal_hold_status,
        );
        Ok(S3Response::new(out))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "HeadObject", bucket = %req.input.bucket, key = %req.input.key))]
    pub(crate) async fn op_head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let headers = req.headers;
        let i = req.input;
        let plan = self
            .read_plan(
                &i.bucket,
                &i.key,
                i.version_id.as_deref(),
                (
                    i.if_match.as_ref(),
                    i.if_none_match.as_ref(),
                    i.if_modified_since.as_ref(),
                    i.if_unmodified_since.as_ref(),
                ),
                i.range.as_ref(),
                i.part_number,
                i.checksum_mode.as_ref(),
                (
                    &headers,
                    CustomerHeaders::new(
                        i.sse_customer_algorithm.as_ref(),
                        i.sse_customer_key.as_ref(),
                        i.sse_customer_key_md5.as_ref(),
                    ),
                ),
            )
            .await?;
        // Not in AWS's HeadObject documentation, but AWS answers it (and s3-tests checks it).
        let tag_count = super::tagging::count_header(&plan.obj);
        let expiration = self.expiration_of(&req.extensions, &plan.obj);
        let version_id = Self::version_out(&req.extensions, &plan.obj);
        let lock_seen = super::object_lock::LockSeen::of(&req.extensions, &plan.obj);
        let mut out = object_headers!(HeadObjectOutput, plan, expiration: expiration, version_id: version_id,);
        lock_seen.hide(
            &mut out.object_lock_mode,
            &mut out.object_lock_retain_until_date,
            &mut out.object_lock_legal_hold_status,
        );
        let mut resp = S3Response::new(out);
        if let Some(n) = tag_count {
            resp.headers.insert("x-amz-tagging-count", n);
        }
        Ok(resp)
    }

    // Conditional deletes (`If-Match`, `x-amz-if-match-last-modified-time`,
    // `x-amz-if-match-size`, and their fields in DeleteObjects): the store checks them in the
    // delete's transaction. `If-Match: *` asks only that the object exists, which a delete of a
    // missing object (a success) does not contradict.
    #[tracing::instrument(level = "debug", skip_all, fields(op = "DeleteObject", bucket = %req.input.bucket, key = %req.input.key))]
    pub(crate) async fn op_delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let actor = Actor::of(&req.extensions, &req.headers, req.credentials.as_ref().map(|c| c.access_key.as_str()));
        let input = req.input;
        let versioning = self.bucket(&input.bucket).await?.versioning;
        let cond =
            delete_condition(input.if_match.as_ref(), input.if_match_last_modified_time.clone(), input.if_match_size)?;
        let made = |m: &ObjectMeta| self.deleted_events(&actor, m);
        let bypass =
            Self::bypass_governance(&req.extensions, input.bypass_governance_retention, &input.bucket, &input.key);
        let done = self
            .delete_one(&input.bucket, &input.key, input.version_id.as_deref(), &cond, (versioning, bypass), &made)
            .await?;
        Ok(S3Response::new(DeleteObjectOutput {
            delete_marker: done.delete_marker.then_some(true),
            version_id: done.version_id,
            ..Default::default()
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "DeleteObjects", bucket = %req.input.bucket))]
    pub(crate) async fn op_delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let extensions = &req.extensions;
        let who = extensions.get::<crate::access::Authorized>();
        let actor = Actor::of(extensions, &req.headers, req.credentials.as_ref().map(|c| c.access_key.as_str()));
        let made = |m: &ObjectMeta| self.deleted_events(&actor, m);
        let input = req.input;
        if input.delete.objects.len() > 1000 {
            return Err(s3_error!(MalformedXML, "The request may contain at most 1000 keys."));
        }
        let versioning = self.bucket(&input.bucket).await?.versioning;
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for o in input.delete.objects {
            let action = if o.version_id.is_some() { "s3:DeleteObjectVersion" } else { "s3:DeleteObject" };
            let res = if let Err(e) = check_key(&o.key) {
                Err(e)
            } else if !who
                .is_none_or(|w| w.allows(action, &crate::access::resource_arn(Some(&input.bucket), Some(&o.key))))
            {
                Err(s3_error!(AccessDenied, "Access Denied"))
            } else {
                let etag = o.e_tag.clone().map(ETagCondition::ETag);
                match delete_condition(etag.as_ref(), o.last_modified_time.clone(), o.size) {
                    Err(e) => Err(e),
                    Ok(cond) => {
                        let bypass = Self::bypass_governance(
                            extensions,
                            input.bypass_governance_retention,
                            &input.bucket,
                            &o.key,
                        );
                        self.delete_one(
                            &input.bucket,
                            &o.key,
                            o.version_id.as_deref(),
                            &cond,
                            (versioning, bypass),
                            &made,
                        )
                        .await
                    }
                }
            };
            match res {
                Ok(done) => {
                    if !quiet {
                        let marker_id = done.delete_marker.then(|| done.version_id.clone()).flatten();
                        deleted.push(DeletedObject {
                            key: Some(o.key),
                            version_id: o.version_id,
                            delete_marker: done.delete_marker.then_some(true),
                            delete_marker_version_id: marker_id,
                        });
                    }
                }
                Err(e) => errors.push(s3s::dto::Error {
                    code: Some(e.code().as_str().to_owned()),
                    key: Some(o.key),
                    message: e.message().map(str::to_owned),
                    version_id: o.version_id,
                }),
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..Default::default()
        }))
    }

    /// Resolves and checks a copy source: the object, after the `x-amz-copy-source-if-*`
    /// conditions (all failures are 412 for copies).
    pub(crate) async fn copy_source(
        &self,
        src: &CopySource,
        if_match: Option<&ETagCondition>,
        if_none_match: Option<&ETagCondition>,
        if_modified_since: Option<&Timestamp>,
        if_unmodified_since: Option<&Timestamp>,
    ) -> S3Result<ObjectMeta> {
        let CopySource::Bucket { bucket, key, version_id } = src else {
            return Err(s3_error!(NotImplemented, "Copy sources other than bucket/key are not supported."));
        };
        let obj = match super::versioning::version_arg(version_id.as_deref()) {
            None => self.object(bucket, key).await?,
            // A delete marker can't be copied: 400 InvalidRequest on AWS.
            Some(id) => self.object_version(bucket, key, id).await.map_err(|e| {
                if *e.code() == s3s::S3ErrorCode::MethodNotAllowed {
                    s3_error!(
                        InvalidRequest,
                        "The source of a copy request may not specifically refer to a delete marker by version id."
                    )
                } else {
                    e
                }
            })?,
        };
        match check_preconditions(&obj, if_match, if_none_match, if_modified_since, if_unmodified_since)? {
            Precondition::Proceed => Ok(obj),
            Precondition::NotModified => {
                Err(s3_error!(PreconditionFailed, "At least one of the pre-conditions you specified did not hold"))
            }
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "CopyObject", bucket = %req.input.bucket, key = %req.input.key))]
    pub(crate) async fn op_copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let actor = Actor::of(&req.extensions, &req.headers, req.credentials.as_ref().map(|c| c.access_key.as_str()));
        // The new object's ACL: the one asked for, never the source's.
        let acl = self.new_object_acl(&req.extensions, &req.headers).await?;
        let extensions = req.extensions;
        let input = req.input;
        check_key(&input.key)?;
        let cond = WriteCondition::default();
        let src = self
            .copy_source(
                &input.copy_source,
                input.copy_source_if_match.as_ref(),
                input.copy_source_if_none_match.as_ref(),
                input.copy_source_if_modified_since.as_ref(),
                input.copy_source_if_unmodified_since.as_ref(),
            )
            .await?;
        let src_customer = CustomerHeaders::new(
            input.copy_source_sse_customer_algorithm.as_ref(),
            input.copy_source_sse_customer_key.as_ref(),
            input.copy_source_sse_customer_key_md5.as_ref(),
        )
        .parse()?;
        let src_key = self.object_key(&src, src_customer.as_ref()).await?;
        let versioning = self.bucket(&input.bucket).await?.versioning;
        let sse_headers = WriteHeaders {
            sse: input.server_side_encryption.as_ref(),
            kms_key_id: input.ssekms_key_id.as_deref(),
            bucket_key: input.bucket_key_enabled,
            customer: CustomerHeaders::new(
                input.sse_customer_algorithm.as_ref(),
                input.sse_customer_key.as_ref(),
                input.sse_customer_key_md5.as_ref(),
            ),
        };
        let changes_encryption = sse_headers.sse.is_some() || sse_headers.customer.algorithm.is_some();
        let sealing = self.write_sealing(&input.bucket, &extensions, &sse_headers).await?;
        let replace = input.metadata_directive.as_ref().is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        if let Some(d) = &input.metadata_directive
            && d.as_str() != MetadataDirective::REPLACE
            && d.as_str() != MetadataDirective::COPY
        {
            return Err(s3_error!(InvalidArgument, "Unknown metadata directive."));
        }
        if replace {
            check_metadata_size(input.metadata.as_ref())?;
        }
        // The tags: the source's (COPY, the default) or the request's (REPLACE).
        let tags = match input.tagging_directive.as_ref().map(TaggingDirective::as_str) {
            None | Some(TaggingDirective::COPY) => src.attributes.tags.clone(),
            Some(TaggingDirective::REPLACE) => {
                input.tagging.as_deref().map(super::tagging::parse_header).transpose()?.unwrap_or_default()
            }
            Some(_) => return Err(s3_error!(InvalidArgument, "Unknown tagging directive.")),
        };
        let src_version = match &input.copy_source {
            CopySource::Bucket { version_id: Some(_), .. } => {
                Some(super::versioning::shown(src.attributes.version_id.as_deref()))
            }
            _ => src.attributes.version_id.clone(),
        };
        let same_version = match &input.copy_source {
            CopySource::Bucket { version_id: Some(_), .. } => versioning.is_none(),
            _ => true,
        };
        if !replace && !changes_encryption && same_version && src.bucket == input.bucket && src.key == input.key {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        let algorithm = match &input.checksum_algorithm {
            Some(a) => from_dto_algorithm(a)?,
            None => src
                .checksum
                .as_ref()
                .filter(|c| c.kind == ChecksumType::FullObject)
                .map_or(ChecksumAlgorithm::Crc64nvme, |c| c.algorithm),
        };
        // The copy's object lock: the request's or the bucket's default, never the source's (ADR 0018).
        let lock = self
            .new_lock(
                &extensions,
                &input.bucket,
                &input.key,
                input.object_lock_mode.as_ref(),
                input.object_lock_retain_until_date.as_ref(),
                input.object_lock_legal_hold_status.as_ref(),
            )
            .await?;
        let seal = sealing.as_ref().map(|s| &s.key);
        let written = self.copy_range(&src, src_key.as_ref(), 0..src.size, Some(algorithm), seal).await?;
        let etag = sealing.as_ref().map_or_else(|| written.digests.etag(), |s| s.etag(&written.digests.md5));
        let mut obj = if replace {
            ObjectMeta {
                content_type: Some(input.content_type.unwrap_or_else(|| "binary/octet-stream".to_owned())),
                content_encoding: input.content_encoding,
                content_disposition: input.content_disposition,
                content_language: input.content_language,
                cache_control: input.cache_control,
                expires: input.expires.as_ref().and_then(format_http_date),
                user_metadata: metadata_in(input.metadata),
                ..src.clone()
            }
        } else {
            src.clone()
        };
        obj.bucket = input.bucket;
        obj.key = input.key;
        obj.size = written.digests.len;
        obj.etag = etag.clone();
        obj.last_modified = now_ms();
        obj.checksum = written.digests.checksum.as_ref().map(|(a, v)| checksum::full_object(*a, v));
        obj.parts = single_part(&written, &etag);
        obj.multipart_parts = None;
        obj.attributes.tags = tags;
        obj.attributes.acl = acl;
        // The copy is encrypted as its request (or its bucket's default) says, never as its source.
        obj.attributes.encryption = sealing.as_ref().map(|s| s.enc.clone());
        lock.apply(&mut obj.attributes);
        obj.attributes.version_id = (versioning == Some(Versioning::Enabled)).then(super::versioning::new_version_id);
        let events = self.outbox(|| {
            let mut e =
                with_object(actor.event(EventType::FileCopied, &obj.bucket, Some(&obj.key)), obj.size, &obj.etag, 200);
            e.version_id.clone_from(&obj.attributes.version_id);
            e.detail.insert("source_bucket".into(), src.bucket.clone());
            e.detail.insert("source_key".into(), src.key.clone());
            if let Some(v) = &src.attributes.version_id {
                e.detail.insert("source_version_id".into(), v.clone());
            }
            e
        });
        if let Err(e) = self.commit_write(&obj, &cond, versioning, &events).await {
            return Err(self.commit_failed(&written, e).await);
        }
        self.committed(&events);
        let fields = obj.checksum.as_ref().map(ChecksumFields::of).unwrap_or_default();
        let mut out = CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag_out(&obj.etag)),
                last_modified: Some(obj.last_modified.into()),
                checksum_crc32: fields.crc32,
                checksum_crc32c: fields.crc32c,
                checksum_crc64nvme: fields.crc64nvme,
                checksum_sha1: fields.sha1,
                checksum_sha256: fields.sha256,
                checksum_type: obj.checksum.as_ref().map(|c| checksum::to_dto_type(c.kind)),
            }),
            version_id: obj.attributes.version_id.clone(),
            copy_source_version_id: src_version,
            ..Default::default()
        };
        echo_sse!(out, Echo::of_sealing(sealing.as_ref()));
        Ok(S3Response::new(out))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetObjectAttributes", bucket = %req.input.bucket, key = %req.input.key))]
    pub(crate) async fn op_get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        let input = req.input;
        let paging = parts_paging(input.max_parts, input.part_number_marker)?;
        let customer = CustomerHeaders::new(
            input.sse_customer_algorithm.as_ref(),
            input.sse_customer_key.as_ref(),
            input.sse_customer_key_md5.as_ref(),
        )
        .parse()?;
        let obj = self.object_or_version(&input.bucket, &input.key, input.version_id.as_deref()).await?;
        // An SSE-C object tells its attributes only to the holder of its key, as on AWS.
        self.object_key(&obj, customer.as_ref()).await?;
        // The header is a comma-separated list (botocore writes `ETag, ObjectSize`), which s3s
        // hands over as one item: every name is split out and trimmed.
        let wants =
            |name: &str| input.object_attributes.iter().flat_map(|a| a.as_str().split(',')).any(|a| a.trim() == name);
        let mut out = GetObjectAttributesOutput::default();
        if wants(ObjectAttributes::ETAG) {
            out.e_tag = Some(etag_out(&obj.etag));
        }
        if wants(ObjectAttributes::OBJECT_SIZE) {
            out.object_size = Some(len_i64(obj.size));
        }
        if wants(ObjectAttributes::STORAGE_CLASS) {
            out.storage_class = Some(StorageClass::from_static(StorageClass::STANDARD));
        }
        if wants(ObjectAttributes::CHECKSUM)
            && let Some(c) = &obj.checksum
        {
            let f = ChecksumFields::of(c);
            out.checksum = Some(s3s::dto::Checksum {
                checksum_crc32: f.crc32,
                checksum_crc32c: f.crc32c,
                checksum_crc64nvme: f.crc64nvme,
                checksum_sha1: f.sha1,
                checksum_sha256: f.sha256,
                checksum_type: Some(checksum::to_dto_type(c.kind)),
            });
        }
        if wants(ObjectAttributes::OBJECT_PARTS)
            && let Some(total) = obj.multipart_parts
        {
            let (max, marker) = paging;
            let all: Vec<&BlobPart> = obj.parts.iter().filter(|p| p.part_number > marker).collect();
            let page: Vec<&BlobPart> = all.iter().take(max).copied().collect();
            let truncated = all.len() > page.len();
            let algorithm = obj.checksum.as_ref().map(|c| c.algorithm);
            out.object_parts = Some(GetObjectAttributesParts {
                total_parts_count: i32::try_from(total).ok(),
                part_number_marker: input.part_number_marker,
                next_part_number_marker: page.last().and_then(|p| i32::try_from(p.part_number).ok()),
                max_parts: i32::try_from(max).ok(),
                is_truncated: Some(truncated),
                parts: Some(
                    page.iter()
                        .map(|p| {
                            let mut part = ObjectPart {
                                part_number: i32::try_from(p.part_number).ok(),
                                size: Some(len_i64(p.size)),
                                ..Default::default()
                            };
                            if let (Some(a), Some(v)) = (algorithm, &p.checksum) {
                                let f = ChecksumFields::with(a, v.clone());
                                part.checksum_crc32 = f.crc32;
                                part.checksum_crc32c = f.crc32c;
                                part.checksum_crc64nvme = f.crc64nvme;
                                part.checksum_sha1 = f.sha1;
                                part.checksum_sha256 = f.sha256;
                            }
                            part
                        })
                        .collect(),
                ),
            });
        }
        out.last_modified = Some(obj.last_modified.into());
        out.version_id = Self::version_out(&req.extensions, &obj);
        Ok(S3Response::new(out))
    }
}

/// `max-parts` (default and cap 1000) and `part-number-marker` (default 0) of ListParts and
/// GetObjectAttributes; a negative value is 400 InvalidArgument.
pub(crate) fn parts_paging(max_parts: Option<i32>, marker: Option<i32>) -> S3Result<(usize, u32)> {
    let max = match max_parts {
        None => 1000,
        Some(n) => usize::try_from(n)
            .map_err(|_| s3_error!(InvalidArgument, "max-parts must be a non-negative integer"))?
            .min(1000),
    };
    let marker = match marker {
        None => 0,
        Some(m) => u32::try_from(m)
            .map_err(|_| s3_error!(InvalidArgument, "part-number-marker must be a non-negative integer"))?,
    };
    Ok((max, marker))
}

/// A `partNumber` the object has no part for: 400 InvalidPart, as AWS answers it (the public
/// Ceph s3-tests suite checks this against AWS).
fn invalid_part_number() -> s3s::S3Error {
    s3_error!(InvalidPart, "The requested partnumber is not satisfiable")
}

/// The data layout of a simple (single-blob) object with ETag `etag`.
pub(crate) fn single_part(w: &Written, etag: &str) -> Vec<BlobPart> {
    w.blob
        .iter()
        .map(|b| BlobPart {
            blob: b.clone(),
            size: w.digests.len,
            part_number: 1,
            etag: etag.to_owned(),
            checksum: w.digests.checksum_b64(),
        })
        .collect()
}

pub(crate) fn len_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Which bytes of an object a read returns.
struct Selection {
    range: std::ops::Range<u64>,
    content_range: Option<String>,
    parts_count: Option<i32>,
    whole: bool,
    /// The index in `parts` of the part a `partNumber` read of a multipart object returns.
    part: Option<usize>,
}

/// Resolves `Range` or `partNumber` against an object.
fn select(obj: &ObjectMeta, range: Option<&Range>, part_number: Option<i32>) -> S3Result<Selection> {
    let size = obj.size;
    let parts_count = obj.multipart_parts.and_then(|n| i32::try_from(n).ok());
    match (range, part_number) {
        (Some(_), Some(_)) => {
            Err(s3_error!(InvalidRequest, "Cannot specify both Range header and partNumber query parameter."))
        }
        (Some(r), None) => {
            // No range of an empty object is satisfiable: s3s refuses `bytes=0-0` but gives
            // 0..0 for a suffix (`bytes=-N`); both answer 416 InvalidRange, as AWS does.
            let rg = r
                .check(size)
                .ok()
                .filter(|rg| !rg.is_empty())
                .ok_or_else(|| s3_error!(InvalidRange, "The requested range is not satisfiable"))?;
            let content_range = Some(format!("bytes {}-{}/{}", rg.start, rg.end - 1, size));
            Ok(Selection { range: rg, content_range, parts_count, whole: false, part: None })
        }
        (None, Some(n)) => {
            // AWS answers 400 InvalidArgument outside 1..=10000, and 400 InvalidPart for a
            // valid number the object has no part for.
            let n = super::multipart::part_number(n)?;
            match obj.multipart_parts {
                None if n == 1 => {
                    Ok(Selection { range: 0..size, content_range: None, parts_count: None, whole: true, part: None })
                }
                None => Err(invalid_part_number()),
                Some(_) => {
                    let mut offset = 0u64;
                    for (i, p) in obj.parts.iter().enumerate() {
                        if p.part_number == n {
                            let rg = offset..offset + p.size;
                            let content_range =
                                (p.size > 0).then(|| format!("bytes {}-{}/{}", rg.start, rg.end - 1, size));
                            return Ok(Selection {
                                range: rg,
                                content_range,
                                parts_count,
                                whole: false,
                                part: Some(i),
                            });
                        }
                        offset += p.size;
                    }
                    Err(invalid_part_number())
                }
            }
        }
        (None, None) => {
            Ok(Selection { range: 0..size, content_range: None, parts_count: None, whole: true, part: None })
        }
    }
}

impl Gateway {
    /// The events of deleting `m` (none when events are off).
    fn deleted_events(&self, actor: &Actor, m: &ObjectMeta) -> Vec<OutboxEvent> {
        self.outbox(|| {
            let mut e = with_object(actor.event(EventType::FileDeleted, &m.bucket, Some(&m.key)), m.size, &m.etag, 204);
            e.version_id.clone_from(&m.attributes.version_id);
            e
        })
    }

    /// DeleteObject of one key (and DeleteObjects' per key): without a version id, the object
    /// (never versioned) or a new delete marker (versioned); with one, that version for good.
    async fn delete_one(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        cond: &DeleteCondition,
        (versioning, bypass_governance): (Option<Versioning>, bool),
        made: cloudstore_store_api::DeletedEvents<'_>,
    ) -> S3Result<Deleted> {
        if unstorable(key) {
            return Ok(Deleted { delete_marker: false, version_id: version_id.map(str::to_owned) });
        }
        match (super::versioning::version_arg(version_id), versioning) {
            // The null version of a bucket never versioned is its object.
            (None | Some(None), None) => {
                if self.meta.delete_object(bucket, key, cond, self.grace(), made).await.s3()?.is_some() {
                    self.committed_count(1);
                }
                Ok(Deleted { delete_marker: false, version_id: None })
            }
            (Some(Some(_)), None) => Err(s3_error!(InvalidArgument, "Invalid version id specified")),
            (None, Some(v)) => {
                let id = (v == Versioning::Enabled).then(super::versioning::new_version_id);
                let marker = self
                    .meta
                    .put_delete_marker(bucket, key, id.as_deref(), now_ms(), cond, v, self.grace(), made)
                    .await
                    .s3()?;
                self.committed_count(1);
                Ok(Deleted { delete_marker: true, version_id: Some(super::versioning::shown(marker.version_id())) })
            }
            (Some(id), Some(_)) => {
                // Object lock is enforced by the store, in the removal's transaction (ADR 0018).
                let gone = self
                    .meta
                    .delete_object_version_with(bucket, key, id, bypass_governance, self.grace(), made)
                    .await
                    .s3()?;
                if gone.is_some() {
                    self.committed_count(1);
                }
                Ok(Deleted {
                    delete_marker: gone.is_some_and(|g| g.is_delete_marker),
                    version_id: Some(super::versioning::shown(id)),
                })
            }
        }
    }
}

/// What one delete did.
struct Deleted {
    /// Whether it made (or removed) a delete marker.
    delete_marker: bool,
    /// The version it made or removed (`null` for the null version), if versioned.
    version_id: Option<String>,
}

/// The store's condition for a conditional delete (see [`DeleteCondition`]).
fn delete_condition(
    if_match: Option<&ETagCondition>,
    last_modified: Option<Timestamp>,
    size: Option<i64>,
) -> S3Result<DeleteCondition> {
    let etag = match if_match {
        None | Some(ETagCondition::Any) => None,
        Some(ETagCondition::ETag(ETag::Strong(v) | ETag::Weak(v))) => Some(v.clone()),
    };
    let size = size
        .map(|s| u64::try_from(s).map_err(|_| s3_error!(InvalidArgument, "x-amz-if-match-size must not be negative")))
        .transpose()?;
    Ok(DeleteCondition { etag, last_modified: last_modified.map(time::OffsetDateTime::from), size })
}

/// The SSE headers of a PutObject.
fn put_sse_headers(input: &PutObjectInput) -> WriteHeaders<'_> {
    WriteHeaders {
        sse: input.server_side_encryption.as_ref(),
        kms_key_id: input.ssekms_key_id.as_deref(),
        bucket_key: input.bucket_key_enabled,
        customer: CustomerHeaders::new(
            input.sse_customer_algorithm.as_ref(),
            input.sse_customer_key.as_ref(),
            input.sse_customer_key_md5.as_ref(),
        ),
    }
}

impl Gateway {
    /// The sealing of a write to `bucket` with the SSE headers `h` (ADR 0014): what they ask
    /// for, else the bucket's default (read only when the headers ask for nothing).
    pub(crate) async fn write_sealing(
        &self,
        bucket: &str,
        extensions: &http::Extensions,
        h: &WriteHeaders<'_>,
    ) -> S3Result<Option<super::sse::Sealing>> {
        let who = extensions.get::<crate::access::Authorized>();
        let account = who.filter(|w| !w.is_admin()).map(crate::access::Authorized::account_id);
        let explicit = h.sse.is_some() || h.customer.algorithm.is_some() || h.customer.key.is_some();
        let default = if explicit && h.sse.is_none_or(|s| s.as_str() == ServerSideEncryption::AES256) {
            None
        } else {
            self.bucket_default(bucket, extensions).await?
        };
        self.sealing_for_write(h, default, account).await
    }
}
