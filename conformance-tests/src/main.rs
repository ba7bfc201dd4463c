//! aws-sdk-rust conformance checks against any S3 endpoint.
//!
//! Configured only by the environment (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION` defaulting to us-east-1, `CONFORMANCE_BUCKET_PREFIX`
//! defaulting to `conf`). Uses the SDK's default checksum behaviour (request checksum
//! calculation and response validation `WhenSupported`) and path-style addressing.
//!
//! Prints `PASS rust/<check>` or `FAIL rust/<check>: <reason>` per check, and exits 1 if any
//! check failed. `conformance-tests/run.sh` runs it and counts the lines.
//!
//! In-memory bodies make the SDK send its CRC32 as a header; file-backed bodies
//! (`ByteStream::from_path`) make it send `aws-chunked` with the checksum as a trailer. Both are
//! exercised, and a request interceptor verifies which one went over the wire.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result, bail, ensure};
use aws_config::meta::region::RegionProviderChain;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::{BoxError, ProvideErrorMetadata};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart,
    CreateBucketConfiguration, Delete, MetadataDirective, ObjectIdentifier,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::Md5;
use sha2::{Digest as _, Sha256};

const MIB: usize = 1024 * 1024;

/// Deterministic pseudo-random bytes (splitmix64), the same for the same length and seed.
fn gen_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn md5_raw(data: &[u8]) -> Vec<u8> {
    Md5::digest(data).to_vec()
}

/// The ETag of a single-part upload: the quoted hex MD5 of the body.
fn md5_etag(data: &[u8]) -> String {
    format!("\"{}\"", hex::encode(md5_raw(data)))
}

/// The ETag of a multipart upload: the MD5 of the concatenated part MD5s, then `-<parts>`.
fn multipart_etag(parts: &[&[u8]]) -> String {
    let joined: Vec<u8> = parts.iter().flat_map(|p| md5_raw(p)).collect();
    format!("\"{}-{}\"", hex::encode(md5_raw(&joined)), parts.len())
}

fn crc32_b64(data: &[u8]) -> String {
    B64.encode(crc32fast::hash(data).to_be_bytes())
}

fn crc32c_b64(data: &[u8]) -> String {
    B64.encode(crc32c::crc32c(data).to_be_bytes())
}

/// Percent-encodes a key for `x-amz-copy-source` (everything but unreserved characters and `/`).
fn url_encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn check_eq<T: PartialEq + std::fmt::Debug>(expected: T, actual: T, what: &str) -> Result<()> {
    ensure!(expected == actual, "{what}: expected {expected:?}, got {actual:?}");
    Ok(())
}

/// Request headers seen on the wire, recorded by an interceptor.
#[derive(Debug, Clone, Default)]
struct WireLog(Arc<Mutex<Vec<HashMap<String, String>>>>);

impl WireLog {
    fn requests(&self) -> Vec<HashMap<String, String>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Every recorded request was `aws-chunked` with a checksum trailer.
    fn assert_trailer_used(&self, op: &str) -> Result<()> {
        let requests = self.requests();
        ensure!(!requests.is_empty(), "no {op} request was recorded");
        for h in requests {
            let encoding = h.get("content-encoding").map(String::as_str).unwrap_or("");
            ensure!(
                encoding.contains("aws-chunked") && h.contains_key("x-amz-trailer"),
                "{op} was not sent aws-chunked with a trailer: {h:?}"
            );
        }
        Ok(())
    }

    /// Every recorded request carried its CRC32 as a header.
    fn assert_crc32_header_used(&self, op: &str) -> Result<()> {
        let requests = self.requests();
        ensure!(!requests.is_empty(), "no {op} request was recorded");
        for h in requests {
            ensure!(
                h.contains_key("x-amz-checksum-crc32") && !h.contains_key("x-amz-trailer"),
                "{op} did not carry an x-amz-checksum-crc32 header: {h:?}"
            );
        }
        Ok(())
    }
}

impl Intercept for WireLog {
    fn name(&self) -> &'static str {
        "WireLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let headers = context.request().headers().iter().map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned())).collect();
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(headers);
        Ok(())
    }
}

#[derive(Debug)]
struct Ctx {
    client: Client,
    region: String,
    bucket: String,
    tmp: PathBuf,
}

