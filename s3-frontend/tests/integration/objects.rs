//! Object operations: PUT/GET/HEAD, ranges, conditional reads, response overrides, deletes,
//! copies, GetObjectAttributes.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::primitives::{ByteStream, DateTime, DateTimeFormat};
use aws_sdk_s3::types::{Delete, MetadataDirective, ObjectAttributes, ObjectIdentifier, StorageClass};

use crate::harness::{Harness, RawRequest, b64, expect_err, md5_hex, pattern, quoted, random_hex};

const DAY: Duration = Duration::from_secs(24 * 3600);

fn meta(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// `x-amz-copy-source` for `bucket/key`: URL-encoded, slashes kept.
pub fn copy_source(bucket: &str, key: &str) -> String {
    let key: Vec<String> = key.split('/').map(|s| urlencoding::encode(s).into_owned()).collect();
    format!("{bucket}/{}", key.join("/"))
}

pub async fn object_roundtrip_with_metadata(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("objects").await;
    let body = pattern(10_000, 1);
    let expires = DateTime::from_secs(1_900_000_000);
    let put = c
        .put_object()
        .bucket(&b)
        .key("docs/report.txt")
        .body(ByteStream::from(body.clone()))
        .content_type("text/plain; charset=utf-8")
        .content_encoding("gzip")
        .content_disposition("attachment; filename=\"report.txt\"")
        .content_language("en-US")
        .cache_control("max-age=60, private")
        .expires(expires)
        .metadata("color", "blue")
        .metadata("Mixed-Case", "Value With Spaces")
        .send()
        .await
        .unwrap();
    let etag = quoted(&md5_hex(&body));
    assert_eq!(put.e_tag(), Some(etag.as_str()));

    let expected_meta = meta(&[("color", "blue"), ("mixed-case", "Value With Spaces")]);
    let expires_text = expires.fmt(DateTimeFormat::HttpDate).unwrap();

    let get = c.get_object().bucket(&b).key("docs/report.txt").send().await.unwrap();
    assert_eq!(get.content_length(), Some(10_000));
    assert_eq!(get.e_tag(), Some(etag.as_str()));
    assert_eq!(get.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(get.content_encoding(), Some("gzip"), "the client's encoding, without aws-chunked");
    assert_eq!(get.content_disposition(), Some("attachment; filename=\"report.txt\""));
    assert_eq!(get.content_language(), Some("en-US"));
    assert_eq!(get.cache_control(), Some("max-age=60, private"));
    assert_eq!(get.expires_string(), Some(expires_text.as_str()));
    assert_eq!(get.metadata(), Some(&expected_meta));
    assert_eq!(get.accept_ranges(), Some("bytes"));
    let modified = get.last_modified().copied().expect("Last-Modified");
    let age = SystemTime::now().duration_since(SystemTime::try_from(modified).unwrap()).unwrap_or_default();
    assert!(age < DAY, "Last-Modified is now-ish: {modified:?}");
    assert_eq!(get.body.collect().await.unwrap().into_bytes().as_ref(), body.as_slice());

    let head = c.head_object().bucket(&b).key("docs/report.txt").send().await.unwrap();
    assert_eq!(head.content_length(), Some(10_000));
    assert_eq!(head.e_tag(), Some(etag.as_str()));
    assert_eq!(head.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(head.content_encoding(), Some("gzip"));
    assert_eq!(head.content_disposition(), Some("attachment; filename=\"report.txt\""));
    assert_eq!(head.content_language(), Some("en-US"));
    assert_eq!(head.cache_control(), Some("max-age=60, private"));
    assert_eq!(head.expires_string(), Some(expires_text.as_str()));
    assert_eq!(head.metadata(), Some(&expected_meta));
    assert_eq!(head.last_modified(), Some(&modified));

    // No Content-Type given (the SDK always sends one, so raw): S3's default. No metadata:
    // none returned.
    let req = RawRequest::new("PUT", &format!("/{b}/plain")).body("x");
    let resp = h.raw(h.signer().sign(req, None, time::OffsetDateTime::now_utc())).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let head = c.head_object().bucket(&b).key("plain").send().await.unwrap();
    assert_eq!(head.content_type(), Some("binary/octet-stream"));
    assert!(head.metadata().is_none_or(HashMap::is_empty));
    assert!(head.content_encoding().is_none());

    // An empty object.
    let etag = h.put(&b, "empty", Vec::new()).await;
    assert_eq!(etag, quoted("d41d8cd98f00b204e9800998ecf8427e"));
    let get = c.get_object().bucket(&b).key("empty").send().await.unwrap();
    assert_eq!(get.content_length(), Some(0));
    assert!(get.body.collect().await.unwrap().into_bytes().is_empty());

    // Overwriting replaces data and metadata.
    c.put_object()
        .bucket(&b)
        .key("docs/report.txt")
        .body(ByteStream::from_static(b"second version"))
        .metadata("other", "1")
        .send()
        .await
        .unwrap();
    let get = c.get_object().bucket(&b).key("docs/report.txt").send().await.unwrap();
    assert_eq!(get.metadata(), Some(&meta(&[("other", "1")])));
    assert_eq!(get.content_type(), Some("application/octet-stream"), "what the SDK sent");
    assert!(get.content_encoding().is_none());
    assert!(get.cache_control().is_none());
    assert_eq!(get.body.collect().await.unwrap().into_bytes().as_ref(), b"second version");

    // Missing key vs missing bucket.
    expect_err(c.get_object().bucket(&b).key("nope").send().await, 404, Some("NoSuchKey"));
    expect_err(c.head_object().bucket(&b).key("nope").send().await, 404, None);
    let missing = format!("missing-{}", random_hex(8));
    expect_err(c.get_object().bucket(&missing).key("k").send().await, 404, Some("NoSuchBucket"));
    expect_err(
        c.put_object().bucket(&missing).key("k").body(ByteStream::from_static(b"x")).send().await,
        404,
        Some("NoSuchBucket"),
    );
}

pub async fn ranged_reads(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("ranges").await;
    let body = pattern(1000, 2);
    h.put(&b, "r", body.clone()).await;
    let cases: [(&str, std::ops::Range<usize>); 5] = [
        ("bytes=10-19", 10..20),
        ("bytes=-100", 900..1000),
        ("bytes=900-", 900..1000),
        ("bytes=0-0", 0..1),
        // A last byte past the end is cut at the end.
        ("bytes=995-5000", 995..1000),
    ];
    for (range, want) in cases {
        let out = c.get_object().bucket(&b).key("r").range(range).send().await.unwrap();
        assert_eq!(out.content_length(), Some(i64::try_from(want.len()).unwrap()), "{range}");
        assert_eq!(
            out.content_range(),
            Some(format!("bytes {}-{}/1000", want.start, want.end - 1).as_str()),
            "{range}"
        );
        assert_eq!(out.e_tag(), Some(quoted(&md5_hex(&body)).as_str()));
        assert_eq!(out.body.collect().await.unwrap().into_bytes().as_ref(), &body[want.clone()], "{range}");
        let head = c.head_object().bucket(&b).key("r").range(range).send().await.unwrap();
        assert_eq!(head.content_length(), Some(i64::try_from(want.len()).unwrap()), "HEAD {range}");
    }
    for range in ["bytes=1000-", "bytes=1000-1100", "bytes=5000-6000"] {
        expect_err(c.get_object().bucket(&b).key("r").range(range).send().await, 416, Some("InvalidRange"));
    }
    // A range on an empty object is unsatisfiable too.
    h.put(&b, "empty", Vec::new()).await;
    expect_err(c.get_object().bucket(&b).key("empty").range("bytes=0-0").send().await, 416, Some("InvalidRange"));
    // partNumber=1 of a simple object is the whole object.
    let out = c.get_object().bucket(&b).key("r").part_number(1).send().await.unwrap();
    assert_eq!(out.body.collect().await.unwrap().into_bytes().as_ref(), body.as_slice());
    expect_err(c.get_object().bucket(&b).key("r").part_number(2).send().await, 400, Some("InvalidPart"));
}

pub async fn conditional_reads(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("cond-read").await;
    let etag = h.put(&b, "k", "conditional").await;
    let past = DateTime::from(SystemTime::now() - DAY);
    let future = DateTime::from(SystemTime::now() + DAY);
    let get = || c.get_object().bucket(&b).key("k");
    let head = || c.head_object().bucket(&b).key("k");

    get().if_match(&etag).send().await.unwrap();
    get().if_match("*").send().await.unwrap();
    expect_err(get().if_match("\"00000000000000000000000000000000\"").send().await, 412, Some("PreconditionFailed"));
    expect_err(head().if_match("\"00000000000000000000000000000000\"").send().await, 412, None);

    expect_err(get().if_none_match(&etag).send().await, 304, None);
    expect_err(get().if_none_match("*").send().await, 304, None);
    expect_err(head().if_none_match(&etag).send().await, 304, None);
    let out = get().if_none_match("\"00000000000000000000000000000000\"").send().await.unwrap();
    assert_eq!(out.body.collect().await.unwrap().into_bytes().as_ref(), b"conditional");

    get().if_modified_since(past).send().await.unwrap();
    expect_err(get().if_modified_since(future).send().await, 304, None);
    expect_err(head().if_modified_since(future).send().await, 304, None);
    get().if_unmodified_since(future).send().await.unwrap();
    expect_err(get().if_unmodified_since(past).send().await, 412, Some("PreconditionFailed"));
    expect_err(head().if_unmodified_since(past).send().await, 412, None);

    // RFC 9110 precedence, as S3: a matching If-Match overrides a failing
    // If-Unmodified-Since; a non-matching If-None-Match overrides If-Modified-Since.
    get().if_match(&etag).if_unmodified_since(past).send().await.unwrap();
    get().if_none_match("\"00000000000000000000000000000000\"").if_modified_since(future).send().await.unwrap();
    // If-Match failing wins over If-None-Match.
    expect_err(get().if_match("\"0\"").if_none_match(&etag).send().await, 412, Some("PreconditionFailed"));

    // Preconditions on a missing key: the key is missing.
    expect_err(c.get_object().bucket(&b).key("nope").if_match(&etag).send().await, 404, Some("NoSuchKey"));
}

pub async fn response_header_overrides(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("overrides").await;
    c.put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"override me"))
        .content_type("text/plain")
        .cache_control("max-age=1")
        .send()
        .await
        .unwrap();
    let expires = DateTime::from_secs(1_800_000_000);
    let out = c
        .get_object()
        .bucket(&b)
        .key("k")
        .response_content_type("application/x-override")
        .response_content_disposition("attachment; filename=\"o.bin\"")
        .response_content_language("fr-FR")
        .response_cache_control("no-cache")
        .response_content_encoding("identity")
        .response_expires(expires)
        .send()
        .await
        .unwrap();
    assert_eq!(out.content_type(), Some("application/x-override"));
    assert_eq!(out.content_disposition(), Some("attachment; filename=\"o.bin\""));
    assert_eq!(out.content_language(), Some("fr-FR"));
    assert_eq!(out.cache_control(), Some("no-cache"));
    assert_eq!(out.content_encoding(), Some("identity"));
    assert_eq!(out.expires_string(), Some(expires.fmt(DateTimeFormat::HttpDate).unwrap().as_str()));
    assert_eq!(out.body.collect().await.unwrap().into_bytes().as_ref(), b"override me");
    // Overrides change that response only.
    let head = c.head_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(head.content_type(), Some("text/plain"));
    assert_eq!(head.cache_control(), Some("max-age=1"));
}

pub async fn delete_and_delete_objects(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("deletes").await;
    h.put(&b, "single", "x").await;
    c.delete_object().bucket(&b).key("single").send().await.unwrap();
    assert!(!h.exists(&b, "single").await);
    // Deleting what is not there succeeds.
    c.delete_object().bucket(&b).key("single").send().await.unwrap();
    c.delete_object().bucket(&b).key("never-existed").send().await.unwrap();
    let missing = format!("missing-{}", random_hex(8));
    expect_err(c.delete_object().bucket(&missing).key("k").send().await, 404, Some("NoSuchBucket"));

    for k in ["k1", "k2", "k3", "k4", "k5"] {
        h.put(&b, k, k).await;
    }
    let ids = |keys: &[&str], quiet: bool| -> Delete {
        Delete::builder()
            .set_objects(Some(keys.iter().map(|k| ObjectIdentifier::builder().key(*k).build().unwrap()).collect()))
            .quiet(quiet)
            .build()
            .unwrap()
    };
    // Verbose: every key is reported deleted, present or not.
    let out = c.delete_objects().bucket(&b).delete(ids(&["k1", "k2", "nope"], false)).send().await.unwrap();
    let mut deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort_unstable();
    assert_eq!(deleted, vec!["k1", "k2", "nope"]);
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    assert_eq!(h.keys(&b).await, vec!["k3", "k4", "k5"]);

    // Quiet: only errors are reported.
    let out = c.delete_objects().bucket(&b).delete(ids(&["k3", "k4"], true)).send().await.unwrap();
    assert!(out.deleted().is_empty(), "{:?}", out.deleted());
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    assert_eq!(h.keys(&b).await, vec!["k5"]);

    expect_err(c.delete_objects().bucket(&missing).delete(ids(&["k5"], false)).send().await, 404, Some("NoSuchBucket"));
    assert_eq!(h.keys(&b).await, vec!["k5"]);
}

pub async fn copy_object_copy_and_replace(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("copies").await;
    let src_key = "dir/spä ce+plus.txt";
    let body = pattern(3000, 3);
    let src_etag = c
        .put_object()
        .bucket(&b)
        .key(src_key)
        .body(ByteStream::from(body.clone()))
        .content_type("text/csv")
        .cache_control("max-age=5")
        .metadata("origin", "source")
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_owned();
    let source = copy_source(&b, src_key);

    // COPY (the default): data and metadata come from the source.
    let out = c.copy_object().bucket(&b).key("copy").copy_source(&source).send().await.unwrap();
    let result = out.copy_object_result().unwrap();
    assert_eq!(result.e_tag(), Some(src_etag.as_str()));
    assert!(result.last_modified().is_some());
    let get = c.get_object().bucket(&b).key("copy").send().await.unwrap();
    assert_eq!(get.content_type(), Some("text/csv"));
    assert_eq!(get.cache_control(), Some("max-age=5"));
    assert_eq!(get.metadata(), Some(&meta(&[("origin", "source")])));
    assert_eq!(get.body.collect().await.unwrap().into_bytes().as_ref(), body.as_slice());
    // Metadata given with COPY is ignored.
    c.copy_object()
        .bucket(&b)
        .key("copy2")
        .copy_source(&source)
        .metadata_directive(MetadataDirective::Copy)
        .metadata("ignored", "yes")
        .send()
        .await
        .unwrap();
    let head = c.head_object().bucket(&b).key("copy2").send().await.unwrap();
    assert_eq!(head.metadata(), Some(&meta(&[("origin", "source")])));

    // REPLACE: metadata and headers from the request.
    c.copy_object()
        .bucket(&b)
        .key("replaced")
        .copy_source(&source)
        .metadata_directive(MetadataDirective::Replace)
        .content_type("application/json")
        .metadata("fresh", "1")
        .send()
        .await
        .unwrap();
    let head = c.head_object().bucket(&b).key("replaced").send().await.unwrap();
    assert_eq!(head.content_type(), Some("application/json"));
    assert_eq!(head.metadata(), Some(&meta(&[("fresh", "1")])));
    assert!(head.cache_control().is_none());
    assert_eq!(head.e_tag(), Some(src_etag.as_str()));

    // Onto itself: only with REPLACE.
    expect_err(c.copy_object().bucket(&b).key(src_key).copy_source(&source).send().await, 400, Some("InvalidRequest"));
    c.copy_object()
        .bucket(&b)
        .key(src_key)
        .copy_source(&source)
        .metadata_directive(MetadataDirective::Replace)
        .metadata("origin", "rewritten")
        .send()
        .await
        .unwrap();
    let get = c.get_object().bucket(&b).key(src_key).send().await.unwrap();
    assert_eq!(get.metadata(), Some(&meta(&[("origin", "rewritten")])));
    assert_eq!(get.body.collect().await.unwrap().into_bytes().as_ref(), body.as_slice());

    // Copy-source conditions: failing ones are 412 and copy nothing.
    let wrong = "\"00000000000000000000000000000000\"";
    expect_err(
        c.copy_object().bucket(&b).key("cond").copy_source(&source).copy_source_if_match(wrong).send().await,
        412,
        Some("PreconditionFailed"),
    );
    expect_err(
        c.copy_object().bucket(&b).key("cond").copy_source(&source).copy_source_if_none_match(&src_etag).send().await,
        412,
        Some("PreconditionFailed"),
    );
    expect_err(
        c.copy_object()
            .bucket(&b)
            .key("cond")
            .copy_source(&source)
            .copy_source_if_unmodified_since(DateTime::from(SystemTime::now() - DAY))
            .send()
            .await,
        412,
        Some("PreconditionFailed"),
    );
    assert!(!h.exists(&b, "cond").await);
    c.copy_object().bucket(&b).key("cond").copy_source(&source).copy_source_if_match(&src_etag).send().await.unwrap();
    assert!(h.exists(&b, "cond").await);

    // A missing source.
    expect_err(
        c.copy_object().bucket(&b).key("from-missing").copy_source(copy_source(&b, "nope")).send().await,
        404,
        Some("NoSuchKey"),
    );
    assert!(!h.exists(&b, "from-missing").await);

    // Across buckets.
    let other = h.bucket("copies-dst").await;
    c.copy_object().bucket(&other).key("x").copy_source(&source).send().await.unwrap();
    assert_eq!(h.get(&other, "x").await, body);
}

pub async fn get_object_attributes(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("attrs").await;
    let body = pattern(4321, 4);
    h.put(&b, "k", body.clone()).await;
    let out = c
        .get_object_attributes()
        .bucket(&b)
        .key("k")
        .object_attributes(ObjectAttributes::Etag)
        .object_attributes(ObjectAttributes::ObjectSize)
        .object_attributes(ObjectAttributes::StorageClass)
        .object_attributes(ObjectAttributes::Checksum)
        .object_attributes(ObjectAttributes::ObjectParts)
        .send()
        .await
        .unwrap();
    // AWS returns this ETag without quotes (unlike GET/HEAD); s3s always quotes ETags in XML.
    // Accept both until that is fixed.
    assert_eq!(out.e_tag().map(|e| e.trim_matches('"')), Some(md5_hex(&body).as_str()));
    assert_eq!(out.object_size(), Some(4321));
    assert_eq!(out.storage_class(), Some(&StorageClass::Standard));
    assert!(out.last_modified().is_some());
    // The SDK's default upload checksum is CRC32.
    let crc = b64(&crc32fast::hash(&body).to_be_bytes());
    assert_eq!(out.checksum().and_then(|c| c.checksum_crc32()), Some(crc.as_str()));
    assert!(out.object_parts().is_none(), "a simple object has no parts");

    // Only what was asked for.
    let out = c
        .get_object_attributes()
        .bucket(&b)
        .key("k")
        .object_attributes(ObjectAttributes::ObjectSize)
        .send()
        .await
        .unwrap();
    assert_eq!(out.object_size(), Some(4321));
    assert!(out.e_tag().is_none());
    assert!(out.checksum().is_none());

    expect_err(
        c.get_object_attributes().bucket(&b).key("nope").object_attributes(ObjectAttributes::Etag).send().await,
        404,
        Some("NoSuchKey"),
    );
}
