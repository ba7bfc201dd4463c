//! Integrity: Content-MD5 and x-amz-checksum-* verification, the SDK's default streaming
//! upload (aws-chunked with a trailing checksum), and checksums returned on read.

use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart};
use sha2::Digest as _;

use crate::harness::{Harness, RawRequest, b64, expect_err, md5_b64, pattern, quoted};

fn crc32(d: &[u8]) -> String {
    b64(&crc32fast::hash(d).to_be_bytes())
}
fn crc32c(d: &[u8]) -> String {
    b64(&crc32c::crc32c(d).to_be_bytes())
}
fn crc64nvme(d: &[u8]) -> String {
    b64(&crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, d).to_be_bytes())
}
fn sha1(d: &[u8]) -> String {
    use s3s::crypto::Checksum as _;
    let mut h = s3s::crypto::Sha1::new();
    h.update(d);
    b64(h.finalize().as_ref())
}
fn sha256(d: &[u8]) -> String {
    b64(&sha2::Sha256::digest(d))
}

pub async fn bad_digests_are_refused(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("digests").await;
    h.put(&b, "k", "original").await;
    let put = || c.put_object().bucket(&b).key("k").body(ByteStream::from_static(b"replacement"));

    // Content-MD5 of other data; an undecodable one.
    expect_err(put().content_md5(md5_b64(b"something else")).send().await, 400, Some("BadDigest"));
    expect_err(put().content_md5("not base64!").send().await, 400, Some("InvalidDigest"));
    // Checksum headers of other data, per algorithm.
    expect_err(put().checksum_crc32(crc32(b"other")).send().await, 400, Some("BadDigest"));
    expect_err(put().checksum_crc32_c(crc32c(b"other")).send().await, 400, Some("BadDigest"));
    expect_err(put().checksum_sha256(sha256(b"other")).send().await, 400, Some("BadDigest"));
    expect_err(put().checksum_crc64_nvme(crc64nvme(b"other")).send().await, 400, Some("BadDigest"));
    // The object is unchanged; a refused new key does not appear.
    assert_eq!(h.get(&b, "k").await, b"original");
    expect_err(
        c.put_object()
            .bucket(&b)
            .key("new")
            .body(ByteStream::from_static(b"data"))
            .content_md5(md5_b64(b"nope"))
            .send()
            .await,
        400,
        Some("BadDigest"),
    );
    assert!(!h.exists(&b, "new").await);
    // Right values are accepted.
    put().content_md5(md5_b64(b"replacement")).send().await.unwrap();
    put().checksum_sha256(sha256(b"replacement")).send().await.unwrap();
    assert_eq!(h.get(&b, "k").await, b"replacement");

    // The same through raw requests: a wrong checksum header with an unsigned payload, and a
    // signed payload hash that does not match the body.
    let signer = h.signer();
    let now = time::OffsetDateTime::now_utc();
    let req =
        RawRequest::new("PUT", &format!("/{b}/k")).header("x-amz-checksum-crc32", &crc32(b"other")).body("raw body");
    h.raw(signer.sign(req, Some("UNSIGNED-PAYLOAD"), now)).await.assert_error(400, "BadDigest");
    let req = RawRequest::new("PUT", &format!("/{b}/k")).body("raw body");
    let wrong_hash = crate::harness::sha256_hex(b"not the body");
    h.raw(signer.sign(req, Some(&wrong_hash), now)).await.assert_error(400, "XAmzContentSHA256Mismatch");
    assert_eq!(h.get(&b, "k").await, b"replacement");
    // And a correct raw one is stored (the signer works).
    let req =
        RawRequest::new("PUT", &format!("/{b}/k")).header("x-amz-checksum-crc32", &crc32(b"raw body")).body("raw body");
    let resp = h.raw(signer.sign(req, None, now)).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(h.get(&b, "k").await, b"raw body");

    // A part with a bad digest is not recorded.
    let id = c.create_multipart_upload().bucket(&b).key("mp").send().await.unwrap().upload_id().unwrap().to_owned();
    expect_err(
        c.upload_part()
            .bucket(&b)
            .key("mp")
            .upload_id(&id)
            .part_number(1)
            .body(ByteStream::from_static(b"part"))
            .content_md5(md5_b64(b"trap"))
            .send()
            .await,
        400,
        Some("BadDigest"),
    );
    expect_err(
        c.upload_part()
            .bucket(&b)
            .key("mp")
            .upload_id(&id)
            .part_number(1)
            .body(ByteStream::from_static(b"part"))
            .checksum_crc32(crc32(b"trap"))
            .send()
            .await,
        400,
        Some("BadDigest"),
    );
    let parts = c.list_parts().bucket(&b).key("mp").upload_id(&id).send().await.unwrap();
    assert!(parts.parts().is_empty());
}

