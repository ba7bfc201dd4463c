//! Authentication and bad input, through raw HTTP: unsigned and badly signed requests, clock
//! skew, malformed XML bodies, truncated bodies, presigned URLs.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::ByteStream;

use crate::harness::{Harness, RawRequest, RawResponse, Signer, expect_err, md5_b64, pattern, sdk_client, sha256_hex};

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

pub async fn unsigned_and_badly_signed_requests(h: &Harness) {
    let b = h.bucket("auth").await;
    h.put(&b, "k", "secret data").await;
    let signer = h.signer();

    // The raw signer is right: a signed request passes.
    let resp = h.raw(signer.sign(RawRequest::new("GET", &format!("/{b}/k")), None, now())).await;
    assert_eq!((resp.status, resp.body.as_slice()), (200, b"secret data".as_slice()), "{}", resp.text());
    let resp = h.raw(signer.sign(RawRequest::new("GET", "/"), None, now())).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.header("x-amz-request-id").is_some());

    // Unsigned.
    h.raw(RawRequest::new("GET", "/")).await.assert_error(403, "AccessDenied");
    h.raw(RawRequest::new("GET", &format!("/{b}/k"))).await.assert_error(403, "AccessDenied");
    h.raw(RawRequest::new("GET", &format!("/{b}"))).await.assert_error(403, "AccessDenied");
    h.raw(RawRequest::new("PUT", &format!("/{b}/anonymous")).body("x")).await.assert_error(403, "AccessDenied");
    h.raw(RawRequest::new("DELETE", &format!("/{b}/k"))).await.assert_error(403, "AccessDenied");
    h.raw(RawRequest::new("PUT", "/anonymous-bucket")).await.assert_error(403, "AccessDenied");
    // A bucket that does not exist is not found, for anonymous callers too (as on AWS).
    h.raw(RawRequest::new("DELETE", "/no-such-bucket-anywhere/k")).await.assert_error(404, "NoSuchBucket");
    h.raw(RawRequest::new("GET", "/no-such-bucket-anywhere/k")).await.assert_error(404, "NoSuchBucket");

    // An access key nobody issued.
    let stranger = Signer { access_key: "AKIASTRANGER00000000".into(), ..signer.clone() };
    h.raw(stranger.sign(RawRequest::new("GET", &format!("/{b}/k")), None, now()))
        .await
        .assert_error(403, "InvalidAccessKeyId");
    // The right key with the wrong secret.
    let forger = Signer { secret_key: "wrong-secret-wrong-secret-wrong-secret00".into(), ..signer.clone() };
    h.raw(forger.sign(RawRequest::new("GET", &format!("/{b}/k")), None, now()))
        .await
        .assert_error(403, "SignatureDoesNotMatch");
    h.raw(forger.sign(RawRequest::new("PUT", &format!("/{b}/forged")).body("x"), None, now()))
        .await
        .assert_error(403, "SignatureDoesNotMatch");
    // A header changed after signing.
    let mut tampered =
        signer.sign(RawRequest::new("GET", &format!("/{b}/k")).header("range", "bytes=0-1"), None, now());
    for (k, v) in &mut tampered.headers {
        if k == "range" {
            *v = "bytes=0-5".into();
        }
    }
    h.raw(tampered).await.assert_error(403, "SignatureDoesNotMatch");
    // Signed an hour off the server's clock, either way.
    for skew in [-3600, 3600] {
        let at = now() + time::Duration::seconds(skew);
        h.raw(signer.sign(RawRequest::new("GET", &format!("/{b}/k")), None, at))
            .await
            .assert_error(403, "RequestTimeTooSkewed");
        h.raw(signer.sign(RawRequest::new("PUT", &format!("/{b}/skewed")).body("x"), None, at))
            .await
            .assert_error(403, "RequestTimeTooSkewed");
    }

    // The SDK with a wrong secret.
    let bad = sdk_client(h.addr, &h.root.access_key, "wrong-secret-wrong-secret-wrong-secret00");
    expect_err(bad.get_object().bucket(&b).key("k").send().await, 403, Some("SignatureDoesNotMatch"));

    // None of the refused writes stored anything; the object is intact.
    assert_eq!(h.keys(&b).await, vec!["k"]);
    assert_eq!(h.get(&b, "k").await, b"secret data");
    assert_eq!(h.client.list_buckets().send().await.unwrap().buckets().len(), 1);
}