impl Ctx {
    async fn get_bytes(&self, key: &str) -> Result<Vec<u8>> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .with_context(|| format!("GetObject {key}"))?;
        Ok(out.body.collect().await?.into_bytes().to_vec())
    }

    async fn put_bytes(&self, key: &str, data: &[u8]) -> Result<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(data.to_vec()))
            .send()
            .await
            .with_context(|| format!("PutObject {key}"))?;
        Ok(())
    }

    async fn bucket_exists(&self, bucket: &str) -> bool {
        self.client.head_bucket().bucket(bucket).send().await.is_ok()
    }

    async fn empty_bucket(&self) -> Result<()> {
        let uploads = self.client.list_multipart_uploads().bucket(&self.bucket).send().await?;
        for u in uploads.uploads() {
            if let (Some(key), Some(id)) = (u.key(), u.upload_id()) {
                self.client.abort_multipart_upload().bucket(&self.bucket).key(key).upload_id(id).send().await?;
            }
        }
        let mut pages = self.client.list_objects_v2().bucket(&self.bucket).into_paginator().send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            for o in page?.contents() {
                if let Some(k) = o.key() {
                    keys.push(k.to_owned());
                }
            }
        }
        for chunk in keys.chunks(1000) {
            let objects =
                chunk.iter().map(|k| ObjectIdentifier::builder().key(k).build()).collect::<Result<Vec<_>, _>>()?;
            self.client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(Delete::builder().set_objects(Some(objects)).build()?)
                .send()
                .await?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// checks

async fn create_bucket(ctx: &Ctx) -> Result<()> {
    let mut req = ctx.client.create_bucket().bucket(&ctx.bucket);
    if ctx.region != "us-east-1" {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(ctx.region.as_str()))
                .build(),
        );
    }
    req.send().await.context("CreateBucket")?;
    ctx.client.head_bucket().bucket(&ctx.bucket).send().await.context("HeadBucket")?;
    Ok(())
}

async fn put_get_head(ctx: &Ctx) -> Result<()> {
    let data = gen_bytes(300_000, 41);
    let log = WireLog::default();
    let put = ctx
        .client
        .put_object()
        .bucket(&ctx.bucket)
        .key("obj.bin")
        .content_type("application/x-test")
        .metadata("color", "blue")
        .body(ByteStream::from(data.clone()))
        .customize()
        .interceptor(log.clone())
        .send()
        .await
        .context("PutObject")?;
    log.assert_crc32_header_used("PutObject")?;
    check_eq(Some(md5_etag(&data).as_str()), put.e_tag(), "PutObject ETag")?;
    check_eq(
        Some(crc32_b64(&data).as_str()),
        put.checksum_crc32(),
        "PutObject ChecksumCRC32 (the SDK's default checksum)",
    )?;

    let got = ctx.get_bytes("obj.bin").await?;
    check_eq(sha256_hex(&data), sha256_hex(&got), "sha256 of the body")?;

    let head = ctx.client.head_object().bucket(&ctx.bucket).key("obj.bin").send().await.context("HeadObject")?;
    check_eq(Some(300_000), head.content_length(), "ContentLength")?;
    check_eq(Some(md5_etag(&data).as_str()), head.e_tag(), "ETag")?;
    check_eq(Some("application/x-test"), head.content_type(), "ContentType")?;
    check_eq(Some("blue"), head.metadata().and_then(|m| m.get("color")).map(String::as_str), "metadata color")?;
    Ok(())
}

/// A file-backed body: the SDK streams it `aws-chunked` with the CRC32 as a trailer.
async fn put_streaming_trailer(ctx: &Ctx) -> Result<()> {
    let data = gen_bytes(3 * MIB + 777, 42);
    let path = ctx.tmp.join("streamed.bin");
    std::fs::write(&path, &data)?;
    let log = WireLog::default();
    let put = ctx
        .client
        .put_object()
        .bucket(&ctx.bucket)
        .key("streamed.bin")
        .body(ByteStream::from_path(&path).await?)
        .customize()
        .interceptor(log.clone())
        .send()
        .await
        .context("PutObject")?;
    log.assert_trailer_used("PutObject")?;
    check_eq(Some(crc32_b64(&data).as_str()), put.checksum_crc32(), "PutObject ChecksumCRC32")?;
    let head = ctx.client.head_object().bucket(&ctx.bucket).key("streamed.bin").send().await.context("HeadObject")?;
    check_eq(Some(i64::try_from(data.len())?), head.content_length(), "ContentLength")?;
    check_eq(Some(md5_etag(&data).as_str()), head.e_tag(), "ETag")?;
    let got = ctx.get_bytes("streamed.bin").await?;
    check_eq(sha256_hex(&data), sha256_hex(&got), "sha256 of the body")?;
    std::fs::remove_file(&path)?;
    Ok(())
}

