//! Multipart uploads. Parts are separate blobs; completing an upload only writes metadata
//! (the object's data is the list of its parts' blobs), so it is fast and atomic.

use cloudstore_store_api::{
    BlobPart, ObjectAttributes, ObjectMeta, PartMeta, StoreError, Upload, UploadListQuery, list_uploads,
};
use cloudstore_types::{Checksum, ChecksumAlgorithm, ChecksumType};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Gateway;
use super::bucket::now_ms;
use super::checksum::{
    self, ChecksumFields, b64, combine_crc, digest, from_dto_algorithm, to_dto_algorithm, to_dto_type,
    trailer_checksum, unb64,
};
use super::condition::WriteIf;
use super::list::{check_list_params, no_nul};
use super::object::{
    check_key, check_metadata_size, choose_algorithm, etag_out, format_http_date, len_i64, metadata_in, parts_paging,
    unstorable,
};
use super::sse::{CustomerHeaders, Echo, WriteHeaders, echo_sse};
use super::write::Declared;
use crate::error::StoreResultExt;

/// Smallest size of every part but the last (S3's limit).
const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// Highest part number.
const MAX_PART_NUMBER: i32 = 10_000;

pub(crate) fn part_number(n: i32) -> S3Result<u32> {
    if (1..=MAX_PART_NUMBER).contains(&n) {
        Ok(n.unsigned_abs())
    } else {
        Err(s3_error!(InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive"))
    }
}

fn strip_quotes(s: &str) -> &str {
    s.trim().trim_matches('"')
}

/// The checksum type an upload gets when the client names none.
fn default_type(a: ChecksumAlgorithm) -> ChecksumType {
    if a == ChecksumAlgorithm::Crc64nvme { ChecksumType::FullObject } else { ChecksumType::Composite }
}

/// The ETag of a multipart object: the MD5 of its parts' MD5s, and their count.
fn multipart_etag<'a>(part_etags: impl ExactSizeIterator<Item = &'a str>) -> String {
    let count = part_etags.len();
    let mut md5s = Vec::with_capacity(count * 16);
    for e in part_etags {
        md5s.extend(hex::decode(e).unwrap_or_default());
    }
    format!("{}-{}", hex::encode(md5_of(&md5s)), count)
}

fn complete_output(obj: &ObjectMeta) -> CompleteMultipartUploadOutput {
    let f = obj.checksum.as_ref().map(ChecksumFields::of).unwrap_or_default();
    let echo = Echo::of(obj.attributes.encryption.as_ref(), None);
    CompleteMultipartUploadOutput {
        bucket: Some(obj.bucket.clone()),
        key: Some(obj.key.clone()),
        location: Some(format!("/{}/{}", obj.bucket, obj.key)),
        e_tag: Some(etag_out(&obj.etag)),
        checksum_crc32: f.crc32,
        checksum_crc32c: f.crc32c,
        checksum_crc64nvme: f.crc64nvme,
        checksum_sha1: f.sha1,
        checksum_sha256: f.sha256,
        checksum_type: obj.checksum.as_ref().map(|c| to_dto_type(c.kind)),
        // AWS's answer names SSE-S3 and SSE-KMS (not SSE-C: it carries no customer headers).
        server_side_encryption: echo.sse,
        ssekms_key_id: echo.kms_key_id,
        bucket_key_enabled: echo.bucket_key,
        version_id: obj.attributes.version_id.clone(),
        ..Default::default()
    }
}

impl Gateway {
    async fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> S3Result<Upload> {
        // A NUL can be in no stored key or upload id (PostgreSQL text cannot hold it): answer
        // as for a missing upload without asking the store.
        let found = if unstorable(key) || unstorable(upload_id) {
            None
        } else {
            self.meta.get_upload(bucket, key, upload_id).await.s3()?
        };
        match found {
            Some(u) => Ok(u),
            None => {
                self.bucket(bucket).await?;
                Err(s3_error!(
                    NoSuchUpload,
                    "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
                ))
            }
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "CreateMultipartUpload", bucket = %req.input.bucket, key = %req.input.key))]
    pub(crate) async fn op_create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        // The completed object's ACL and owner, decided now (as on AWS).
        let acl = self.new_object_acl(&req.extensions, &req.headers).await?;
        let extensions = req.extensions;
        let input = req.input;
        check_key(&input.key)?;
        check_metadata_size(input.metadata.as_ref())?;
        self.bucket(&input.bucket).await?;
        // The completed object's object lock, decided now (ADR 0018).
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
        // The upload's data key: every part is sealed under it (each blob under its own
        // derived key), and the completed object keeps it.
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
        let sealing = self.write_sealing(&input.bucket, &extensions, &sse_headers).await?;
        let algorithm = input.checksum_algorithm.as_ref().map(from_dto_algorithm).transpose()?;
        let kind = match &input.checksum_type {
            None => None,
            Some(t) if t.as_str() == ChecksumType::FullObject.as_str() => Some(ChecksumType::FullObject),
            Some(t) if t.as_str() == ChecksumType::Composite.as_str() => Some(ChecksumType::Composite),
            Some(_) => return Err(s3_error!(InvalidRequest, "Invalid checksum type.")),
        };
        let (algorithm, kind) = match (algorithm, kind) {
            (None, Some(_)) => {
                return Err(s3_error!(
                    InvalidRequest,
                    "The x-amz-checksum-type header requires x-amz-checksum-algorithm."
                ));
            }
            (Some(a), Some(ChecksumType::FullObject)) if !a.is_crc() => {
                return Err(s3_error!(
                    InvalidRequest,
                    "The FULL_OBJECT checksum type cannot be used with the {} checksum algorithm.",
                    a
                ));
            }
            (Some(ChecksumAlgorithm::Crc64nvme), Some(ChecksumType::Composite)) => {
                return Err(s3_error!(
                    InvalidRequest,
                    "The COMPOSITE checksum type cannot be used with the CRC64NVME checksum algorithm."
                ));
            }
            (Some(a), k) => (Some(a), Some(k.unwrap_or_else(|| default_type(a)))),
            (None, None) => (None, None),
        };
        let tags = input.tagging.as_deref().map(super::tagging::parse_header).transpose()?.unwrap_or_default();
        let upload_id = uuid::Uuid::now_v7().simple().to_string();
        let mut template = ObjectMeta {
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            size: 0,
            etag: String::new(),
            last_modified: now_ms(),
            content_type: Some(input.content_type.unwrap_or_else(|| "binary/octet-stream".to_owned())),
            content_encoding: input.content_encoding,
            content_disposition: input.content_disposition,
            content_language: input.content_language,
            cache_control: input.cache_control,
            expires: input.expires.as_ref().and_then(format_http_date),
            user_metadata: metadata_in(input.metadata),
            checksum: None,
            parts: Vec::new(),
            multipart_parts: None,
            attributes: ObjectAttributes { acl, ..ObjectAttributes::with_tags(tags) },
        };
        template.attributes.encryption = sealing.as_ref().map(|s| s.enc.clone());
        lock.apply(&mut template.attributes);
        let upload = Upload {
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            upload_id: upload_id.clone(),
            initiated: now_ms(),
            template,
            checksum_algorithm: algorithm,
            checksum_type: kind,
        };
        self.meta.create_upload(&upload).await.s3()?;
        let mut out = CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(upload_id),
            checksum_algorithm: algorithm.map(to_dto_algorithm),
            checksum_type: kind.map(to_dto_type),
            ..Default::default()
        };
        echo_sse!(out, Echo::of_sealing(sealing.as_ref()));
        Ok(S3Response::new(out))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "UploadPart", bucket = %req.input.bucket, key = %req.input.key))]
    pub(crate) async fn op_upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let S3Request { input, headers, trailing_headers, .. } = req;
        let n = part_number(input.part_number)?;
        let upload = self.upload(&input.bucket, &input.key, &input.upload_id).await?;
        let fields = ChecksumFields {
            crc32: input.checksum_crc32.clone(),
            crc32c: input.checksum_crc32c.clone(),
            crc64nvme: input.checksum_crc64nvme.clone(),
            sha1: input.checksum_sha1.clone(),
            sha256: input.checksum_sha256.clone(),
        };
        let value = fields.single()?;
        let requested = input.checksum_algorithm.as_ref();
        let algorithm = match upload.checksum_algorithm {
            Some(a) => {
                let chosen = choose_algorithm(requested, value.as_ref(), &headers)?;
                if value.is_some() && chosen != a {
                    return Err(s3_error!(
                        InvalidRequest,
                        "Checksum Type mismatch occurred, expected checksum Type: {}",
                        a.as_str().to_lowercase()
                    ));
                }
                a
            }
            None => choose_algorithm(requested, value.as_ref(), &headers)?,
        };
        // The part is sealed under the upload's data key; an SSE-C upload needs its key again.
        let customer = CustomerHeaders::new(
            input.sse_customer_algorithm.as_ref(),
            input.sse_customer_key.as_ref(),
            input.sse_customer_key_md5.as_ref(),
        )
        .parse()?;
        let enc = upload.template.attributes.encryption.clone();
        let data_key = self.read_key(enc.as_ref(), customer.as_ref()).await?;
        let echo = Echo::of(enc.as_ref(), customer.as_ref().map(cloudstore_sse::CustomerKey::md5_b64));
        let len = input.content_length.and_then(|v| u64::try_from(v).ok());
        let written = self.write_body(input.body, len, Some(algorithm), data_key.as_ref()).await?;
        if let Err(e) = checksum::check_announced_trailer(&headers, trailing_headers.as_ref()) {
            return self.discard(&written, e).await;
        }
        let declared = Declared {
            content_md5: input.content_md5.as_deref(),
            checksum: value.or_else(|| trailer_checksum(trailing_headers.as_ref())),
        };
        self.verify_declared(&written, &declared).await?;
        let etag = super::sse::etag_for(data_key.as_ref(), enc.as_ref(), &written.digests.md5);
        let Some(blob) = written.blob.clone() else {
            // An empty part still needs a blob entry so that it has a place in the object.
            let mut out = self.put_empty_part(&upload, n, &written.digests, &etag).await?;
            echo_sse!(out.output, echo);
            return Ok(out);
        };
        let part = PartMeta {
            part_number: n,
            blob,
            size: written.digests.len,
            etag,
            checksum: written.digests.checksum_b64(),
            last_modified: now_ms(),
        };
        if let Err(e) = self.meta.put_part(&upload.bucket, &upload.key, &upload.upload_id, &part, self.grace()).await {
            return Err(self.commit_failed(&written, e).await);
        }
        let f = part.checksum.clone().map(|v| ChecksumFields::with(algorithm, v)).unwrap_or_default();
        let mut out = UploadPartOutput {
            e_tag: Some(etag_out(&part.etag)),
            checksum_crc32: f.crc32,
            checksum_crc32c: f.crc32c,
            checksum_crc64nvme: f.crc64nvme,
            checksum_sha1: f.sha1,
            checksum_sha256: f.sha256,
            ..Default::default()
        };
        echo_sse!(out, echo);
        Ok(S3Response::new(out))
    }

    /// Records a zero-byte part. It is stored as a zero-byte blob so that every part has one.
    async fn put_empty_part(
        &self,
        upload: &Upload,
        n: u32,
        digests: &checksum::Digests,
        etag: &str,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let blob = self.pending_blob().await?;
        let empty: cloudstore_store_api::ByteStream = Box::pin(futures::stream::empty());
        if let Err(e) = self.blobs.put(&blob, empty, Some(0)).await {
            self.abandon(&blob).await;
            return Err(crate::error::store_error(e));
        }
        let part = PartMeta {
            part_number: n,
            blob: blob.clone(),
            size: 0,
            etag: etag.to_owned(),
            checksum: digests.checksum_b64(),
            last_modified: now_ms(),
        };
        if let Err(e) = self.meta.put_part(&upload.bucket, &upload.key, &upload.upload_id, &part, self.grace()).await {
            if !matches!(e, StoreError::Unavailable(_) | StoreError::Backend(_)) {
                self.abandon(&blob).await;
            }
            return Err(crate::error::store_error(e));
        }
        Ok(S3Response::new(UploadPartOutput { e_tag: Some(etag_out(&part.etag)), ..Default::default() }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "UploadPartCopy", bucket = %req.input.bucket, key = %req.input.key))]
    pub(crate) async fn op_upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let input = req.input;
        let n = part_number(input.part_number)?;
        let upload = self.upload(&input.bucket, &input.key, &input.upload_id).await?;
        let src = self
            .copy_source(
                &input.copy_source,
                input.copy_source_if_match.as_ref(),
                input.copy_source_if_none_match.as_ref(),
                input.copy_source_if_modified_since.as_ref(),
                input.copy_source_if_unmodified_since.as_ref(),
            )
            .await?;
        let range = match &input.copy_source_range {
            None => 0..src.size,
            Some(r) => parse_copy_range(r, src.size)?,
        };
        let src_customer = CustomerHeaders::new(
            input.copy_source_sse_customer_algorithm.as_ref(),
            input.copy_source_sse_customer_key.as_ref(),
            input.copy_source_sse_customer_key_md5.as_ref(),
        )
        .parse()?;
        let src_key = self.object_key(&src, src_customer.as_ref()).await?;
        let customer = CustomerHeaders::new(
            input.sse_customer_algorithm.as_ref(),
            input.sse_customer_key.as_ref(),
            input.sse_customer_key_md5.as_ref(),
        )
        .parse()?;
        let enc = upload.template.attributes.encryption.clone();
        let data_key = self.read_key(enc.as_ref(), customer.as_ref()).await?;
        let echo = Echo::of(enc.as_ref(), customer.as_ref().map(cloudstore_sse::CustomerKey::md5_b64));
        let algorithm = upload.checksum_algorithm.unwrap_or(ChecksumAlgorithm::Crc64nvme);
        let written = self.copy_range(&src, src_key.as_ref(), range, Some(algorithm), data_key.as_ref()).await?;
        let etag = super::sse::etag_for(data_key.as_ref(), enc.as_ref(), &written.digests.md5);
        let Some(blob) = written.blob.clone() else {
            let out = self.put_empty_part(&upload, n, &written.digests, &etag).await?;
            return Ok(S3Response::new(UploadPartCopyOutput {
                copy_part_result: Some(CopyPartResult {
                    e_tag: out.output.e_tag,
                    last_modified: Some(now_ms().into()),
                    ..Default::default()
                }),
                ..Default::default()
            }));
        };
        let part = PartMeta {
            part_number: n,
            blob,
            size: written.digests.len,
            etag,
            checksum: written.digests.checksum_b64(),
            last_modified: now_ms(),
        };
        if let Err(e) = self.meta.put_part(&upload.bucket, &upload.key, &upload.upload_id, &part, self.grace()).await {
            return Err(self.commit_failed(&written, e).await);
        }
        let f = match (upload.checksum_algorithm, &part.checksum) {
            (Some(a), Some(v)) => ChecksumFields::with(a, v.clone()),
            _ => ChecksumFields::default(),
        };
        let mut out = UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(etag_out(&part.etag)),
                last_modified: Some(part.last_modified.into()),
                checksum_crc32: f.crc32,
                checksum_crc32c: f.crc32c,
                checksum_crc64nvme: f.crc64nvme,
                checksum_sha1: f.sha1,
                checksum_sha256: f.sha256,
            }),
            ..Default::default()
        };
        echo_sse!(out, echo);
        Ok(S3Response::new(out))
    }

    /// Every stored part of an upload, ascending.
    async fn all_parts(&self, upload_id: &str) -> S3Result<Vec<PartMeta>> {
        let mut out: Vec<PartMeta> = Vec::new();
        loop {
            let after = out.last().map_or(0, |p| p.part_number);
            let page = self.meta.list_parts(upload_id, after, 1000).await.s3()?;
            let done = page.len() < 1000;
            out.extend(page);
            if done {
                return Ok(out);
            }
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "CompleteMultipartUpload", bucket = %req.input.bucket, key = %req.input.key))]
    pub(crate) async fn op_complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let who = req.extensions.get::<crate::access::Authorized>().cloned();
        let versioning = self.versioning(&req.extensions, &req.input.bucket).await?;
        let actor = crate::events::Actor::of(
            &req.extensions,
            &req.headers,
            req.credentials.as_ref().map(|c| c.access_key.as_str()),
        );
        let input = req.input;
        let want = WriteIf::new(input.if_match.as_ref(), input.if_none_match.as_ref());
        let requested = input.multipart_upload.and_then(|m| m.parts).unwrap_or_default();
        let upload = match self.upload(&input.bucket, &input.key, &input.upload_id).await {
            Ok(u) => u,
            // Completing an upload again answers as the first time did while the object it
            // made is still there, as on AWS (a client retrying after a lost answer) — to a
            // caller who may read that object (the answer names its checksums; a writer who
            // may not read must not learn whether its guess of the parts matches), and only
            // while the request's conditions hold.
            Err(e) if *e.code() == s3s::S3ErrorCode::NoSuchUpload => {
                let arn = crate::access::resource_arn(Some(&input.bucket), Some(&input.key));
                if !who.is_some_and(|w| w.allows("s3:GetObject", &arn)) {
                    return Err(e);
                }
                return match self.completed_before(&input.bucket, &input.key, &requested, &want).await? {
                    Some(obj) => Ok(S3Response::new(complete_output(&obj))),
                    None => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        if requested.is_empty() {
            return Err(s3_error!(MalformedXML, "You must specify at least one part."));
        }
        // An SSE-C upload is completed only with its key, as AWS requires (and its answer names
        // the key, as AWS's does).
        let mut customer_md5 = None;
        if let Some(enc) = upload
            .template
            .attributes
            .encryption
            .as_ref()
            .filter(|e| e.kind == cloudstore_store_api::EncryptionKind::Customer)
        {
            let customer = CustomerHeaders::new(
                input.sse_customer_algorithm.as_ref(),
                input.sse_customer_key.as_ref(),
                input.sse_customer_key_md5.as_ref(),
            )
            .parse()?;
            self.read_key(Some(enc), customer.as_ref()).await?;
            customer_md5 = customer.as_ref().map(|c| c.md5_b64().to_owned());
        }
        let stored = self.all_parts(&upload.upload_id).await?;
        let mut chosen: Vec<&PartMeta> = Vec::with_capacity(requested.len());
        let mut last = 0u32;
        for p in &requested {
            let n = part_number(p.part_number.unwrap_or(0))?;
            if n <= last {
                return Err(s3_error!(
                    InvalidPartOrder,
                    "The list of parts was not in ascending order. Parts must be ordered by part number."
                ));
            }
            last = n;
            let found = stored.binary_search_by_key(&n, |s| s.part_number).ok().map(|i| &stored[i]);
            let etag = p.e_tag.as_ref().map(|e| strip_quotes(e.value()).to_owned());
            match found {
                Some(s) if etag.as_deref().is_none_or(|e| e == s.etag) => chosen.push(s),
                _ => {
                    return Err(s3_error!(
                        InvalidPart,
                        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
                    ));
                }
            }
        }
        if let Some((_, init)) = chosen.split_last()
            && init.iter().any(|p| p.size < MIN_PART_SIZE)
        {
            return Err(s3_error!(
                EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed object size."
            ));
        }
        let count = u32::try_from(chosen.len()).unwrap_or(u32::MAX);
        let etag = multipart_etag(chosen.iter().map(|p| p.etag.as_str()));
        let checksum = object_checksum(&upload, &chosen, count);
        if let Some(expected) = (ChecksumFields {
            crc32: input.checksum_crc32,
            crc32c: input.checksum_crc32c,
            crc64nvme: input.checksum_crc64nvme,
            sha1: input.checksum_sha1,
            sha256: input.checksum_sha256,
        })
        .single()?
        {
            // A checksum the object does not have (none, or another algorithm) cannot be
            // verified: refused as AWS does (400 InvalidRequest), never silently ignored.
            let Some(c) = checksum.as_ref().filter(|c| c.algorithm == expected.0) else {
                return Err(s3_error!(
                    InvalidRequest,
                    "Checksum Type mismatch occurred, expected checksum Type: {}",
                    checksum.as_ref().map_or_else(|| "null".to_owned(), |c| c.algorithm.as_str().to_lowercase())
                ));
            };
            if strip_quotes(&expected.1) != c.value {
                return Err(s3_error!(
                    BadDigest,
                    "The {} you specified did not match the calculated checksum.",
                    c.algorithm
                ));
            }
        }
        let size: u64 = chosen.iter().map(|p| p.size).sum();
        let obj = ObjectMeta {
            size,
            etag,
            last_modified: now_ms(),
            checksum,
            parts: chosen
                .iter()
                .map(|p| BlobPart {
                    blob: p.blob.clone(),
                    size: p.size,
                    part_number: p.part_number,
                    etag: p.etag.clone(),
                    checksum: p.checksum.clone(),
                })
                .collect(),
            multipart_parts: Some(count),
            ..upload.template.clone()
        };
        let mut obj = obj;
        obj.attributes.version_id =
            (versioning == Some(cloudstore_store_api::Versioning::Enabled)).then(super::versioning::new_version_id);
        let (o, upload_id) = (&obj, upload.upload_id.as_str());
        let events = self.outbox(|| {
            let mut e = crate::events::with_object(
                actor.event(cloudstore_events::EventType::MultipartCompleted, &o.bucket, Some(&o.key)),
                o.size,
                &o.etag,
                200,
            );
            e.detail.insert("parts".into(), count.to_string());
            e.version_id.clone_from(&o.attributes.version_id);
            e
        });
        let evs = events.as_slice();
        self.commit_if(&o.bucket, &o.key, &want, |cond| async move {
            self.meta.complete_upload(upload_id, o, &cond, versioning, self.grace(), evs).await
        })
        .await
        .s3()?;
        self.committed(&events);
        let out = complete_output(&obj);
        let mut resp = S3Response::new(out);
        // s3s's CompleteMultipartUploadOutput has no SSE-C fields.
        if let Some(md5) = customer_md5.and_then(|m| http::HeaderValue::from_str(&m).ok()) {
            resp.headers
                .insert("x-amz-server-side-encryption-customer-algorithm", http::HeaderValue::from_static("AES256"));
            resp.headers.insert("x-amz-server-side-encryption-customer-key-md5", md5);
        }
        Ok(resp)
    }

    /// The object a completed upload made from exactly `requested`, if it is still the
    /// current object under the key (same multipart ETag and part count).
    async fn completed_before(
        &self,
        bucket: &str,
        key: &str,
        requested: &[CompletedPart],
        want: &WriteIf,
    ) -> S3Result<Option<ObjectMeta>> {
        if requested.is_empty() || unstorable(key) {
            return Ok(None);
        }
        let Some(etags) =
            requested.iter().map(|p| p.e_tag.as_ref().map(|e| strip_quotes(e.value()))).collect::<Option<Vec<_>>>()
        else {
            return Ok(None);
        };
        let etag = multipart_etag(etags.into_iter());
        let current = self.meta.get_object(bucket, key).await.s3()?;
        let current =
            current.filter(|o| o.etag == etag && o.multipart_parts.is_some_and(|n| n as usize == requested.len()));
        match current {
            Some(o) => want.check(Some(&o)).s3().map(|()| Some(o)),
            None => Ok(None),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "AbortMultipartUpload", bucket = %req.input.bucket, key = %req.input.key))]
    pub(crate) async fn op_abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        self.bucket(&input.bucket).await?;
        if unstorable(&input.key) || unstorable(&input.upload_id) {
            return Err(crate::error::store_error(StoreError::NoSuchUpload));
        }
        self.meta.abort_upload(&input.bucket, &input.key, &input.upload_id).await.s3()?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "ListParts", bucket = %req.input.bucket, key = %req.input.key))]
    pub(crate) async fn op_list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        let bucket_owner = self.bucket_owner_dto(&req.extensions).await?;
        let input = req.input;
        let (max, marker) = parts_paging(input.max_parts, input.part_number_marker)?;
        let upload = self.upload(&input.bucket, &input.key, &input.upload_id).await?;
        // The owner of the object it will make (ADR 0013): its writer or the bucket owner.
        let owner = self.upload_owner(&upload, bucket_owner).await?;
        let mut parts = self.meta.list_parts(&upload.upload_id, marker, max + 1).await.s3()?;
        let truncated = parts.len() > max;
        parts.truncate(max);
        let algorithm = upload.checksum_algorithm;
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(upload.bucket),
            key: Some(upload.key),
            upload_id: Some(upload.upload_id),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: parts.last().and_then(|p| i32::try_from(p.part_number).ok()),
            max_parts: Some(i32::try_from(max).unwrap_or(1000)),
            is_truncated: Some(truncated),
            initiator: Some(Initiator { id: owner.id.clone(), display_name: owner.display_name.clone() }),
            owner: Some(owner),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            checksum_algorithm: algorithm.map(to_dto_algorithm),
            checksum_type: upload.checksum_type.map(to_dto_type),
            parts: Some(
                parts
                    .into_iter()
                    .map(|p| {
                        let f = match (algorithm, p.checksum) {
                            (Some(a), Some(v)) => ChecksumFields::with(a, v),
                            _ => ChecksumFields::default(),
                        };
                        Part {
                            part_number: i32::try_from(p.part_number).ok(),
                            e_tag: Some(etag_out(&p.etag)),
                            size: Some(len_i64(p.size)),
                            last_modified: Some(p.last_modified.into()),
                            checksum_crc32: f.crc32,
                            checksum_crc32c: f.crc32c,
                            checksum_crc64nvme: f.crc64nvme,
                            checksum_sha1: f.sha1,
                            checksum_sha256: f.sha256,
                        }
                    })
                    .collect(),
            ),
            ..Default::default()
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "ListMultipartUploads", bucket = %req.input.bucket))]
    pub(crate) async fn op_list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let owner = self.bucket_owner_dto(&req.extensions).await?;
        let input = req.input;
        self.bucket(&input.bucket).await?;
        let max = match input.max_uploads {
            None => 1000,
            Some(n) if n < 0 => return Err(s3_error!(InvalidArgument, "max-uploads must be a non-negative integer")),
            Some(n) => usize::try_from(n).unwrap_or(0).min(1000),
        };
        check_list_params(input.prefix.as_deref(), input.delimiter.as_deref())?;
        no_nul("key-marker", input.key_marker.as_deref())?;
        no_nul("upload-id-marker", input.upload_id_marker.as_deref())?;
        let q = UploadListQuery {
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone(),
            key_marker: input.key_marker.clone().filter(|k| !k.is_empty()),
            upload_id_marker: input.upload_id_marker.clone().filter(|k| !k.is_empty()),
            max_uploads: max,
        };
        let page = list_uploads(self.meta.as_ref(), &input.bucket, &q).await.s3()?;
        let mut owners = Vec::with_capacity(page.uploads.len());
        for u in &page.uploads {
            owners.push(self.upload_owner(u, owner.clone()).await?);
        }
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: input.prefix,
            delimiter: input.delimiter,
            key_marker: input.key_marker,
            upload_id_marker: input.upload_id_marker,
            max_uploads: Some(i32::try_from(max).unwrap_or(1000)),
            is_truncated: Some(page.is_truncated),
            next_key_marker: page.next_key_marker,
            next_upload_id_marker: page.next_upload_id_marker,
            encoding_type: input.encoding_type,
            common_prefixes: Some(page.common_prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(p) }).collect()),
            uploads: Some(
                page.uploads
                    .into_iter()
                    .zip(owners)
                    .map(|(u, owner)| MultipartUpload {
                        key: Some(u.key),
                        upload_id: Some(u.upload_id),
                        initiated: Some(u.initiated.into()),
                        initiator: Some(Initiator { id: owner.id.clone(), display_name: owner.display_name.clone() }),
                        owner: Some(owner),
                        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                        checksum_algorithm: u.checksum_algorithm.map(to_dto_algorithm),
                        checksum_type: u.checksum_type.map(to_dto_type),
                    })
                    .collect(),
            ),
            request_charged: None,
        }))
    }
}

