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
    // The explain tool says why the object is not public.
    let ask = serde_json::json!({
        "principal": "anonymous", "action": "s3:GetObject", "resource": format!("arn:aws:s3:::{b}/doc")
    });
    let req = RawRequest::new("POST", "/_api/v1/admin/explain")
        .header("content-type", "application/json")
        .body(ask.to_string().into_bytes());
    let resp = h.raw(h.signer().sign_for("iam", req, time::OffsetDateTime::now_utc())).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let why: serde_json::Value = serde_json::from_slice(&resp.body).expect("json");
    assert_eq!(why["allowed"], false, "{why}");
    assert_eq!(why["public_access"]["public_policy"], true, "{why}");
    assert_eq!(why["public_access"]["policy_hidden_by_restrict_public_buckets"], true, "{why}");
    assert_eq!(why["public_access"]["block"]["restrict_public_buckets"], true, "{why}");
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

/// A signed S3 Control request for the account-wide settings of `account`, by `who`.
fn control(h: &Harness, who: (&str, &str), method: &str, account: &str, body: Option<&str>) -> RawRequest {
    let signer = crate::harness::Signer { access_key: who.0.into(), secret_key: who.1.into(), ..h.signer() };
    let mut req =
        RawRequest::new(method, "/v20180820/configuration/publicAccessBlock").header("x-amz-account-id", account);
    if let Some(b) = body {
        req = req.body(b.as_bytes().to_vec());
    }
    signer.sign(req, None, time::OffsetDateTime::now_utc())
}