async fn put_checksum_crc32c(ctx: &Ctx) -> Result<()> {
    let data = gen_bytes(123_456, 43);
    let want = crc32c_b64(&data);
    let put = ctx
        .client
        .put_object()
        .bucket(&ctx.bucket)
        .key("crc32c.bin")
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .context("PutObject")?;
    check_eq(Some(want.as_str()), put.checksum_crc32_c(), "PutObject ChecksumCRC32C")?;
    let get = ctx
        .client
        .get_object()
        .bucket(&ctx.bucket)
        .key("crc32c.bin")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .context("GetObject")?;
    check_eq(Some(want.as_str()), get.checksum_crc32_c(), "GetObject ChecksumCRC32C")?;
    // The SDK validates the body against the returned checksum while reading it.
    let got = get.body.collect().await?.into_bytes();
    check_eq(sha256_hex(&data), sha256_hex(&got), "sha256 of the body")?;
    Ok(())
}

async fn list_objects_v2(ctx: &Ctx) -> Result<()> {
    let keys = ["list/a/1", "list/a/2", "list/b/3", "list/c"];
    for k in keys {
        ctx.put_bytes(k, k.as_bytes()).await?;
    }
    let out = ctx
        .client
        .list_objects_v2()
        .bucket(&ctx.bucket)
        .prefix("list/")
        .delimiter("/")
        .send()
        .await
        .context("ListObjectsV2")?;
    let contents: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = out.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    check_eq(vec!["list/c"], contents, "Contents with delimiter /")?;
    check_eq(vec!["list/a/", "list/b/"], prefixes, "CommonPrefixes with delimiter /")?;

    let mut pages =
        ctx.client.list_objects_v2().bucket(&ctx.bucket).prefix("list/").max_keys(1).into_paginator().send();
    let mut listed = Vec::new();
    let mut page_count = 0;
    while let Some(page) = pages.next().await {
        let page = page.context("ListObjectsV2 page")?;
        page_count += 1;
        for o in page.contents() {
            listed.push(o.key().unwrap_or_default().to_owned());
            check_eq(Some(i64::try_from(o.key().unwrap_or_default().len())?), o.size(), "Size")?;
        }
    }
    check_eq(keys.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>(), listed, "keys over pages of 1")?;
    check_eq(4, page_count, "number of pages of 1")?;
    Ok(())
}

const PART: usize = 5 * MIB;

/// Three 5 MiB parts from memory (CRC32 headers), completed and read back.
async fn multipart_3x5mib(ctx: &Ctx) -> Result<()> {
    let data = gen_bytes(3 * PART, 44);
    let key = "mpu.bin";
    let create = ctx
        .client
        .create_multipart_upload()
        .bucket(&ctx.bucket)
        .key(key)
        .send()
        .await
        .context("CreateMultipartUpload")?;
    let upload_id = create.upload_id().context("no UploadId")?;
    let mut completed = Vec::new();
    for (i, chunk) in data.chunks(PART).enumerate() {
        let n = i32::try_from(i + 1)?;
        let part = ctx
            .client
            .upload_part()
            .bucket(&ctx.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(n)
            .body(ByteStream::from(chunk.to_vec()))
            .send()
            .await
            .with_context(|| format!("UploadPart {n}"))?;
        check_eq(Some(md5_etag(chunk).as_str()), part.e_tag(), "UploadPart ETag")?;
        completed.push(CompletedPart::builder().part_number(n).e_tag(part.e_tag().unwrap_or_default()).build());
    }
    let parts =
        ctx.client.list_parts().bucket(&ctx.bucket).key(key).upload_id(upload_id).send().await.context("ListParts")?;
    let listed: Vec<(Option<i32>, Option<i64>)> = parts.parts().iter().map(|p| (p.part_number(), p.size())).collect();
    let five = Some(i64::try_from(PART)?);
    check_eq(vec![(Some(1), five), (Some(2), five), (Some(3), five)], listed, "ListParts numbers and sizes")?;
    let done = ctx
        .client
        .complete_multipart_upload()
        .bucket(&ctx.bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(completed)).build())
        .send()
        .await
        .context("CompleteMultipartUpload")?;
    let chunks: Vec<&[u8]> = data.chunks(PART).collect();
    let want_etag = multipart_etag(&chunks);
    check_eq(Some(want_etag.as_str()), done.e_tag(), "CompleteMultipartUpload ETag")?;
    let head = ctx.client.head_object().bucket(&ctx.bucket).key(key).send().await.context("HeadObject")?;
    check_eq(Some(i64::try_from(data.len())?), head.content_length(), "ContentLength")?;
    check_eq(Some(want_etag.as_str()), head.e_tag(), "HeadObject ETag")?;
    let got = ctx.get_bytes(key).await?;
    check_eq(sha256_hex(&data), sha256_hex(&got), "sha256 of the object")?;
    Ok(())
}