pub async fn malformed_xml(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("xml").await;
    h.put(&b, "k", "kept").await;
    let signer = h.signer();
    let post = |path: &str, query: (&str, &str), body: &str| {
        let req = RawRequest::new("POST", path)
            .query(query.0, query.1)
            .header("content-md5", &md5_b64(body.as_bytes()))
            .body(body);
        signer.sign(req, None, now())
    };

    for body in
        ["<Delete><Object><Key>k</Key></Object", "not xml at all", "<Delete><Object><Key>k</Key></Object></Wrong>"]
    {
        h.raw(post(&format!("/{b}"), ("delete", ""), body)).await.assert_error(400, "MalformedXML");
    }
    assert_eq!(h.get(&b, "k").await, b"kept");
    // A well-formed one through the same path works (the request itself is right).
    let resp = h.raw(post(&format!("/{b}"), ("delete", ""), "<Delete><Object><Key>k</Key></Object></Delete>")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(!h.exists(&b, "k").await);

    let id = c.create_multipart_upload().bucket(&b).key("mp").send().await.unwrap().upload_id().unwrap().to_owned();
    let part = c
        .upload_part()
        .bucket(&b)
        .key("mp")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from_static(b"p"))
        .send()
        .await
        .unwrap();
    for body in [
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>".to_owned(),
        "{\"parts\": []}".to_owned(),
        format!(
            "<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>{}</ETag></Part></CompleteMultipartUpload>",
            part.e_tag().unwrap()
        ),
    ] {
        h.raw(post(&format!("/{b}/mp"), ("uploadId", &id), &body)).await.assert_error(400, "MalformedXML");
    }
    assert!(!h.exists(&b, "mp").await);
    let parts = c.list_parts().bucket(&b).key("mp").upload_id(&id).send().await.unwrap();
    assert_eq!(parts.parts().len(), 1, "the upload survives");

    // A malformed CreateBucketConfiguration creates no bucket.
    let name = format!("xml-{}", crate::harness::random_hex(8));
    let req =
        RawRequest::new("PUT", &format!("/{name}")).body("<CreateBucketConfiguration><LocationConstraint>eu-west-1");
    h.raw(signer.sign(req, None, now())).await.assert_error(400, "MalformedXML");
    expect_err(c.head_bucket().bucket(&name).send().await, 404, None);
}

/// Sends `len` declared bytes of which only `sent` arrive, then closes the sending side.
async fn truncated_put(h: &Harness, path: &str, body: &[u8], sent: usize, payload_hash: Option<&str>) -> RawResponse {
    let mut req = RawRequest::new("PUT", path).body(body.to_vec());
    req.truncate_at = Some(sent);
    h.raw(h.signer().sign(req, payload_hash, now())).await
}

pub async fn truncated_body_stores_nothing(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("truncated").await;
    let original_etag = h.put(&b, "k", "original").await;
    let body = pattern(200_000, 40);
    let full_hash = sha256_hex(&body);

    for (key, hash) in [
        ("k", Some("UNSIGNED-PAYLOAD")),
        ("k", Some(full_hash.as_str())),
        ("fresh", Some("UNSIGNED-PAYLOAD")),
        ("fresh", None),
    ] {
        let resp = truncated_put(h, &format!("/{b}/{key}"), &body, 70_000, hash).await;
        // The server sees the body end early and says so.
        resp.assert_error(400, "IncompleteBody");
    }
    // The old object is intact, the new one never appeared.
    let head = c.head_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(head.e_tag(), Some(original_etag.as_str()));
    assert_eq!(h.get(&b, "k").await, b"original");
    assert!(!h.exists(&b, "fresh").await);
    assert_eq!(h.keys(&b).await, vec!["k"]);

    // A truncated part is not recorded.
    let id = c.create_multipart_upload().bucket(&b).key("mp").send().await.unwrap().upload_id().unwrap().to_owned();
    let mut req =
        RawRequest::new("PUT", &format!("/{b}/mp")).query("partNumber", "1").query("uploadId", &id).body(body.clone());
    req.truncate_at = Some(1000);
    h.raw(h.signer().sign(req, Some("UNSIGNED-PAYLOAD"), now())).await.assert_error(400, "IncompleteBody");
    let parts = c.list_parts().bucket(&b).key("mp").upload_id(&id).send().await.unwrap();
    assert!(parts.parts().is_empty(), "{:?}", parts.parts());

    // Each of the five bodies went to a pending blob that was abandoned before the answer:
    // all are queued for the collector, which leaves nothing behind.
    let due = h.meta.due_blobs(now(), 100).await.unwrap();
    assert_eq!(due.len(), 5, "{due:?}");
    assert_eq!(h.collector().run_once().await.unwrap().blobs, 5);
    for blob in &due {
        assert!(
            matches!(h.blobs.get(blob, None).await, Err(cloudstore_store_api::StoreError::BlobNotFound)),
            "{blob} is gone"
        );
    }
    assert_eq!(h.get(&b, "k").await, b"original");
}

