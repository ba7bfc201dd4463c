//! Lifecycle rules (issue #14 item 3): the configuration as AWS checks and answers it, the
//! `x-amz-expiration` header, the pass that expires objects and aborts old uploads (run with a
//! clock moved ahead), and strangers refused.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleAndOperator, LifecycleRuleFilter, Tag,
};

use crate::harness::{Harness, RawRequest, expect_err, random_hex, sdk_client};

fn days_rule(id: &str, prefix: &str, days: i32) -> LifecycleRule {
    LifecycleRule::builder()
        .id(id)
        .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
        .expiration(LifecycleExpiration::builder().days(days).build())
        .status(ExpirationStatus::Enabled)
        .build()
        .expect("rule")
}

fn config(rules: Vec<LifecycleRule>) -> BucketLifecycleConfiguration {
    BucketLifecycleConfiguration::builder().set_rules(Some(rules)).build().expect("config")
}

pub async fn lifecycle_configuration(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("lc").await;
    expect_err(
        c.get_bucket_lifecycle_configuration().bucket(&b).send().await,
        404,
        Some("NoSuchLifecycleConfiguration"),
    );
    let tagged = LifecycleRule::builder()
        .filter(
            LifecycleRuleFilter::builder()
                .and(
                    LifecycleRuleAndOperator::builder()
                        .prefix("tmp/")
                        .tags(Tag::builder().key("class").value("scratch").build().expect("tag"))
                        .object_size_greater_than(10)
                        .build(),
                )
                .build(),
        )
        .expiration(LifecycleExpiration::builder().days(3).build())
        .status(ExpirationStatus::Disabled)
        .build()
        .expect("rule");
    c.put_bucket_lifecycle_configuration()
        .bucket(&b)
        .lifecycle_configuration(config(vec![days_rule("logs", "logs/", 1), tagged]))
        .send()
        .await
        .expect("put");
    let got = c.get_bucket_lifecycle_configuration().bucket(&b).send().await.expect("get");
    let rules = got.rules();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].id(), Some("logs"));
    assert_eq!(rules[0].expiration().and_then(|e| e.days()), Some(1));
    assert_eq!(rules[0].filter().and_then(|f| f.prefix()), Some("logs/"));
    assert!(rules[1].id().is_some_and(|id| !id.is_empty()), "a rule without an id gets one");
    assert_eq!(rules[1].status(), &ExpirationStatus::Disabled);
    let and = rules[1].filter().and_then(|f| f.and()).expect("the And filter");
    assert_eq!((and.prefix(), and.object_size_greater_than(), and.tags().len()), (Some("tmp/"), Some(10), 1));

    // AWS's checks: each refusal keeps what was there.
    let long = "a".repeat(256);
    for (bad, code) in [
        (vec![days_rule(&long, "x/", 1)], "InvalidArgument"),
        (vec![days_rule("same", "a/", 1), days_rule("same", "b/", 2)], "InvalidArgument"),
        (vec![days_rule("zero", "a/", 0)], "InvalidArgument"),
    ] {
        expect_err(
            c.put_bucket_lifecycle_configuration().bucket(&b).lifecycle_configuration(config(bad)).send().await,
            400,
            Some(code),
        );
    }
    let bad_status = "<LifecycleConfiguration><Rule><ID>r</ID><Prefix>x/</Prefix><Status>enabled</Status>\
        <Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>";
    let not_midnight = "<LifecycleConfiguration><Rule><ID>r</ID><Prefix>x/</Prefix><Status>Enabled</Status>\
        <Expiration><Date>2030-01-01T10:00:00Z</Date></Expiration></Rule></LifecycleConfiguration>";
    for (body, code) in [(bad_status, "MalformedXML"), (not_midnight, "InvalidArgument")] {
        let req = RawRequest::new("PUT", &format!("/{b}")).query("lifecycle", "").body(body.as_bytes().to_vec());
        let md5 = crate::harness::md5_b64(body.as_bytes());
        let req = req.header("content-md5", &md5);
        h.raw(h.signer().sign(req, None, time::OffsetDateTime::now_utc())).await.assert_error(400, code);
    }
    assert_eq!(c.get_bucket_lifecycle_configuration().bucket(&b).send().await.expect("get").rules().len(), 2);

    // The expiration header on PUT, HEAD and GET of a selected object, not of others.
    let put = c.put_object().bucket(&b).key("logs/a").body(ByteStream::from_static(b"x")).send().await.expect("put");
    let header = put.expiration().expect("x-amz-expiration on PUT");
    assert!(header.starts_with("expiry-date=\"") && header.ends_with("\", rule-id=\"logs\""), "{header}");
    let head = c.head_object().bucket(&b).key("logs/a").send().await.expect("head");
    assert_eq!(head.expiration(), Some(header));
    let get = c.get_object().bucket(&b).key("logs/a").send().await.expect("get");
    assert_eq!(get.expiration(), Some(header));
    let other = c.put_object().bucket(&b).key("keep/a").body(ByteStream::from_static(b"x")).send().await.expect("put");
    assert_eq!(other.expiration(), None);

    c.delete_bucket_lifecycle().bucket(&b).send().await.expect("delete");
    expect_err(
        c.get_bucket_lifecycle_configuration().bucket(&b).send().await,
        404,
        Some("NoSuchLifecycleConfiguration"),
    );

    // Strangers neither read nor change it.
    let (_, key) = h
        .iam
        .admin_create_account(&format!("lc-other-{}", random_hex(6)), None, None, &Default::default())
        .await
        .expect("other account");
    let stranger = sdk_client(h.addr, &key.access_key_id, &key.secret.0);
    c.put_bucket_lifecycle_configuration()
        .bucket(&b)
        .lifecycle_configuration(config(vec![days_rule("logs", "logs/", 1)]))
        .send()
        .await
        .expect("put");
    expect_err(stranger.get_bucket_lifecycle_configuration().bucket(&b).send().await, 403, Some("AccessDenied"));
    expect_err(
        stranger
            .put_bucket_lifecycle_configuration()
            .bucket(&b)
            .lifecycle_configuration(config(vec![days_rule("all", "", 1)]))
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    expect_err(stranger.delete_bucket_lifecycle().bucket(&b).send().await, 403, Some("AccessDenied"));
    assert_eq!(c.get_bucket_lifecycle_configuration().bucket(&b).send().await.expect("get").rules().len(), 1);
}

