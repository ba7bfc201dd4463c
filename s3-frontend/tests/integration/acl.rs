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
    let status = c.get_bucket_policy_status().bucket(&b).send().await.expect("policy status");
    assert_eq!(status.policy_status().and_then(|s| s.is_public()), Some(true), "public by its ACL");
    // Listing is granted: a missing key is 404 to anyone (403 where listing is not granted).
    h.raw(RawRequest::new("GET", &format!("/{b}/missing"))).await.assert_error(404, "NoSuchKey");
    h.raw(RawRequest::new("GET", &format!("/{plain}/missing"))).await.assert_error(403, "AccessDenied");
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
    alt.client.list_objects_v2().bucket(&b).expected_bucket_owner(&main.id).send().await.expect("expected owner");
    expect_err(
        alt.client.list_objects_v2().bucket(&b).expected_bucket_owner(&alt.id).send().await,
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

pub async fn object_acls_and_ownership(h: &Harness) {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ObjectCannedAcl};
    let main = account(h, "omain").await;
    let alt = account(h, "oalt").await;
    let stranger = account(h, "ostranger").await;
    let c = &main.client;
    let b = format!("acl-obj-{}", random_hex(8));
    c.create_bucket().bucket(&b).object_ownership(ObjectOwnership::ObjectWriter).send().await.expect("create");
    let put = |client: &Client, key: &str, acl: Option<ObjectCannedAcl>| {
        client.put_object().bucket(&b).key(key).set_acl(acl).body(ByteStream::from_static(b"data")).send()
    };
    let anonymous_get = |key: &str| h.raw(RawRequest::new("GET", &format!("/{b}/{key}")));
    let object_owner = |client: &Client, key: &str| {
        let req = client.get_object_acl().bucket(&b).key(key).send();
        async move {
            let got = req.await.expect("get object acl");
            (got.owner().and_then(|o| o.id()).unwrap_or_default().to_owned(), grants_of(got.grants()))
        }
    };

    // A public-read object is read by anyone; a private one by its owner's account only.
    put(c, "pub", Some(ObjectCannedAcl::PublicRead)).await.expect("put public-read");
    put(c, "priv", None).await.expect("put");
    let resp = anonymous_get("pub").await;
    assert_eq!((resp.status, resp.body.as_slice()), (200, b"data".as_slice()), "{}", resp.text());
    assert_eq!(
        object_owner(c, "pub").await,
        (main.id.clone(), vec![group(ALL_USERS, "READ"), user(&main, "FULL_CONTROL")])
    );
    anonymous_get("priv").await.assert_error(403, "AccessDenied");
    expect_err(alt.client.get_object().bucket(&b).key("priv").send().await, 403, Some("AccessDenied"));
    expect_err(alt.client.get_object_acl().bucket(&b).key("pub").send().await, 403, Some("AccessDenied"));
    assert_eq!(object_owner(c, "priv").await, (main.id.clone(), vec![user(&main, "FULL_CONTROL")]));

    // PutObjectAcl: a grant to one account, then to every signed caller.
    c.put_object_acl().bucket(&b).key("priv").grant_read(format!("id={}", alt.id)).send().await.expect("grant");
    alt.client.get_object().bucket(&b).key("priv").send().await.expect("READ by id");
    expect_err(alt.client.get_object_acl().bucket(&b).key("priv").send().await, 403, Some("AccessDenied"));
    expect_err(stranger.client.get_object().bucket(&b).key("priv").send().await, 403, Some("AccessDenied"));
    expect_err(
        alt.client.put_object_acl().bucket(&b).key("priv").acl(ObjectCannedAcl::PublicRead).send().await,
        403,
        Some("AccessDenied"),
    );
    c.put_object_acl().bucket(&b).key("priv").acl(ObjectCannedAcl::AuthenticatedRead).send().await.expect("acl");
    stranger.client.get_object().bucket(&b).key("priv").send().await.expect("any signed caller reads");
    anonymous_get("priv").await.assert_error(403, "AccessDenied");
    expect_err(
        c.put_object_acl().bucket(&b).key("missing").acl(ObjectCannedAcl::Private).send().await,
        404,
        Some("NoSuchKey"),
    );

    // The explain tool names the object's public grant.
    let why = explain(h, "anonymous", "s3:GetObject", &format!("arn:aws:s3:::{b}/pub")).await;
    assert_eq!(why["allowed"], true, "{why}");
    assert!(why["reason"].as_str().is_some_and(|r| r.contains("object's access control list")), "{why}");
    assert_eq!(why["public_access"]["public_object_acl_grants"][0]["grantee"]["group"], "AllUsers", "{why}");

    // An explicit Deny wins; IgnorePublicAcls ignores the grant; BlockPublicAcls refuses new ones.
    let deny = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/pub"}}]}}"#
    );
    c.put_bucket_policy().bucket(&b).policy(deny).send().await.expect("deny");
    anonymous_get("pub").await.assert_error(403, "AccessDenied");
    c.delete_bucket_policy().bucket(&b).send().await.expect("delete policy");
    assert_eq!(anonymous_get("pub").await.status, 200);
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
        .public_access_block_configuration(bpa(true, true))
        .send()
        .await
        .expect("bpa");
    anonymous_get("pub").await.assert_error(403, "AccessDenied");
    expect_err(put(c, "pub2", Some(ObjectCannedAcl::PublicRead)).await, 403, Some("AccessDenied"));
    expect_err(
        c.put_object_acl().bucket(&b).key("priv").acl(ObjectCannedAcl::PublicReadWrite).send().await,
        403,
        Some("AccessDenied"),
    );
    c.delete_public_access_block().bucket(&b).send().await.expect("delete bpa");

    // Copies get the ACL they ask for, never the source's.
    c.copy_object().bucket(&b).key("copy-private").copy_source(format!("{b}/pub")).send().await.expect("copy");
    anonymous_get("copy-private").await.assert_error(403, "AccessDenied");
    c.copy_object()
        .bucket(&b)
        .key("copy-public")
        .copy_source(format!("{b}/priv"))
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await
        .expect("copy public-read");
    assert_eq!(anonymous_get("copy-public").await.status, 200);
    // A grant of READ on the source lets another account copy it.
    c.put_bucket_acl().bucket(&b).grant_write(format!("id={}", alt.id)).send().await.expect("WRITE for alt");
    alt.client
        .copy_object()
        .bucket(&b)
        .key("alt-copy")
        .copy_source(format!("{b}/pub"))
        .send()
        .await
        .expect("alt copies a public object");
    expect_err(
        stranger.client.copy_object().bucket(&b).key("s-copy").copy_source(format!("{b}/priv")).send().await,
        403,
        Some("AccessDenied"),
    );

    // A bucket policy may demand a grant header (condition key s3:x-amz-grant-full-control).
    let demand = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"s3:PutObject","Resource":"arn:aws:s3:::{b}/demand/*","Condition":{{"StringEquals":{{"s3:x-amz-grant-full-control":"id={}"}}}}}}]}}"#,
        stranger.id, main.id
    );
    c.put_bucket_policy().bucket(&b).policy(demand).send().await.expect("policy");
    expect_err(put(&stranger.client, "demand/a", None).await, 403, Some("AccessDenied"));
    stranger
        .client
        .put_object()
        .bucket(&b)
        .key("demand/b")
        .grant_full_control(format!("id={}", main.id))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("the demanded grant");
    let got = object_owner(c, "demand/b").await;
    assert_eq!(got.0, stranger.id, "ObjectWriter: the writer owns it");
    assert!(got.1.contains(&user(&main, "FULL_CONTROL")), "{got:?}");
    c.delete_bucket_policy().bucket(&b).send().await.expect("delete policy");

    // ObjectWriter: another account's objects are its own; bucket-owner-* ACLs name the owner.
    put(&alt.client, "by-alt", None).await.expect("alt writes");
    assert_eq!(object_owner(&alt.client, "by-alt").await, (alt.id.clone(), vec![user(&alt, "FULL_CONTROL")]));
    put(&alt.client, "alt-full", Some(ObjectCannedAcl::BucketOwnerFullControl)).await.expect("alt writes");
    assert_eq!(
        object_owner(c, "alt-full").await,
        (alt.id.clone(), vec![user(&alt, "FULL_CONTROL"), user(&main, "FULL_CONTROL")]).tap_sort()
    );
    put(&alt.client, "alt-read", Some(ObjectCannedAcl::BucketOwnerRead)).await.expect("alt writes");
    assert_eq!(
        object_owner(c, "alt-read").await,
        (alt.id.clone(), vec![user(&alt, "FULL_CONTROL"), user(&main, "READ")]).tap_sort()
    );
    // Multipart: the upload's ACL and owner reach the completed object.
    let up = alt
        .client
        .create_multipart_upload()
        .bucket(&b)
        .key("mp")
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await
        .expect("create upload");
    let id = up.upload_id().expect("id");
    let parts = alt.client.list_parts().bucket(&b).key("mp").upload_id(id).send().await.expect("list parts");
    assert_eq!(parts.owner().and_then(|o| o.id()), Some(alt.id.as_str()));
    let part = alt
        .client
        .upload_part()
        .bucket(&b)
        .key("mp")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from_static(b"multi"))
        .send()
        .await
        .expect("part");
    alt.client
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
    assert_eq!(anonymous_get("mp").await.status, 200);
    assert_eq!(object_owner(&alt.client, "mp").await.0, alt.id);

    // BucketOwnerPreferred: bucket-owner-full-control hands the object to the bucket owner.
    c.put_bucket_ownership_controls()
        .bucket(&b)
        .ownership_controls(controls(ObjectOwnership::BucketOwnerPreferred))
        .send()
        .await
        .expect("preferred");
    put(&alt.client, "pref-full", Some(ObjectCannedAcl::BucketOwnerFullControl)).await.expect("alt writes");
    assert_eq!(object_owner(c, "pref-full").await.0, main.id);
    put(&alt.client, "pref-plain", None).await.expect("alt writes");
    assert_eq!(object_owner(&alt.client, "pref-plain").await.0, alt.id);

    // BucketOwnerEnforced: ACLs refused except bucket-owner-full-control; stored ones ignored.
    c.put_bucket_acl().bucket(&b).acl(BucketCannedAcl::Private).send().await.expect("private");
    c.put_bucket_ownership_controls()
        .bucket(&b)
        .ownership_controls(controls(ObjectOwnership::BucketOwnerEnforced))
        .send()
        .await
        .expect("enforced");
    expect_err(put(c, "e1", Some(ObjectCannedAcl::PublicRead)).await, 400, Some("AccessControlListNotSupported"));
    // `private` and `bucket-owner-full-control` say no more than the bucket owner's full
    // control: accepted, as AWS accepts them (rclone and s3cmd send `private`).
    put(c, "e2", Some(ObjectCannedAcl::Private)).await.expect("private");
    put(c, "e3", Some(ObjectCannedAcl::BucketOwnerFullControl)).await.expect("bucket-owner-full-control");
    c.put_object_acl().bucket(&b).key("e3").acl(ObjectCannedAcl::Private).send().await.expect("private again");
    expect_err(
        c.put_object_acl().bucket(&b).key("e3").acl(ObjectCannedAcl::PublicRead).send().await,
        400,
        Some("AccessControlListNotSupported"),
    );
    expect_err(
        c.put_object_acl().bucket(&b).key("missing").acl(ObjectCannedAcl::Private).send().await,
        404,
        Some("NoSuchKey"),
    );
    c.put_bucket_acl()
        .bucket(&b)
        .acl(aws_sdk_s3::types::BucketCannedAcl::Private)
        .send()
        .await
        .expect("bucket private");
    anonymous_get("pub").await.assert_error(403, "AccessDenied");
}

trait TapSort {
    fn tap_sort(self) -> Self;
}

impl TapSort for (String, Vec<(String, String)>) {
    fn tap_sort(mut self) -> Self {
        self.1.sort();
        self
    }
}
