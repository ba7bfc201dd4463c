//! Robustness against odd input: ranges on empty objects, POST forms, NUL bytes in
//! parameters, bad LocationConstraints, unverifiable checksums, missing trailers, oversized
//! metadata and out-of-range paging arguments. Each is a clear 4xx/501 and stores nothing.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ObjectAttributes};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::harness::{Harness, RawRequest, b64, expect_err, pattern};

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn crc32(d: &[u8]) -> String {
    b64(&crc32fast::hash(d).to_be_bytes())
}

pub async fn ranges_on_empty_objects(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("empty-range").await;
    h.put(&b, "empty", Vec::new()).await;
    h.put(&b, "one", "x").await;
    // Every range of an empty object is unsatisfiable, suffix ranges included (they used to
    // underflow computing Content-Range).
    for range in ["bytes=-1", "bytes=-100", "bytes=0-0", "bytes=0-"] {
        expect_err(c.get_object().bucket(&b).key("empty").range(range).send().await, 416, Some("InvalidRange"));
        // HEAD answers have no body, hence no code.
        expect_err(c.head_object().bucket(&b).key("empty").range(range).send().await, 416, None);
    }
    // A suffix range of a one-byte object is that byte.
    let out = c.get_object().bucket(&b).key("one").range("bytes=-1").send().await.unwrap();
    assert_eq!(out.content_range(), Some("bytes 0-0/1"));
    assert_eq!(out.body.collect().await.unwrap().into_bytes().as_ref(), b"x");
    // Without a range the empty object reads fine.
    assert!(h.get(&b, "empty").await.is_empty());
}

/// Sends a POST form upload's head and the first `sent` bytes of a body announced as
/// `declared` bytes, keeps the connection open, and returns (status, body) of the answer.
async fn post_form(h: &Harness, bucket: &str, declared: usize, sent: usize, media_type: &str) -> (u16, String) {
    let boundary = "cloudstoreformboundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nform-key\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.resize(declared, b'a');
    let head = format!(
        "POST /{bucket} HTTP/1.1\r\nHost: {}\r\nContent-Type: {media_type}; boundary={boundary}\r\n\
         Content-Length: {declared}\r\n\r\n",
        h.addr
    );
    let mut s = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (and close) before reading this: ignore write errors.
    let _ = s.write_all(&body[..sent]).await;
    // Read the answer while the rest of the body is still owed: the server must not wait for it.
    let mut buf = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            let n = s.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok());
                if len.is_some_and(|len| buf.len() >= end + 4 + len) {
                    break;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.expect("an answer before the body is sent");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

/// A POST form (PostObject, ADR 0015) is refused before its file is read: a client still
/// sending its file gets the answer at once, and nothing is stored.
pub async fn post_forms_are_refused_before_the_file(h: &Harness) {
    let b = h.bucket("post-form").await;
    // 8 MiB announced, 256 KiB sent, the rest never comes: an anonymous form to a private
    // bucket is answered at once, unread.
    let (status, text) = post_form(h, &b, 8 << 20, 256 << 10, "multipart/form-data").await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("<Code>AccessDenied</Code>"), "{text}");
    // Other spellings s3s also takes for a form (it parses the media type).
    for media_type in ["Multipart/Form-Data", "multipart/form-data+x"] {
        let (status, text) = post_form(h, &b, 8 << 20, 256 << 10, media_type).await;
        assert_eq!(status, 403, "{media_type}: {text}");
    }
    // A form to a bucket that does not exist: refused before a byte of the body is read.
    let (status, text) = post_form(h, "no-such-bucket-post", 8 << 20, 0, "multipart/form-data").await;
    assert_eq!(status, 404, "{text}");
    assert!(h.keys(&b).await.is_empty());
}