pub async fn lifecycle_pass_expires_and_aborts(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("lcpass").await;
    for key in ["logs/old", "logs/big", "keep/old", "tmp/tagged", "tmp/plain"] {
        let body: &'static [u8] = if key == "logs/big" { b"a bigger body" } else { b"x" };
        let mut put = c.put_object().bucket(&b).key(key).body(ByteStream::from_static(body));
        if key == "tmp/tagged" {
            put = put.tagging("class=scratch");
        }
        put.send().await.expect("put");
    }
    let upload = c.create_multipart_upload().bucket(&b).key("logs/unfinished").send().await.expect("upload");
    let small = LifecycleRule::builder()
        .id("small-logs")
        .filter(
            LifecycleRuleFilter::builder()
                .and(LifecycleRuleAndOperator::builder().prefix("logs/").object_size_less_than(5).build())
                .build(),
        )
        .expiration(LifecycleExpiration::builder().days(1).build())
        .abort_incomplete_multipart_upload(AbortIncompleteMultipartUpload::builder().days_after_initiation(2).build())
        .status(ExpirationStatus::Enabled)
        .build()
        .expect("rule");
    let scratch = LifecycleRule::builder()
        .id("scratch")
        .filter(
            LifecycleRuleFilter::builder()
                .tag(Tag::builder().key("class").value("scratch").build().expect("tag"))
                .build(),
        )
        .expiration(LifecycleExpiration::builder().days(1).build())
        .status(ExpirationStatus::Enabled)
        .build()
        .expect("rule");
    c.put_bucket_lifecycle_configuration()
        .bucket(&b)
        .lifecycle_configuration(config(vec![small, scratch]))
        .send()
        .await
        .expect("put rules");
    let gateway = h.gateway();
    let now = time::OffsetDateTime::now_utc();
    // Nothing is due yet.
    let done = gateway.lifecycle_pass(now).await.expect("pass");
    assert_eq!((done.expired, done.aborted), (0, 0));
    // Two days on: the small log and the tagged scratch file expire, the upload is not old
    // enough (2 days after initiation: exactly now + 2 days is due, so look just before).
    let done = gateway.lifecycle_pass(now + time::Duration::days(2) - time::Duration::minutes(1)).await.expect("pass");
    assert_eq!(done.expired, 2, "{done:?}");
    assert_eq!(done.aborted, 0, "{done:?}");
    assert!(!h.exists(&b, "logs/old").await);
    assert!(!h.exists(&b, "tmp/tagged").await);
    for kept in ["logs/big", "keep/old", "tmp/plain"] {
        assert!(h.exists(&b, kept).await, "{kept} is kept");
    }
    let done = gateway.lifecycle_pass(now + time::Duration::days(3)).await.expect("pass");
    assert_eq!((done.expired, done.aborted), (0, 1), "{done:?}");
    expect_err(
        c.list_parts().bucket(&b).key("logs/unfinished").upload_id(upload.upload_id().expect("id")).send().await,
        404,
        Some("NoSuchUpload"),
    );
    // A rewritten object starts its days again: not expired by a pass that would have taken
    // the old one.
    c.put_object()
        .bucket(&b)
        .key("tmp/tagged")
        .tagging("class=scratch")
        .body(ByteStream::from_static(b"new"))
        .send()
        .await
        .expect("put again");
    let done = gateway.lifecycle_pass(time::OffsetDateTime::now_utc()).await.expect("pass");
    assert_eq!(done.expired, 0);
    assert!(h.exists(&b, "tmp/tagged").await);
}

