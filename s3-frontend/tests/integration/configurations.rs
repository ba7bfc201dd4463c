//! Bucket configurations cloudstore does not offer (or not yet) answer as AWS answers a
//! bucket without one, so tools that read them all (Terraform, backup tools) work; turning one
//! on is refused with the reason; strangers and missing buckets get what they get elsewhere.

use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::types::{
    AccelerateConfiguration, BucketAccelerateStatus, BucketLoggingStatus, ErrorDocument, ObjectOwnership, Payer,
    RequestPaymentConfiguration, WebsiteConfiguration,
};

use crate::harness::{Harness, expect_err, random_hex, sdk_client, status_of};

pub async fn unoffered_configurations_answer_as_unconfigured(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("unconf").await;

    // Accelerate: none; Suspended is a no-op, Enabled refused with the reason.
    let acc = c.get_bucket_accelerate_configuration().bucket(&b).send().await.expect("get accelerate");
    assert_eq!(acc.status(), None);
    let cfg = |s: BucketAccelerateStatus| AccelerateConfiguration::builder().status(s).build();
    c.put_bucket_accelerate_configuration()
        .bucket(&b)
        .accelerate_configuration(cfg(BucketAccelerateStatus::Suspended))
        .send()
        .await
        .expect("suspend");
    let e = c
        .put_bucket_accelerate_configuration()
        .bucket(&b)
        .accelerate_configuration(cfg(BucketAccelerateStatus::Enabled))
        .send()
        .await
        .expect_err("enable");
    assert_eq!((status_of(&e), e.code()), (501, Some("NotImplemented")));
    assert!(e.message().is_some_and(|m| m.contains("Transfer Acceleration")), "{e:?}");

    // Request payment: the bucket owner pays; Requester refused.
    let pay = c.get_bucket_request_payment().bucket(&b).send().await.expect("get payment");
    assert_eq!(pay.payer(), Some(&Payer::BucketOwner));
    let payer = |p: Payer| RequestPaymentConfiguration::builder().payer(p).build().expect("config");
    c.put_bucket_request_payment()
        .bucket(&b)
        .request_payment_configuration(payer(Payer::BucketOwner))
        .send()
        .await
        .expect("bucket owner pays");
    expect_err(
        c.put_bucket_request_payment().bucket(&b).request_payment_configuration(payer(Payer::Requester)).send().await,
        501,
        Some("NotImplemented"),
    );

    // Logging: disabled; disabling again is fine.
    let logging = c.get_bucket_logging().bucket(&b).send().await.expect("get logging");
    assert!(logging.logging_enabled().is_none());
    c.put_bucket_logging()
        .bucket(&b)
        .bucket_logging_status(BucketLoggingStatus::builder().build())
        .send()
        .await
        .expect("logging off");

    // Website: none, deleting none is fine, setting one is refused.
    expect_err(c.get_bucket_website().bucket(&b).send().await, 404, Some("NoSuchWebsiteConfiguration"));
    c.delete_bucket_website().bucket(&b).send().await.expect("delete website");
    let site = WebsiteConfiguration::builder()
        .error_document(ErrorDocument::builder().key("404.html").build().expect("doc"))
        .build();
    expect_err(c.put_bucket_website().bucket(&b).website_configuration(site).send().await, 501, Some("NotImplemented"));

    // The "not found" forms.
    expect_err(c.get_bucket_replication().bucket(&b).send().await, 404, Some("ReplicationConfigurationNotFoundError"));
    c.delete_bucket_replication().bucket(&b).send().await.expect("delete replication");
    expect_err(
        c.get_bucket_encryption().bucket(&b).send().await,
        404,
        Some("ServerSideEncryptionConfigurationNotFoundError"),
    );
    c.delete_bucket_encryption().bucket(&b).send().await.expect("delete encryption");
    expect_err(
        c.get_bucket_lifecycle_configuration().bucket(&b).send().await,
        404,
        Some("NoSuchLifecycleConfiguration"),
    );
    c.delete_bucket_lifecycle().bucket(&b).send().await.expect("delete lifecycle");
    expect_err(c.get_bucket_tagging().bucket(&b).send().await, 404, Some("NoSuchTagSet"));
    c.delete_bucket_tagging().bucket(&b).send().await.expect("delete tagging");
    expect_err(
        c.get_object_lock_configuration().bucket(&b).send().await,
        404,
        Some("ObjectLockConfigurationNotFoundError"),
    );
    expect_err(c.get_public_access_block().bucket(&b).send().await, 404, Some("NoSuchPublicAccessBlockConfiguration"));
    c.delete_public_access_block().bucket(&b).send().await.expect("delete public access block");

    // Ownership: the bucket owner owns everything (no ACLs).
    let own = c.get_bucket_ownership_controls().bucket(&b).send().await.expect("ownership");
    let rules = own.ownership_controls().map(|o| o.rules().to_vec()).unwrap_or_default();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].object_ownership(), &ObjectOwnership::BucketOwnerEnforced);

    // Analytics, inventory, metrics, intelligent tiering: empty lists, no configuration by id.
    let l = c.list_bucket_analytics_configurations().bucket(&b).send().await.expect("analytics");
    assert!(l.analytics_configuration_list().is_empty());
    let l = c.list_bucket_inventory_configurations().bucket(&b).send().await.expect("inventory");
    assert!(l.inventory_configuration_list().is_empty());
    let l = c.list_bucket_metrics_configurations().bucket(&b).send().await.expect("metrics");
    assert!(l.metrics_configuration_list().is_empty());
    let l = c.list_bucket_intelligent_tiering_configurations().bucket(&b).send().await.expect("tiering");
    assert!(l.intelligent_tiering_configuration_list().is_empty());
    expect_err(
        c.get_bucket_analytics_configuration().bucket(&b).id("a").send().await,
        404,
        Some("NoSuchConfiguration"),
    );
    expect_err(c.get_bucket_metrics_configuration().bucket(&b).id("m").send().await, 404, Some("NoSuchConfiguration"));

    // Object lock needs a versioned bucket (ADR 0018; tests in object_lock.rs).
    let lock = aws_sdk_s3::types::ObjectLockConfiguration::builder()
        .object_lock_enabled(aws_sdk_s3::types::ObjectLockEnabled::Enabled)
        .build();
    let e = c
        .put_object_lock_configuration()
        .bucket(&b)
        .object_lock_configuration(lock)
        .send()
        .await
        .expect_err("object lock");
    assert_eq!((status_of(&e), e.code()), (409, Some("InvalidBucketState")));

    // A missing bucket is NoSuchBucket, as for a configured read.
    let missing = format!("missing-{}", random_hex(8));
    expect_err(c.get_bucket_request_payment().bucket(&missing).send().await, 404, Some("NoSuchBucket"));
    expect_err(c.get_bucket_website().bucket(&missing).send().await, 404, Some("NoSuchBucket"));

    // A stranger reads and changes nothing of it.
    let (_, key) = h
        .iam
        .admin_create_account(&format!("unconf-stranger-{}", random_hex(6)), None, None, &Default::default())
        .await
        .expect("stranger");
    let s = sdk_client(h.addr, &key.access_key_id, &key.secret.0);
    expect_err(s.get_bucket_request_payment().bucket(&b).send().await, 403, Some("AccessDenied"));
    expect_err(s.get_bucket_logging().bucket(&b).send().await, 403, Some("AccessDenied"));
    expect_err(s.get_bucket_website().bucket(&b).send().await, 403, Some("AccessDenied"));
    expect_err(s.delete_bucket_lifecycle().bucket(&b).send().await, 403, Some("AccessDenied"));
    expect_err(s.get_bucket_ownership_controls().bucket(&b).send().await, 403, Some("AccessDenied"));
}