/// Account-wide Block Public Access (the S3 Control API): it overrides every bucket of the
/// account together with the bucket's own settings; only the account may read or change it,
/// and only with the permission; deleting it makes the public policy work again.
pub async fn account_block_public_access(h: &Harness) {
    let (owner_client, owner_key, account) = {
        let (profile, key) = h
            .iam
            .admin_create_account(&format!("bpa-acct-{}", random_hex(6)), None, None, &Default::default())
            .await
            .expect("account");
        (sdk_client(h.addr, &key.access_key_id, &key.secret.0), (key.access_key_id, key.secret.0), profile.account_id)
    };
    let owner = (owner_key.0.as_str(), owner_key.1.as_str());
    let b = format!("bpa-acct-{}", random_hex(6));
    owner_client.create_bucket().bucket(&b).send().await.expect("create bucket");
    owner_client
        .put_object()
        .bucket(&b)
        .key("doc")
        .body(ByteStream::from_static(b"public?"))
        .send()
        .await
        .expect("put");
    owner_client.put_bucket_policy().bucket(&b).policy(public_read(&b)).send().await.expect("public policy");
    let anonymous = || h.raw(RawRequest::new("GET", &format!("/{b}/doc")));
    assert_eq!(anonymous().await.status, 200);

    // None configured yet.
    h.raw(control(h, owner, "GET", &account, None)).await.assert_error(404, "NoSuchPublicAccessBlockConfiguration");

    // A stranger (another account's root) can't read or set this account's settings.
    let (_, other_key) = h
        .iam
        .admin_create_account(&format!("bpa-other-{}", random_hex(6)), None, None, &Default::default())
        .await
        .expect("other account");
    let other = (other_key.access_key_id.as_str(), other_key.secret.0.as_str());
    let restrict = "<PublicAccessBlockConfiguration xmlns=\"http://awss3control.amazonaws.com/doc/2018-08-20/\">\
                    <RestrictPublicBuckets>true</RestrictPublicBuckets><BlockPublicPolicy>true</BlockPublicPolicy>\
                    </PublicAccessBlockConfiguration>";
    h.raw(control(h, other, "PUT", &account, Some(restrict))).await.assert_error(403, "AccessDenied");
    h.raw(control(h, other, "GET", &account, None)).await.assert_error(403, "AccessDenied");
    h.raw(control(h, other, "DELETE", &account, None)).await.assert_error(403, "AccessDenied");
    // Nor can a user of the account without the permission, nor an anonymous caller.
    let (_, _, user_ak, user_sk) = crate::iam::user(h, &account, &format!("u-{}", random_hex(4)), None).await;
    h.raw(control(h, (&user_ak, &user_sk), "PUT", &account, Some(restrict))).await.assert_error(403, "AccessDenied");
    let unsigned = RawRequest::new("PUT", "/v20180820/configuration/publicAccessBlock")
        .header("x-amz-account-id", &account)
        .body(restrict.as_bytes().to_vec());
    assert_eq!(h.raw(unsigned).await.status, 403);
    assert_eq!(anonymous().await.status, 200, "nothing changed");
    // Malformed settings are refused and change nothing.
    h.raw(control(h, owner, "PUT", &account, Some("<PublicAccessBlockConfiguration><BlockPublicAcls>maybe")))
        .await
        .assert_error(400, "MalformedXML");

    // The account sets them: the public policy grants anonymous callers nothing any more, a
    // public policy is refused, the owner still reads.
    let resp = h.raw(control(h, owner, "PUT", &account, Some(restrict))).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    anonymous().await.assert_error(403, "AccessDenied");
    owner_client.get_object().bucket(&b).key("doc").send().await.expect("the owner still reads");
    expect_err(
        owner_client.put_bucket_policy().bucket(&b).policy(public_read(&b)).send().await,
        403,
        Some("AccessDenied"),
    );
    let got = h.raw(control(h, owner, "GET", &account, None)).await;
    assert_eq!(got.status, 200, "{}", got.text());
    let text = got.text();
    for (name, on) in [
        ("BlockPublicAcls", false),
        ("IgnorePublicAcls", false),
        ("BlockPublicPolicy", true),
        ("RestrictPublicBuckets", true),
    ] {
        assert!(text.contains(&format!("<{name}>{on}</{name}>")), "{name} {on}: {text}");
    }
    // The bucket's own settings are still none: the account's apply beside them.
    expect_err(
        owner_client.get_public_access_block().bucket(&b).send().await,
        404,
        Some("NoSuchPublicAccessBlockConfiguration"),
    );
    // A user the account allows may read them.
    let allow_get = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetAccountPublicAccessBlock","Resource":"*"}]}"#;
    let (_, _, reader_ak, reader_sk) =
        crate::iam::user(h, &account, &format!("r-{}", random_hex(4)), Some(allow_get.to_owned())).await;
    assert_eq!(h.raw(control(h, (&reader_ak, &reader_sk), "GET", &account, None)).await.status, 200);
    h.raw(control(h, (&reader_ak, &reader_sk), "DELETE", &account, None)).await.assert_error(403, "AccessDenied");

    // Deleted: none configured, and the public policy works again.
    assert_eq!(h.raw(control(h, owner, "DELETE", &account, None)).await.status, 204);
    h.raw(control(h, owner, "GET", &account, None)).await.assert_error(404, "NoSuchPublicAccessBlockConfiguration");
    assert_eq!(anonymous().await.status, 200);

    // A credential scope without a region (boto3 with `region_name=''`) is accepted for IAM,
    // which is global, and not for the S3 Control API.
    let no_region = crate::harness::Signer {
        access_key: owner.0.into(),
        secret_key: owner.1.into(),
        region: String::new(),
        ..h.signer()
    };
    let req = RawRequest::new("POST", "/")
        .header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(b"Action=GetUser&Version=2010-05-08".to_vec());
    let resp = h.raw(no_region.sign_for("iam", req, time::OffsetDateTime::now_utc())).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.text().contains(&format!("arn:aws:iam::{account}:root")), "{}", resp.text());
    let req = RawRequest::new("GET", "/v20180820/configuration/publicAccessBlock").header("x-amz-account-id", &account);
    assert_eq!(h.raw(no_region.sign_for("s3", req, time::OffsetDateTime::now_utc())).await.status, 403);
}

