//! Object and bucket tags (issue #14 item 4): the tagging operations, tags on PutObject,
//! multipart uploads and CopyObject, AWS's limits, the `x-amz-tagging-count` header, the
//! `s3:ExistingObjectTag/*` and `s3:RequestObjectTag/*` policy conditions, and strangers refused.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Tag, Tagging, TaggingDirective};

use crate::harness::{Harness, RawRequest, expect_err, random_hex, sdk_client};

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().expect("tag")
}

fn tagging(tags: &[(&str, &str)]) -> Tagging {
    Tagging::builder().set_tag_set(Some(tags.iter().map(|(k, v)| tag(k, v)).collect())).build().expect("tagging")
}

fn pairs(tags: &[Tag]) -> Vec<(String, String)> {
    tags.iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()
}

fn owned(tags: &[(&str, &str)]) -> Vec<(String, String)> {
    tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

pub async fn object_tags_roundtrip_and_limits(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("tags").await;
    // On PutObject, sorted by key, a key without `=` has the empty value.
    c.put_object()
        .bucket(&b)
        .key("k")
        .tagging("foo=bar&bar&sp%20ace=a%2Fb")
        .body(ByteStream::from_static(b"data"))
        .send()
        .await
        .expect("put with tags");
    let got = c.get_object_tagging().bucket(&b).key("k").send().await.expect("get tags");
    assert_eq!(pairs(got.tag_set()), owned(&[("bar", ""), ("foo", "bar"), ("sp ace", "a/b")]));
    let head = h
        .raw(h.signer().sign(RawRequest::new("HEAD", &format!("/{b}/k")), None, time::OffsetDateTime::now_utc()))
        .await;
    assert_eq!(head.header("x-amz-tagging-count"), Some("3"));
    let get = c.get_object().bucket(&b).key("k").send().await.expect("get");
    assert_eq!(get.tag_count(), Some(3));
    let etag = get.e_tag().map(str::to_owned);
    let modified = get.last_modified().copied();

    // PutObjectTagging replaces the set in place: data, ETag and time stay.
    c.put_object_tagging().bucket(&b).key("k").tagging(tagging(&[("team", "blue")])).send().await.expect("put tags");
    let got = c.get_object_tagging().bucket(&b).key("k").send().await.expect("get tags");
    assert_eq!(pairs(got.tag_set()), owned(&[("team", "blue")]));
    let get = c.get_object().bucket(&b).key("k").send().await.expect("get");
    assert_eq!((get.e_tag().map(str::to_owned), get.last_modified().copied()), (etag, modified));
    assert_eq!(get.body.collect().await.expect("body").into_bytes().as_ref(), b"data");

    // Ten tags of the longest keys and values are fine; an eleventh, a longer key or value,
    // a key twice or an `aws:` key is InvalidTag, and nothing changes.
    let keys: Vec<String> = (0..10).map(|i| format!("{i}{}", "k".repeat(127))).collect();
    let value = "v".repeat(256);
    let ten: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), value.as_str())).collect();
    c.put_object_tagging().bucket(&b).key("k").tagging(tagging(&ten)).send().await.expect("ten tags");
    let mut eleven = ten.clone();
    eleven.push(("eleventh", "x"));
    let long_key = "k".repeat(129);
    let long_value = "v".repeat(257);
    for bad in [
        eleven,
        vec![(long_key.as_str(), "v")],
        vec![("k", long_value.as_str())],
        vec![("same", "1"), ("same", "2")],
        vec![("aws:reserved", "1")],
    ] {
        expect_err(
            c.put_object_tagging().bucket(&b).key("k").tagging(tagging(&bad)).send().await,
            400,
            Some("InvalidTag"),
        );
    }
    expect_err(
        c.put_object().bucket(&b).key("bad").tagging("a=1&a=2").body(ByteStream::from_static(b"x")).send().await,
        400,
        Some("InvalidTag"),
    );
    assert!(!h.exists(&b, "bad").await, "a refused PUT stores nothing");
    let got = c.get_object_tagging().bucket(&b).key("k").send().await.expect("get tags");
    assert_eq!(got.tag_set().len(), 10);

    // Delete: 204, no tags, no count header.
    c.delete_object_tagging().bucket(&b).key("k").send().await.expect("delete tags");
    assert!(c.get_object_tagging().bucket(&b).key("k").send().await.expect("get").tag_set().is_empty());
    let head = h
        .raw(h.signer().sign(RawRequest::new("HEAD", &format!("/{b}/k")), None, time::OffsetDateTime::now_utc()))
        .await;
    assert_eq!(head.header("x-amz-tagging-count"), None);

    // A new PUT replaces the tags with its own (none).
    c.put_object_tagging().bucket(&b).key("k").tagging(tagging(&[("a", "1")])).send().await.expect("tags");
    c.put_object().bucket(&b).key("k").body(ByteStream::from_static(b"new")).send().await.expect("overwrite");
    assert!(c.get_object_tagging().bucket(&b).key("k").send().await.expect("get").tag_set().is_empty());

    // Missing keys and versions.
    expect_err(c.get_object_tagging().bucket(&b).key("nokey").send().await, 404, Some("NoSuchKey"));
    expect_err(
        c.put_object_tagging().bucket(&b).key("nokey").tagging(tagging(&[("a", "1")])).send().await,
        404,
        Some("NoSuchKey"),
    );
    c.get_object_tagging().bucket(&b).key("k").version_id("null").send().await.expect("the null version");
    expect_err(c.get_object_tagging().bucket(&b).key("k").version_id("v2").send().await, 400, Some("InvalidArgument"));
    expect_err(c.get_object_tagging().bucket("no-such-bucket-tags").key("k").send().await, 404, Some("NoSuchBucket"));
}