impl Gateway {
    /// The owner of the object an upload will make: from the ACL in its template, else the
    /// bucket's owner (`bucket_owner`).
    async fn upload_owner(&self, upload: &Upload, bucket_owner: Owner) -> S3Result<Owner> {
        let Some(owner) = upload.template.attributes.acl.as_ref().and_then(|v| v.get("owner")).and_then(|o| o.as_str())
        else {
            return Ok(bucket_owner);
        };
        if bucket_owner.id.as_deref() == Some(owner) { Ok(bucket_owner) } else { self.owner_dto(owner).await }
    }
}

fn md5_of(data: &[u8]) -> Vec<u8> {
    use s3s::crypto::Checksum as _;
    let mut h = s3s::crypto::Md5::new();
    h.update(data);
    h.finalize().as_ref().to_vec()
}

/// The checksum of a completed upload: composite (checksum of the part checksums, `-N`) or
/// full-object (CRCs combined). `None` when the parts don't all carry a usable checksum.
fn object_checksum(upload: &Upload, parts: &[&PartMeta], count: u32) -> Option<Checksum> {
    let raw: Option<Vec<(Vec<u8>, u64)>> =
        parts.iter().map(|p| p.checksum.as_deref().and_then(unb64).map(|v| (v, p.size))).collect();
    let raw = raw?;
    match (upload.checksum_algorithm, upload.checksum_type) {
        (Some(a), Some(ChecksumType::Composite)) => {
            let concat: Vec<u8> = raw.iter().flat_map(|(v, _)| v.iter().copied()).collect();
            Some(Checksum {
                algorithm: a,
                value: format!("{}-{}", b64(&digest(a, &concat)), count),
                kind: ChecksumType::Composite,
            })
        }
        (Some(a), _) => combine_crc(a, &raw).map(|v| checksum::full_object(a, &v)),
        // No algorithm requested: parts were hashed with CRC64NVME unless they declared
        // another one; only a uniform CRC64NVME combines into an object checksum.
        (None, _) => {
            if raw.iter().all(|(v, _)| v.len() == 8) {
                combine_crc(ChecksumAlgorithm::Crc64nvme, &raw)
                    .map(|v| checksum::full_object(ChecksumAlgorithm::Crc64nvme, &v))
            } else {
                None
            }
        }
    }
}