pub async fn nul_in_parameters(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("nul").await;
    h.put(&b, "a", "data").await;

    // Listing parameters: 400 InvalidArgument from both backends.
    expect_err(c.list_objects_v2().bucket(&b).prefix("a\0").send().await, 400, Some("InvalidArgument"));
    expect_err(c.list_objects_v2().bucket(&b).delimiter("\0").send().await, 400, Some("InvalidArgument"));
    expect_err(c.list_objects_v2().bucket(&b).start_after("a\0").send().await, 400, Some("InvalidArgument"));
    // A continuation token that decodes to "a\0" (base64url of 61 00).
    expect_err(c.list_objects_v2().bucket(&b).continuation_token("YQA").send().await, 400, Some("InvalidArgument"));
    expect_err(c.list_objects().bucket(&b).marker("a\0").send().await, 400, Some("InvalidArgument"));
    expect_err(c.list_objects().bucket(&b).prefix("\0").send().await, 400, Some("InvalidArgument"));
    expect_err(c.list_object_versions().bucket(&b).key_marker("a\0").send().await, 400, Some("InvalidArgument"));
    expect_err(c.list_multipart_uploads().bucket(&b).prefix("\0").send().await, 400, Some("InvalidArgument"));
    expect_err(
        c.list_multipart_uploads().bucket(&b).key_marker("a").upload_id_marker("x\0").send().await,
        400,
        Some("InvalidArgument"),
    );

    // Upload ids and keys with NUL on upload operations: 404 NoSuchUpload.
    let id = c.create_multipart_upload().bucket(&b).key("mp").send().await.unwrap().upload_id().unwrap().to_owned();
    let bad_id = format!("{id}\0");
    for (key, upload_id) in [("mp", bad_id.as_str()), ("mp\0", id.as_str())] {
        expect_err(
            c.upload_part()
                .bucket(&b)
                .key(key)
                .upload_id(upload_id)
                .part_number(1)
                .body(ByteStream::from_static(b"part"))
                .send()
                .await,
            404,
            Some("NoSuchUpload"),
        );
        expect_err(
            c.upload_part_copy()
                .bucket(&b)
                .key(key)
                .upload_id(upload_id)
                .part_number(1)
                .copy_source(format!("{b}/a"))
                .send()
                .await,
            404,
            Some("NoSuchUpload"),
        );
        expect_err(c.list_parts().bucket(&b).key(key).upload_id(upload_id).send().await, 404, Some("NoSuchUpload"));
        let done = CompletedMultipartUpload::builder()
            .parts(CompletedPart::builder().part_number(1).e_tag("\"00\"").build())
            .build();
        expect_err(
            c.complete_multipart_upload().bucket(&b).key(key).upload_id(upload_id).multipart_upload(done).send().await,
            404,
            Some("NoSuchUpload"),
        );
        expect_err(
            c.abort_multipart_upload().bucket(&b).key(key).upload_id(upload_id).send().await,
            404,
            Some("NoSuchUpload"),
        );
    }
    // Nothing was stored: the upload is intact and empty, the bucket holds only "a".
    let parts = c.list_parts().bucket(&b).key("mp").upload_id(&id).send().await.unwrap();
    assert!(parts.parts().is_empty(), "{:?}", parts.parts());
    assert_eq!(h.keys(&b).await, vec!["a"]);
}

pub async fn location_constraints_are_validated(h: &Harness) {
    let c = &h.client;
    let signer = h.signer();
    let create = |name: &str, location: &str| {
        let body = format!(
            "<CreateBucketConfiguration><LocationConstraint>{location}</LocationConstraint></CreateBucketConfiguration>"
        );
        signer.sign(RawRequest::new("PUT", &format!("/{name}")).body(body), None, now())
    };
    // A newline (which no header can carry), a space, uppercase, over 64 characters.
    let too_long = "a".repeat(65);
    for location in ["eu&#10;x", "eu x", "EU-WEST-1", too_long.as_str()] {
        let name = format!("loc-{}", crate::harness::random_hex(8));
        h.raw(create(&name, location)).await.assert_error(400, "InvalidLocationConstraint");
        expect_err(c.head_bucket().bucket(&name).send().await, 404, None);
    }
    // Region-shaped names and AWS's legacy "EU" are accepted and reported back.
    for location in ["eu-central-1", "EU", &"a".repeat(64)] {
        let name = format!("loc-{}", crate::harness::random_hex(8));
        let resp = h.raw(create(&name, location)).await;
        assert_eq!(resp.status, 200, "{location}: {}", resp.text());
        let head = c.head_bucket().bucket(&name).send().await.unwrap();
        assert_eq!(head.bucket_region(), Some(location));
    }
}