/// GetObject with partNumber returns that part of a multipart object.
async fn get_part_number(ctx: &Ctx) -> Result<()> {
    let data = gen_bytes(3 * PART, 44);
    let out = ctx
        .client
        .get_object()
        .bucket(&ctx.bucket)
        .key("mpu.bin")
        .part_number(2)
        .send()
        .await
        .context("GetObject partNumber=2")?;
    check_eq(Some(3), out.parts_count(), "PartsCount")?;
    check_eq(Some(i64::try_from(PART)?), out.content_length(), "ContentLength")?;
    let got = out.body.collect().await?.into_bytes();
    check_eq(sha256_hex(&data[PART..2 * PART]), sha256_hex(&got), "sha256 of part 2")?;
    Ok(())
}

/// Parts streamed from a file (offset/length): `aws-chunked` uploads with CRC32 trailers.
async fn multipart_file_parts_trailer(ctx: &Ctx) -> Result<()> {
    let data = gen_bytes(2 * PART + 12_345, 45);
    let path = ctx.tmp.join("mpu-file.bin");
    std::fs::write(&path, &data)?;
    let key = "mpu-file.bin";
    let upload_id = ctx
        .client
        .create_multipart_upload()
        .bucket(&ctx.bucket)
        .key(key)
        .send()
        .await
        .context("CreateMultipartUpload")?
        .upload_id()
        .context("no UploadId")?
        .to_owned();
    let log = WireLog::default();
    let mut completed = Vec::new();
    for (i, chunk) in data.chunks(PART).enumerate() {
        let n = i32::try_from(i + 1)?;
        let body = ByteStream::read_from()
            .path(&path)
            .offset(u64::try_from(i * PART)?)
            .length(aws_sdk_s3::primitives::Length::Exact(u64::try_from(chunk.len())?))
            .build()
            .await?;
        let part = ctx
            .client
            .upload_part()
            .bucket(&ctx.bucket)
            .key(key)
            .upload_id(&upload_id)
            .part_number(n)
            .body(body)
            .customize()
            .interceptor(log.clone())
            .send()
            .await
            .with_context(|| format!("UploadPart {n}"))?;
        check_eq(Some(md5_etag(chunk).as_str()), part.e_tag(), "UploadPart ETag")?;
        check_eq(Some(crc32_b64(chunk).as_str()), part.checksum_crc32(), "UploadPart ChecksumCRC32")?;
        completed.push(CompletedPart::builder().part_number(n).e_tag(part.e_tag().unwrap_or_default()).build());
    }
    log.assert_trailer_used("UploadPart")?;
    ctx.client
        .complete_multipart_upload()
        .bucket(&ctx.bucket)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(completed)).build())
        .send()
        .await
        .context("CompleteMultipartUpload")?;
    let got = ctx.get_bytes(key).await?;
    check_eq(sha256_hex(&data), sha256_hex(&got), "sha256 of the object")?;
    std::fs::remove_file(&path)?;
    Ok(())
}

