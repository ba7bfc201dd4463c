//! The IAM and STS Query APIs end to end on a real service (SQLite store, in-memory sessions):
//! every action's happy path and XML shape, AWS error codes, authorization of IAM users and
//! assumed roles, account isolation, and STS credentials resolving through `key_grant`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::params;

use cloudstore_iam::api::{query, sts};
use cloudstore_iam::service::{IamService, user_principal};
use cloudstore_iam_api::{ADMIN_ACCOUNT_ID, ApiResponse, Caller, PrincipalKind, RequestMeta};

const IAM_NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

struct Env {
    svc: IamService,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let (svc, dir) = common::service().await;
    Env { svc, _dir: dir }
}

fn meta() -> RequestMeta {
    RequestMeta {
        source_ip: Some("203.0.113.7".into()),
        user_agent: Some("aws-cli/2 test".into()),
        request_id: "req-0001".into(),
        secure: false,
    }
}

async fn iam(svc: &IamService, caller: &Caller, p: &[(&str, &str)]) -> ApiResponse {
    query::handle(svc, caller, params(p), &meta()).await
}

async fn sts_call(svc: &IamService, caller: &Caller, p: &[(&str, &str)]) -> ApiResponse {
    sts::handle(svc, caller, params(p), &meta()).await
}

/// The text of the first `<tag>…</tag>` (entities decoded).
fn field(body: &str, tag: &str) -> Option<String> {
    fields(body, tag).into_iter().next()
}

/// The texts of every `<tag>…</tag>` in order.
fn fields(body: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(unescape(&after[..j]));
        rest = &after[j + close.len()..];
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("hex");
            out.push(u8::from_str_radix(hex, 16).expect("hex digit"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8")
}

#[track_caller]
fn ok(r: &ApiResponse, action: &str) -> String {
    assert_eq!(r.status, 200, "{action}: {}", r.body);
    assert_eq!(r.content_type, "text/xml");
    assert!(r.body.contains(&format!("<{action}Response xmlns=")), "{action}: {}", r.body);
    assert!(r.body.contains("<ResponseMetadata><RequestId>req-0001</RequestId></ResponseMetadata>"), "{}", r.body);
    r.body.clone()
}

#[track_caller]
fn err(r: &ApiResponse, status: u16, code: &str) {
    assert_eq!(r.status, status, "expected {code}: {}", r.body);
    assert_eq!(r.content_type, "text/xml");
    assert!(r.body.contains("<ErrorResponse xmlns="), "{}", r.body);
    assert_eq!(field(&r.body, "Code").as_deref(), Some(code), "{}", r.body);
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    assert_eq!(field(&r.body, "Type").as_deref(), Some(kind), "{}", r.body);
    assert_eq!(field(&r.body, "RequestId").as_deref(), Some("req-0001"), "{}", r.body);
}

/// An account root registered through the REST flow.
async fn register_root(svc: &IamService, name: &str) -> (Caller, String) {
    let profile =
        svc.register(name, None, "s3cret-pass1", &cloudstore_iam_api::RequestMeta::default()).await.expect("register");
    let user = svc.store().get_user(&profile.user_id).await.expect("get").expect("root user");
    assert!(user.is_root);
    let caller =
        Caller { principal: user_principal(&user), access_key: "AKIAROOTKEY000000000".into(), policies: vec![] };
    (caller, profile.account_id)
}

/// The caller that signs with `key` (as the gateway builds it from the key grant).
async fn caller_for(svc: &IamService, key: &str) -> Caller {
    let grant = svc.key_grant(key).await.expect("key_grant").expect("known key");
    Caller { principal: grant.principal, access_key: key.to_owned(), policies: grant.policies }
}

/// Creates IAM user `name` and an access key for it as `admin`; returns (caller, key id).
async fn new_user(svc: &IamService, admin: &Caller, name: &str) -> (Caller, String) {
    ok(&iam(svc, admin, &[("Action", "CreateUser"), ("UserName", name)]).await, "CreateUser");
    let body = ok(&iam(svc, admin, &[("Action", "CreateAccessKey"), ("UserName", name)]).await, "CreateAccessKey");
    let key = field(&body, "AccessKeyId").expect("key id");
    (caller_for(svc, &key).await, key)
}

const ALLOW_ALL_S3: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;

fn allow(action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}]}}"#
    )
}

fn trust(principal_arn: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal_arn}"}},"Action":"sts:AssumeRole"}}]}}"#
    )
}

// ---------------------------------------------------------------- users

#[tokio::test]
async fn users_create_get_list_delete() {
    let e = env().await;
    let (root, account) = register_root(&e.svc, "alice").await;

    let r = iam(
        &e.svc,
        &root,
        &[("Action", "CreateUser"), ("Version", "2010-05-08"), ("UserName", "bob"), ("Path", "/team/")],
    )
    .await;
    let body = ok(&r, "CreateUser");
    assert!(body.starts_with("<?xml"));
    assert!(body.contains(&format!("<CreateUserResponse xmlns=\"{IAM_NS}\"><CreateUserResult><User>")), "{body}");
    assert_eq!(field(&body, "UserName").as_deref(), Some("bob"));
    assert_eq!(field(&body, "Path").as_deref(), Some("/team/"));
    assert_eq!(field(&body, "Arn"), Some(format!("arn:aws:iam::{account}:user/team/bob")));
    let user_id = field(&body, "UserId").expect("UserId");
    assert!(user_id.starts_with("AIDA"), "{user_id}");
    let created = field(&body, "CreateDate").expect("CreateDate");
    assert!(created.len() == 20 && created.ends_with('Z') && created.as_bytes()[10] == b'T', "{created}");

    ok(&iam(&e.svc, &root, &[("Action", "CreateUser"), ("UserName", "carol")]).await, "CreateUser");

    let body = ok(&iam(&e.svc, &root, &[("Action", "GetUser"), ("UserName", "BOB")]).await, "GetUser");
    assert_eq!(field(&body, "UserId"), Some(user_id.clone()), "names are case-insensitive");
    assert_eq!(field(&body, "UserName").as_deref(), Some("bob"));

    let body = ok(&iam(&e.svc, &root, &[("Action", "ListUsers")]).await, "ListUsers");
    assert_eq!(fields(&body, "UserName"), ["bob", "carol"], "the root is not an IAM user: {body}");
    assert!(body.contains("<Users><member><Path>"), "{body}");
    assert_eq!(field(&body, "IsTruncated").as_deref(), Some("false"));
    let body = ok(
        &iam(&e.svc, &root, &[("Action", "ListUsers"), ("PathPrefix", "/team/"), ("MaxItems", "10")]).await,
        "ListUsers",
    );
    assert_eq!(fields(&body, "UserName"), ["bob"]);

    // GetUser without a name: the caller itself; for an account root, AWS's root shape.
    let body = ok(&iam(&e.svc, &root, &[("Action", "GetUser")]).await, "GetUser");
    assert_eq!(field(&body, "UserId"), Some(account.clone()));
    assert_eq!(field(&body, "Arn"), Some(format!("arn:aws:iam::{account}:root")));
    assert_eq!(field(&body, "UserName"), None);

    // The root user cannot be addressed as an IAM user.
    err(&iam(&e.svc, &root, &[("Action", "GetUser"), ("UserName", "alice")]).await, 404, "NoSuchEntity");
    err(&iam(&e.svc, &root, &[("Action", "DeleteUser"), ("UserName", "alice")]).await, 404, "NoSuchEntity");

    let body = ok(&iam(&e.svc, &root, &[("Action", "DeleteUser"), ("UserName", "bob")]).await, "DeleteUser");
    assert!(!body.contains("DeleteUserResult"), "{body}");
    err(&iam(&e.svc, &root, &[("Action", "GetUser"), ("UserName", "bob")]).await, 404, "NoSuchEntity");
    err(&iam(&e.svc, &root, &[("Action", "DeleteUser"), ("UserName", "bob")]).await, 404, "NoSuchEntity");
}

