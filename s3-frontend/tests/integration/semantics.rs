//! Answers that follow AWS where the public Ceph s3-tests suite found cloudstore differing:
//! listing encodings, ListBuckets pages, Content-Encoding, 304 headers, digest errors.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::EncodingType;

use crate::harness::{Harness, RawRequest, expect_err, md5_hex, quoted};

/// `encoding-type=url` encodes what AWS encodes, as AWS does (`/` and unreserved characters
/// stay), and never ListObjects v1's Prefix; an empty delimiter is no delimiter.
pub async fn listing_encoding_and_empty_delimiter(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("enc").await;
    for k in ["foo+1/bar", "foo/bar/xyzzy", "quux ab/thud", "asdf+b"] {
        h.put(&b, k, "x").await;
    }
    let v2 = c.list_objects_v2().bucket(&b).delimiter("/").encoding_type(EncodingType::Url).send().await.unwrap();
    assert_eq!(v2.delimiter(), Some("/"));
    let keys: Vec<&str> = v2.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["asdf%2Bb"]);
    let prefixes: Vec<&str> = v2.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(prefixes, ["foo%2B1/", "foo/", "quux%20ab/"]);

    let v1 = c.list_objects().bucket(&b).delimiter("/").encoding_type(EncodingType::Url).send().await.unwrap();
    let keys: Vec<&str> = v1.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["asdf%2Bb"]);
    let prefixes: Vec<&str> = v1.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(prefixes, ["foo%2B1/", "foo/", "quux%20ab/"]);
    // v1 sends its Prefix back as given (botocore does not decode it); v2 encodes it.
    let v1 = c.list_objects().bucket(&b).prefix("quux ab/").encoding_type(EncodingType::Url).send().await.unwrap();
    assert_eq!(v1.prefix(), Some("quux ab/"));
    assert_eq!(v1.contents().iter().filter_map(|o| o.key()).collect::<Vec<_>>(), ["quux%20ab/thud"]);
    let v2 = c.list_objects_v2().bucket(&b).prefix("quux ab/").encoding_type(EncodingType::Url).send().await.unwrap();
    assert_eq!(v2.prefix(), Some("quux%20ab/"));

    // An empty delimiter: every key, no CommonPrefixes, no Delimiter in the answer.
    let v1 = c.list_objects().bucket(&b).delimiter("").send().await.unwrap();
    assert_eq!(v1.delimiter(), None);
    assert_eq!(v1.contents().len(), 4);
    assert!(v1.common_prefixes().is_empty());
    let v2 = c.list_objects_v2().bucket(&b).delimiter("").send().await.unwrap();
    assert_eq!(v2.delimiter(), None);
    assert_eq!(v2.contents().len(), 4);
}

/// ListBuckets pages with `max-buckets` and continuation tokens.
pub async fn list_buckets_pages(h: &Harness) {
    let c = &h.client;
    let first = c.list_buckets().max_buckets(1).send().await.unwrap();
    assert!(first.buckets().is_empty() && first.continuation_token().is_none(), "{first:?}");
    let mut names = Vec::new();
    for p in ["pa", "pb", "pc"] {
        names.push(h.bucket(p).await);
    }
    names.sort();
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = c.list_buckets().max_buckets(2).set_continuation_token(token.clone()).send().await.unwrap();
        assert!(page.buckets().len() <= 2);
        seen.extend(page.buckets().iter().filter_map(|b| b.name().map(str::to_owned)));
        match page.continuation_token() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, names);
    // Exactly one page when everything fits, and no token.
    let all = c.list_buckets().max_buckets(3).send().await.unwrap();
    assert_eq!(all.buckets().len(), 3);
    assert!(all.continuation_token().is_none());
    expect_err(c.list_buckets().max_buckets(0).send().await, 400, Some("InvalidArgument"));
    expect_err(c.list_buckets().max_buckets(10_001).send().await, 400, Some("InvalidArgument"));
}