/// CopyObject, including a source key that needs URL-encoding in x-amz-copy-source.
async fn copy_object(ctx: &Ctx) -> Result<()> {
    let data = gen_bytes(70_000, 46);
    let src = "copy src/ünï cöde+plus&=.bin";
    ctx.put_bytes(src, &data).await?;
    for dst in ["copy-dst.bin", "copy dst/ü+.bin"] {
        ctx.client
            .copy_object()
            .bucket(&ctx.bucket)
            .key(dst)
            .copy_source(format!("{}/{}", ctx.bucket, url_encode_key(src)))
            .send()
            .await
            .with_context(|| format!("CopyObject to {dst}"))?;
        let got = ctx.get_bytes(dst).await?;
        check_eq(sha256_hex(&data), sha256_hex(&got), "sha256 of the copy")?;
    }
    // REPLACE sets new metadata on the copy.
    ctx.client
        .copy_object()
        .bucket(&ctx.bucket)
        .key("copy-replaced.bin")
        .copy_source(format!("{}/{}", ctx.bucket, url_encode_key(src)))
        .metadata_directive(MetadataDirective::Replace)
        .metadata("fresh", "yes")
        .send()
        .await
        .context("CopyObject REPLACE")?;
    let head =
        ctx.client.head_object().bucket(&ctx.bucket).key("copy-replaced.bin").send().await.context("HeadObject")?;
    check_eq(Some("yes"), head.metadata().and_then(|m| m.get("fresh")).map(String::as_str), "replaced metadata")?;
    Ok(())
}

/// The ETag in CopyObjectResult is the quoted ETag of the new object, as in every other response.
async fn copy_object_result_etag(ctx: &Ctx) -> Result<()> {
    let data = gen_bytes(70_000, 46);
    let out = ctx
        .client
        .copy_object()
        .bucket(&ctx.bucket)
        .key("copy-etag.bin")
        .copy_source(format!("{}/copy-dst.bin", ctx.bucket))
        .send()
        .await
        .context("CopyObject")?;
    check_eq(
        Some(md5_etag(&data).as_str()),
        out.copy_object_result().and_then(|r| r.e_tag()),
        "CopyObjectResult ETag",
    )?;
    Ok(())
}

async fn delete_object(ctx: &Ctx) -> Result<()> {
    ctx.client.delete_object().bucket(&ctx.bucket).key("copy-dst.bin").send().await.context("DeleteObject")?;
    match ctx.client.head_object().bucket(&ctx.bucket).key("copy-dst.bin").send().await {
        Ok(_) => bail!("HeadObject after DeleteObject succeeded"),
        Err(e) => ensure!(
            e.as_service_error().is_some_and(|e| e.is_not_found()),
            "HeadObject after DeleteObject: expected 404 NotFound, got {:?}",
            e
        ),
    }
    Ok(())
}

async fn delete_objects(ctx: &Ctx) -> Result<()> {
    let keys = ["list/a/1", "list/a/2", "list/b/3", "list/never-existed"];
    let objects = keys.iter().map(|k| ObjectIdentifier::builder().key(*k).build()).collect::<Result<Vec<_>, _>>()?;
    let out = ctx
        .client
        .delete_objects()
        .bucket(&ctx.bucket)
        .delete(Delete::builder().set_objects(Some(objects)).build()?)
        .send()
        .await
        .context("DeleteObjects")?;
    let mut deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort_unstable();
    check_eq(keys.to_vec(), deleted, "Deleted keys")?;
    check_eq(0, out.errors().len(), "number of Errors")?;
    let left =
        ctx.client.list_objects_v2().bucket(&ctx.bucket).prefix("list/").send().await.context("ListObjectsV2")?;
    let left: Vec<&str> = left.contents().iter().filter_map(|o| o.key()).collect();
    check_eq(vec!["list/c"], left, "keys left under list/")?;
    Ok(())
}

async fn error_no_such_key(ctx: &Ctx) -> Result<()> {
    match ctx.client.get_object().bucket(&ctx.bucket).key("no/such/key").send().await {
        Ok(_) => bail!("GetObject of a missing key succeeded"),
        Err(e) => {
            let code = e.code().map(str::to_owned);
            ensure!(
                e.as_service_error().is_some_and(|e| e.is_no_such_key()),
                "expected NoSuchKey, got {code:?}: {e:?}"
            );
        }
    }
    Ok(())
}