#[tokio::test]
async fn user_errors() {
    let e = env().await;
    let (root, _) = register_root(&e.svc, "alice").await;
    ok(&iam(&e.svc, &root, &[("Action", "CreateUser"), ("UserName", "bob")]).await, "CreateUser");
    let r = iam(&e.svc, &root, &[("Action", "CreateUser"), ("UserName", "Bob")]).await;
    err(&r, 409, "EntityAlreadyExists");
    assert!(field(&r.body, "Message").expect("message").contains("Bob"), "{}", r.body);
    // The account's own name is its root user's.
    err(&iam(&e.svc, &root, &[("Action", "CreateUser"), ("UserName", "alice")]).await, 409, "EntityAlreadyExists");

    err(&iam(&e.svc, &root, &[("Action", "GetUser"), ("UserName", "nobody")]).await, 404, "NoSuchEntity");
    err(&iam(&e.svc, &root, &[("Action", "CreateUser")]).await, 400, "ValidationError");
    err(&iam(&e.svc, &root, &[("Action", "CreateUser"), ("UserName", "")]).await, 400, "ValidationError");
    err(&iam(&e.svc, &root, &[("Action", "CreateUser"), ("UserName", "a b")]).await, 400, "ValidationError");
    err(
        &iam(&e.svc, &root, &[("Action", "CreateUser"), ("UserName", "x"), ("Path", "team")]).await,
        400,
        "ValidationError",
    );
    let r = iam(&e.svc, &root, &[("Action", "CreateUser"), ("UserName", "a&b<c>")]).await;
    err(&r, 400, "ValidationError");
    assert!(r.body.contains("a&amp;b&lt;c&gt;"), "user input is escaped in messages: {}", r.body);

    let r = iam(&e.svc, &root, &[("Action", "FlyToTheMoon")]).await;
    err(&r, 400, "InvalidAction");
    assert!(r.body.contains(&format!("<ErrorResponse xmlns=\"{IAM_NS}\">")));
    err(&iam(&e.svc, &root, &[("UserName", "bob")]).await, 400, "InvalidAction");
    err(&iam(&e.svc, &root, &[("Action", "<script>")]).await, 400, "InvalidAction");
    // STS actions are not IAM actions and vice versa.
    err(&iam(&e.svc, &root, &[("Action", "GetCallerIdentity")]).await, 400, "InvalidAction");
    err(&sts_call(&e.svc, &root, &[("Action", "ListUsers")]).await, 400, "InvalidAction");
}

// ---------------------------------------------------------------- access keys

#[tokio::test]
async fn access_keys_lifecycle() {
    let e = env().await;
    let (root, _) = register_root(&e.svc, "alice").await;
    ok(&iam(&e.svc, &root, &[("Action", "CreateUser"), ("UserName", "bob")]).await, "CreateUser");

    let body = ok(&iam(&e.svc, &root, &[("Action", "CreateAccessKey"), ("UserName", "bob")]).await, "CreateAccessKey");
    assert!(body.contains("<CreateAccessKeyResult><AccessKey><UserName>bob</UserName>"), "{body}");
    let key = field(&body, "AccessKeyId").expect("id");
    let secret = field(&body, "SecretAccessKey").expect("secret");
    assert!(key.starts_with("AKIA") && key.len() == 20, "{key}");
    assert_eq!(secret.len(), 40);
    assert_eq!(field(&body, "Status").as_deref(), Some("Active"));
    let grant = e.svc.key_grant(&key).await.expect("grant").expect("active key");
    assert_eq!(grant.secret_key, secret);

    let body = ok(&iam(&e.svc, &root, &[("Action", "ListAccessKeys"), ("UserName", "bob")]).await, "ListAccessKeys");
    assert_eq!(fields(&body, "AccessKeyId"), std::slice::from_ref(&key));
    assert!(body.contains("<ListAccessKeysResult><UserName>bob</UserName><AccessKeyMetadata><member>"), "{body}");
    assert!(!body.contains("SecretAccessKey"), "secrets are shown once: {body}");

    let update = |status: &'static str| {
        let key = key.clone();
        let svc = e.svc.clone();
        let root = root.clone();
        async move {
            iam(
                &svc,
                &root,
                &[("Action", "UpdateAccessKey"), ("UserName", "bob"), ("AccessKeyId", &key), ("Status", status)],
            )
            .await
        }
    };
    ok(&update("Inactive").await, "UpdateAccessKey");
    assert!(e.svc.key_grant(&key).await.expect("grant").is_none(), "an inactive key signs nothing");
    let body = ok(&iam(&e.svc, &root, &[("Action", "ListAccessKeys"), ("UserName", "bob")]).await, "ListAccessKeys");
    assert_eq!(field(&body, "Status").as_deref(), Some("Inactive"));
    ok(&update("Active").await, "UpdateAccessKey");
    assert!(e.svc.key_grant(&key).await.expect("grant").is_some());
    err(&update("Enabled").await, 400, "ValidationError");

    // A key of another user is not found under this one.
    ok(&iam(&e.svc, &root, &[("Action", "CreateUser"), ("UserName", "carol")]).await, "CreateUser");
    let r = iam(
        &e.svc,
        &root,
        &[("Action", "UpdateAccessKey"), ("UserName", "carol"), ("AccessKeyId", &key), ("Status", "Inactive")],
    )
    .await;
    err(&r, 404, "NoSuchEntity");
    err(
        &iam(&e.svc, &root, &[("Action", "DeleteAccessKey"), ("UserName", "carol"), ("AccessKeyId", &key)]).await,
        404,
        "NoSuchEntity",
    );
    assert!(e.svc.key_grant(&key).await.expect("grant").is_some(), "bob's key is untouched");

    // A user with keys cannot be deleted.
    err(&iam(&e.svc, &root, &[("Action", "DeleteUser"), ("UserName", "bob")]).await, 409, "DeleteConflict");
    ok(
        &iam(&e.svc, &root, &[("Action", "DeleteAccessKey"), ("UserName", "bob"), ("AccessKeyId", &key)]).await,
        "DeleteAccessKey",
    );
    assert!(e.svc.key_grant(&key).await.expect("grant").is_none());
    err(
        &iam(&e.svc, &root, &[("Action", "DeleteAccessKey"), ("UserName", "bob"), ("AccessKeyId", &key)]).await,
        404,
        "NoSuchEntity",
    );
    ok(&iam(&e.svc, &root, &[("Action", "DeleteUser"), ("UserName", "bob")]).await, "DeleteUser");
}

#[tokio::test]
async fn access_keys_default_to_the_caller() {
    let e = env().await;
    let (root, _) = register_root(&e.svc, "alice").await;
    // The root's own keys.
    let body = ok(&iam(&e.svc, &root, &[("Action", "CreateAccessKey")]).await, "CreateAccessKey");
    assert_eq!(field(&body, "UserName").as_deref(), Some("alice"));
    let root_key = field(&body, "AccessKeyId").expect("id");
    let grant = e.svc.key_grant(&root_key).await.expect("grant").expect("root key");
    assert_eq!(grant.principal.kind, PrincipalKind::AccountRoot);
    let body = ok(&iam(&e.svc, &root, &[("Action", "ListAccessKeys")]).await, "ListAccessKeys");
    assert_eq!(fields(&body, "AccessKeyId"), [root_key]);

    // An IAM user manages its own keys when a policy lets it.
    let (bob, bob_key) = new_user(&e.svc, &root, "bob").await;
    err(&iam(&e.svc, &bob, &[("Action", "ListAccessKeys")]).await, 403, "AccessDenied");
    let policy = allow("iam:*AccessKey*", "arn:aws:iam::*:user/${aws:username}");
    ok(
        &iam(
            &e.svc,
            &root,
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", "bob"),
                ("PolicyName", "own-keys"),
                ("PolicyDocument", &policy),
            ],
        )
        .await,
        "PutUserPolicy",
    );
    let bob = caller_for(&e.svc, &bob.access_key).await;
    let body = ok(&iam(&e.svc, &bob, &[("Action", "ListAccessKeys")]).await, "ListAccessKeys");
    assert_eq!(fields(&body, "AccessKeyId"), [bob_key]);
    assert_eq!(field(&body, "UserName").as_deref(), Some("bob"));
    ok(&iam(&e.svc, &bob, &[("Action", "CreateAccessKey")]).await, "CreateAccessKey");
    // …but not another user's.
    ok(&iam(&e.svc, &root, &[("Action", "CreateUser"), ("UserName", "carol")]).await, "CreateUser");
    err(&iam(&e.svc, &bob, &[("Action", "ListAccessKeys"), ("UserName", "carol")]).await, 403, "AccessDenied");
    err(&iam(&e.svc, &bob, &[("Action", "CreateAccessKey"), ("UserName", "carol")]).await, 403, "AccessDenied");
}