pub async fn tags_through_multipart_and_copy(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("tagmp").await;
    let up =
        c.create_multipart_upload().bucket(&b).key("mp").tagging("Hello=World&foo=bar").send().await.expect("create");
    let id = up.upload_id().expect("id");
    let part = c
        .upload_part()
        .bucket(&b)
        .key("mp")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from_static(b"one part"))
        .send()
        .await
        .expect("part");
    c.complete_multipart_upload()
        .bucket(&b)
        .key("mp")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).e_tag(part.e_tag().expect("etag")).build())
                .build(),
        )
        .send()
        .await
        .expect("complete");
    let got = c.get_object_tagging().bucket(&b).key("mp").send().await.expect("tags");
    assert_eq!(pairs(got.tag_set()), owned(&[("Hello", "World"), ("foo", "bar")]));
    expect_err(
        c.create_multipart_upload().bucket(&b).key("bad").tagging(format!("{}=v", "k".repeat(129))).send().await,
        400,
        Some("InvalidTag"),
    );

    // CopyObject: the source's tags by default (COPY), the request's with REPLACE.
    c.copy_object().bucket(&b).key("copy").copy_source(format!("{b}/mp")).send().await.expect("copy");
    let got = c.get_object_tagging().bucket(&b).key("copy").send().await.expect("tags");
    assert_eq!(pairs(got.tag_set()), owned(&[("Hello", "World"), ("foo", "bar")]));
    c.copy_object()
        .bucket(&b)
        .key("replaced")
        .copy_source(format!("{b}/mp"))
        .tagging_directive(TaggingDirective::Replace)
        .tagging("new=1")
        .send()
        .await
        .expect("copy with REPLACE");
    let got = c.get_object_tagging().bucket(&b).key("replaced").send().await.expect("tags");
    assert_eq!(pairs(got.tag_set()), owned(&[("new", "1")]));
    c.copy_object()
        .bucket(&b)
        .key("none")
        .copy_source(format!("{b}/mp"))
        .tagging_directive(TaggingDirective::Replace)
        .send()
        .await
        .expect("copy with REPLACE and no tags");
    assert!(c.get_object_tagging().bucket(&b).key("none").send().await.expect("tags").tag_set().is_empty());
}

pub async fn bucket_tags(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("btags").await;
    expect_err(c.get_bucket_tagging().bucket(&b).send().await, 404, Some("NoSuchTagSet"));
    c.put_bucket_tagging()
        .bucket(&b)
        .tagging(tagging(&[("Hello", "World"), ("cost", "42")]))
        .send()
        .await
        .expect("put");
    let got = c.get_bucket_tagging().bucket(&b).send().await.expect("get");
    assert_eq!(pairs(got.tag_set()), owned(&[("Hello", "World"), ("cost", "42")]));
    // Fifty tags are fine on a bucket, fifty-one are not.
    let keys: Vec<String> = (0..51).map(|i| format!("k{i}")).collect();
    let fifty: Vec<(&str, &str)> = keys[..50].iter().map(|k| (k.as_str(), "v")).collect();
    c.put_bucket_tagging().bucket(&b).tagging(tagging(&fifty)).send().await.expect("fifty");
    let fifty_one: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "v")).collect();
    expect_err(c.put_bucket_tagging().bucket(&b).tagging(tagging(&fifty_one)).send().await, 400, Some("InvalidTag"));
    assert_eq!(c.get_bucket_tagging().bucket(&b).send().await.expect("get").tag_set().len(), 50);
    c.delete_bucket_tagging().bucket(&b).send().await.expect("delete");
    expect_err(c.get_bucket_tagging().bucket(&b).send().await, 404, Some("NoSuchTagSet"));
    expect_err(c.get_bucket_tagging().bucket("no-such-bucket-btags").send().await, 404, Some("NoSuchBucket"));
}