/// Content-Encoding is kept as sent; only `aws-chunked`, which describes the request's
/// framing, is taken out.
pub async fn content_encoding_is_kept(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("ce").await;
    for (sent, stored) in [
        ("gzip", "gzip"),
        ("deflate, gzip", "deflate, gzip"),
        ("gzip, aws-chunked", "gzip"),
        ("aws-chunked, gzip", "gzip"),
    ] {
        c.put_object()
            .bucket(&b)
            .key("k")
            .content_encoding(sent)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
        let head = c.head_object().bucket(&b).key("k").send().await.unwrap();
        assert_eq!(head.content_encoding(), Some(stored), "sent {sent:?}");
    }
}

/// A 304 names the representation (ETag, Last-Modified), as AWS sends it.
pub async fn not_modified_carries_etag(h: &Harness) {
    let b = h.bucket("nm").await;
    let etag = h.put(&b, "k", "data").await;
    assert_eq!(etag, quoted(&md5_hex(b"data")));
    let resp = h
        .raw(h.signer().sign(RawRequest::new("GET", &format!("/{b}/k")).header("if-none-match", &etag), None, now()))
        .await;
    assert_eq!(resp.status, 304, "{}", resp.text());
    assert_eq!(resp.header("etag"), Some(etag.as_str()));
    assert!(resp.header("last-modified").is_some());
}