// ---------------------------------------------------------------- inline policies

#[tokio::test]
async fn user_inline_policies() {
    let e = env().await;
    let (root, _) = register_root(&e.svc, "alice").await;
    ok(&iam(&e.svc, &root, &[("Action", "CreateUser"), ("UserName", "bob")]).await, "CreateUser");
    let doc = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}"#;
    let put = [("Action", "PutUserPolicy"), ("UserName", "bob"), ("PolicyName", "read"), ("PolicyDocument", doc)];
    let body = ok(&iam(&e.svc, &root, &put).await, "PutUserPolicy");
    assert!(!body.contains("PutUserPolicyResult"));

    let body = ok(
        &iam(&e.svc, &root, &[("Action", "GetUserPolicy"), ("UserName", "bob"), ("PolicyName", "read")]).await,
        "GetUserPolicy",
    );
    assert_eq!(field(&body, "UserName").as_deref(), Some("bob"));
    assert_eq!(field(&body, "PolicyName").as_deref(), Some("read"));
    let encoded = field(&body, "PolicyDocument").expect("document");
    assert!(encoded.starts_with("%7B%22Version%22%3A%20%22"), "URL-encoded as AWS does: {encoded}");
    assert_eq!(percent_decode(&encoded), doc);

    ok(
        &iam(
            &e.svc,
            &root,
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", "bob"),
                ("PolicyName", "all-s3"),
                ("PolicyDocument", ALLOW_ALL_S3),
            ],
        )
        .await,
        "PutUserPolicy",
    );
    let body =
        ok(&iam(&e.svc, &root, &[("Action", "ListUserPolicies"), ("UserName", "bob")]).await, "ListUserPolicies");
    assert!(body.contains("<PolicyNames><member>all-s3</member><member>read</member></PolicyNames>"), "{body}");
    let grant = e
        .svc
        .key_grant(&{
            let b =
                ok(&iam(&e.svc, &root, &[("Action", "CreateAccessKey"), ("UserName", "bob")]).await, "CreateAccessKey");
            field(&b, "AccessKeyId").expect("key")
        })
        .await
        .expect("grant")
        .expect("key");
    assert_eq!(grant.policies.len(), 2, "{:?}", grant.policies);

    // Replacing keeps one policy of that name.
    ok(&iam(&e.svc, &root, &put).await, "PutUserPolicy");
    let body =
        ok(&iam(&e.svc, &root, &[("Action", "ListUserPolicies"), ("UserName", "bob")]).await, "ListUserPolicies");
    assert_eq!(fields(&body, "member").len(), 2);

    for bad in
        ["{", "not json", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"s3:*","Resource":"*"}]}"#]
    {
        let r = iam(
            &e.svc,
            &root,
            &[("Action", "PutUserPolicy"), ("UserName", "bob"), ("PolicyName", "bad"), ("PolicyDocument", bad)],
        )
        .await;
        err(&r, 400, "MalformedPolicyDocument");
    }
    err(
        &iam(&e.svc, &root, &[("Action", "PutUserPolicy"), ("UserName", "bob"), ("PolicyName", "bad")]).await,
        400,
        "ValidationError",
    );
    err(
        &iam(
            &e.svc,
            &root,
            &[("Action", "PutUserPolicy"), ("UserName", "nobody"), ("PolicyName", "p"), ("PolicyDocument", doc)],
        )
        .await,
        404,
        "NoSuchEntity",
    );
    err(
        &iam(&e.svc, &root, &[("Action", "GetUserPolicy"), ("UserName", "bob"), ("PolicyName", "nope")]).await,
        404,
        "NoSuchEntity",
    );

    // A user with inline policies cannot be deleted.
    ok(
        &iam(
            &e.svc,
            &root,
            &[
                ("Action", "DeleteAccessKey"),
                ("UserName", "bob"),
                ("AccessKeyId", &grant_key(&e.svc, &root, "bob").await),
            ],
        )
        .await,
        "DeleteAccessKey",
    );
    err(&iam(&e.svc, &root, &[("Action", "DeleteUser"), ("UserName", "bob")]).await, 409, "DeleteConflict");
    for name in ["read", "all-s3"] {
        ok(
            &iam(&e.svc, &root, &[("Action", "DeleteUserPolicy"), ("UserName", "bob"), ("PolicyName", name)]).await,
            "DeleteUserPolicy",
        );
    }
    err(
        &iam(&e.svc, &root, &[("Action", "DeleteUserPolicy"), ("UserName", "bob"), ("PolicyName", "read")]).await,
        404,
        "NoSuchEntity",
    );
    let body =
        ok(&iam(&e.svc, &root, &[("Action", "ListUserPolicies"), ("UserName", "bob")]).await, "ListUserPolicies");
    assert!(body.contains("<PolicyNames></PolicyNames>"), "{body}");
    ok(&iam(&e.svc, &root, &[("Action", "DeleteUser"), ("UserName", "bob")]).await, "DeleteUser");
}

/// The first access key id of `user`.
async fn grant_key(svc: &IamService, root: &Caller, user: &str) -> String {
    let body = ok(&iam(svc, root, &[("Action", "ListAccessKeys"), ("UserName", user)]).await, "ListAccessKeys");
    field(&body, "AccessKeyId").expect("a key")
}

// ---------------------------------------------------------------- managed policies