pub(crate) fn presigned_raw(p: &PresignedRequest, body: &[u8]) -> RawRequest {
    let uri: http::Uri = p.uri().parse().unwrap();
    let mut req = RawRequest::new(p.method(), uri.path()).body(body.to_vec());
    if let Some(q) = uri.query() {
        for pair in q.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            req = req.query(k, v);
        }
    }
    for (k, v) in p.headers() {
        if !k.eq_ignore_ascii_case("host") {
            req = req.header(k, v);
        }
    }
    req
}

pub async fn presigned_urls(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("presign").await;
    h.put(&b, "shared.txt", "shared content").await;

    let five_min = PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();
    let get = c.get_object().bucket(&b).key("shared.txt").presigned(five_min.clone()).await.unwrap();
    assert!(get.uri().contains("X-Amz-Signature="));
    let resp = h.raw(presigned_raw(&get, b"")).await;
    assert_eq!((resp.status, resp.body.as_slice()), (200, b"shared content".as_slice()), "{}", resp.text());

    // Expired: signed two hours ago, valid for one minute.
    let expired_cfg = PresigningConfig::builder()
        .start_time(SystemTime::now() - Duration::from_secs(7200))
        .expires_in(Duration::from_secs(60))
        .build()
        .unwrap();
    let expired = c.get_object().bucket(&b).key("shared.txt").presigned(expired_cfg).await.unwrap();
    h.raw(presigned_raw(&expired, b"")).await.assert_error(403, "AccessDenied");

    // A URL for one key does not open another.
    h.put(&b, "private.txt", "private").await;
    let mut other = presigned_raw(&get, b"");
    other.path = format!("/{b}/private.txt");
    h.raw(other).await.assert_error(403, "SignatureDoesNotMatch");

    // A presigned PUT uploads.
    let put = c.put_object().bucket(&b).key("uploaded.txt").presigned(five_min).await.unwrap();
    let resp = h.raw(presigned_raw(&put, b"via presigned put")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(h.get(&b, "uploaded.txt").await, b"via presigned put");
}

/// What a valid signature does not cover is refused, as on AWS: an `x-amz-*` header the
/// client did not sign (a presigned PUT plus an unsigned `x-amz-copy-source` would otherwise
/// copy any object the signer may read), a presigned URL valid for over a week, and a SigV2
/// request dated more than 15 minutes from now (it could be replayed forever). Nothing is
/// written by a refused request.
pub async fn signatures_cover_what_the_request_does(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("signed").await;
    h.put(&b, "private.txt", "private").await;
    let signer = h.signer();
    let now = time::OffsetDateTime::now_utc();

    // A presigned PUT turned into a copy by an added header.
    let five_min = PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();
    let put = c.put_object().bucket(&b).key("upload.txt").presigned(five_min).await.unwrap();
    let hijacked = presigned_raw(&put, b"").header("x-amz-copy-source", &format!("/{b}/private.txt"));
    let resp = h.raw(hijacked).await;
    resp.assert_error(403, "AccessDenied");
    assert!(resp.text().contains("x-amz-copy-source"), "{}", resp.text());
    assert!(!h.exists(&b, "upload.txt").await, "the refused copy wrote an object");
    // Unsigned metadata on a presigned PUT as well.
    let resp = h.raw(presigned_raw(&put, b"data").header("x-amz-meta-owner", "mallory")).await;
    resp.assert_error(403, "AccessDenied");
    assert!(!h.exists(&b, "upload.txt").await, "the refused put wrote an object");
    // Nor with a forged Authorization header beside it that claims to sign the copy source
    // (s3s checks the URL's signature and would not look at the header).
    let forged = format!(
        "AWS4-HMAC-SHA256 Credential={}/20260101/us-east-1/s3/aws4_request, \
         SignedHeaders=host;x-amz-copy-source, Signature={}",
        signer.access_key,
        "0".repeat(64)
    );
    let hijacked = presigned_raw(&put, b"")
        .header("authorization", &forged)
        .header("x-amz-copy-source", &format!("/{b}/private.txt"));
    h.raw(hijacked).await.assert_error(400, "InvalidArgument");
    assert!(!h.exists(&b, "upload.txt").await, "the refused copy wrote an object");
    // The URL itself still works.
    let resp = h.raw(presigned_raw(&put, b"data")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());

    // Header auth: the same header added after signing is refused; signed, the copy is made.
    let copy = || RawRequest::new("PUT", &format!("/{b}/copy.txt"));
    let mut unsigned = signer.sign(copy(), None, now);
    unsigned.headers.push(("x-amz-copy-source".into(), format!("/{b}/private.txt")));
    h.raw(unsigned).await.assert_error(403, "AccessDenied");
    assert!(!h.exists(&b, "copy.txt").await, "the refused copy wrote an object");
    // A copy request signed without the copy source, its (unsigned) Authorization header
    // rewritten by `edit`, the copy source then added.
    let tampered = |edit: &dyn Fn(&str) -> String| {
        let mut req = signer.sign(copy(), None, now);
        for (k, v) in &mut req.headers {
            if k.eq_ignore_ascii_case("authorization") {
                *v = edit(v);
            }
        }
        req.header("x-amz-copy-source", &format!("/{b}/private.txt"))
    };
    // ... also when its SignedHeaders list names the header in a form s3s cannot find among
    // the headers, and so leaves out of what it verifies;
    for listed in ["X-Amz-Copy-Source;", " x-amz-copy-source;"] {
        let req = tampered(&|v| v.replacen("SignedHeaders=", &format!("SignedHeaders={listed}"), 1));
        h.raw(req).await.assert_error(403, "AccessDenied");
        assert!(!h.exists(&b, "copy.txt").await, "{listed:?}: the refused copy wrote an object");
    }
    // ... and when its algorithm word is changed so the header reads as another kind.
    for word in ["X", "AWS"] {
        let resp = h.raw(tampered(&|v| v.replacen("AWS4-HMAC-SHA256", word, 1))).await;
        assert!(resp.status == 400 || resp.status == 403, "algorithm {word}: {} {}", resp.status, resp.text());
        assert!(!h.exists(&b, "copy.txt").await, "algorithm {word}: the refused copy wrote an object");
    }
    let signed = signer.sign(copy().header("x-amz-copy-source", &format!("/{b}/private.txt")), None, now);
    let resp = h.raw(signed).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(h.get(&b, "copy.txt").await, b"private");

    // Presigned URLs live at most a week.
    let get = || RawRequest::new("GET", &format!("/{b}/private.txt"));
    let resp = h.raw(signer.presign(get(), "604800", now)).await;
    assert_eq!((resp.status, resp.body.as_slice()), (200, b"private".as_slice()), "{}", resp.text());
    for expires in ["604801", "4294967295"] {
        h.raw(signer.presign(get(), expires, now)).await.assert_error(400, "AuthorizationQueryParametersError");
    }

    // SigV2 header auth works when fresh and is refused when replayed an hour later.
    let resp = h.raw(signer.sign_v2(get(), now)).await;
    assert_eq!((resp.status, resp.body.as_slice()), (200, b"private".as_slice()), "{}", resp.text());
    let old = now - time::Duration::hours(1);
    h.raw(signer.sign_v2(get(), old)).await.assert_error(403, "RequestTimeTooSkewed");
    let del = signer.sign_v2(RawRequest::new("DELETE", &format!("/{b}/private.txt")), old);
    h.raw(del).await.assert_error(403, "RequestTimeTooSkewed");
    assert!(h.exists(&b, "private.txt").await, "a stale SigV2 request deleted the object");
}

/// An `aws-chunked` chunk over 16 MiB is refused at its size line, before its data is read
/// (s3s would collect a whole chunk in memory, up to 4 GiB); nothing is stored.
pub async fn oversized_aws_chunks_are_refused(h: &Harness) {
    let b = h.bucket("chunks").await;
    let signer = h.signer();
    for size_line in ["ffffffff", "1000001"] {
        let mut body = format!("{size_line}\r\n").into_bytes();
        body.extend(std::iter::repeat_n(b'a', 1 << 20));
        let req = RawRequest::new("PUT", &format!("/{b}/big"))
            .header("content-encoding", "aws-chunked")
            .header("x-amz-decoded-content-length", "4")
            .header("x-amz-trailer", "x-amz-checksum-crc32")
            .body(body);
        let resp = h.raw(signer.sign(req, Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER"), now())).await;
        resp.assert_error(400, "InvalidRequest");
        assert!(resp.text().contains("aws-chunked"), "{}", resp.text());
        assert!(!h.exists(&b, "big").await, "a refused chunked upload stored an object");
    }
    // A well-formed body in the same form is stored.
    let crc = crate::harness::b64(&crc32fast::hash(b"abcd").to_be_bytes());
    let req = RawRequest::new("PUT", &format!("/{b}/small"))
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", "4")
        .header("x-amz-trailer", "x-amz-checksum-crc32")
        .body(format!("4\r\nabcd\r\n0\r\nx-amz-checksum-crc32:{crc}\r\n\r\n").into_bytes());
    let resp = h.raw(signer.sign(req, Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER"), now())).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(h.get(&b, "small").await, b"abcd");
}