pub async fn complete_checksum_must_be_verifiable(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("complete-sum").await;
    let data = pattern(1000, 9);

    // An upload whose object gets a CRC64NVME full-object checksum.
    let id = c
        .create_multipart_upload()
        .bucket(&b)
        .key("k")
        .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let part = c
        .upload_part()
        .bucket(&b)
        .key("k")
        .upload_id(&id)
        .part_number(1)
        .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    let done = || {
        CompletedMultipartUpload::builder()
            .parts(CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build())
            .build()
    };
    let complete = || c.complete_multipart_upload().bucket(&b).key("k").upload_id(&id).multipart_upload(done());
    // Another algorithm than the object's: not verifiable, refused.
    expect_err(complete().checksum_crc32(crc32(&data)).send().await, 400, Some("InvalidRequest"));
    // The right algorithm with a wrong value.
    let wrong = b64(&crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, b"other").to_be_bytes());
    expect_err(complete().checksum_crc64_nvme(wrong).send().await, 400, Some("BadDigest"));
    assert!(!h.exists(&b, "k").await);
    // The right value completes.
    let right = b64(&crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, &data).to_be_bytes());
    complete().checksum_crc64_nvme(right).send().await.unwrap();
    assert_eq!(h.get(&b, "k").await, data);

    // An upload whose parts carry CRC32 without a declared algorithm: the object has no
    // checksum, so a CRC32 at completion cannot be verified.
    let id = c.create_multipart_upload().bucket(&b).key("plain").send().await.unwrap().upload_id().unwrap().to_owned();
    let part = c
        .upload_part()
        .bucket(&b)
        .key("plain")
        .upload_id(&id)
        .part_number(1)
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    let done = CompletedMultipartUpload::builder()
        .parts(CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build())
        .build();
    expect_err(
        c.complete_multipart_upload()
            .bucket(&b)
            .key("plain")
            .upload_id(&id)
            .multipart_upload(done)
            .checksum_crc32(crc32(&data))
            .send()
            .await,
        400,
        Some("InvalidRequest"),
    );
    assert!(!h.exists(&b, "plain").await);
    c.list_parts().bucket(&b).key("plain").upload_id(&id).send().await.expect("the upload survives");
}

/// An unsigned aws-chunked body of `data` announcing a CRC32 trailer, with it or without.
fn trailer_request(path: &str, data: &[u8], with_trailer: bool) -> RawRequest {
    let mut body = format!("{:x}\r\n", data.len()).into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(b"\r\n0\r\n");
    if with_trailer {
        body.extend_from_slice(format!("x-amz-checksum-crc32:{}\r\n", crc32(data)).as_bytes());
    }
    body.extend_from_slice(b"\r\n");
    RawRequest::new("PUT", path)
        .header("Content-Encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", &data.len().to_string())
        .header("x-amz-trailer", "x-amz-checksum-crc32")
        .body(body)
}