#[tokio::test]
async fn managed_policies_and_user_attachments() {
    let e = env().await;
    let (root, account) = register_root(&e.svc, "alice").await;
    let (_, bob_key) = new_user(&e.svc, &root, "bob").await;

    let r = iam(
        &e.svc,
        &root,
        &[
            ("Action", "CreatePolicy"),
            ("PolicyName", "S3All"),
            ("Path", "/shared/"),
            ("PolicyDocument", ALLOW_ALL_S3),
            ("Description", "all of S3 for R&D <team>"),
        ],
    )
    .await;
    let body = ok(&r, "CreatePolicy");
    let arn = format!("arn:aws:iam::{account}:policy/shared/S3All");
    assert_eq!(field(&body, "Arn"), Some(arn.clone()));
    assert_eq!(field(&body, "PolicyName").as_deref(), Some("S3All"));
    assert!(field(&body, "PolicyId").expect("id").starts_with("ANPA"));
    assert_eq!(field(&body, "DefaultVersionId").as_deref(), Some("v1"));
    assert_eq!(field(&body, "AttachmentCount").as_deref(), Some("0"));
    assert_eq!(field(&body, "IsAttachable").as_deref(), Some("true"));
    assert!(body.contains("<Description>all of S3 for R&amp;D &lt;team&gt;</Description>"), "{body}");
    assert_eq!(field(&body, "Description").as_deref(), Some("all of S3 for R&D <team>"));

    err(
        &iam(&e.svc, &root, &[("Action", "CreatePolicy"), ("PolicyName", "s3all"), ("PolicyDocument", ALLOW_ALL_S3)])
            .await,
        409,
        "EntityAlreadyExists",
    );
    err(
        &iam(&e.svc, &root, &[("Action", "CreatePolicy"), ("PolicyName", "Bad"), ("PolicyDocument", "[1,2]")]).await,
        400,
        "MalformedPolicyDocument",
    );

    let body = ok(&iam(&e.svc, &root, &[("Action", "GetPolicy"), ("PolicyArn", &arn)]).await, "GetPolicy");
    assert_eq!(field(&body, "Path").as_deref(), Some("/shared/"));
    let body = ok(
        &iam(&e.svc, &root, &[("Action", "GetPolicyVersion"), ("PolicyArn", &arn), ("VersionId", "v1")]).await,
        "GetPolicyVersion",
    );
    assert_eq!(percent_decode(&field(&body, "Document").expect("doc")), ALLOW_ALL_S3);
    assert_eq!(field(&body, "IsDefaultVersion").as_deref(), Some("true"));
    err(
        &iam(&e.svc, &root, &[("Action", "GetPolicyVersion"), ("PolicyArn", &arn), ("VersionId", "v2")]).await,
        404,
        "NoSuchEntity",
    );
    let body =
        ok(&iam(&e.svc, &root, &[("Action", "ListPolicyVersions"), ("PolicyArn", &arn)]).await, "ListPolicyVersions");
    assert_eq!(fields(&body, "VersionId"), ["v1"]);

    // Attach, list, count.
    let attach = [("Action", "AttachUserPolicy"), ("UserName", "bob"), ("PolicyArn", arn.as_str())];
    ok(&iam(&e.svc, &root, &attach).await, "AttachUserPolicy");
    ok(&iam(&e.svc, &root, &attach).await, "AttachUserPolicy"); // idempotent
    let body = ok(
        &iam(&e.svc, &root, &[("Action", "ListAttachedUserPolicies"), ("UserName", "bob")]).await,
        "ListAttachedUserPolicies",
    );
    assert!(
        body.contains(&format!("<AttachedPolicies><member><PolicyName>S3All</PolicyName><PolicyArn>{arn}</PolicyArn></member></AttachedPolicies>")),
        "{body}"
    );
    let grant = e.svc.key_grant(&bob_key).await.expect("grant").expect("key");
    assert!(grant.policies.iter().any(|p| p.document == ALLOW_ALL_S3), "{:?}", grant.policies);
    let body = ok(&iam(&e.svc, &root, &[("Action", "GetPolicy"), ("PolicyArn", &arn)]).await, "GetPolicy");
    assert_eq!(field(&body, "AttachmentCount").as_deref(), Some("1"));

    ok(
        &iam(&e.svc, &root, &[("Action", "CreatePolicy"), ("PolicyName", "Unused"), ("PolicyDocument", ALLOW_ALL_S3)])
            .await,
        "CreatePolicy",
    );
    let body = ok(&iam(&e.svc, &root, &[("Action", "ListPolicies"), ("Scope", "Local")]).await, "ListPolicies");
    assert_eq!(fields(&body, "PolicyName"), ["S3All", "Unused"]);
    let body = ok(&iam(&e.svc, &root, &[("Action", "ListPolicies")]).await, "ListPolicies");
    assert_eq!(fields(&body, "PolicyName"), ["S3All", "Unused"]);
    let body = ok(&iam(&e.svc, &root, &[("Action", "ListPolicies"), ("Scope", "AWS")]).await, "ListPolicies");
    assert!(fields(&body, "PolicyName").is_empty(), "no AWS-managed policies here");
    let body = ok(&iam(&e.svc, &root, &[("Action", "ListPolicies"), ("OnlyAttached", "true")]).await, "ListPolicies");
    assert_eq!(fields(&body, "PolicyName"), ["S3All"]);
    let body = ok(&iam(&e.svc, &root, &[("Action", "ListPolicies"), ("PathPrefix", "/shared/")]).await, "ListPolicies");
    assert_eq!(fields(&body, "PolicyName"), ["S3All"]);
    err(&iam(&e.svc, &root, &[("Action", "ListPolicies"), ("Scope", "Mine")]).await, 400, "ValidationError");

    // Unknown and foreign policy ARNs.
    let unknown = format!("arn:aws:iam::{account}:policy/Nope");
    err(
        &iam(&e.svc, &root, &[("Action", "AttachUserPolicy"), ("UserName", "bob"), ("PolicyArn", &unknown)]).await,
        404,
        "NoSuchEntity",
    );
    err(&iam(&e.svc, &root, &[("Action", "GetPolicy"), ("PolicyArn", &unknown)]).await, 404, "NoSuchEntity");
    err(
        &iam(
            &e.svc,
            &root,
            &[
                ("Action", "AttachUserPolicy"),
                ("UserName", "bob"),
                ("PolicyArn", "arn:aws:iam::aws:policy/AdministratorAccess"),
            ],
        )
        .await,
        404,
        "NoSuchEntity",
    );
    err(
        &iam(&e.svc, &root, &[("Action", "AttachUserPolicy"), ("UserName", "nobody"), ("PolicyArn", &arn)]).await,
        404,
        "NoSuchEntity",
    );

    // Attached policies block deleting the policy and the user.
    err(&iam(&e.svc, &root, &[("Action", "DeletePolicy"), ("PolicyArn", &arn)]).await, 409, "DeleteConflict");
    ok(
        &iam(&e.svc, &root, &[("Action", "DeleteAccessKey"), ("UserName", "bob"), ("AccessKeyId", &bob_key)]).await,
        "DeleteAccessKey",
    );
    err(&iam(&e.svc, &root, &[("Action", "DeleteUser"), ("UserName", "bob")]).await, 409, "DeleteConflict");
    ok(
        &iam(&e.svc, &root, &[("Action", "DetachUserPolicy"), ("UserName", "bob"), ("PolicyArn", &arn)]).await,
        "DetachUserPolicy",
    );
    err(
        &iam(&e.svc, &root, &[("Action", "DetachUserPolicy"), ("UserName", "bob"), ("PolicyArn", &arn)]).await,
        404,
        "NoSuchEntity",
    );
    let body = ok(
        &iam(&e.svc, &root, &[("Action", "ListAttachedUserPolicies"), ("UserName", "bob")]).await,
        "ListAttachedUserPolicies",
    );
    assert!(body.contains("<AttachedPolicies></AttachedPolicies>"), "{body}");
    ok(&iam(&e.svc, &root, &[("Action", "DeletePolicy"), ("PolicyArn", &arn)]).await, "DeletePolicy");
    err(&iam(&e.svc, &root, &[("Action", "GetPolicy"), ("PolicyArn", &arn)]).await, 404, "NoSuchEntity");
    ok(&iam(&e.svc, &root, &[("Action", "DeleteUser"), ("UserName", "bob")]).await, "DeleteUser");
}

// ---------------------------------------------------------------- groups