async fn delete_bucket(ctx: &Ctx) -> Result<()> {
    ctx.empty_bucket().await.context("emptying the bucket")?;
    ctx.client.delete_bucket().bucket(&ctx.bucket).send().await.context("DeleteBucket")?;
    match ctx.client.head_bucket().bucket(&ctx.bucket).send().await {
        Ok(_) => bail!("HeadBucket after DeleteBucket succeeded"),
        Err(e) => ensure!(
            e.as_service_error().is_some_and(|e| e.is_not_found()),
            "HeadBucket after DeleteBucket: expected 404 NotFound, got {e:?}"
        ),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Report {
    passed: usize,
    failed: usize,
}

impl Report {
    fn record(&mut self, name: &str, result: Result<()>) {
        match result {
            Ok(()) => {
                self.passed += 1;
                println!("PASS rust/{name}");
            }
            Err(e) => {
                self.failed += 1;
                let reason = format!("{e:#}").split_whitespace().collect::<Vec<_>>().join(" ");
                println!("FAIL rust/{name}: {reason}");
            }
        }
    }
}

fn run_id() -> String {
    std::env::var("CONFORMANCE_RUN_ID").unwrap_or_else(|_| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        format!("{:08x}", nanos ^ std::process::id())
    })
}

fn register_bucket(bucket: &str) -> Result<()> {
    if let Ok(file) = std::env::var("CONFORMANCE_BUCKETS_FILE") {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new().append(true).create(true).open(Path::new(&file))?;
        writeln!(f, "{bucket}")?;
    }
    Ok(())
}

async fn client() -> Result<(Client, String)> {
    ensure!(std::env::var_os("AWS_ENDPOINT_URL").is_some(), "AWS_ENDPOINT_URL is not set");
    let region = RegionProviderChain::default_provider().or_else("us-east-1");
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest()).region(region).load().await;
    let region = shared.region().map(ToString::to_string).unwrap_or_else(|| "us-east-1".to_owned());
    let config = aws_sdk_s3::config::Builder::from(&shared).force_path_style(true).build();
    Ok((Client::from_conf(config), region))
}

#[tokio::main]
async fn main() -> Result<()> {
    let (client, region) = client().await?;
    let prefix = std::env::var("CONFORMANCE_BUCKET_PREFIX").unwrap_or_else(|_| "conf".to_owned());
    let id = run_id();
    let bucket = format!("{prefix}-rust-{id}-1");
    register_bucket(&bucket)?;
    let tmp = std::env::temp_dir().join(format!("conformance-rust-{id}"));
    std::fs::create_dir_all(&tmp)?;
    let ctx = Ctx { client, region, bucket, tmp };

    let mut r = Report::default();
    r.record("create-bucket", create_bucket(&ctx).await);
    r.record("put-get-head", put_get_head(&ctx).await);
    r.record("put-streaming-aws-chunked-trailer", put_streaming_trailer(&ctx).await);
    r.record("put-checksum-crc32c", put_checksum_crc32c(&ctx).await);
    r.record("list-objects-v2", list_objects_v2(&ctx).await);
    r.record("multipart-3x5MiB", multipart_3x5mib(&ctx).await);
    r.record("get-part-number", get_part_number(&ctx).await);
    r.record("multipart-file-parts-trailer", multipart_file_parts_trailer(&ctx).await);
    r.record("copy-object", copy_object(&ctx).await);
    r.record("copy-object-result-etag", copy_object_result_etag(&ctx).await);
    r.record("delete-object", delete_object(&ctx).await);
    r.record("delete-objects", delete_objects(&ctx).await);
    r.record("error-no-such-key", error_no_such_key(&ctx).await);
    r.record("delete-bucket", delete_bucket(&ctx).await);

    if ctx.bucket_exists(&ctx.bucket).await {
        if let Err(e) = ctx.empty_bucket().await {
            eprintln!("cleanup: emptying {}: {e:#}", ctx.bucket);
        }
        if let Err(e) = ctx.client.delete_bucket().bucket(&ctx.bucket).send().await {
            eprintln!("cleanup: deleting {}: {e:#}", ctx.bucket);
        }
    }
    let _ = std::fs::remove_dir_all(&ctx.tmp);

    eprintln!("rust: {} passed, {} failed", r.passed, r.failed);
    if r.failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