/// An empty Content-MD5 is `InvalidDigest`; a checksum value that is not one at all is
/// `BadDigest`, as a wrong one is; nothing is stored either way.
pub async fn digest_errors(h: &Harness) {
    let b = h.bucket("dig").await;
    let put = |extra: (&str, &str)| {
        h.signer().sign(RawRequest::new("PUT", &format!("/{b}/k")).header(extra.0, extra.1).body("data"), None, now())
    };
    h.raw(put(("content-md5", ""))).await.assert_error(400, "InvalidDigest");
    h.raw(put(("x-amz-checksum-sha256", "bad"))).await.assert_error(400, "BadDigest");
    h.raw(put(("x-amz-checksum-crc32", "AAAA"))).await.assert_error(400, "BadDigest");
    assert!(!h.exists(&b, "k").await);
    expect_err(h.client.head_object().bucket(&b).key("k").send().await, 404, None);
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// SigV2 as botocore and s3cmd sign it: a bucket's resource is `/bucket/` even when the path
/// sent is `/bucket`; a date that is missing, malformed or off is refused before the signature
/// is checked, with AWS's codes.
pub async fn sigv2_bucket_requests_and_dates(h: &Harness) {
    let b = format!("v2-{}", crate::harness::random_hex(10));
    let signer = h.signer();
    // Signed over `/b/`, sent as `/b`: CreateBucket, then ListObjects on it.
    let mut create = signer.sign_v2(RawRequest::new("PUT", &format!("/{b}/")), now());
    create.path = format!("/{b}");
    let resp = h.raw(create).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let mut list = signer.sign_v2(RawRequest::new("GET", &format!("/{b}/")), now());
    list.path = format!("/{b}");
    let resp = h.raw(list).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    // Dates: checked first, whatever the signature.
    let dated = |amz: &str| {
        RawRequest::new("PUT", &format!("/{b}/k"))
            .header("date", &httpdate::fmt_http_date(std::time::SystemTime::now()))
            .header("x-amz-date", amz)
            .header("authorization", &format!("AWS {}:bm90LWEtc2lnbmF0dXJl", signer.access_key))
            .body("x")
    };
    h.raw(dated("Bad Date")).await.assert_error(403, "AccessDenied");
    h.raw(dated("")).await.assert_error(403, "AccessDenied");
    h.raw(dated("Tue, 07 Jul 1950 21:53:04 GMT")).await.assert_error(403, "AccessDenied");
    h.raw(dated("Tue, 07 Jul 2010 21:53:04 GMT")).await.assert_error(403, "RequestTimeTooSkewed");
    h.raw(dated("Tue, 07 Jul 9999 21:53:04 GMT")).await.assert_error(403, "RequestTimeTooSkewed");
    // A fresh date with a wrong signature is a signature error.
    let fresh = httpdate::fmt_http_date(std::time::SystemTime::now());
    h.raw(dated(&fresh)).await.assert_error(403, "SignatureDoesNotMatch");
    assert!(!h.exists(&b, "k").await);
}

/// An error's XML names the request its `x-amz-request-id` header names.
pub async fn error_bodies_carry_the_request_id(h: &Harness) {
    let b = h.bucket("rid").await;
    let resp = h.raw(h.signer().sign(RawRequest::new("GET", &format!("/{b}/missing")), None, now())).await;
    resp.assert_error(404, "NoSuchKey");
    let id = resp.header("x-amz-request-id").expect("request id header").to_owned();
    assert!(resp.text().contains(&format!("<RequestId>{id}</RequestId>")), "{}", resp.text());
    // Errors answered before s3s too.
    let resp = h.raw(RawRequest::new("GET", &format!("/{b}/missing"))).await;
    let id = resp.header("x-amz-request-id").expect("request id header").to_owned();
    assert!(resp.text().contains(&format!("<RequestId>{id}</RequestId>")), "{}", resp.text());
}

/// A `partNumber` read returns that part's checksum and the object's checksum type without
/// being asked (as AWS does); a part the object lacks is 400 InvalidPart. GetObjectAttributes
/// reads the attribute list as botocore writes it (`ETag, ObjectSize`).
pub async fn part_reads_and_attribute_lists(h: &Harness) {
    use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumType, CompletedMultipartUpload, CompletedPart};
    let c = &h.client;
    let b = h.bucket("parts").await;
    let up = c.create_multipart_upload().bucket(&b).key("k").checksum_algorithm(ChecksumAlgorithm::Sha256).send();
    let id = up.await.unwrap().upload_id().unwrap().to_owned();
    let part = c
        .upload_part()
        .bucket(&b)
        .key("k")
        .upload_id(&id)
        .part_number(1)
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .body(ByteStream::from_static(b"part one"))
        .send()
        .await
        .unwrap();
    let sum = part.checksum_sha256().unwrap().to_owned();
    let done = CompletedMultipartUpload::builder()
        .parts(CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).checksum_sha256(&sum).build())
        .build();
    c.complete_multipart_upload().bucket(&b).key("k").upload_id(&id).multipart_upload(done).send().await.unwrap();

    let got = c.get_object().bucket(&b).key("k").part_number(1).send().await.unwrap();
    assert_eq!(got.checksum_sha256(), Some(sum.as_str()));
    assert_eq!(got.checksum_type(), Some(&ChecksumType::Composite));
    // A whole read without checksum mode names no checksum.
    let whole = c.head_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(whole.checksum_sha256(), None);
    expect_err(c.get_object().bucket(&b).key("k").part_number(2).send().await, 400, Some("InvalidPart"));

    let attrs = h
        .raw(
            h.signer().sign(
                RawRequest::new("GET", &format!("/{b}/k"))
                    .query("attributes", "")
                    .header("x-amz-object-attributes", "ETag, ObjectSize, StorageClass"),
                None,
                now(),
            ),
        )
        .await;
    assert_eq!(attrs.status, 200, "{}", attrs.text());
    let text = attrs.text();
    assert!(text.contains("<ObjectSize>8</ObjectSize>"), "{text}");
    // Unquoted, as AWS writes this one ETag.
    let etag = c.head_object().bucket(&b).key("k").send().await.unwrap().e_tag().unwrap().trim_matches('"').to_owned();
    assert!(text.contains(&format!("<ETag>{etag}</ETag>")), "{text}");
    assert!(text.contains("<StorageClass>STANDARD</StorageClass>"), "{text}");
}

/// Keys with C1 control characters are not parsed, as on AWS: 400 InvalidURI, nothing stored.
pub async fn keys_with_c1_controls_are_refused(h: &Harness) {
    let b = h.bucket("c1").await;
    for method in ["PUT", "GET", "HEAD", "DELETE"] {
        let req = h.signer().sign(RawRequest::new(method, &format!("/{b}/%C2%AE%C2%8A-")), None, now());
        let resp = h.raw(req).await;
        assert_eq!(resp.status, 400, "{method}: {}", resp.text());
    }
    assert!(h.keys(&b).await.is_empty());
    // The same characters outside C1 are fine.
    h.put(&b, "\u{ae}-", "x").await;
    assert_eq!(h.get(&b, "\u{ae}-").await, b"x");
}