#[tokio::test]
async fn groups_members_and_policies() {
    let e = env().await;
    let (root, account) = register_root(&e.svc, "alice").await;
    let (bob, bob_key) = new_user(&e.svc, &root, "bob").await;

    let body = ok(
        &iam(&e.svc, &root, &[("Action", "CreateGroup"), ("GroupName", "admins"), ("Path", "/ops/")]).await,
        "CreateGroup",
    );
    assert_eq!(field(&body, "GroupName").as_deref(), Some("admins"));
    assert_eq!(field(&body, "Arn"), Some(format!("arn:aws:iam::{account}:group/ops/admins")));
    assert!(field(&body, "GroupId").expect("id").starts_with("AGPA"));
    err(&iam(&e.svc, &root, &[("Action", "CreateGroup"), ("GroupName", "ADMINS")]).await, 409, "EntityAlreadyExists");
    ok(&iam(&e.svc, &root, &[("Action", "CreateGroup"), ("GroupName", "readers")]).await, "CreateGroup");

    let body = ok(&iam(&e.svc, &root, &[("Action", "ListGroups")]).await, "ListGroups");
    assert_eq!(fields(&body, "GroupName"), ["admins", "readers"]);
    let body = ok(&iam(&e.svc, &root, &[("Action", "ListGroups"), ("PathPrefix", "/ops/")]).await, "ListGroups");
    assert_eq!(fields(&body, "GroupName"), ["admins"]);

    // Before joining, bob may do nothing.
    err(&iam(&e.svc, &bob, &[("Action", "CreateUser"), ("UserName", "dave")]).await, 403, "AccessDenied");

    ok(
        &iam(&e.svc, &root, &[("Action", "AddUserToGroup"), ("GroupName", "admins"), ("UserName", "bob")]).await,
        "AddUserToGroup",
    );
    err(
        &iam(&e.svc, &root, &[("Action", "AddUserToGroup"), ("GroupName", "admins"), ("UserName", "nobody")]).await,
        404,
        "NoSuchEntity",
    );
    err(
        &iam(&e.svc, &root, &[("Action", "AddUserToGroup"), ("GroupName", "nogroup"), ("UserName", "bob")]).await,
        404,
        "NoSuchEntity",
    );
    let body = ok(&iam(&e.svc, &root, &[("Action", "GetGroup"), ("GroupName", "admins")]).await, "GetGroup");
    assert!(body.contains("<GetGroupResult><Group><Path>/ops/</Path><GroupName>admins</GroupName>"), "{body}");
    assert!(body.contains("<Users><member><Path>/</Path><UserName>bob</UserName>"), "{body}");
    let body =
        ok(&iam(&e.svc, &root, &[("Action", "ListGroupsForUser"), ("UserName", "bob")]).await, "ListGroupsForUser");
    assert_eq!(fields(&body, "GroupName"), ["admins"]);

    // Group inline policy: applies to the members.
    let create_users = allow("iam:CreateUser", &format!("arn:aws:iam::{account}:user/*"));
    ok(
        &iam(
            &e.svc,
            &root,
            &[
                ("Action", "PutGroupPolicy"),
                ("GroupName", "admins"),
                ("PolicyName", "mk-users"),
                ("PolicyDocument", &create_users),
            ],
        )
        .await,
        "PutGroupPolicy",
    );
    let body = ok(
        &iam(&e.svc, &root, &[("Action", "GetGroupPolicy"), ("GroupName", "admins"), ("PolicyName", "mk-users")]).await,
        "GetGroupPolicy",
    );
    assert_eq!(field(&body, "GroupName").as_deref(), Some("admins"));
    assert_eq!(percent_decode(&field(&body, "PolicyDocument").expect("doc")), create_users);
    let body =
        ok(&iam(&e.svc, &root, &[("Action", "ListGroupPolicies"), ("GroupName", "admins")]).await, "ListGroupPolicies");
    assert_eq!(fields(&body, "member"), ["mk-users"]);
    let bob = caller_for(&e.svc, &bob_key).await;
    assert!(bob.policies.iter().any(|p| p.label.contains("admins")), "{:?}", bob.policies);
    ok(&iam(&e.svc, &bob, &[("Action", "CreateUser"), ("UserName", "dave")]).await, "CreateUser");
    err(&iam(&e.svc, &bob, &[("Action", "DeleteUser"), ("UserName", "dave")]).await, 403, "AccessDenied");

    // Group managed policy.
    let body = ok(
        &iam(
            &e.svc,
            &root,
            &[("Action", "CreatePolicy"), ("PolicyName", "Del"), ("PolicyDocument", &allow("iam:DeleteUser", "*"))],
        )
        .await,
        "CreatePolicy",
    );
    let arn = field(&body, "Arn").expect("arn");
    ok(
        &iam(&e.svc, &root, &[("Action", "AttachGroupPolicy"), ("GroupName", "admins"), ("PolicyArn", &arn)]).await,
        "AttachGroupPolicy",
    );
    let body = ok(
        &iam(&e.svc, &root, &[("Action", "ListAttachedGroupPolicies"), ("GroupName", "admins")]).await,
        "ListAttachedGroupPolicies",
    );
    assert_eq!(fields(&body, "PolicyArn"), std::slice::from_ref(&arn));
    let bob = caller_for(&e.svc, &bob_key).await;
    ok(&iam(&e.svc, &bob, &[("Action", "DeleteUser"), ("UserName", "dave")]).await, "DeleteUser");

    // A group with members or policies cannot be deleted.
    err(&iam(&e.svc, &root, &[("Action", "DeleteGroup"), ("GroupName", "admins")]).await, 409, "DeleteConflict");
    ok(
        &iam(&e.svc, &root, &[("Action", "DetachGroupPolicy"), ("GroupName", "admins"), ("PolicyArn", &arn)]).await,
        "DetachGroupPolicy",
    );
    ok(
        &iam(&e.svc, &root, &[("Action", "DeleteGroupPolicy"), ("GroupName", "admins"), ("PolicyName", "mk-users")])
            .await,
        "DeleteGroupPolicy",
    );
    err(
        &iam(&e.svc, &root, &[("Action", "DeleteGroupPolicy"), ("GroupName", "admins"), ("PolicyName", "mk-users")])
            .await,
        404,
        "NoSuchEntity",
    );
    err(&iam(&e.svc, &root, &[("Action", "DeleteGroup"), ("GroupName", "admins")]).await, 409, "DeleteConflict");
    ok(
        &iam(&e.svc, &root, &[("Action", "RemoveUserFromGroup"), ("GroupName", "admins"), ("UserName", "bob")]).await,
        "RemoveUserFromGroup",
    );
    err(
        &iam(&e.svc, &root, &[("Action", "RemoveUserFromGroup"), ("GroupName", "admins"), ("UserName", "bob")]).await,
        404,
        "NoSuchEntity",
    );
    let bob = caller_for(&e.svc, &bob_key).await;
    assert!(bob.policies.is_empty(), "leaving the group drops its policies: {:?}", bob.policies);
    ok(&iam(&e.svc, &root, &[("Action", "DeleteGroup"), ("GroupName", "admins")]).await, "DeleteGroup");
    err(&iam(&e.svc, &root, &[("Action", "GetGroup"), ("GroupName", "admins")]).await, 404, "NoSuchEntity");
    let body =
        ok(&iam(&e.svc, &root, &[("Action", "ListGroupsForUser"), ("UserName", "bob")]).await, "ListGroupsForUser");
    assert!(body.contains("<Groups></Groups>"), "{body}");
}

// ---------------------------------------------------------------- roles

#[tokio::test]
async fn roles_and_their_policies() {
    let e = env().await;
    let (root, account) = register_root(&e.svc, "alice").await;
    let trust_doc = trust(&format!("arn:aws:iam::{account}:root"));
    let body = ok(
        &iam(
            &e.svc,
            &root,
            &[
                ("Action", "CreateRole"),
                ("RoleName", "Deployer"),
                ("Path", "/ci/"),
                ("AssumeRolePolicyDocument", &trust_doc),
                ("Description", "CI & CD"),
            ],
        )
        .await,
        "CreateRole",
    );
    assert_eq!(field(&body, "Arn"), Some(format!("arn:aws:iam::{account}:role/ci/Deployer")));
    assert!(field(&body, "RoleId").expect("id").starts_with("AROA"));
    assert_eq!(field(&body, "MaxSessionDuration").as_deref(), Some("3600"));
    assert_eq!(field(&body, "Description").as_deref(), Some("CI & CD"));
    assert_eq!(percent_decode(&field(&body, "AssumeRolePolicyDocument").expect("trust")), trust_doc);

    err(
        &iam(
            &e.svc,
            &root,
            &[("Action", "CreateRole"), ("RoleName", "deployer"), ("AssumeRolePolicyDocument", &trust_doc)],
        )
        .await,
        409,
        "EntityAlreadyExists",
    );
    for bad in ["100", "43201", "soon"] {
        err(
            &iam(
                &e.svc,
                &root,
                &[
                    ("Action", "CreateRole"),
                    ("RoleName", "R2"),
                    ("AssumeRolePolicyDocument", &trust_doc),
                    ("MaxSessionDuration", bad),
                ],
            )
            .await,
            400,
            "ValidationError",
        );
    }
    err(
        &iam(&e.svc, &root, &[("Action", "CreateRole"), ("RoleName", "R3"), ("AssumeRolePolicyDocument", "{")]).await,
        400,
        "MalformedPolicyDocument",
    );
    err(&iam(&e.svc, &root, &[("Action", "CreateRole"), ("RoleName", "R4")]).await, 400, "ValidationError");
    let body = ok(
        &iam(
            &e.svc,
            &root,
            &[
                ("Action", "CreateRole"),
                ("RoleName", "Long"),
                ("AssumeRolePolicyDocument", &trust_doc),
                ("MaxSessionDuration", "43200"),
            ],
        )
        .await,
        "CreateRole",
    );
    assert_eq!(field(&body, "MaxSessionDuration").as_deref(), Some("43200"));

    let body = ok(&iam(&e.svc, &root, &[("Action", "GetRole"), ("RoleName", "deployer")]).await, "GetRole");
    assert_eq!(field(&body, "RoleName").as_deref(), Some("Deployer"));
    err(&iam(&e.svc, &root, &[("Action", "GetRole"), ("RoleName", "nope")]).await, 404, "NoSuchEntity");
    let body = ok(&iam(&e.svc, &root, &[("Action", "ListRoles")]).await, "ListRoles");
    assert_eq!(fields(&body, "RoleName"), ["Deployer", "Long"]);
    let body = ok(&iam(&e.svc, &root, &[("Action", "ListRoles"), ("PathPrefix", "/ci/")]).await, "ListRoles");
    assert_eq!(fields(&body, "RoleName"), ["Deployer"]);

    ok(
        &iam(
            &e.svc,
            &root,
            &[
                ("Action", "PutRolePolicy"),
                ("RoleName", "Deployer"),
                ("PolicyName", "s3"),
                ("PolicyDocument", ALLOW_ALL_S3),
            ],
        )
        .await,
        "PutRolePolicy",
    );
    let body = ok(
        &iam(&e.svc, &root, &[("Action", "GetRolePolicy"), ("RoleName", "Deployer"), ("PolicyName", "s3")]).await,
        "GetRolePolicy",
    );
    assert_eq!(field(&body, "RoleName").as_deref(), Some("Deployer"));
    assert_eq!(percent_decode(&field(&body, "PolicyDocument").expect("doc")), ALLOW_ALL_S3);
    let body =
        ok(&iam(&e.svc, &root, &[("Action", "ListRolePolicies"), ("RoleName", "Deployer")]).await, "ListRolePolicies");
    assert_eq!(fields(&body, "member"), ["s3"]);
    let body = ok(
        &iam(&e.svc, &root, &[("Action", "CreatePolicy"), ("PolicyName", "P"), ("PolicyDocument", ALLOW_ALL_S3)]).await,
        "CreatePolicy",
    );
    let arn = field(&body, "Arn").expect("arn");
    ok(
        &iam(&e.svc, &root, &[("Action", "AttachRolePolicy"), ("RoleName", "Deployer"), ("PolicyArn", &arn)]).await,
        "AttachRolePolicy",
    );
    let body = ok(
        &iam(&e.svc, &root, &[("Action", "ListAttachedRolePolicies"), ("RoleName", "Deployer")]).await,
        "ListAttachedRolePolicies",
    );
    assert_eq!(fields(&body, "PolicyName"), ["P"]);

    err(&iam(&e.svc, &root, &[("Action", "DeleteRole"), ("RoleName", "Deployer")]).await, 409, "DeleteConflict");
    ok(
        &iam(&e.svc, &root, &[("Action", "DetachRolePolicy"), ("RoleName", "Deployer"), ("PolicyArn", &arn)]).await,
        "DetachRolePolicy",
    );
    ok(
        &iam(&e.svc, &root, &[("Action", "DeleteRolePolicy"), ("RoleName", "Deployer"), ("PolicyName", "s3")]).await,
        "DeleteRolePolicy",
    );
    ok(&iam(&e.svc, &root, &[("Action", "DeleteRole"), ("RoleName", "Deployer")]).await, "DeleteRole");
    err(&iam(&e.svc, &root, &[("Action", "GetRole"), ("RoleName", "Deployer")]).await, 404, "NoSuchEntity");
}