pub async fn tagging_refuses_strangers(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("tagsx").await;
    c.put_object()
        .bucket(&b)
        .key("k")
        .tagging("secret=1")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("put");
    c.put_bucket_tagging().bucket(&b).tagging(tagging(&[("owner", "me")])).send().await.expect("bucket tags");
    let (_, key) = h
        .iam
        .admin_create_account(&format!("tags-other-{}", random_hex(6)), None, None, &Default::default())
        .await
        .expect("other account");
    let other = sdk_client(h.addr, &key.access_key_id, &key.secret.0);
    expect_err(other.get_object_tagging().bucket(&b).key("k").send().await, 403, Some("AccessDenied"));
    expect_err(
        other.put_object_tagging().bucket(&b).key("k").tagging(tagging(&[("x", "y")])).send().await,
        403,
        Some("AccessDenied"),
    );
    expect_err(other.delete_object_tagging().bucket(&b).key("k").send().await, 403, Some("AccessDenied"));
    expect_err(other.get_bucket_tagging().bucket(&b).send().await, 403, Some("AccessDenied"));
    expect_err(
        other.put_bucket_tagging().bucket(&b).tagging(tagging(&[("x", "y")])).send().await,
        403,
        Some("AccessDenied"),
    );
    expect_err(other.delete_bucket_tagging().bucket(&b).send().await, 403, Some("AccessDenied"));
    let anonymous = h.raw(RawRequest::new("GET", &format!("/{b}/k")).query("tagging", "")).await;
    anonymous.assert_error(403, "AccessDenied");
    // Nothing changed.
    let got = c.get_object_tagging().bucket(&b).key("k").send().await.expect("tags");
    assert_eq!(pairs(got.tag_set()), owned(&[("secret", "1")]));
    assert_eq!(c.get_bucket_tagging().bucket(&b).send().await.expect("get").tag_set().len(), 1);
}

pub async fn tag_policy_conditions(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("tagpol").await;
    for (k, t) in [("public", "security=public"), ("private", "security=private"), ("untagged", "")] {
        c.put_object().bucket(&b).key(k).tagging(t).body(ByteStream::from_static(b"x")).send().await.expect("put");
    }
    let (account, key) = h
        .iam
        .admin_create_account(&format!("tags-pol-{}", random_hex(6)), None, None, &Default::default())
        .await
        .expect("other account");
    let other = sdk_client(h.addr, &key.access_key_id, &key.secret.0);
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{}:root", account.account_id)},
             "Action": ["s3:GetObject", "s3:PutObjectTagging"], "Resource": format!("arn:aws:s3:::{b}/*"),
             "Condition": {"StringEquals": {"s3:ExistingObjectTag/security": "public"}}},
            {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{}:root", account.account_id)},
             "Action": "s3:PutObject", "Resource": format!("arn:aws:s3:::{b}/uploads/*"),
             "Condition": {"StringEquals": {"s3:RequestObjectTag/class": "upload"}}}
        ]
    });
    c.put_bucket_policy().bucket(&b).policy(policy.to_string()).send().await.expect("policy");

    // ExistingObjectTag: reads of the public object only.
    other.get_object().bucket(&b).key("public").send().await.expect("the public-tagged object");
    expect_err(other.get_object().bucket(&b).key("private").send().await, 403, Some("AccessDenied"));
    expect_err(other.get_object().bucket(&b).key("untagged").send().await, 403, Some("AccessDenied"));
    // Retagging is allowed while the object carries the tag, and not after.
    other
        .put_object_tagging()
        .bucket(&b)
        .key("public")
        .tagging(tagging(&[("security", "private")]))
        .send()
        .await
        .expect("retag the public object");
    expect_err(other.get_object().bucket(&b).key("public").send().await, 403, Some("AccessDenied"));
    expect_err(
        other.put_object_tagging().bucket(&b).key("public").tagging(tagging(&[("security", "public")])).send().await,
        403,
        Some("AccessDenied"),
    );

    // RequestObjectTag: uploads only with the tag.
    expect_err(
        other.put_object().bucket(&b).key("uploads/a").body(ByteStream::from_static(b"x")).send().await,
        403,
        Some("AccessDenied"),
    );
    expect_err(
        other
            .put_object()
            .bucket(&b)
            .key("uploads/a")
            .tagging("class=other")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    other
        .put_object()
        .bucket(&b)
        .key("uploads/a")
        .tagging("class=upload")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("an upload with the tag");
    assert!(h.exists(&b, "uploads/a").await);
    assert!(!h.exists(&b, "private2").await);
}