/// A SigV4 request may be dated by its signed `Date` header alone (no `x-amz-date`); its time
/// is checked as usual, and a `Date` that is not signed dates nothing.
pub async fn sigv4_dated_by_the_date_header(h: &Harness) {
    let b = h.bucket("dated").await;
    let signer = h.signer();
    let put = RawRequest::new("PUT", &format!("/{b}/k")).body("dated");
    let resp = h.raw(signer.sign_dated(put, now())).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(h.get(&b, "k").await, b"dated");
    // Too old: refused as any stale SigV4 request.
    let old = RawRequest::new("PUT", &format!("/{b}/old")).body("x");
    h.raw(signer.sign_dated(old, now() - time::Duration::hours(1))).await.assert_error(403, "RequestTimeTooSkewed");
    assert!(!h.exists(&b, "old").await);
    // A Date the signature does not cover dates nothing: with x-amz-date (signed) taken away,
    // the request has no time s3s could check, and is refused.
    let mut unsigned = signer.sign(RawRequest::new("PUT", &format!("/{b}/unsigned")).body("x"), None, now());
    unsigned.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("x-amz-date"));
    unsigned.headers.push(("date".into(), httpdate::fmt_http_date(std::time::SystemTime::now())));
    let resp = h.raw(unsigned).await;
    assert!((400..500).contains(&resp.status), "{}", resp.text());
    assert!(!h.exists(&b, "unsigned").await);
}

/// What the suite's header cases mean to send (its botocore hooks do not reach the wire, see
/// docs/s3-compatibility.md): an empty `Authorization` is no signature (403), and a signed
/// PUT whose body has no length (`Transfer-Encoding: chunked`, not aws-chunked) is refused
/// with 411 MissingContentLength rather than held in memory; nothing is stored.
pub async fn empty_authorization_and_unsized_bodies(h: &Harness) {
    let b = h.bucket("hdr").await;
    let empty = RawRequest::new("PUT", &format!("/{b}/k")).header("authorization", "").body("bar");
    let resp = h.raw(empty).await;
    assert_eq!(resp.status, 403, "{}", resp.text());
    let mut chunked = h.signer().sign(RawRequest::new("PUT", &format!("/{b}/k")).body("bar"), None, now());
    chunked.chunked = true;
    h.raw(chunked).await.assert_error(411, "MissingContentLength");
    assert!(!h.exists(&b, "k").await);
}

/// GetObjectTorrent: a bencoded metainfo whose pieces are the SHA-1 of each 256 KiB of the
/// object; refused to whoever may not read the object.
pub async fn object_torrents(h: &Harness) {
    use sha1::Digest as _;
    let b = h.bucket("torrent").await;
    let data = crate::harness::pattern(600 * 1024, 7);
    h.put(&b, "dir/movie.mpg", data.clone()).await;
    let out = h.client.get_object_torrent().bucket(&b).key("dir/movie.mpg").send().await.unwrap();
    let torrent = out.body.collect().await.unwrap().into_bytes().to_vec();
    let mut pieces = Vec::new();
    for piece in data.chunks(256 * 1024) {
        pieces.extend_from_slice(&sha1::Sha1::digest(piece));
    }
    let mut want = format!(
        "d10:created by10:cloudstore4:infod6:lengthi{}e4:name9:movie.mpg12:piece lengthi262144e6:pieces{}:",
        data.len(),
        pieces.len()
    )
    .into_bytes();
    want.extend_from_slice(&pieces);
    want.extend_from_slice(b"ee");
    assert_eq!(torrent, want);
    // Anonymous callers may not read it, so they get no torrent either.
    let resp = h.raw(RawRequest::new("GET", &format!("/{b}/dir/movie.mpg")).query("torrent", "")).await;
    resp.assert_error(403, "AccessDenied");
    expect_err(h.client.get_object_torrent().bucket(&b).key("missing").send().await, 404, Some("NoSuchKey"));
}
