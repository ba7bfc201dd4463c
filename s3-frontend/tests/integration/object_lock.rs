//! Object lock (issue #14 item 2, ADR 0018): buckets created with lock, the configuration and
//! its checks, retention and legal hold, GOVERNANCE bypass allowed and refused, COMPLIANCE that
//! nobody shortens (the platform admin, the harness's root, included), deletes by version
//! refused (DeleteObject and DeleteObjects per key), a lifecycle pass that cannot remove a
//! locked version, and strangers refused.

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, DefaultRetention, Delete, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration, ObjectIdentifier,
    ObjectLockConfiguration, ObjectLockEnabled, ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockMode,
    ObjectLockRetention, ObjectLockRetentionMode, ObjectLockRule, VersioningConfiguration,
};

use crate::harness::{Harness, RawRequest, expect_err, random_hex, sdk_client};

/// A new bucket created with object lock enabled.
async fn lock_bucket(h: &Harness, prefix: &str) -> String {
    let name = format!("{prefix}-{}", random_hex(10));
    h.client.create_bucket().bucket(&name).object_lock_enabled_for_bucket(true).send().await.expect("create locked");
    name
}

fn in_days(days: i64) -> DateTime {
    DateTime::from_secs(time::OffsetDateTime::now_utc().unix_timestamp() + days * 86_400)
}

fn in_secs(secs: i64) -> DateTime {
    DateTime::from_secs(time::OffsetDateTime::now_utc().unix_timestamp() + secs)
}

fn retention(mode: ObjectLockRetentionMode, until: DateTime) -> ObjectLockRetention {
    ObjectLockRetention::builder().mode(mode).retain_until_date(until).build()
}

fn hold(on: bool) -> ObjectLockLegalHold {
    ObjectLockLegalHold::builder()
        .status(if on { ObjectLockLegalHoldStatus::On } else { ObjectLockLegalHoldStatus::Off })
        .build()
}

fn config(mode: ObjectLockRetentionMode, days: Option<i32>, years: Option<i32>) -> ObjectLockConfiguration {
    ObjectLockConfiguration::builder()
        .object_lock_enabled(ObjectLockEnabled::Enabled)
        .rule(
            ObjectLockRule::builder()
                .default_retention(DefaultRetention::builder().mode(mode).set_days(days).set_years(years).build())
                .build(),
        )
        .build()
}

async fn put(h: &Harness, b: &str, key: &str) -> String {
    let out = h.client.put_object().bucket(b).key(key).body(ByteStream::from_static(b"abc")).send().await.expect("put");
    out.version_id().expect("version id").to_owned()
}

async fn version_exists(h: &Harness, b: &str, key: &str, v: &str) -> bool {
    h.client.head_object().bucket(b).key(key).version_id(v).send().await.is_ok()
}