/// Records the headers of the last request the SDK sent.
#[derive(Debug, Clone, Default)]
struct CaptureHeaders(Arc<Mutex<Vec<(String, String)>>>);

impl Intercept for CaptureHeaders {
    fn name(&self) -> &'static str {
        "CaptureHeaders"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let headers = context.request().headers().iter().map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned())).collect();
        *self.0.lock().unwrap() = headers;
        Ok(())
    }
}

impl CaptureHeaders {
    /// Every value of header `name`, joined by commas.
    fn get(&self, name: &str) -> Option<String> {
        let values: Vec<String> =
            self.0.lock().unwrap().iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect();
        (!values.is_empty()).then(|| values.join(","))
    }
}

pub async fn default_streaming_upload(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("streaming").await;
    let body = pattern(300 * 1024, 30);
    // A streaming body (a file): the SDK then sends it aws-chunked with a trailing checksum.
    // (An in-memory body gets the checksum as a header instead, see bad_digests_are_refused.)
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upload.bin");
    std::fs::write(&path, &body).unwrap();
    let capture = CaptureHeaders::default();
    let out = c
        .put_object()
        .bucket(&b)
        .key("streamed")
        .body(ByteStream::from_path(&path).await.unwrap())
        .customize()
        .interceptor(capture.clone())
        .send()
        .await
        .unwrap();
    // What the SDK sent by default: an aws-chunked body with a trailing CRC32.
    assert!(
        capture.get("content-encoding").is_some_and(|v| v.contains("aws-chunked")),
        "content-encoding: {:?}",
        capture.get("content-encoding")
    );
    assert_eq!(capture.get("x-amz-trailer").as_deref(), Some("x-amz-checksum-crc32"));
    assert!(
        capture.get("x-amz-content-sha256").is_some_and(|v| v.starts_with("STREAMING-")),
        "{:?}",
        capture.get("x-amz-content-sha256")
    );
    assert_eq!(capture.get("x-amz-decoded-content-length"), Some(body.len().to_string()));
    assert_eq!(out.checksum_crc32(), Some(crc32(&body).as_str()));

    let get = c.get_object().bucket(&b).key("streamed").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(get.content_length(), Some(i64::try_from(body.len()).unwrap()));
    assert_eq!(get.checksum_crc32(), Some(crc32(&body).as_str()));
    assert!(get.content_encoding().is_none(), "aws-chunked is not stored: {:?}", get.content_encoding());
    assert!(get.body.collect().await.unwrap().into_bytes().as_ref() == body.as_slice());

    // The client's own Content-Encoding is kept, without aws-chunked (the SDK sends the two as
    // separate header lines).
    let capture = CaptureHeaders::default();
    c.put_object()
        .bucket(&b)
        .key("gzip")
        .content_encoding("gzip")
        .body(ByteStream::from_path(&path).await.unwrap())
        .customize()
        .interceptor(capture.clone())
        .send()
        .await
        .unwrap();
    assert!(
        capture.get("content-encoding").is_some_and(|v| v.contains("gzip") && v.contains("aws-chunked")),
        "{:?}",
        capture.get("content-encoding")
    );
    let head = c.head_object().bucket(&b).key("gzip").send().await.unwrap();
    assert_eq!(head.content_encoding(), Some("gzip"));
    assert_eq!(head.content_length(), Some(i64::try_from(body.len()).unwrap()));

    // A streamed part, and an empty streamed object.
    let id = c.create_multipart_upload().bucket(&b).key("mp").send().await.unwrap().upload_id().unwrap().to_owned();
    let capture = CaptureHeaders::default();
    let part = c
        .upload_part()
        .bucket(&b)
        .key("mp")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from_path(&path).await.unwrap())
        .customize()
        .interceptor(capture.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(capture.get("x-amz-trailer").as_deref(), Some("x-amz-checksum-crc32"));
    assert_eq!(part.e_tag(), Some(quoted(&crate::harness::md5_hex(&body)).as_str()));
    assert_eq!(part.checksum_crc32(), Some(crc32(&body).as_str()));
    let empty_path = dir.path().join("empty.bin");
    std::fs::write(&empty_path, b"").unwrap();
    let capture = CaptureHeaders::default();
    let empty = c
        .put_object()
        .bucket(&b)
        .key("empty")
        .body(ByteStream::from_path(&empty_path).await.unwrap())
        .customize()
        .interceptor(capture.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(capture.get("x-amz-trailer").as_deref(), Some("x-amz-checksum-crc32"));
    assert_eq!(empty.checksum_crc32(), Some(crc32(b"").as_str()));
    assert!(h.get(&b, "empty").await.is_empty());
}

pub async fn checksums_of_every_algorithm(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("checksums").await;
    let body = pattern(100_000, 31);
    let algorithms = [
        (ChecksumAlgorithm::Crc32, crc32(&body)),
        (ChecksumAlgorithm::Crc32C, crc32c(&body)),
        (ChecksumAlgorithm::Sha1, sha1(&body)),
        (ChecksumAlgorithm::Sha256, sha256(&body)),
        (ChecksumAlgorithm::Crc64Nvme, crc64nvme(&body)),
    ];
    type Fields<'a> = [Option<&'a str>; 5];
    for (alg, expected) in &algorithms {
        let key = alg.as_str();
        let want: Fields<'_> = std::array::from_fn(|i| (algorithms[i].0 == *alg).then_some(expected.as_str()));
        let put = c
            .put_object()
            .bucket(&b)
            .key(key)
            .body(ByteStream::from(body.clone()))
            .checksum_algorithm(alg.clone())
            .send()
            .await
            .unwrap();
        let got: Fields<'_> = [
            put.checksum_crc32(),
            put.checksum_crc32_c(),
            put.checksum_sha1(),
            put.checksum_sha256(),
            put.checksum_crc64_nvme(),
        ];
        assert_eq!(got, want, "PutObject {key}");

        let get = c.get_object().bucket(&b).key(key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
        let got: Fields<'_> = [
            get.checksum_crc32(),
            get.checksum_crc32_c(),
            get.checksum_sha1(),
            get.checksum_sha256(),
            get.checksum_crc64_nvme(),
        ];
        assert_eq!(got, want, "GetObject {key}");
        assert_eq!(get.checksum_type(), Some(&ChecksumType::FullObject));
        // The SDK validated the body against the checksum header as it read it.
        assert!(get.body.collect().await.unwrap().into_bytes().as_ref() == body.as_slice());

        let head = c.head_object().bucket(&b).key(key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
        let got: Fields<'_> = [
            head.checksum_crc32(),
            head.checksum_crc32_c(),
            head.checksum_sha1(),
            head.checksum_sha256(),
            head.checksum_crc64_nvme(),
        ];
        assert_eq!(got, want, "HeadObject {key}");

        // Without ChecksumMode, or for a range, no checksum.
        let head = c.head_object().bucket(&b).key(key).send().await.unwrap();
        assert!(
            head.checksum_crc32().is_none() && head.checksum_sha256().is_none() && head.checksum_crc64_nvme().is_none()
        );
        let ranged = c
            .get_object()
            .bucket(&b)
            .key(key)
            .range("bytes=0-9")
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert!(
            ranged.checksum_crc32().is_none()
                && ranged.checksum_sha1().is_none()
                && ranged.checksum_crc64_nvme().is_none()
        );
    }

    // A value the client computed itself travels as a header and is kept.
    let put = c
        .put_object()
        .bucket(&b)
        .key("precomputed")
        .body(ByteStream::from(body.clone()))
        .checksum_sha1(sha1(&body))
        .send()
        .await
        .unwrap();
    assert_eq!(put.checksum_sha1(), Some(sha1(&body).as_str()));

    // A multipart upload with CRC32: a composite checksum of the part checksums, "-N".
    let p1 = pattern(5 * 1024 * 1024, 32);
    let p2 = pattern(777, 33);
    let up = c
        .create_multipart_upload()
        .bucket(&b)
        .key("composite")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let mut done = Vec::new();
    for (n, data) in [(1, &p1), (2, &p2)] {
        let out = c
            .upload_part()
            .bucket(&b)
            .key("composite")
            .upload_id(id)
            .part_number(n)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(out.checksum_crc32(), Some(crc32(data).as_str()));
        done.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap())
                .checksum_crc32(out.checksum_crc32().unwrap())
                .build(),
        );
    }
    c.complete_multipart_upload()
        .bucket(&b)
        .key("composite")
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
        .send()
        .await
        .unwrap();
    let mut cat = crc32fast::hash(&p1).to_be_bytes().to_vec();
    cat.extend(crc32fast::hash(&p2).to_be_bytes());
    let head = c.head_object().bucket(&b).key("composite").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(head.checksum_crc32(), Some(format!("{}-2", crc32(&cat)).as_str()));
    assert_eq!(head.checksum_type(), Some(&ChecksumType::Composite));
}