// ---------------------------------------------------------------- authorization

#[tokio::test]
async fn iam_users_act_only_as_their_policies_allow() {
    let e = env().await;
    let (root, account) = register_root(&e.svc, "alice").await;
    let (bob, bob_key) = new_user(&e.svc, &root, "bob").await;
    assert!(bob.policies.is_empty());

    let r = iam(&e.svc, &bob, &[("Action", "CreateUser"), ("UserName", "eve")]).await;
    err(&r, 403, "AccessDenied");
    assert!(field(&r.body, "Message").expect("message").contains("iam:CreateUser"), "{}", r.body);
    err(&iam(&e.svc, &root, &[("Action", "GetUser"), ("UserName", "eve")]).await, 404, "NoSuchEntity");
    // Refused before the lookup: an unknown user gives AccessDenied too, so nothing leaks.
    err(&iam(&e.svc, &bob, &[("Action", "GetUser"), ("UserName", "nobody")]).await, 403, "AccessDenied");
    err(&iam(&e.svc, &bob, &[("Action", "ListUsers")]).await, 403, "AccessDenied");
    err(&iam(&e.svc, &bob, &[("Action", "GetUser")]).await, 403, "AccessDenied");
    err(
        &iam(
            &e.svc,
            &bob,
            &[("Action", "PutUserPolicy"), ("UserName", "bob"), ("PolicyName", "x"), ("PolicyDocument", ALLOW_ALL_S3)],
        )
        .await,
        403,
        "AccessDenied",
    );

    let policy = allow("iam:CreateUser", &format!("arn:aws:iam::{account}:user/team/*"));
    ok(
        &iam(
            &e.svc,
            &root,
            &[("Action", "PutUserPolicy"), ("UserName", "bob"), ("PolicyName", "mk"), ("PolicyDocument", &policy)],
        )
        .await,
        "PutUserPolicy",
    );
    let bob = caller_for(&e.svc, &bob_key).await;
    assert_eq!(bob.policies.len(), 1);
    // The resource is the new user's ARN, path included.
    err(&iam(&e.svc, &bob, &[("Action", "CreateUser"), ("UserName", "eve")]).await, 403, "AccessDenied");
    ok(&iam(&e.svc, &bob, &[("Action", "CreateUser"), ("UserName", "eve"), ("Path", "/team/")]).await, "CreateUser");
    let body = ok(&iam(&e.svc, &root, &[("Action", "GetUser"), ("UserName", "eve")]).await, "GetUser");
    assert_eq!(field(&body, "Arn"), Some(format!("arn:aws:iam::{account}:user/team/eve")));
    // Still nothing else.
    err(&iam(&e.svc, &bob, &[("Action", "DeleteUser"), ("UserName", "eve")]).await, 403, "AccessDenied");
    err(&iam(&e.svc, &bob, &[("Action", "CreateGroup"), ("GroupName", "g")]).await, 403, "AccessDenied");

    // An explicit deny wins over an allow.
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:CreateUser","Resource":"*"}]}"#;
    ok(
        &iam(
            &e.svc,
            &root,
            &[("Action", "PutUserPolicy"), ("UserName", "bob"), ("PolicyName", "no"), ("PolicyDocument", deny)],
        )
        .await,
        "PutUserPolicy",
    );
    let bob = caller_for(&e.svc, &bob_key).await;
    err(
        &iam(&e.svc, &bob, &[("Action", "CreateUser"), ("UserName", "frank"), ("Path", "/team/")]).await,
        403,
        "AccessDenied",
    );

    // Conditions see the request context (aws:SourceIp is 203.0.113.7 here).
    let by_ip = concat!(
        r#"{"Version":"2012-10-17","Statement":["#,
        r#"{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*","#,
        r#""Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}},"#,
        r#"{"Effect":"Allow","Action":"iam:ListGroups","Resource":"*","#,
        r#""Condition":{"IpAddress":{"aws:SourceIp":"198.51.100.0/24"}}}]}"#
    );
    ok(
        &iam(
            &e.svc,
            &root,
            &[("Action", "PutUserPolicy"), ("UserName", "bob"), ("PolicyName", "ip"), ("PolicyDocument", by_ip)],
        )
        .await,
        "PutUserPolicy",
    );
    let bob = caller_for(&e.svc, &bob_key).await;
    ok(&iam(&e.svc, &bob, &[("Action", "ListUsers")]).await, "ListUsers");
    err(&iam(&e.svc, &bob, &[("Action", "ListGroups")]).await, 403, "AccessDenied");
}

