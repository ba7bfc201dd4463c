//! ACLs and Object Ownership (issue #13 item 4, ADR 0013): canned ACLs and grants on buckets,
//! grants by canonical id and e-mail, what they allow anonymous callers, other accounts and
//! strangers, an explicit Deny and Block Public Access over them, and the ownership controls.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AccessControlPolicy, BucketCannedAcl, Grant, Grantee, ObjectOwnership, Owner, OwnershipControls,
    OwnershipControlsRule, Permission, PublicAccessBlockConfiguration, Type,
};

use crate::harness::{Harness, RawRequest, expect_err, random_hex, sdk_client};

pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";

/// An account of its own: its id, name, e-mail address and a client signing as its root.
pub struct Account {
    pub id: String,
    pub name: String,
    pub email: String,
    pub client: Client,
}

pub async fn account(h: &Harness, what: &str) -> Account {
    let name = format!("acl-{what}-{}", random_hex(6));
    let email = format!("{name}@example.com");
    let (profile, key) =
        h.iam.admin_create_account(&name, Some(&email), None, &Default::default()).await.expect("account");
    Account { id: profile.account_id, name, email, client: sdk_client(h.addr, &key.access_key_id, &key.secret.0) }
}

/// The grants of a Get…Acl answer as (grantee, permission) text, sorted.
pub fn grants_of(grants: &[Grant]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = grants
        .iter()
        .map(|g| {
            let ge = g.grantee().expect("grantee");
            let who = match ge.r#type() {
                Type::Group => format!("group {}", ge.uri().unwrap_or_default()),
                _ => format!("user {} {}", ge.id().unwrap_or_default(), ge.display_name().unwrap_or_default()),
            };
            (who, g.permission().map(|p| p.as_str().to_owned()).unwrap_or_default())
        })
        .collect();
    out.sort();
    out
}

fn user(a: &Account, p: &str) -> (String, String) {
    (format!("user {} {}", a.id, a.name), p.to_owned())
}

fn group(uri: &str, p: &str) -> (String, String) {
    (format!("group {uri}"), p.to_owned())
}

fn anonymous_list(h: &Harness, bucket: &str) -> impl std::future::Future<Output = crate::harness::RawResponse> {
    h.raw(RawRequest::new("GET", &format!("/{bucket}")))
}

async fn ownership(c: &Client, bucket: &str) -> Result<String, u16> {
    match c.get_bucket_ownership_controls().bucket(bucket).send().await {
        Ok(o) => Ok(o.ownership_controls().expect("controls").rules()[0].object_ownership().as_str().to_owned()),
        Err(e) => Err(crate::harness::status_of(&e)),
    }
}

/// The explain tool's answer (platform admin).
pub async fn explain(h: &Harness, principal: &str, action: &str, resource: &str) -> serde_json::Value {
    let ask = serde_json::json!({ "principal": principal, "action": action, "resource": resource });
    let req = RawRequest::new("POST", "/_api/v1/admin/explain")
        .header("content-type", "application/json")
        .body(ask.to_string().into_bytes());
    let resp = h.raw(h.signer().sign_for("iam", req, time::OffsetDateTime::now_utc())).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    serde_json::from_slice(&resp.body).expect("json")
}

fn controls(o: ObjectOwnership) -> OwnershipControls {
    OwnershipControls::builder()
        .rules(OwnershipControlsRule::builder().object_ownership(o).build().expect("rule"))
        .build()
        .expect("controls")
}