pub async fn object_lock_configuration(h: &Harness) {
    let c = &h.client;
    // Created with lock: versioned, an empty configuration, versioning can't be suspended.
    let b = lock_bucket(h, "lockcfg").await;
    let got = c.get_bucket_versioning().bucket(&b).send().await.expect("versioning");
    assert_eq!(got.status(), Some(&BucketVersioningStatus::Enabled));
    let got = c.get_object_lock_configuration().bucket(&b).send().await.expect("get config");
    let conf = got.object_lock_configuration().expect("configuration");
    assert_eq!(conf.object_lock_enabled(), Some(&ObjectLockEnabled::Enabled));
    assert!(conf.rule().is_none());
    expect_err(
        c.put_bucket_versioning()
            .bucket(&b)
            .versioning_configuration(
                VersioningConfiguration::builder().status(BucketVersioningStatus::Suspended).build(),
            )
            .send()
            .await,
        409,
        Some("InvalidBucketState"),
    );
    // A default retention, put and read back; changed to another.
    let gov = config(ObjectLockRetentionMode::Governance, Some(1), None);
    c.put_object_lock_configuration().bucket(&b).object_lock_configuration(gov.clone()).send().await.expect("put");
    let got = c.get_object_lock_configuration().bucket(&b).send().await.expect("get config");
    assert_eq!(got.object_lock_configuration(), Some(&gov));
    let comp = config(ObjectLockRetentionMode::Compliance, None, Some(1));
    c.put_object_lock_configuration().bucket(&b).object_lock_configuration(comp.clone()).send().await.expect("put");
    let got = c.get_object_lock_configuration().bucket(&b).send().await.expect("get config");
    assert_eq!(got.object_lock_configuration(), Some(&comp));
    // The checks of the s3-tests.
    for (bad, code) in [
        (config(ObjectLockRetentionMode::Governance, Some(1), Some(1)), "MalformedXML"),
        (config(ObjectLockRetentionMode::Governance, Some(0), None), "InvalidRetentionPeriod"),
        (config(ObjectLockRetentionMode::Governance, None, Some(-1)), "InvalidRetentionPeriod"),
        (config(ObjectLockRetentionMode::from("abc"), None, Some(1)), "MalformedXML"),
        (config(ObjectLockRetentionMode::from("governance"), None, Some(1)), "MalformedXML"),
        (
            ObjectLockConfiguration::builder().object_lock_enabled(ObjectLockEnabled::from("Disabled")).build(),
            "MalformedXML",
        ),
    ] {
        expect_err(
            c.put_object_lock_configuration().bucket(&b).object_lock_configuration(bad).send().await,
            400,
            Some(code),
        );
    }
    // Unchanged by the refusals.
    let got = c.get_object_lock_configuration().bucket(&b).send().await.expect("get config");
    assert_eq!(got.object_lock_configuration(), Some(&comp));

    // Without lock: no configuration, and none can be put until versioning is Enabled.
    let plain = h.bucket("locknone").await;
    expect_err(
        c.get_object_lock_configuration().bucket(&plain).send().await,
        404,
        Some("ObjectLockConfigurationNotFoundError"),
    );
    expect_err(
        c.put_object_lock_configuration().bucket(&plain).object_lock_configuration(gov.clone()).send().await,
        409,
        Some("InvalidBucketState"),
    );
    for status in [BucketVersioningStatus::Suspended, BucketVersioningStatus::Enabled] {
        let enabled = status == BucketVersioningStatus::Enabled;
        c.put_bucket_versioning()
            .bucket(&plain)
            .versioning_configuration(VersioningConfiguration::builder().status(status).build())
            .send()
            .await
            .expect("versioning");
        let res = c.put_object_lock_configuration().bucket(&plain).object_lock_configuration(gov.clone()).send().await;
        if enabled {
            res.expect("lock on a versioned bucket");
        } else {
            expect_err(res, 409, Some("InvalidBucketState"));
        }
    }
    // Retention and legal hold need a bucket with object lock.
    let other = h.bucket("locknone2").await;
    c.put_object().bucket(&other).key("k").body(ByteStream::from_static(b"x")).send().await.expect("put");
    expect_err(
        c.put_object_retention()
            .bucket(&other)
            .key("k")
            .retention(retention(ObjectLockRetentionMode::Governance, in_days(1)))
            .send()
            .await,
        400,
        Some("InvalidRequest"),
    );
    expect_err(c.get_object_retention().bucket(&other).key("k").send().await, 400, Some("InvalidRequest"));
    expect_err(
        c.put_object_legal_hold().bucket(&other).key("k").legal_hold(hold(true)).send().await,
        400,
        Some("InvalidRequest"),
    );
    expect_err(c.get_object_legal_hold().bucket(&other).key("k").send().await, 400, Some("InvalidRequest"));
    expect_err(
        c.put_object()
            .bucket(&other)
            .key("k2")
            .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        400,
        Some("InvalidRequest"),
    );
}