pub async fn announced_trailer_must_arrive(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("trailer").await;
    let signer = h.signer();
    let send = |req: RawRequest| h.raw(signer.sign(req, Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER"), now()));
    let data = b"hello trailer";

    // PutObject without the announced trailer: refused, nothing stored.
    send(trailer_request(&format!("/{b}/k"), data, false)).await.assert_error(400, "MalformedTrailerError");
    assert!(!h.exists(&b, "k").await);
    // With it, the same request is stored (the body format is right).
    let resp = send(trailer_request(&format!("/{b}/k"), data, true)).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(h.get(&b, "k").await, data);

    // UploadPart likewise.
    let id = c.create_multipart_upload().bucket(&b).key("mp").send().await.unwrap().upload_id().unwrap().to_owned();
    let path = format!("/{b}/mp");
    let part = |with| trailer_request(&path, data, with).query("partNumber", "1").query("uploadId", &id);
    send(part(false)).await.assert_error(400, "MalformedTrailerError");
    let parts = c.list_parts().bucket(&b).key("mp").upload_id(&id).send().await.unwrap();
    assert!(parts.parts().is_empty(), "{:?}", parts.parts());
    let resp = send(part(true)).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let parts = c.list_parts().bucket(&b).key("mp").upload_id(&id).send().await.unwrap();
    assert_eq!(parts.parts().len(), 1);
}

pub async fn user_metadata_is_limited(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("meta-size").await;
    // Key "k" (1 byte) plus a value: 2048 bytes is the limit.
    let at_limit = "v".repeat(2047);
    let over = "v".repeat(2048);
    let put = |key: &str, value: &str| {
        c.put_object().bucket(&b).key(key).metadata("k", value).body(ByteStream::from_static(b"data"))
    };
    put("ok", &at_limit).send().await.unwrap();
    let head = c.head_object().bucket(&b).key("ok").send().await.unwrap();
    assert_eq!(head.metadata().and_then(|m| m.get("k")).map(String::len), Some(2047));
    expect_err(put("big", &over).send().await, 400, Some("MetadataTooLarge"));
    // Several entries count together.
    expect_err(
        c.put_object()
            .bucket(&b)
            .key("big")
            .metadata("a", "x".repeat(1100))
            .metadata("b", "y".repeat(1100))
            .body(ByteStream::from_static(b"data"))
            .send()
            .await,
        400,
        Some("MetadataTooLarge"),
    );
    assert!(!h.exists(&b, "big").await);

    // CreateMultipartUpload.
    expect_err(
        c.create_multipart_upload().bucket(&b).key("mp").metadata("k", &over).send().await,
        400,
        Some("MetadataTooLarge"),
    );
    let uploads = c.list_multipart_uploads().bucket(&b).send().await.unwrap();
    assert!(uploads.uploads().is_empty(), "{:?}", uploads.uploads());
    c.create_multipart_upload().bucket(&b).key("mp").metadata("k", &at_limit).send().await.unwrap();

    // CopyObject with REPLACE.
    let copy = |dest: &str, value: &str| {
        c.copy_object()
            .bucket(&b)
            .key(dest)
            .copy_source(format!("{b}/ok"))
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
            .metadata("k", value)
    };
    expect_err(copy("copy", &over).send().await, 400, Some("MetadataTooLarge"));
    assert!(!h.exists(&b, "copy").await);
    copy("copy", &at_limit).send().await.unwrap();
    let mut keys = h.keys(&b).await;
    keys.sort();
    assert_eq!(keys, vec!["copy", "ok"]);
}

pub async fn paging_arguments_are_bounded(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("paging").await;
    h.put(&b, "k", "data").await;
    // partNumber beyond 10000 is an invalid argument, not an unsatisfiable part.
    expect_err(c.get_object().bucket(&b).key("k").part_number(10_001).send().await, 400, Some("InvalidArgument"));
    expect_err(c.get_object().bucket(&b).key("k").part_number(10_000).send().await, 400, Some("InvalidPart"));
    // Negative max-parts / part-number-marker.
    let id = c.create_multipart_upload().bucket(&b).key("mp").send().await.unwrap().upload_id().unwrap().to_owned();
    expect_err(
        c.list_parts().bucket(&b).key("mp").upload_id(&id).part_number_marker("-1").send().await,
        400,
        Some("InvalidArgument"),
    );
    expect_err(
        c.list_parts().bucket(&b).key("mp").upload_id(&id).max_parts(-1).send().await,
        400,
        Some("InvalidArgument"),
    );
    let attrs = || c.get_object_attributes().bucket(&b).key("k").object_attributes(ObjectAttributes::ObjectParts);
    expect_err(attrs().max_parts(-1).send().await, 400, Some("InvalidArgument"));
    expect_err(attrs().part_number_marker("-1").send().await, 400, Some("InvalidArgument"));
    attrs().max_parts(5).part_number_marker("0").send().await.unwrap();
}