pub async fn bucket_acls_grant_and_strangers_are_refused(h: &Harness) {
    let main = account(h, "main").await;
    let alt = account(h, "alt").await;
    let stranger = account(h, "stranger").await;
    let c = &main.client;

    // A new bucket: BucketOwnerEnforced (AWS's default), its owner's FULL_CONTROL, ACLs refused.
    let plain = format!("acl-plain-{}", random_hex(8));
    c.create_bucket().bucket(&plain).send().await.expect("create");
    assert_eq!(ownership(c, &plain).await, Ok("BucketOwnerEnforced".into()));
    let got = c.get_bucket_acl().bucket(&plain).send().await.expect("get acl");
    let owner = got.owner().expect("owner");
    assert_eq!((owner.id(), owner.display_name()), (Some(main.id.as_str()), Some(main.name.as_str())));
    assert_eq!(grants_of(got.grants()), [user(&main, "FULL_CONTROL")]);
    expect_err(
        c.put_bucket_acl().bucket(&plain).acl(BucketCannedAcl::PublicRead).send().await,
        400,
        Some("AccessControlListNotSupported"),
    );
    anonymous_list(h, &plain).await.assert_error(403, "AccessDenied");
    expect_err(alt.client.get_bucket_acl().bucket(&plain).send().await, 403, Some("AccessDenied"));

    // Created with public-read: ACLs asked for, so ObjectWriter; everyone may list.
    let b = format!("acl-pub-{}", random_hex(8));
    c.create_bucket().bucket(&b).acl(BucketCannedAcl::PublicRead).send().await.expect("create public-read");
    assert_eq!(ownership(c, &b).await, Ok("ObjectWriter".into()));
    let got = c.get_bucket_acl().bucket(&b).send().await.expect("get acl");
    assert_eq!(grants_of(got.grants()), [group(ALL_USERS, "READ"), user(&main, "FULL_CONTROL")]);
    c.put_object().bucket(&b).key("k").body(ByteStream::from_static(b"v")).send().await.expect("put");
    let listed = anonymous_list(h, &b).await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert!(listed.text().contains("<Key>k</Key>"), "{}", listed.text());
    alt.client.list_objects_v2().bucket(&b).send().await.expect("another account lists");
    // READ on the bucket is no more than listing: no writes, no ACL reads or changes, and the
    // objects are the objects' business.
    expect_err(
        alt.client.put_object().bucket(&b).key("x").body(ByteStream::from_static(b"x")).send().await,
        403,
        Some("AccessDenied"),
    );
    h.raw(RawRequest::new("PUT", &format!("/{b}/anon")).body(b"x".to_vec())).await.assert_error(403, "AccessDenied");
    expect_err(alt.client.get_bucket_acl().bucket(&b).send().await, 403, Some("AccessDenied"));
    expect_err(
        alt.client.put_bucket_acl().bucket(&b).acl(BucketCannedAcl::PublicReadWrite).send().await,
        403,
        Some("AccessDenied"),
    );
    expect_err(
        alt.client
            .put_bucket_ownership_controls()
            .bucket(&b)
            .ownership_controls(controls(ObjectOwnership::BucketOwnerPreferred))
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    expect_err(alt.client.get_object().bucket(&b).key("k").send().await, 403, Some("AccessDenied"));
    h.raw(RawRequest::new("GET", &format!("/{b}/k"))).await.assert_error(403, "AccessDenied");

    // Grants by id and by e-mail; the grantees see their names.
    c.put_bucket_acl()
        .bucket(&b)
        .grant_write(format!("id={}", alt.id))
        .grant_read_acp(format!("emailAddress=\"{}\"", alt.email.to_uppercase()))
        .send()
        .await
        .expect("grant alt");
    let got = c.get_bucket_acl().bucket(&b).send().await.expect("get acl");
    assert_eq!(grants_of(got.grants()), [user(&alt, "READ_ACP"), user(&alt, "WRITE")]);
    alt.client.put_object().bucket(&b).key("by-alt").body(ByteStream::from_static(b"a")).send().await.expect("WRITE");
    alt.client.delete_object().bucket(&b).key("by-alt").send().await.expect("WRITE deletes");
    alt.client.get_bucket_acl().bucket(&b).send().await.expect("READ_ACP");
    expect_err(alt.client.list_objects_v2().bucket(&b).send().await, 403, Some("AccessDenied"));
    anonymous_list(h, &b).await.assert_error(403, "AccessDenied");
    // Nobody else gained anything.
    let s = &stranger.client;
    expect_err(
        s.put_object().bucket(&b).key("s").body(ByteStream::from_static(b"s")).send().await,
        403,
        Some("AccessDenied"),
    );
    expect_err(s.get_bucket_acl().bucket(&b).send().await, 403, Some("AccessDenied"));
    expect_err(s.list_objects_v2().bucket(&b).send().await, 403, Some("AccessDenied"));

    // What AWS refuses.
    expect_err(
        c.put_bucket_acl().bucket(&b).grant_read("emailAddress=nobody@example.invalid").send().await,
        400,
        Some("UnresolvableGrantByEmailAddress"),
    );
    expect_err(c.put_bucket_acl().bucket(&b).grant_read("id=_foo").send().await, 400, Some("InvalidArgument"));
    expect_err(
        c.put_bucket_acl().bucket(&b).grant_read("uri=http://example.com/everyone").send().await,
        400,
        Some("InvalidArgument"),
    );
    expect_err(
        c.put_bucket_acl().bucket(&b).acl(BucketCannedAcl::Private).grant_read(format!("id={}", alt.id)).send().await,
        400,
        Some("InvalidRequest"),
    );
    let body = |owner: &str, grantee: Grantee| {
        AccessControlPolicy::builder()
            .owner(Owner::builder().id(owner).build())
            .grants(Grant::builder().grantee(grantee).permission(Permission::Read).build())
            .build()
    };
    let everyone = || Grantee::builder().r#type(Type::Group).uri(ALL_USERS).build().expect("grantee");
    expect_err(
        c.put_bucket_acl().bucket(&b).access_control_policy(body(&alt.id, everyone())).send().await,
        400,
        Some("InvalidArgument"),
    );
    let no_owner = AccessControlPolicy::builder()
        .grants(Grant::builder().grantee(everyone()).permission(Permission::Read).build())
        .build();
    expect_err(
        c.put_bucket_acl().bucket(&b).access_control_policy(no_owner).send().await,
        400,
        Some("MalformedACLError"),
    );
    // An AccessControlPolicy body: public again.
    c.put_bucket_acl().bucket(&b).access_control_policy(body(&main.id, everyone())).send().await.expect("xml acl");
    assert_eq!(anonymous_list(h, &b).await.status, 200);
    // The explain tool names the grant that makes the bucket public.
    let why = explain(h, "anonymous", "s3:ListBucket", &format!("arn:aws:s3:::{b}")).await;
    assert_eq!(why["allowed"], true, "{why}");
    assert!(why["reason"].as_str().is_some_and(|r| r.contains("bucket's access control list")), "{why}");
    assert_eq!(why["public_access"]["acls_enabled"], true, "{why}");
    assert_eq!(why["public_access"]["public_bucket_acl_grants"][0]["grantee"]["group"], "AllUsers", "{why}");
    assert_eq!(why["public_access"]["public_bucket_acl_grants"][0]["permission"], "READ", "{why}");

    // An explicit Deny wins over the grant.
    let deny = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::{b}","Condition":{{"StringEquals":{{"s3:prefix":"secret"}}}}}}]}}"#
    );
    c.put_bucket_policy().bucket(&b).policy(deny).send().await.expect("deny policy");
    let req = RawRequest::new("GET", &format!("/{b}")).query("prefix", "secret");
    h.raw(req).await.assert_error(403, "AccessDenied");
    assert_eq!(anonymous_list(h, &b).await.status, 200, "the Deny's condition does not hold");
    c.delete_bucket_policy().bucket(&b).send().await.expect("delete policy");

    // Block Public Access: IgnorePublicAcls takes the public grant away, BlockPublicAcls
    // refuses a new one; grants to accounts stay.
    let bpa = |block: bool, ignore: bool| {
        PublicAccessBlockConfiguration::builder()
            .block_public_acls(block)
            .ignore_public_acls(ignore)
            .block_public_policy(false)
            .restrict_public_buckets(false)
            .build()
    };
    c.put_public_access_block()
        .bucket(&b)
        .public_access_block_configuration(bpa(false, true))
        .send()
        .await
        .expect("bpa");
    anonymous_list(h, &b).await.assert_error(403, "AccessDenied");
    c.put_public_access_block()
        .bucket(&b)
        .public_access_block_configuration(bpa(true, false))
        .send()
        .await
        .expect("bpa");
    assert_eq!(anonymous_list(h, &b).await.status, 200, "the stored grant counts again");
    expect_err(
        c.put_bucket_acl().bucket(&b).acl(BucketCannedAcl::PublicReadWrite).send().await,
        403,
        Some("AccessDenied"),
    );
    c.put_bucket_acl().bucket(&b).grant_read(format!("id={}", alt.id)).send().await.expect("not public");
    alt.client.list_objects_v2().bucket(&b).send().await.expect("READ by id");
    anonymous_list(h, &b).await.assert_error(403, "AccessDenied");
    c.delete_public_access_block().bucket(&b).send().await.expect("delete bpa");

    // Ownership controls: BucketOwnerEnforced needs a private ACL first; deleting them leaves
    // none (ACLs work, as ObjectWriter).
    c.put_bucket_acl().bucket(&b).acl(BucketCannedAcl::AuthenticatedRead).send().await.expect("authenticated-read");
    s.list_objects_v2().bucket(&b).send().await.expect("any account lists");
    anonymous_list(h, &b).await.assert_error(403, "AccessDenied");
    expect_err(
        c.put_bucket_ownership_controls()
            .bucket(&b)
            .ownership_controls(controls(ObjectOwnership::BucketOwnerEnforced))
            .send()
            .await,
        400,
        Some("InvalidBucketAclWithObjectOwnership"),
    );
    c.put_bucket_acl().bucket(&b).acl(BucketCannedAcl::Private).send().await.expect("private");
    expect_err(s.list_objects_v2().bucket(&b).send().await, 403, Some("AccessDenied"));
    c.put_bucket_ownership_controls()
        .bucket(&b)
        .ownership_controls(controls(ObjectOwnership::BucketOwnerEnforced))
        .send()
        .await
        .expect("enforce");
    assert_eq!(ownership(c, &b).await, Ok("BucketOwnerEnforced".into()));
    c.delete_bucket_ownership_controls().bucket(&b).send().await.expect("delete controls");
    assert_eq!(ownership(c, &b).await, Err(404));
    c.delete_bucket_ownership_controls().bucket(&b).send().await.expect("delete again");
    c.put_bucket_acl().bucket(&b).acl(BucketCannedAcl::PublicRead).send().await.expect("ACLs work again");

    // x-amz-object-ownership on CreateBucket, and its conflict with a public ACL.
    let preferred = format!("acl-pref-{}", random_hex(8));
    c.create_bucket()
        .bucket(&preferred)
        .object_ownership(ObjectOwnership::BucketOwnerPreferred)
        .send()
        .await
        .expect("create preferred");
    assert_eq!(ownership(c, &preferred).await, Ok("BucketOwnerPreferred".into()));
    expect_err(
        c.create_bucket()
            .bucket(format!("acl-bad-{}", random_hex(8)))
            .acl(BucketCannedAcl::PublicRead)
            .object_ownership(ObjectOwnership::BucketOwnerEnforced)
            .send()
            .await,
        400,
        Some("InvalidBucketAclWithObjectOwnership"),
    );
}