pub async fn object_lock_retention_and_legal_hold(h: &Harness) {
    let c = &h.client;
    let b = lock_bucket(h, "lockret").await;
    let v = put(h, &b, "k").await;
    // None yet.
    expect_err(c.get_object_retention().bucket(&b).key("k").send().await, 404, Some("NoSuchObjectLockConfiguration"));
    expect_err(c.get_object_legal_hold().bucket(&b).key("k").send().await, 404, Some("NoSuchObjectLockConfiguration"));
    // Bad inputs.
    expect_err(
        c.put_object_retention()
            .bucket(&b)
            .key("k")
            .retention(retention(ObjectLockRetentionMode::from("governance"), in_days(1)))
            .send()
            .await,
        400,
        Some("MalformedXML"),
    );
    expect_err(
        c.put_object_legal_hold()
            .bucket(&b)
            .key("k")
            .legal_hold(ObjectLockLegalHold::builder().status(ObjectLockLegalHoldStatus::from("abc")).build())
            .send()
            .await,
        400,
        Some("MalformedXML"),
    );
    // GOVERNANCE: set, lengthened; shortened only with the bypass.
    let until = in_days(2);
    c.put_object_retention()
        .bucket(&b)
        .key("k")
        .retention(retention(ObjectLockRetentionMode::Governance, until))
        .send()
        .await
        .expect("retention");
    let got = c.get_object_retention().bucket(&b).key("k").version_id(&v).send().await.expect("get");
    let r = got.retention().expect("retention");
    assert_eq!((r.mode(), r.retain_until_date()), (Some(&ObjectLockRetentionMode::Governance), Some(&until)));
    c.put_object_retention()
        .bucket(&b)
        .key("k")
        .retention(retention(ObjectLockRetentionMode::Governance, in_days(3)))
        .send()
        .await
        .expect("lengthen");
    expect_err(
        c.put_object_retention()
            .bucket(&b)
            .key("k")
            .retention(retention(ObjectLockRetentionMode::Governance, in_days(1)))
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    // GOVERNANCE to COMPLIANCE needs the bypass too (as the s3-tests expect).
    expect_err(
        c.put_object_retention()
            .bucket(&b)
            .key("k")
            .retention(retention(ObjectLockRetentionMode::Compliance, in_days(3)))
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    c.put_object_retention()
        .bucket(&b)
        .key("k")
        .retention(retention(ObjectLockRetentionMode::Governance, in_days(1)))
        .bypass_governance_retention(true)
        .send()
        .await
        .expect("shorten with bypass");
    // Locked: the version can't be deleted without the bypass; a plain DELETE adds a marker.
    expect_err(c.delete_object().bucket(&b).key("k").version_id(&v).send().await, 403, Some("AccessDenied"));
    let marker = c.delete_object().bucket(&b).key("k").send().await.expect("marker");
    assert_eq!(marker.delete_marker(), Some(true));
    expect_err(c.delete_object().bucket(&b).key("k").version_id(&v).send().await, 403, Some("AccessDenied"));
    // The bucket can't go while it holds versions.
    expect_err(c.delete_bucket().bucket(&b).send().await, 409, Some("BucketNotEmpty"));
    // Legal hold: ON blocks even the bypass; OFF lets the bypass through.
    c.put_object_legal_hold().bucket(&b).key("k").version_id(&v).legal_hold(hold(true)).send().await.expect("hold");
    let got = c.get_object_legal_hold().bucket(&b).key("k").version_id(&v).send().await.expect("get hold");
    assert_eq!(got.legal_hold().and_then(|l| l.status()), Some(&ObjectLockLegalHoldStatus::On));
    let head = c.head_object().bucket(&b).key("k").version_id(&v).send().await.expect("head");
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Governance));
    assert!(head.object_lock_retain_until_date().is_some());
    assert_eq!(head.object_lock_legal_hold_status(), Some(&ObjectLockLegalHoldStatus::On));
    expect_err(
        c.delete_object().bucket(&b).key("k").version_id(&v).bypass_governance_retention(true).send().await,
        403,
        Some("AccessDenied"),
    );
    c.put_object_legal_hold().bucket(&b).key("k").version_id(&v).legal_hold(hold(false)).send().await.expect("off");
    let got = c.get_object_legal_hold().bucket(&b).key("k").version_id(&v).send().await.expect("get hold");
    assert_eq!(got.legal_hold().and_then(|l| l.status()), Some(&ObjectLockLegalHoldStatus::Off));
    assert!(version_exists(h, &b, "k", &v).await);
    c.delete_object()
        .bucket(&b)
        .key("k")
        .version_id(&v)
        .bypass_governance_retention(true)
        .send()
        .await
        .expect("bypass");
    assert!(!version_exists(h, &b, "k", &v).await);
    // A legal hold alone, then off: deletable without bypass.
    let v2 = put(h, &b, "held").await;
    c.put_object_legal_hold().bucket(&b).key("held").legal_hold(hold(true)).send().await.expect("hold");
    expect_err(c.delete_object().bucket(&b).key("held").version_id(&v2).send().await, 403, Some("AccessDenied"));
    c.put_object_legal_hold().bucket(&b).key("held").legal_hold(hold(false)).send().await.expect("off");
    c.delete_object().bucket(&b).key("held").version_id(&v2).send().await.expect("delete unheld");
}

