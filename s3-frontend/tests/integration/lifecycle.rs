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