#[tokio::test]
async fn accounts_are_isolated() {
    let e = env().await;
    let (alice, alice_account) = register_root(&e.svc, "alice").await;
    let (mallory, mallory_account) = register_root(&e.svc, "mallory").await;
    assert_ne!(alice_account, mallory_account);
    let (_, bob_key) = new_user(&e.svc, &alice, "bob").await;
    let body = ok(
        &iam(&e.svc, &alice, &[("Action", "CreatePolicy"), ("PolicyName", "S3"), ("PolicyDocument", ALLOW_ALL_S3)])
            .await,
        "CreatePolicy",
    );
    let alice_policy = field(&body, "Arn").expect("arn");
    ok(&iam(&e.svc, &alice, &[("Action", "CreateGroup"), ("GroupName", "devs")]).await, "CreateGroup");
    ok(
        &iam(
            &e.svc,
            &alice,
            &[
                ("Action", "CreateRole"),
                ("RoleName", "R"),
                ("AssumeRolePolicyDocument", &trust(&format!("arn:aws:iam::{alice_account}:root"))),
            ],
        )
        .await,
        "CreateRole",
    );

    // Mallory's root and a fully privileged IAM user of mallory's account.
    let (_, trudy_key) = new_user(&e.svc, &mallory, "trudy").await;
    let everything = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    ok(
        &iam(
            &e.svc,
            &mallory,
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", "trudy"),
                ("PolicyName", "all"),
                ("PolicyDocument", everything),
            ],
        )
        .await,
        "PutUserPolicy",
    );
    let trudy = caller_for(&e.svc, &trudy_key).await;
    assert_eq!(trudy.policies.len(), 1);

    for attacker in [&mallory, &trudy] {
        // Names resolve in the attacker's own account: alice's bob is not found.
        let r = iam(&e.svc, attacker, &[("Action", "GetUser"), ("UserName", "bob")]).await;
        err(&r, 404, "NoSuchEntity");
        assert!(!r.body.contains(&alice_account), "{}", r.body);
        err(&iam(&e.svc, attacker, &[("Action", "DeleteUser"), ("UserName", "bob")]).await, 404, "NoSuchEntity");
        err(
            &iam(
                &e.svc,
                attacker,
                &[
                    ("Action", "PutUserPolicy"),
                    ("UserName", "bob"),
                    ("PolicyName", "x"),
                    ("PolicyDocument", everything),
                ],
            )
            .await,
            404,
            "NoSuchEntity",
        );
        err(&iam(&e.svc, attacker, &[("Action", "ListAccessKeys"), ("UserName", "bob")]).await, 404, "NoSuchEntity");
        err(&iam(&e.svc, attacker, &[("Action", "CreateAccessKey"), ("UserName", "bob")]).await, 404, "NoSuchEntity");
        err(&iam(&e.svc, attacker, &[("Action", "GetGroup"), ("GroupName", "devs")]).await, 404, "NoSuchEntity");
        err(&iam(&e.svc, attacker, &[("Action", "GetRole"), ("RoleName", "R")]).await, 404, "NoSuchEntity");
        err(
            &iam(&e.svc, attacker, &[("Action", "GetPolicy"), ("PolicyArn", &alice_policy)]).await,
            404,
            "NoSuchEntity",
        );
        err(
            &iam(&e.svc, attacker, &[("Action", "DeletePolicy"), ("PolicyArn", &alice_policy)]).await,
            404,
            "NoSuchEntity",
        );
        err(
            &iam(
                &e.svc,
                attacker,
                &[("Action", "AttachUserPolicy"), ("UserName", "trudy"), ("PolicyArn", &alice_policy)],
            )
            .await,
            404,
            "NoSuchEntity",
        );
        err(
            &iam(&e.svc, attacker, &[("Action", "UpdateAccessKey"), ("AccessKeyId", &bob_key), ("Status", "Inactive")])
                .await,
            404,
            "NoSuchEntity",
        );
        err(
            &iam(&e.svc, attacker, &[("Action", "DeleteAccessKey"), ("AccessKeyId", &bob_key)]).await,
            404,
            "NoSuchEntity",
        );
        // Lists show only the attacker's own account.
        let body = ok(&iam(&e.svc, attacker, &[("Action", "ListUsers")]).await, "ListUsers");
        assert_eq!(fields(&body, "UserName"), ["trudy"]);
        let body = ok(&iam(&e.svc, attacker, &[("Action", "ListPolicies")]).await, "ListPolicies");
        assert!(fields(&body, "Arn").is_empty(), "{body}");
        let body = ok(&iam(&e.svc, attacker, &[("Action", "ListRoles")]).await, "ListRoles");
        assert!(fields(&body, "Arn").is_empty(), "{body}");
        let body = ok(&iam(&e.svc, attacker, &[("Action", "ListGroups")]).await, "ListGroups");
        assert!(fields(&body, "Arn").is_empty(), "{body}");
    }

    // Creating a same-named user in the attacker's account makes a different user.
    let body = ok(&iam(&e.svc, &mallory, &[("Action", "CreateUser"), ("UserName", "bob")]).await, "CreateUser");
    assert_eq!(field(&body, "Arn"), Some(format!("arn:aws:iam::{mallory_account}:user/bob")));

    // Nothing of alice's changed.
    let body =
        ok(&iam(&e.svc, &alice, &[("Action", "ListUserPolicies"), ("UserName", "bob")]).await, "ListUserPolicies");
    assert!(body.contains("<PolicyNames></PolicyNames>"), "{body}");
    let body = ok(&iam(&e.svc, &alice, &[("Action", "ListAccessKeys"), ("UserName", "bob")]).await, "ListAccessKeys");
    assert_eq!(fields(&body, "AccessKeyId"), std::slice::from_ref(&bob_key));
    assert_eq!(field(&body, "Status").as_deref(), Some("Active"));
    let grant = e.svc.key_grant(&bob_key).await.expect("grant").expect("bob's key still works");
    assert_eq!(grant.principal.account_id, alice_account);
    ok(&iam(&e.svc, &alice, &[("Action", "GetPolicy"), ("PolicyArn", &alice_policy)]).await, "GetPolicy");
    let body = ok(&iam(&e.svc, &alice, &[("Action", "ListUsers")]).await, "ListUsers");
    assert_eq!(fields(&body, "UserName"), ["bob"]);
}

#[tokio::test]
async fn platform_admin_acts_in_its_own_account() {
    let e = env().await;
    let admin_user = e.svc.store().root_user(ADMIN_ACCOUNT_ID).await.expect("get").expect("admin account exists");
    let admin = Caller { principal: user_principal(&admin_user), access_key: "AKIAADMIN".into(), policies: vec![] };
    assert_eq!(admin.principal.kind, PrincipalKind::Admin);
    let body = ok(&iam(&e.svc, &admin, &[("Action", "CreateUser"), ("UserName", "ops")]).await, "CreateUser");
    assert_eq!(field(&body, "Arn"), Some(format!("arn:aws:iam::{ADMIN_ACCOUNT_ID}:user/ops")));
    let (alice, _) = register_root(&e.svc, "alice").await;
    let body = ok(&iam(&e.svc, &alice, &[("Action", "ListUsers")]).await, "ListUsers");
    assert!(fields(&body, "UserName").is_empty(), "{body}");
    let body = ok(&sts_call(&e.svc, &admin, &[("Action", "GetCallerIdentity")]).await, "GetCallerIdentity");
    assert_eq!(field(&body, "Account").as_deref(), Some(ADMIN_ACCOUNT_ID));
}

// ---------------------------------------------------------------- STS

#[tokio::test]
async fn get_caller_identity() {
    let e = env().await;
    let (root, account) = register_root(&e.svc, "alice").await;
    let r = sts_call(&e.svc, &root, &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]).await;
    let body = ok(&r, "GetCallerIdentity");
    assert!(
        body.contains(&format!("<GetCallerIdentityResponse xmlns=\"{STS_NS}\"><GetCallerIdentityResult>")),
        "{body}"
    );
    assert_eq!(field(&body, "Arn"), Some(format!("arn:aws:iam::{account}:root")));
    assert_eq!(field(&body, "UserId"), Some(account.clone()));
    assert_eq!(field(&body, "Account"), Some(account.clone()));

    // An IAM user needs no policy for it.
    let (bob, _) = new_user(&e.svc, &root, "bob").await;
    let body = ok(&sts_call(&e.svc, &bob, &[("Action", "GetCallerIdentity")]).await, "GetCallerIdentity");
    assert_eq!(field(&body, "Arn"), Some(format!("arn:aws:iam::{account}:user/bob")));
    let user_id = field(&body, "UserId").expect("user id");
    assert!(user_id.starts_with("AIDA"), "{user_id}");
    assert_eq!(user_id, bob.principal.user_id);
    assert_eq!(field(&body, "Account"), Some(account));

    let r = sts_call(&e.svc, &bob, &[("Action", "Nope")]).await;
    err(&r, 400, "InvalidAction");
    assert!(r.body.contains(&format!("<ErrorResponse xmlns=\"{STS_NS}\">")), "{}", r.body);
}