/// `(key, version id)` of every version and delete marker of `b`, sorted.
async fn all_versions(h: &Harness, b: &str) -> Vec<(String, String)> {
    let out = h.client.list_object_versions().bucket(b).send().await.expect("list versions");
    let mut all: Vec<(String, String)> = out
        .versions()
        .iter()
        .map(|v| (v.key().unwrap_or_default().to_owned(), v.version_id().unwrap_or_default().to_owned()))
        .chain(
            out.delete_markers()
                .iter()
                .map(|m| (m.key().unwrap_or_default().to_owned(), m.version_id().unwrap_or_default().to_owned())),
        )
        .collect();
    all.sort();
    all
}

/// Puts a version of `key` (tagged when `tags` is given) and answers its version id.
async fn put_version(h: &Harness, b: &str, key: &str, body: &'static [u8], tags: Option<&str>) -> String {
    let put = h
        .client
        .put_object()
        .bucket(b)
        .key(key)
        .body(ByteStream::from_static(body))
        .set_tagging(tags.map(str::to_owned));
    put.send().await.expect("put").version_id().expect("a version id").to_owned()
}

/// DeleteObject without a version: answers the delete marker's version id.
async fn delete_marker(h: &Harness, b: &str, key: &str) -> String {
    let out = h.client.delete_object().bucket(b).key(key).send().await.expect("delete");
    assert_eq!(out.delete_marker(), Some(true));
    out.version_id().expect("the marker's version id").to_owned()
}