pub async fn object_lock_compliance_binds_the_admin(h: &Harness) {
    // The harness's client is the platform admin.
    let c = &h.client;
    let b = lock_bucket(h, "lockcomp").await;
    let until = in_days(1);
    let out = c
        .put_object()
        .bucket(&b)
        .key("k")
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(until)
        .body(ByteStream::from_static(b"abc"))
        .send()
        .await
        .expect("put locked");
    let v = out.version_id().expect("id").to_owned();
    let head = c.head_object().bucket(&b).key("k").send().await.expect("head");
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    assert_eq!(head.object_lock_retain_until_date(), Some(&until));
    for (mode, at) in
        [(ObjectLockRetentionMode::Compliance, in_secs(3600)), (ObjectLockRetentionMode::Governance, in_days(5))]
    {
        expect_err(
            c.put_object_retention()
                .bucket(&b)
                .key("k")
                .retention(retention(mode, at))
                .bypass_governance_retention(true)
                .send()
                .await,
            403,
            Some("AccessDenied"),
        );
    }
    expect_err(
        c.put_object_retention()
            .bucket(&b)
            .key("k")
            .retention(ObjectLockRetention::builder().build())
            .bypass_governance_retention(true)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    c.put_object_retention()
        .bucket(&b)
        .key("k")
        .retention(retention(ObjectLockRetentionMode::Compliance, in_days(2)))
        .send()
        .await
        .expect("lengthen");
    expect_err(
        c.delete_object().bucket(&b).key("k").version_id(&v).bypass_governance_retention(true).send().await,
        403,
        Some("AccessDenied"),
    );
    // DeleteObjects: a per-key AccessDenied beside a deleted key.
    let free = put(h, &b, "free").await;
    let del = c
        .delete_objects()
        .bucket(&b)
        .bypass_governance_retention(true)
        .delete(
            Delete::builder()
                .objects(ObjectIdentifier::builder().key("k").version_id(&v).build().expect("id"))
                .objects(ObjectIdentifier::builder().key("free").version_id(&free).build().expect("id"))
                .build()
                .expect("delete"),
        )
        .send()
        .await
        .expect("delete objects");
    assert_eq!(del.deleted().len(), 1);
    assert_eq!(del.deleted()[0].key(), Some("free"));
    assert_eq!(del.errors().len(), 1);
    let e = &del.errors()[0];
    assert_eq!((e.key(), e.version_id(), e.code()), (Some("k"), Some(v.as_str()), Some("AccessDenied")));
    // A lifecycle pass, even with its clock years ahead, leaves the locked version (the store
    // checks the lock against its own clock).
    c.put_bucket_lifecycle_configuration()
        .bucket(&b)
        .lifecycle_configuration(
            aws_sdk_s3::types::BucketLifecycleConfiguration::builder()
                .rules(
                    LifecycleRule::builder()
                        .id("all")
                        .filter(LifecycleRuleFilter::builder().prefix("").build())
                        .expiration(LifecycleExpiration::builder().days(1).build())
                        .noncurrent_version_expiration(
                            NoncurrentVersionExpiration::builder().noncurrent_days(1).build(),
                        )
                        .status(ExpirationStatus::Enabled)
                        .build()
                        .expect("rule"),
                )
                .build()
                .expect("lifecycle"),
        )
        .send()
        .await
        .expect("put lifecycle");
    let plain = put(h, &b, "plain").await;
    // The first pass puts a delete marker over the current version, the next would expire it
    // as noncurrent: the locked version is skipped, whatever the pass's clock says; an unlocked
    // one beside it goes.
    for _ in 0..2 {
        h.gateway().lifecycle_pass(time::OffsetDateTime::now_utc() + time::Duration::days(3650)).await.expect("pass");
    }
    assert!(version_exists(h, &b, "k", &v).await);
    let listed = c.list_object_versions().bucket(&b).send().await.expect("versions");
    assert!(listed.versions().iter().any(|x| x.version_id() == Some(v.as_str())), "{listed:?}");
    assert!(!version_exists(h, &b, "plain", &plain).await, "{listed:?}");
    expect_err(c.delete_bucket().bucket(&b).send().await, 409, Some("BucketNotEmpty"));
}

pub async fn object_lock_defaults_and_writes(h: &Harness) {
    let c = &h.client;
    let b = lock_bucket(h, "lockdef").await;
    c.put_object_lock_configuration()
        .bucket(&b)
        .object_lock_configuration(config(ObjectLockRetentionMode::Governance, Some(1), None))
        .send()
        .await
        .expect("default");
    // A new version gets the default retention.
    let v = put(h, &b, "d").await;
    let got = c.get_object_retention().bucket(&b).key("d").version_id(&v).send().await.expect("retention");
    let r = got.retention().expect("retention");
    assert_eq!(r.mode(), Some(&ObjectLockRetentionMode::Governance));
    let until = r.retain_until_date().expect("until").secs();
    let expect = in_days(1).secs();
    assert!((until - expect).abs() < 120, "{until} vs {expect}");
    expect_err(c.delete_object().bucket(&b).key("d").version_id(&v).send().await, 403, Some("AccessDenied"));
    // Header checks: both or neither, a date in the future.
    expect_err(
        c.put_object()
            .bucket(&b)
            .key("x")
            .object_lock_mode(ObjectLockMode::Governance)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        400,
        Some("InvalidArgument"),
    );
    expect_err(
        c.put_object()
            .bucket(&b)
            .key("x")
            .object_lock_mode(ObjectLockMode::Governance)
            .object_lock_retain_until_date(in_secs(-60))
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        400,
        Some("InvalidArgument"),
    );
    // Multipart with a legal hold; a copy gets the request's lock, never the source's.
    let up = c
        .create_multipart_upload()
        .bucket(&b)
        .key("mp")
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .send()
        .await
        .expect("create upload");
    let id = up.upload_id().expect("upload id");
    let part =
        c.upload_part().bucket(&b).key("mp").upload_id(id).part_number(1).body(ByteStream::from_static(b"abc")).send();
    let part = part.await.expect("part");
    let done = c
        .complete_multipart_upload()
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
    let mv = done.version_id().expect("id").to_owned();
    let head = c.head_object().bucket(&b).key("mp").version_id(&mv).send().await.expect("head");
    assert_eq!(head.object_lock_legal_hold_status(), Some(&ObjectLockLegalHoldStatus::On));
    expect_err(
        c.delete_object().bucket(&b).key("mp").version_id(&mv).bypass_governance_retention(true).send().await,
        403,
        Some("AccessDenied"),
    );
    let copy = c
        .copy_object()
        .bucket(&b)
        .key("copy")
        .copy_source(format!("{b}/mp?versionId={mv}"))
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(in_days(3))
        .send()
        .await
        .expect("copy");
    let cv = copy.version_id().expect("id").to_owned();
    let head = c.head_object().bucket(&b).key("copy").version_id(&cv).send().await.expect("head");
    assert_eq!(head.object_lock_legal_hold_status(), None);
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Governance));
    // Clean up what can go.
    c.put_object_legal_hold().bucket(&b).key("mp").version_id(&mv).legal_hold(hold(false)).send().await.expect("off");
    for (k, v) in [("mp", mv.as_str()), ("copy", cv.as_str()), ("d", v.as_str())] {
        c.delete_object()
            .bucket(&b)
            .key(k)
            .version_id(v)
            .bypass_governance_retention(true)
            .send()
            .await
            .expect("delete");
    }
}