/// Bucket-policy conditions on `aws:Referer` and on a copy's `s3:x-amz-copy-source` and
/// `s3:x-amz-metadata-directive`, as AWS offers them; policies whose resources can't name the
/// bucket, or that `Allow` with `NotPrincipal`, are refused, wildcards that can are accepted.
pub async fn policy_conditions_on_referer_and_copy_source(h: &Harness) {
    let c = &h.client;
    let src = h.bucket("cond-src").await;
    let dst = h.bucket("cond-dst").await;
    for key in ["public/foo", "private/foo"] {
        c.put_object().bucket(&src).key(key).body(ByteStream::from_static(b"data")).send().await.expect("put");
    }
    // Anonymous reads only from pages of www.example.com.
    let referer = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{src}/*","Condition":{{"StringLike":{{"aws:Referer":"http://www.example.com/*"}}}}}}]}}"#
    );
    c.put_bucket_policy().bucket(&src).policy(&referer).send().await.expect("referer policy");
    let get = |r: Option<&str>| {
        let mut req = RawRequest::new("GET", &format!("/{src}/public/foo"));
        if let Some(r) = r {
            req = req.header("referer", r);
        }
        h.raw(req)
    };
    assert_eq!(get(Some("http://www.example.com/page.html")).await.status, 200);
    get(Some("http://example.com/")).await.assert_error(403, "AccessDenied");
    get(None).await.assert_error(403, "AccessDenied");

    // Another account may read the source and may write into dst only copies of public/*
    // with the metadata copied.
    let (_, other_key) = h
        .iam
        .admin_create_account(&format!("cond-other-{}", random_hex(6)), None, None, &Default::default())
        .await
        .expect("other account");
    let other = sdk_client(h.addr, &other_key.access_key_id, &other_key.secret.0);
    let read_src = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{src}/*"}}]}}"#
    );
    c.put_bucket_policy().bucket(&src).policy(&read_src).send().await.expect("read policy");
    let copies = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"*"}},"Action":"s3:PutObject","Resource":"arn:aws:s3:::{dst}/*","Condition":{{"StringLike":{{"s3:x-amz-copy-source":"{src}/public/*"}},"StringEqualsIfExists":{{"s3:x-amz-metadata-directive":"COPY"}}}}}}]}}"#
    );
    c.put_bucket_policy().bucket(&dst).policy(&copies).send().await.expect("copy policy");
    other
        .copy_object()
        .bucket(&dst)
        .key("a")
        .copy_source(format!("{src}/public/foo"))
        .send()
        .await
        .expect("public copy");
    expect_err(
        other.copy_object().bucket(&dst).key("b").copy_source(format!("{src}/private/foo")).send().await,
        403,
        Some("AccessDenied"),
    );
    expect_err(
        other
            .copy_object()
            .bucket(&dst)
            .key("c")
            .copy_source(format!("{src}/public/foo"))
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    expect_err(
        other.put_object().bucket(&dst).key("d").body(ByteStream::from_static(b"x")).send().await,
        403,
        Some("AccessDenied"),
    );
    assert!(h.exists(&dst, "a").await);
    for key in ["b", "c", "d"] {
        assert!(!h.exists(&dst, key).await, "{key}");
    }

    // Where ACLs apply, a missing key is 404 to a caller who may list it: `s3:prefix` is the
    // key in that check, so a listing allowed only under public/ tells only about public/.
    let ow = format!("cond-ow-{}", random_hex(6));
    c.create_bucket()
        .bucket(&ow)
        .object_ownership(aws_sdk_s3::types::ObjectOwnership::ObjectWriter)
        .send()
        .await
        .expect("ObjectWriter bucket");
    let list_public = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::{ow}","Condition":{{"StringLike":{{"s3:prefix":"public/*"}}}}}}]}}"#
    );
    c.put_bucket_policy().bucket(&ow).policy(&list_public).send().await.expect("list policy");
    h.raw(RawRequest::new("GET", &format!("/{ow}/public/missing"))).await.assert_error(404, "NoSuchKey");
    h.raw(RawRequest::new("GET", &format!("/{ow}/private/missing"))).await.assert_error(403, "AccessDenied");

    // Resources: a wildcard that can name the bucket is accepted, another bucket is not;
    // Allow with NotPrincipal is refused.
    let with = |resource: &str, principal: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",{principal},"Action":"s3:ListBucket","Resource":"{resource}"}}]}}"#
        )
    };
    c.put_bucket_policy().bucket(&dst).policy(with("arn:aws:s3:::*", r#""Principal":"*""#)).send().await.expect("*");
    expect_err(
        c.put_bucket_policy()
            .bucket(&dst)
            .policy(with("arn:aws:s3:::another-bucket", r#""Principal":"*""#))
            .send()
            .await,
        400,
        Some("MalformedPolicy"),
    );
    expect_err(
        c.put_bucket_policy()
            .bucket(&dst)
            .policy(with(&format!("arn:aws:s3:::{dst}"), r#""NotPrincipal":{"AWS":"arn:aws:iam::123456789012:root"}"#))
            .send()
            .await,
        400,
        Some("MalformedPolicy"),
    );
}
