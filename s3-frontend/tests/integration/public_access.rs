//! Block Public Access per bucket (issue #13 item 4): RestrictPublicBuckets takes a public
//! policy away from anonymous callers and other accounts, BlockPublicPolicy refuses a public
//! policy, deleting the settings gives the policy back; strangers can't change or read them.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::PublicAccessBlockConfiguration;

use crate::harness::{Harness, RawRequest, expect_err, random_hex, sdk_client};

fn public_read(bucket: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    )
}

fn settings(block_policy: bool, restrict: bool) -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration::builder()
        .block_public_acls(false)
        .ignore_public_acls(false)
        .block_public_policy(block_policy)
        .restrict_public_buckets(restrict)
        .build()
}

pub async fn block_public_access(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("bpa").await;
    c.put_object().bucket(&b).key("doc").body(ByteStream::from_static(b"public?")).send().await.expect("put");
    c.put_bucket_policy().bucket(&b).policy(public_read(&b)).send().await.expect("public policy");
    let anonymous = || h.raw(RawRequest::new("GET", &format!("/{b}/doc")));
    let resp = anonymous().await;
    assert_eq!((resp.status, resp.body.as_slice()), (200, b"public?".as_slice()), "{}", resp.text());
    let (_, key) = h
        .iam
        .admin_create_account(&format!("bpa-other-{}", random_hex(6)), None, None, &Default::default())
        .await
        .expect("other account");
    let other = sdk_client(h.addr, &key.access_key_id, &key.secret.0);
    other.get_object().bucket(&b).key("doc").send().await.expect("another account reads through the public policy");

    // RestrictPublicBuckets: the public policy grants nothing outside the owner's account.
    c.put_public_access_block()
        .bucket(&b)
        .public_access_block_configuration(settings(false, true))
        .send()
        .await
        .expect("restrict");
    anonymous().await.assert_error(403, "AccessDenied");
    expect_err(other.get_object().bucket(&b).key("doc").send().await, 403, Some("AccessDenied"));
    c.get_object().bucket(&b).key("doc").send().await.expect("the owner still reads");
    let got = c.get_public_access_block().bucket(&b).send().await.expect("get settings");
    let cfg = got.public_access_block_configuration().expect("configuration");
    assert_eq!(
        (cfg.block_public_acls(), cfg.ignore_public_acls(), cfg.block_public_policy(), cfg.restrict_public_buckets()),
        (Some(false), Some(false), Some(false), Some(true))
    );

    // BlockPublicPolicy: a public policy is refused, a policy naming an account is not.
    c.put_public_access_block()
        .bucket(&b)
        .public_access_block_configuration(settings(true, true))
        .send()
        .await
        .expect("block policy");
    expect_err(c.put_bucket_policy().bucket(&b).policy(public_read(&b)).send().await, 403, Some("AccessDenied"));
    let named =
        public_read(&b).replace(r#""Principal":"*""#, r#""Principal":{"AWS":"arn:aws:iam::123456789012:root"}"#);
    c.put_bucket_policy().bucket(&b).policy(named).send().await.expect("a non-public policy");
    c.put_bucket_policy().bucket(&b).policy(public_read(&b)).send().await.expect_err("still blocked");

    // Strangers neither read nor change the settings.
    expect_err(other.get_public_access_block().bucket(&b).send().await, 403, Some("AccessDenied"));
    expect_err(
        other
            .put_public_access_block()
            .bucket(&b)
            .public_access_block_configuration(settings(false, false))
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    expect_err(other.delete_public_access_block().bucket(&b).send().await, 403, Some("AccessDenied"));

    // Deleted: none configured, and a public policy works again.
    c.delete_public_access_block().bucket(&b).send().await.expect("delete settings");
    expect_err(c.get_public_access_block().bucket(&b).send().await, 404, Some("NoSuchPublicAccessBlockConfiguration"));
    c.put_bucket_policy().bucket(&b).policy(public_read(&b)).send().await.expect("public again");
    assert_eq!(anonymous().await.status, 200);
}