pub async fn lifecycle_pass_expires_noncurrent_versions_and_markers(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("lcver").await;
    c.put_bucket_versioning()
        .bucket(&b)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("enable versioning");
    let mut a = Vec::new();
    for body in [b"a1", b"a2", b"a3", b"a4"] {
        a.push(put_version(h, &b, "logs/a", body, None).await);
    }
    let big: Vec<String> = vec![
        put_version(h, &b, "logs/big", b"a bigger body", None).await,
        put_version(h, &b, "logs/big", b"a bigger body 2", None).await,
    ];
    let keep = [put_version(h, &b, "keep/b", b"b1", None).await, put_version(h, &b, "keep/b", b"b2", None).await];
    let gone_v = put_version(h, &b, "logs/gone", b"g1", None).await;
    let gone_m = delete_marker(h, &b, "logs/gone").await;
    let alone = delete_marker(h, &b, "logs/m").await;
    let t1 = put_version(h, &b, "tagged/t", b"t1", Some("class=scratch")).await;
    let t2 = put_version(h, &b, "tagged/t", b"t2", None).await;
    let u = [put_version(h, &b, "tagged/u", b"u1", None).await, put_version(h, &b, "tagged/u", b"u2", None).await];
    let x1 = put_version(h, &b, "exp/x", b"x1", None).await;
    let y = delete_marker(h, &b, "exp/y").await;
    let before = all_versions(h, &b).await;
    assert_eq!(before.len(), 17, "{before:?}");

    let noncurrent = LifecycleRule::builder()
        .id("noncurrent")
        .filter(
            LifecycleRuleFilter::builder()
                .and(LifecycleRuleAndOperator::builder().prefix("logs/").object_size_less_than(5).build())
                .build(),
        )
        .noncurrent_version_expiration(
            aws_sdk_s3::types::NoncurrentVersionExpiration::builder()
                .noncurrent_days(1)
                .newer_noncurrent_versions(1)
                .build(),
        )
        .expiration(LifecycleExpiration::builder().expired_object_delete_marker(true).build())
        .status(ExpirationStatus::Enabled)
        .build()
        .expect("rule");
    let tagged = LifecycleRule::builder()
        .id("tagged")
        .filter(
            LifecycleRuleFilter::builder()
                .tag(Tag::builder().key("class").value("scratch").build().expect("tag"))
                .build(),
        )
        .noncurrent_version_expiration(
            aws_sdk_s3::types::NoncurrentVersionExpiration::builder().noncurrent_days(2).build(),
        )
        .status(ExpirationStatus::Enabled)
        .build()
        .expect("rule");
    c.put_bucket_lifecycle_configuration()
        .bucket(&b)
        .lifecycle_configuration(config(vec![noncurrent, tagged, days_rule("days", "exp/", 1)]))
        .send()
        .await
        .expect("put rules");
    let got = c.get_bucket_lifecycle_configuration().bucket(&b).send().await.expect("get");
    let n = got.rules()[0].noncurrent_version_expiration().expect("answered");
    assert_eq!((n.noncurrent_days(), n.newer_noncurrent_versions()), (Some(1), Some(1)));

    let gateway = h.gateway_with_events();
    let now = time::OffsetDateTime::now_utc();
    // Now: only the marker left alone goes (ExpiredObjectDeleteMarker does not wait).
    let done = gateway.lifecycle_pass(now).await.expect("pass");
    assert_eq!(done.expired, 1, "{done:?}");
    let mut want = before.clone();
    want.retain(|v| v.1 != alone);
    assert_eq!(all_versions(h, &b).await, want);

    // Just short of a day and its midnight: nothing is noncurrent for long enough.
    let done = gateway.lifecycle_pass(now + time::Duration::days(1) - time::Duration::minutes(1)).await.expect("pass");
    assert_eq!(done.expired, 0, "{done:?}");

    // Two days on: logs/a keeps its newest noncurrent version (a3) and loses a1 and a2; the
    // big versions, keep/b, the tagged rule's two days and the marker with a version behind it
    // are not due; exp/x expires (a marker is added, x1 stays) and exp/y's lone marker goes.
    let done = gateway.lifecycle_pass(now + time::Duration::days(2)).await.expect("pass");
    assert_eq!(done.expired, 4, "{done:?}");
    want.retain(|v| v.1 != a[0] && v.1 != a[1] && v.1 != y);
    let after = all_versions(h, &b).await;
    let x_marker: Vec<&(String, String)> = after.iter().filter(|v| v.0 == "exp/x" && v.1 != x1).collect();
    assert_eq!(x_marker.len(), 1, "expiry in a versioned bucket adds a marker: {after:?}");
    let mut want_x = want.clone();
    want_x.push(x_marker[0].clone());
    want_x.sort();
    assert_eq!(after, want_x);
    assert_eq!(h.get(&b, "logs/a").await, b"a4");
    assert!(!h.exists(&b, "exp/x").await);

    // Three days on: the tagged noncurrent version goes; the untagged one of tagged/u stays.
    let done = gateway.lifecycle_pass(now + time::Duration::days(3)).await.expect("pass");
    assert_eq!(done.expired, 1, "{done:?}");
    want_x.retain(|v| v.1 != t1);
    assert_eq!(all_versions(h, &b).await, want_x);
    for id in [&a[2], &a[3], &big[0], &big[1], &keep[0], &keep[1], &gone_v, &gone_m, &t2, &u[0], &u[1], &x1] {
        assert!(want_x.iter().any(|v| &v.1 == id), "{id} is kept");
    }

    // Each removal is a file_deleted event by the lifecycle, with its rule and version.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let mut removed: Vec<(String, String, String)> = h
        .meta
        .outbox_rows(100_000)
        .await
        .expect("outbox rows")
        .iter()
        .map(|r| cloudstore_events::decode(r.body.as_bytes()).expect("event"))
        .filter(|e| {
            e.bucket.as_deref() == Some(b.as_str()) && e.principal_arn.as_deref() == Some("cloudstore:lifecycle")
        })
        .filter(|e| e.event_type.as_str() == "file_deleted")
        .map(|e| {
            (
                e.detail.get("lifecycle_rule").cloned().unwrap_or_default(),
                e.object_key.unwrap_or_default(),
                e.version_id.unwrap_or_default(),
            )
        })
        .collect();
    removed.sort();
    let mut expected = vec![
        ("noncurrent".to_owned(), "logs/m".to_owned(), alone.clone()),
        ("noncurrent".to_owned(), "logs/a".to_owned(), a[0].clone()),
        ("noncurrent".to_owned(), "logs/a".to_owned(), a[1].clone()),
        ("days".to_owned(), "exp/y".to_owned(), y.clone()),
        ("days".to_owned(), "exp/x".to_owned(), x_marker[0].1.clone()),
        ("tagged".to_owned(), "tagged/t".to_owned(), t1.clone()),
    ];
    expected.sort();
    assert_eq!(removed, expected);
}