pub async fn object_lock_refuses_strangers(h: &Harness) {
    let c = &h.client;
    let b = lock_bucket(h, "lockx").await;
    let v = c
        .put_object()
        .bucket(&b)
        .key("k")
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(in_days(1))
        .body(ByteStream::from_static(b"abc"))
        .send()
        .await
        .expect("put")
        .version_id()
        .expect("id")
        .to_owned();
    let (profile, key) = h
        .iam
        .admin_create_account(&format!("lock-other-{}", random_hex(6)), None, None, &Default::default())
        .await
        .expect("other account");
    let other = sdk_client(h.addr, &key.access_key_id, &key.secret.0);
    let gov = config(ObjectLockRetentionMode::Governance, Some(1), None);
    expect_err(
        other.put_object_lock_configuration().bucket(&b).object_lock_configuration(gov.clone()).send().await,
        403,
        Some("AccessDenied"),
    );
    expect_err(other.get_object_lock_configuration().bucket(&b).send().await, 403, Some("AccessDenied"));
    expect_err(
        other
            .put_object_retention()
            .bucket(&b)
            .key("k")
            .retention(retention(ObjectLockRetentionMode::Governance, in_secs(60)))
            .bypass_governance_retention(true)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    expect_err(other.get_object_retention().bucket(&b).key("k").send().await, 403, Some("AccessDenied"));
    expect_err(
        other.put_object_legal_hold().bucket(&b).key("k").legal_hold(hold(true)).send().await,
        403,
        Some("AccessDenied"),
    );
    expect_err(other.get_object_legal_hold().bucket(&b).key("k").send().await, 403, Some("AccessDenied"));
    expect_err(
        other.delete_object().bucket(&b).key("k").version_id(&v).bypass_governance_retention(true).send().await,
        403,
        Some("AccessDenied"),
    );
    // Unsigned callers too.
    for (method, query, body) in [
        (
            "PUT",
            "object-lock",
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>",
        ),
        ("GET", "object-lock", ""),
        (
            "PUT",
            "retention",
            "<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>",
        ),
        ("GET", "retention", ""),
        ("PUT", "legal-hold", "<LegalHold><Status>OFF</Status></LegalHold>"),
        ("GET", "legal-hold", ""),
    ] {
        let path = if query == "object-lock" { format!("/{b}") } else { format!("/{b}/k") };
        let r = RawRequest::new(method, &path).query(query, "").body(body).send(h.addr).await;
        assert_eq!(r.status, 403, "{method} ?{query}: {}", r.text());
    }
    // Unchanged.
    let got = c.get_object_legal_hold().bucket(&b).key("k").send().await;
    expect_err(got, 404, Some("NoSuchObjectLockConfiguration"));

    // A reader granted only s3:GetObject does not see the lock headers (as on AWS).
    let reader = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*"}}]}}"#,
        profile.account_id
    );
    c.put_bucket_policy().bucket(&b).policy(reader).send().await.expect("policy");
    let head = other.head_object().bucket(&b).key("k").send().await.expect("granted head");
    assert_eq!((head.object_lock_mode(), head.object_lock_retain_until_date()), (None, None));
    let head = c.head_object().bucket(&b).key("k").send().await.expect("owner head");
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Governance));
    // A bucket policy grants the other account deletes and retention changes, not the bypass:
    // its bypass header is ignored, the lock holds.
    let policy = |bypass: bool| {
        let extra = if bypass { r#","s3:BypassGovernanceRetention""# } else { "" };
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":["s3:GetObject","s3:DeleteObjectVersion","s3:PutObjectRetention","s3:GetObjectRetention"{extra}],"Resource":"arn:aws:s3:::{b}/*"}}]}}"#,
            profile.account_id
        )
    };
    c.put_bucket_policy().bucket(&b).policy(policy(false)).send().await.expect("policy");
    let head = other.head_object().bucket(&b).key("k").send().await.expect("granted head");
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Governance));
    let got = other.get_object_retention().bucket(&b).key("k").send().await.expect("granted read");
    assert_eq!(got.retention().and_then(|r| r.mode()), Some(&ObjectLockRetentionMode::Governance));
    expect_err(
        other.delete_object().bucket(&b).key("k").version_id(&v).bypass_governance_retention(true).send().await,
        403,
        Some("AccessDenied"),
    );
    expect_err(
        other
            .put_object_retention()
            .bucket(&b)
            .key("k")
            .retention(retention(ObjectLockRetentionMode::Governance, in_secs(60)))
            .bypass_governance_retention(true)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    // Lengthening needs no bypass.
    other
        .put_object_retention()
        .bucket(&b)
        .key("k")
        .retention(retention(ObjectLockRetentionMode::Governance, in_days(2)))
        .send()
        .await
        .expect("granted lengthen");
    assert!(version_exists(h, &b, "k", &v).await);
    // With s3:BypassGovernanceRetention granted, the bypass works.
    c.put_bucket_policy().bucket(&b).policy(policy(true)).send().await.expect("policy");
    other
        .delete_object()
        .bucket(&b)
        .key("k")
        .version_id(&v)
        .bypass_governance_retention(true)
        .send()
        .await
        .expect("granted bypass");
    assert!(!version_exists(h, &b, "k", &v).await);
}

pub async fn object_lock_changes_are_events(h: &Harness) {
    let c = &h.client;
    let b = lock_bucket(h, "lockev").await;
    c.put_object_lock_configuration()
        .bucket(&b)
        .object_lock_configuration(config(ObjectLockRetentionMode::Governance, Some(1), None))
        .send()
        .await
        .expect("config");
    let v = put(h, &b, "k").await;
    c.put_object_retention()
        .bucket(&b)
        .key("k")
        .retention(retention(ObjectLockRetentionMode::Governance, in_days(2)))
        .send()
        .await
        .expect("retention");
    c.put_object_legal_hold().bucket(&b).key("k").legal_hold(hold(true)).send().await.expect("hold");
    // Refused changes write no change event.
    expect_err(
        c.put_object_retention()
            .bucket(&b)
            .key("k")
            .retention(retention(ObjectLockRetentionMode::Governance, in_secs(60)))
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    expect_err(c.delete_object().bucket(&b).key("k").version_id(&v).send().await, 403, Some("AccessDenied"));
    // The buffer appends every 100 ms.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let rows = h.meta.outbox_rows(100_000).await.expect("outbox rows");
    let events: Vec<cloudstore_events::Event> = rows
        .iter()
        .map(|r| cloudstore_events::decode(r.body.as_bytes()).expect("every outbox row is an event"))
        .filter(|e| e.bucket.as_deref() == Some(b.as_str()))
        .filter(|e| e.event_type.as_str() != "access_denied")
        .collect();
    let seen: Vec<(&str, Option<&str>)> = events
        .iter()
        .map(|e| {
            let what = e.detail.get("object_lock").or_else(|| e.detail.get("config")).map(String::as_str);
            (e.event_type.as_str(), what)
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("bucket_created", None),
            ("bucket_config_changed", Some("object_lock")),
            ("file_uploaded", None),
            ("object_acl_changed", Some("retention")),
            ("object_acl_changed", Some("legal_hold")),
        ],
        "{events:?}"
    );
    let hold_event = &events[4];
    assert_eq!(hold_event.version_id.as_deref(), Some(v.as_str()));
    assert_eq!(hold_event.detail.get("legal_hold").map(String::as_str), Some("ON"));
    assert_eq!(events[3].detail.get("mode").map(String::as_str), Some("GOVERNANCE"));
}