/// Parses `x-amz-copy-source-range: bytes=first-last` against the source size.
fn parse_copy_range(r: &str, size: u64) -> S3Result<std::ops::Range<u64>> {
    let bad = || {
        s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        )
    };
    let spec = r.trim().strip_prefix("bytes=").ok_or_else(bad)?;
    let (a, b) = spec.split_once('-').ok_or_else(bad)?;
    let first: u64 = a.parse().map_err(|_| bad())?;
    let last: u64 = b.parse().map_err(|_| bad())?;
    if first > last {
        return Err(bad());
    }
    if last >= size {
        return Err(s3_error!(InvalidRange, "The requested range is not satisfiable"));
    }
    Ok(first..last + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_ranges() {
        assert_eq!(parse_copy_range("bytes=0-9", 100).ok(), Some(0..10));
        assert_eq!(parse_copy_range("bytes=10-99", 100).ok(), Some(10..100));
        assert!(parse_copy_range("bytes=10-100", 100).is_err());
        assert!(parse_copy_range("bytes=5-1", 100).is_err());
        assert!(parse_copy_range("bytes=-5", 100).is_err());
        assert!(parse_copy_range("0-5", 100).is_err());
    }

    #[test]
    fn multipart_etag_is_md5_of_md5s() {
        // Two parts with known MD5s; S3's ETag is md5(md5(p1) || md5(p2)) + "-2".
        let p1 = md5_of(b"hello ");
        let p2 = md5_of(b"world");
        let mut cat = p1.clone();
        cat.extend(&p2);
        assert_eq!(hex::encode(md5_of(&cat)).len(), 32);
        assert_ne!(md5_of(&cat), md5_of(b"hello world"));
    }

    #[test]
    fn part_numbers_are_bounded() {
        assert!(part_number(0).is_err());
        assert!(part_number(10_001).is_err());
        assert_eq!(part_number(1).ok(), Some(1));
        assert_eq!(part_number(10_000).ok(), Some(10_000));
    }
}