#[tokio::test]
async fn get_session_token() {
    let e = env().await;
    let (root, account) = register_root(&e.svc, "alice").await;
    let (bob, _) = new_user(&e.svc, &root, "bob").await;
    ok(
        &iam(
            &e.svc,
            &root,
            &[("Action", "PutUserPolicy"), ("UserName", "bob"), ("PolicyName", "s3"), ("PolicyDocument", ALLOW_ALL_S3)],
        )
        .await,
        "PutUserPolicy",
    );
    let bob = caller_for(&e.svc, &bob.access_key).await;

    let body = ok(
        &sts_call(&e.svc, &bob, &[("Action", "GetSessionToken"), ("DurationSeconds", "900")]).await,
        "GetSessionToken",
    );
    assert!(body.contains("<GetSessionTokenResult><Credentials><AccessKeyId>ASIA"), "{body}");
    let key = field(&body, "AccessKeyId").expect("key");
    let secret = field(&body, "SecretAccessKey").expect("secret");
    let token = field(&body, "SessionToken").expect("token");
    let expiration = field(&body, "Expiration").expect("expiration");
    assert!(key.starts_with("ASIA") && key.len() == 20, "{key}");
    assert_eq!(secret.len(), 40);
    assert!(!token.is_empty());
    assert!(expiration.ends_with('Z') && expiration.len() == 20, "{expiration}");

    let grant = e.svc.key_grant(&key).await.expect("grant").expect("temporary key resolves");
    assert_eq!(grant.secret_key, secret);
    assert!(grant.session_token_hash.is_some(), "the session token must be presented");
    assert!(grant.session_token_hash.as_deref() != Some(token.as_str()), "only a hash is kept");
    let expires = grant.expires_at.expect("expiry");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((now + 890..=now + 910).contains(&expires), "{expires} vs {now}");
    assert_eq!(grant.principal.arn, format!("arn:aws:iam::{account}:user/bob"));
    assert_eq!(grant.policies.len(), 1, "the user's policies apply");

    // Default duration; root too.
    ok(&sts_call(&e.svc, &bob, &[("Action", "GetSessionToken")]).await, "GetSessionToken");
    let body = ok(&sts_call(&e.svc, &root, &[("Action", "GetSessionToken")]).await, "GetSessionToken");
    let root_temp = field(&body, "AccessKeyId").expect("key");
    let grant = e.svc.key_grant(&root_temp).await.expect("grant").expect("root temp");
    assert_eq!(grant.principal.kind, PrincipalKind::AccountRoot);

    for bad in ["899", "43201", "forever"] {
        err(
            &sts_call(&e.svc, &bob, &[("Action", "GetSessionToken"), ("DurationSeconds", bad)]).await,
            400,
            "ValidationError",
        );
    }
    // Not from temporary credentials.
    let temp = caller_for(&e.svc, &key).await;
    err(&sts_call(&e.svc, &temp, &[("Action", "GetSessionToken")]).await, 403, "AccessDenied");
    let body = ok(&sts_call(&e.svc, &temp, &[("Action", "GetCallerIdentity")]).await, "GetCallerIdentity");
    assert_eq!(field(&body, "Arn"), Some(format!("arn:aws:iam::{account}:user/bob")));
}

#[tokio::test]
async fn assume_role() {
    let e = env().await;
    let (root, account) = register_root(&e.svc, "alice").await;
    let (bob, _) = new_user(&e.svc, &root, "bob").await;
    let (carol, _) = new_user(&e.svc, &root, "carol").await;
    let bob_arn = format!("arn:aws:iam::{account}:user/bob");
    let body = ok(
        &iam(
            &e.svc,
            &root,
            &[
                ("Action", "CreateRole"),
                ("RoleName", "Deployer"),
                ("AssumeRolePolicyDocument", &trust(&bob_arn)),
                ("MaxSessionDuration", "7200"),
            ],
        )
        .await,
        "CreateRole",
    );
    let role_id = field(&body, "RoleId").expect("role id");
    let role_arn = format!("arn:aws:iam::{account}:role/Deployer");
    let role_policy = allow("iam:ListRoles", "*");
    ok(
        &iam(
            &e.svc,
            &root,
            &[
                ("Action", "PutRolePolicy"),
                ("RoleName", "Deployer"),
                ("PolicyName", "list"),
                ("PolicyDocument", &role_policy),
            ],
        )
        .await,
        "PutRolePolicy",
    );

    // The trust policy does not name carol.
    let assume = |who: Caller, duration: Option<&'static str>| {
        let svc = e.svc.clone();
        let role_arn = role_arn.clone();
        async move {
            let mut p =
                vec![("Action", "AssumeRole"), ("RoleArn", role_arn.as_str()), ("RoleSessionName", "deploy-42")];
            if let Some(d) = duration {
                p.push(("DurationSeconds", d));
            }
            sts_call(&svc, &who, &p).await
        }
    };
    let r = assume(carol.clone(), None).await;
    err(&r, 403, "AccessDenied");
    assert!(field(&r.body, "Message").expect("message").contains("sts:AssumeRole"), "{}", r.body);

    // It names bob.
    let body = ok(&assume(bob.clone(), Some("1800")).await, "AssumeRole");
    assert!(body.contains("<AssumeRoleResult><Credentials><AccessKeyId>ASIA"), "{body}");
    let key = field(&body, "AccessKeyId").expect("key");
    let assumed_arn = format!("arn:aws:sts::{account}:assumed-role/Deployer/deploy-42");
    assert!(
        body.contains(&format!(
            "<AssumedRoleUser><AssumedRoleId>{role_id}:deploy-42</AssumedRoleId><Arn>{assumed_arn}</Arn></AssumedRoleUser>"
        )),
        "{body}"
    );
    let grant = e.svc.key_grant(&key).await.expect("grant").expect("assumed role key");
    assert_eq!(grant.principal.kind, PrincipalKind::AssumedRole);
    assert_eq!(grant.principal.arn, assumed_arn);
    assert!(grant.session_token_hash.is_some());
    assert_eq!(grant.policies.len(), 1);
    assert_eq!(grant.policies[0].document, role_policy, "the role's policies, not bob's");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((now + 1790..=now + 1810).contains(&grant.expires_at.expect("expiry")));

    // The session acts as the role.
    let session = caller_for(&e.svc, &key).await;
    let body = ok(&sts_call(&e.svc, &session, &[("Action", "GetCallerIdentity")]).await, "GetCallerIdentity");
    assert_eq!(field(&body, "Arn"), Some(assumed_arn));
    assert_eq!(field(&body, "UserId"), Some(format!("{role_id}:deploy-42")));
    assert_eq!(field(&body, "Account"), Some(account.clone()));
    let body = ok(&iam(&e.svc, &session, &[("Action", "ListRoles")]).await, "ListRoles");
    assert_eq!(fields(&body, "RoleName"), ["Deployer"]);
    err(&iam(&e.svc, &session, &[("Action", "ListUsers")]).await, 403, "AccessDenied");
    err(&iam(&e.svc, &session, &[("Action", "GetUser")]).await, 400, "ValidationError");

    // Durations outside 900..=MaxSessionDuration.
    for bad in ["899", "7201", "x"] {
        err(&assume(bob.clone(), Some(bad)).await, 400, "ValidationError");
    }
    ok(&assume(bob.clone(), Some("7200")).await, "AssumeRole");

    // Unknown roles look like refused ones; bad ARNs and session names are validation errors.
    let r = sts_call(
        &e.svc,
        &bob,
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", &format!("arn:aws:iam::{account}:role/Nope")),
            ("RoleSessionName", "s1"),
        ],
    )
    .await;
    err(&r, 403, "AccessDenied");
    err(
        &sts_call(&e.svc, &bob, &[("Action", "AssumeRole"), ("RoleArn", "not-an-arn"), ("RoleSessionName", "s1")])
            .await,
        400,
        "ValidationError",
    );
    err(
        &sts_call(&e.svc, &bob, &[("Action", "AssumeRole"), ("RoleArn", &role_arn), ("RoleSessionName", "bad name!")])
            .await,
        400,
        "ValidationError",
    );
    err(&sts_call(&e.svc, &bob, &[("Action", "AssumeRole"), ("RoleArn", &role_arn)]).await, 400, "ValidationError");
    err(
        &sts_call(
            &e.svc,
            &bob,
            &[("Action", "AssumeRole"), ("RoleArn", &role_arn), ("RoleSessionName", "s1"), ("Policy", ALLOW_ALL_S3)],
        )
        .await,
        400,
        "ValidationError",
    );

    // Another account's principal cannot assume it.
    let (mallory, _) = register_root(&e.svc, "mallory").await;
    err(&assume(mallory, None).await, 403, "AccessDenied");

    // Deleting the role ends its sessions.
    ok(
        &iam(&e.svc, &root, &[("Action", "DeleteRolePolicy"), ("RoleName", "Deployer"), ("PolicyName", "list")]).await,
        "DeleteRolePolicy",
    );
    ok(&iam(&e.svc, &root, &[("Action", "DeleteRole"), ("RoleName", "Deployer")]).await, "DeleteRole");
    assert!(e.svc.key_grant(&key).await.expect("grant").is_none());
}
