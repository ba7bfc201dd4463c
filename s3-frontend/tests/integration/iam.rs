//! Nobody gets in where they don't belong: every implemented S3 operation, tried by a
//! stranger (another account's root), a user of the owning account without a grant, a user
//! whose grant an explicit Deny overrides, a disabled key, a wrong signature, expired or
//! mismatched temporary credentials and anonymous callers — all refused, with nothing
//! changed; and the permitted user and the owner succeed.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use cloudstore_iam::Audit;
use cloudstore_iam::store::{InlinePolicy, OwnerKind, User};

use crate::harness::{Harness, RawRequest, random_hex, sdk_client, sdk_client_with_token, status_of};

/// The outcome of one operation: `Ok` or (HTTP status, error code).
type Outcome = Result<(), (u16, Option<String>)>;

macro_rules! outcome {
    ($call:expr) => {
        match $call.send().await {
            Ok(_) => Ok(()),
            Err(e) => Err((status_of(&e), e.code().map(str::to_owned))),
        }
    };
}

/// Tries every bucket- and object-level operation on `bucket` (holding `key`, with the open
/// multipart upload `upload`) and returns each outcome. DeleteObjects reports per-key errors in a
/// 200 answer, so its outcome is the first per-key error code, if any.
async fn every_op(c: &Client, bucket: &str, key: &str, upload: &str) -> Vec<(&'static str, Outcome)> {
    let copy_source = format!("{bucket}/{key}");
    let mut out: Vec<(&'static str, Outcome)> = vec![
        ("ListObjectsV2", outcome!(c.list_objects_v2().bucket(bucket))),
        ("ListObjects", outcome!(c.list_objects().bucket(bucket))),
        ("HeadBucket", outcome!(c.head_bucket().bucket(bucket))),
        ("GetBucketLocation", outcome!(c.get_bucket_location().bucket(bucket))),
        ("GetBucketVersioning", outcome!(c.get_bucket_versioning().bucket(bucket))),
        ("ListObjectVersions", outcome!(c.list_object_versions().bucket(bucket))),
        ("ListMultipartUploads", outcome!(c.list_multipart_uploads().bucket(bucket))),
        ("GetObject", outcome!(c.get_object().bucket(bucket).key(key))),
        ("HeadObject", outcome!(c.head_object().bucket(bucket).key(key))),
        (
            "GetObjectAttributes",
            outcome!(c.get_object_attributes().bucket(bucket).key(key).object_attributes(
                aws_sdk_s3::types::ObjectAttributes::ObjectSize
            )),
        ),
        ("ListParts", outcome!(c.list_parts().bucket(bucket).key(key).upload_id(upload))),
        ("GetBucketPolicy", outcome!(c.get_bucket_policy().bucket(bucket))),
        ("GetBucketPolicyStatus", outcome!(c.get_bucket_policy_status().bucket(bucket))),
        ("PutObject", outcome!(c.put_object().bucket(bucket).key("intruder").body(ByteStream::from_static(b"x")))),
        ("CopyObject", outcome!(c.copy_object().bucket(bucket).key("intruder-copy").copy_source(&copy_source))),
        ("CreateMultipartUpload", outcome!(c.create_multipart_upload().bucket(bucket).key("intruder-mp"))),
        (
            "UploadPart",
            outcome!(c.upload_part().bucket(bucket).key(key).upload_id(upload).part_number(9).body(ByteStream::from_static(b"p"))),
        ),
        (
            "UploadPartCopy",
            outcome!(c.upload_part_copy().bucket(bucket).key(key).upload_id(upload).part_number(8).copy_source(&copy_source)),
        ),
        (
            "CompleteMultipartUpload",
            outcome!(c.complete_multipart_upload().bucket(bucket).key(key).upload_id(upload).multipart_upload(
                CompletedMultipartUpload::builder()
                    .parts(CompletedPart::builder().part_number(1).e_tag("\"00000000000000000000000000000000\"").build())
                    .build()
            )),
        ),
        ("AbortMultipartUpload", outcome!(c.abort_multipart_upload().bucket(bucket).key(key).upload_id(upload))),
        (
            "PutBucketPolicy",
            outcome!(c.put_bucket_policy().bucket(bucket).policy(format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
            ))),
        ),
        ("DeleteBucketPolicy", outcome!(c.delete_bucket_policy().bucket(bucket))),
        ("DeleteObject", outcome!(c.delete_object().bucket(bucket).key(key))),
        ("DeleteBucket", outcome!(c.delete_bucket().bucket(bucket))),
    ];
    let del = c
        .delete_objects()
        .bucket(bucket)
        .delete(
            Delete::builder()
                .objects(ObjectIdentifier::builder().key(key).build().expect("id"))
                .build()
                .expect("delete"),
        )
        .send()
        .await;
    let del = match del {
        Ok(o) => match o.errors().first() {
            Some(e) => Err((200, e.code().map(str::to_owned))),
            None => Ok(()),
        },
        Err(e) => Err((status_of(&e), e.code().map(str::to_owned))),
    };
    out.push(("DeleteObjects", del));
    out
}

/// Asserts every operation was refused with `status` and (for answers with a body) `code`.
#[track_caller]
fn all_refused(who: &str, outcomes: &[(&'static str, Outcome)], status: u16, code: &str) {
    for (op, o) in outcomes {
        match o {
            Ok(()) => panic!("{who}: {op} succeeded"),
            Err((200, c)) if *op == "DeleteObjects" => {
                assert_eq!(c.as_deref(), Some("AccessDenied"), "{who}: DeleteObjects per-key error");
            }
            Err((s, c)) => {
                assert_eq!(*s, status, "{who}: {op} answered {s} {c:?}");
                if !op.starts_with("Head") {
                    assert_eq!(c.as_deref(), Some(code), "{who}: {op} error code");
                }
            }
        }
    }
}

/// An account (its root's SDK client and id) made through the IAM service.
pub(crate) async fn account(h: &Harness, name: &str) -> (Client, String) {
    let (profile, key) =
        h.iam.admin_create_account(name, None, None, &Default::default()).await.expect("create account");
    (sdk_client(h.addr, &key.access_key_id, &key.secret.0), profile.account_id)
}

/// An IAM user in `account_id` with an inline `policy` (if any); returns (client, user, key id, secret).
pub(crate) async fn user(
    h: &Harness,
    account_id: &str,
    name: &str,
    policy: Option<String>,
) -> (Client, User, String, String) {
    let u = User {
        id: cloudstore_iam::ids::unique_id("AIDA"),
        account_id: account_id.to_owned(),
        name: name.to_owned(),
        path: "/".into(),
        is_root: false,
        email: None,
        display_name: None,
        password_hash: None,
        created_at: 0,
        presigned_not_before: None,
    };
    h.iam.store().create_user(&u, &[]).await.expect("create user");
    if let Some(doc) = policy {
        let p = InlinePolicy { name: "p".into(), document: doc };
        h.iam.store().put_inline_policy(OwnerKind::User, &u.id, &p, &[]).await.expect("policy");
    }
    let key = h.iam.create_access_key(&u, Audit::none()).await.expect("key");
    (sdk_client(h.addr, &key.access_key_id, &key.secret.0), u, key.access_key_id, key.secret.0)
}

pub(crate) fn allow_bucket(bucket: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::{bucket}","arn:aws:s3:::{bucket}/*"]}},{{"Effect":"Allow","Action":["s3:ListAllMyBuckets","s3:CreateBucket"],"Resource":"*"}}]}}"#
    )
}

/// Sets up account A's bucket with an object and an open upload; returns (bucket, key, upload).
async fn owned_bucket(owner: &Client) -> (String, String, String) {
    let bucket = format!("iam-{}", random_hex(10));
    owner.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    owner
        .put_object()
        .bucket(&bucket)
        .key("secret.txt")
        .body(ByteStream::from_static(b"top secret"))
        .send()
        .await
        .expect("put");
    let up = owner.create_multipart_upload().bucket(&bucket).key("secret.txt").send().await.expect("mpu");
    (bucket, "secret.txt".to_owned(), up.upload_id().expect("upload id").to_owned())
}

/// The object and the bucket are untouched.
async fn untouched(owner: &Client, bucket: &str, key: &str) {
    let got = owner.get_object().bucket(bucket).key(key).send().await.expect("owner can still read");
    assert_eq!(got.body.collect().await.expect("body").into_bytes().as_ref(), b"top secret");
    let keys: Vec<String> = owner
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("list")
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    assert_eq!(keys, [key.to_owned()], "a refused caller changed the bucket");
    assert!(owner.get_bucket_policy().bucket(bucket).send().await.is_err(), "a refused caller set a policy");
}

pub async fn strangers_are_refused_every_operation(h: &Harness) {
    let tag = random_hex(6);
    let (owner, account_a) = account(h, &format!("owner-{tag}")).await;
    let (stranger, _) = account(h, &format!("stranger-{tag}")).await;
    let (bucket, key, upload) = owned_bucket(&owner).await;

    // Another account's root.
    all_refused("stranger", &every_op(&stranger, &bucket, &key, &upload).await, 403, "AccessDenied");
    // A user of the owning account without any policy.
    let (nobody, ..) = user(h, &account_a, "nobody", None).await;
    all_refused("user without policy", &every_op(&nobody, &bucket, &key, &upload).await, 403, "AccessDenied");
    // A user allowed everything, but an explicit Deny on this bucket wins.
    let deny = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*"}},{{"Effect":"Deny","Action":"s3:*","Resource":["arn:aws:s3:::{bucket}","arn:aws:s3:::{bucket}/*"]}}]}}"#
    );
    let (denied, ..) = user(h, &account_a, "denied", Some(deny)).await;
    all_refused("explicitly denied user", &every_op(&denied, &bucket, &key, &upload).await, 403, "AccessDenied");
    // A wrong secret.
    let (_, _, ak, _) = user(h, &account_a, "wrongsig", Some(allow_bucket(&bucket))).await;
    let forged = sdk_client(h.addr, &ak, "0000000000000000000000000000000000000000");
    all_refused("wrong signature", &every_op(&forged, &bucket, &key, &upload).await, 403, "SignatureDoesNotMatch");
    // An unknown key.
    let unknown = sdk_client(h.addr, "AKIAUNKNOWNUNKNOWN00", "0000000000000000000000000000000000000000");
    all_refused("unknown key", &every_op(&unknown, &bucket, &key, &upload).await, 403, "InvalidAccessKeyId");
    untouched(&owner, &bucket, &key).await;

    // Copy sources are checked as the operation reads them: encoded slashes and `?` in keys
    // don't smuggle a foreign object past the check.
    let (_, stranger_key) =
        h.iam.admin_create_account(&format!("thief-{tag}"), None, None, &Default::default()).await.expect("account");
    let thief = sdk_client(h.addr, &stranger_key.access_key_id, &stranger_key.secret.0);
    let own = format!("thief-{}", random_hex(8));
    thief.create_bucket().bucket(&own).send().await.expect("thief's bucket");
    let signer = crate::harness::Signer {
        access_key: stranger_key.access_key_id.clone(),
        secret_key: stranger_key.secret.0.clone(),
        region: "us-east-1".into(),
        host: h.addr.to_string(),
    };
    for source in [format!("%2F{bucket}/{key}"), format!("/{bucket}/{key}"), format!("{bucket}%2F{key}")] {
        let req = RawRequest::new("PUT", &format!("/{own}/loot")).header("x-amz-copy-source", &source);
        let resp = h.raw(signer.sign(req, None, time::OffsetDateTime::now_utc())).await;
        assert!(resp.status == 403 || resp.status == 404, "copy from {source}: {}", resp.status);
        assert_ne!(resp.status, 200, "a stranger copied {source}");
    }
    let e = thief.head_object().bucket(&own).key("loot").send().await.expect_err("nothing copied");
    assert_eq!(status_of(&e), 404);

    // The stranger doesn't even see the bucket in its listing, and may not create buckets as a
    // policy-less IAM user.
    let listed = stranger.list_buckets().send().await.expect("list buckets");
    assert!(listed.buckets().iter().all(|b| b.name() != Some(bucket.as_str())), "a stranger sees the bucket");
    let e = nobody.create_bucket().bucket(format!("nope-{tag}")).send().await.expect_err("create");
    assert_eq!((status_of(&e), e.code()), (403, Some("AccessDenied")));

    // Anonymous requests, for reads and writes.
    for (method, path) in [
        ("GET", format!("/{bucket}/{key}")),
        ("HEAD", format!("/{bucket}/{key}")),
        ("GET", format!("/{bucket}")),
        ("PUT", format!("/{bucket}/anon")),
        ("DELETE", format!("/{bucket}/{key}")),
        ("GET", "/".to_owned()),
    ] {
        let resp = h.raw(RawRequest::new(method, &path)).await;
        assert_eq!(resp.status, 403, "anonymous {method} {path}");
    }
    untouched(&owner, &bucket, &key).await;

    // The permitted user succeeds everywhere a grant makes the difference.
    let (allowed, ..) = user(h, &account_a, "allowed", Some(allow_bucket(&bucket))).await;
    for (op, o) in every_op(&allowed, &bucket, &key, &upload).await {
        if let Err((s, c)) = &o {
            assert!(*s != 403, "permitted user refused {op}: {s} {c:?}");
        }
    }
}

pub async fn disabled_keys_and_temporary_credentials(h: &Harness) {
    let tag = random_hex(6);
    let (owner, account_a) = account(h, &format!("keys-{tag}")).await;
    let (bucket, key, upload) = owned_bucket(&owner).await;
    let (client, u, ak, _) = user(h, &account_a, "worker", Some(allow_bucket(&bucket))).await;
    client.get_object().bucket(&bucket).key(&key).send().await.expect("allowed before");

    // Disabled: refused within the cache TTL (2 s).
    h.iam.set_access_key_status(&u, &ak, false, Audit::none()).await.expect("disable");
    tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
    all_refused("disabled key", &every_op(&client, &bucket, &key, &upload).await, 403, "InvalidAccessKeyId");
    h.iam.set_access_key_status(&u, &ak, true, Audit::none()).await.expect("enable");
    tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
    client.get_object().bucket(&bucket).key(&key).send().await.expect("allowed again after enabling");

    // Temporary credentials of the user work with their token, not without or with another.
    let caller = cloudstore_iam_api::Caller {
        principal: cloudstore_iam::service::user_principal(&u),
        access_key: ak.clone(),
        policies: Vec::new(),
    };
    let temp = h.iam.get_session_token(&caller, Some(900)).await.expect("session token");
    let with_token =
        sdk_client_with_token(h.addr, &temp.access_key_id, &temp.secret_access_key, Some(temp.session_token.clone()));
    with_token.get_object().bucket(&bucket).key(&key).send().await.expect("temporary credentials work");
    let no_token = sdk_client(h.addr, &temp.access_key_id, &temp.secret_access_key);
    all_refused("temporary key without token", &every_op(&no_token, &bucket, &key, &upload).await, 400, "InvalidToken");
    let bad_token = sdk_client_with_token(h.addr, &temp.access_key_id, &temp.secret_access_key, Some("forged".into()));
    all_refused("temporary key, wrong token", &every_op(&bad_token, &bucket, &key, &upload).await, 400, "InvalidToken");

    // Expired: shorten the stored credential's life and wait past it and the cache. Every
    // operation is answered ExpiredToken, not InvalidAccessKeyId: 400 as S3 answers it (S3's
    // error table; HADOOP-18353 shows a real expired session token, GET and HEAD alike)...
    let mut rec = h.iam.sessions().get_temp_credential(&temp.access_key_id).await.expect("get").expect("stored");
    rec.expires_at = time::OffsetDateTime::now_utc().unix_timestamp() + 1;
    h.iam.sessions().put_temp_credential(&rec).await.expect("put");
    tokio::time::sleep(std::time::Duration::from_millis(3300)).await;
    all_refused("expired token", &every_op(&with_token, &bucket, &key, &upload).await, 400, "ExpiredToken");
    let e = with_token.get_object().bucket(&bucket).key(&key).send().await.expect_err("expired");
    assert_eq!(e.as_service_error().and_then(|e| e.message()), Some("The provided token has expired."));
    // ...but only to the holder of the secret and the token: a forged signature or token
    // learns nothing about the expired key.
    let forger = sdk_client_with_token(h.addr, &temp.access_key_id, "not-the-secret", Some(temp.session_token.clone()));
    all_refused(
        "expired key, forged signature",
        &every_op(&forger, &bucket, &key, &upload).await,
        403,
        "SignatureDoesNotMatch",
    );
    let bad_token = sdk_client_with_token(h.addr, &temp.access_key_id, &temp.secret_access_key, Some("forged".into()));
    all_refused("expired key, wrong token", &every_op(&bad_token, &bucket, &key, &upload).await, 400, "InvalidToken");
    // The STS API answers the same after the signature: 403, as AWS's Query APIs answer it.
    let sts = |secret: &str, token: &str| {
        let signer = crate::harness::Signer {
            access_key: temp.access_key_id.clone(),
            secret_key: secret.to_owned(),
            region: "us-east-1".into(),
            host: h.addr.to_string(),
        };
        let req = RawRequest::new("POST", "/")
            .header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
            .header("x-amz-security-token", token)
            .body(b"Action=GetCallerIdentity&Version=2011-06-15".to_vec());
        signer.sign_for("sts", req, time::OffsetDateTime::now_utc())
    };
    let resp = h.raw(sts(&temp.secret_access_key, &temp.session_token)).await;
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert!(resp.text().contains("<Code>ExpiredToken</Code>"), "{}", resp.text());
    let resp = h.raw(sts("not-the-secret", &temp.session_token)).await;
    assert!(resp.text().contains("<Code>SignatureDoesNotMatch</Code>"), "{}", resp.text());
    // Once the session store has forgotten it, the key is unknown.
    rec.expires_at =
        time::OffsetDateTime::now_utc().unix_timestamp() - cloudstore_iam::session::EXPIRED_CREDENTIAL_KEPT - 1;
    h.iam.sessions().put_temp_credential(&rec).await.expect("put");
    tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
    all_refused("forgotten key", &every_op(&with_token, &bucket, &key, &upload).await, 403, "InvalidAccessKeyId");
    untouched(&owner, &bucket, &key).await;
}

/// SigV2 presigned URLs (what aws-cli and boto3 make by default against this endpoint) work
/// with temporary credentials: the session token travels as the query parameter
/// `x-amz-security-token`, signed as the header of that name. Without the token, with a
/// forged one, with one added to the URL after signing, or for a stranger, they are refused.
pub async fn temporary_credentials_presign_with_sigv2(h: &Harness) {
    let tag = random_hex(6);
    let (owner, account_a) = account(h, &format!("v2presign-{tag}")).await;
    let (bucket, key, _) = owned_bucket(&owner).await;
    let (_, u, ak, _) = user(h, &account_a, "reader", Some(allow_bucket(&bucket))).await;
    let (_, stranger, stranger_ak, _) = user(h, &account_a, "nobody", None).await;
    let temp_of = |u: &User, ak: &str| cloudstore_iam_api::Caller {
        principal: cloudstore_iam::service::user_principal(u),
        access_key: ak.to_owned(),
        policies: Vec::new(),
    };
    let temp = h.iam.get_session_token(&temp_of(&u, &ak), Some(900)).await.expect("session token");
    let signer = crate::harness::Signer {
        access_key: temp.access_key_id.clone(),
        secret_key: temp.secret_access_key.clone(),
        region: "us-east-1".into(),
        host: h.addr.to_string(),
    };
    let expires = time::OffsetDateTime::now_utc().unix_timestamp() + 300;
    let get = || RawRequest::new("GET", &format!("/{bucket}/{key}"));
    let token = temp.session_token.as_str();

    let resp = h.raw(signer.presign_v2(get(), expires, Some(token), true)).await;
    assert_eq!((resp.status, resp.body.as_slice()), (200, b"top secret".as_slice()), "{}", resp.text());
    // The token must be the signed one, and present.
    h.raw(signer.presign_v2(get(), expires, Some(token), false)).await.assert_error(403, "SignatureDoesNotMatch");
    h.raw(signer.presign_v2(get(), expires, None, false)).await.assert_error(400, "InvalidToken");
    h.raw(signer.presign_v2(get(), expires, Some("forged"), true)).await.assert_error(400, "InvalidToken");
    let added =
        signer.presign_v2(get(), expires, None, false).query("x-amz-security-token", &urlencoding::encode(token));
    h.raw(added).await.assert_error(403, "SignatureDoesNotMatch");
    // A stranger's temporary credentials (no policy) read nothing and delete nothing.
    let temp = h.iam.get_session_token(&temp_of(&stranger, &stranger_ak), Some(900)).await.expect("session token");
    let stranger = crate::harness::Signer {
        access_key: temp.access_key_id.clone(),
        secret_key: temp.secret_access_key.clone(),
        ..signer.clone()
    };
    let token = temp.session_token.as_str();
    h.raw(stranger.presign_v2(get(), expires, Some(token), true)).await.assert_error(403, "AccessDenied");
    let del = RawRequest::new("DELETE", &format!("/{bucket}/{key}"));
    h.raw(stranger.presign_v2(del, expires, Some(token), true)).await.assert_error(403, "AccessDenied");
    untouched(&owner, &bucket, &key).await;
}

pub async fn bucket_policies_grant_across_accounts(h: &Harness) {
    let tag = random_hex(6);
    let (owner, _) = account(h, &format!("pub-{tag}")).await;
    let (_, account_b) = account(h, &format!("reader-{tag}")).await;
    let (bucket, key, _) = owned_bucket(&owner).await;
    let read_own =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let (reader, reader_user, ..) = user(h, &account_b, "reader", Some(read_own.to_owned())).await;
    let (idle, ..) = user(h, &account_b, "idle", None).await;

    let e = reader.get_object().bucket(&bucket).key(&key).send().await.expect_err("no grant yet");
    assert_eq!(status_of(&e), 403);

    // The owner grants the reader by ARN; the reader's own policy allows too: both needed.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"reader","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account_b}:user/{}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#,
        reader_user.name
    );
    owner.put_bucket_policy().bucket(&bucket).policy(&policy).send().await.expect("put policy");
    let got = owner.get_bucket_policy().bucket(&bucket).send().await.expect("get policy");
    assert_eq!(got.policy(), Some(policy.as_str()));
    reader.get_object().bucket(&bucket).key(&key).send().await.expect("granted read");
    let e = reader
        .put_object()
        .bucket(&bucket)
        .key("x")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("write");
    assert_eq!((status_of(&e), e.code()), (403, Some("AccessDenied")));
    let e = idle.get_object().bucket(&bucket).key(&key).send().await.expect_err("not named");
    assert_eq!(status_of(&e), 403);

    // Even a bucket policy granting everything to another account's user does not let it
    // read or change the bucket policy: that stays with the owning account.
    let all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let (greedy, greedy_user, ..) = user(h, &account_b, "greedy", Some(all.to_owned())).await;
    let grant_all = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account_b}:user/{}"}},"Action":"s3:*","Resource":["arn:aws:s3:::{bucket}","arn:aws:s3:::{bucket}/*"]}}]}}"#,
        greedy_user.name
    );
    owner.put_bucket_policy().bucket(&bucket).policy(&grant_all).send().await.expect("grant all");
    greedy.get_object().bucket(&bucket).key(&key).send().await.expect("granted by the bucket policy");
    let e = greedy.get_bucket_policy().bucket(&bucket).send().await.expect_err("policy is the owner's");
    assert_eq!((status_of(&e), e.code()), (403, Some("AccessDenied")));
    let e = greedy.delete_bucket_policy().bucket(&bucket).send().await.expect_err("policy is the owner's");
    assert_eq!((status_of(&e), e.code()), (403, Some("AccessDenied")));
    let e =
        greedy.put_bucket_policy().bucket(&bucket).policy(public_policy(&bucket)).send().await.expect_err("owner's");
    assert_eq!((status_of(&e), e.code()), (403, Some("AccessDenied")));
    assert_eq!(owner.get_bucket_policy().bucket(&bucket).send().await.expect("get").policy(), Some(grant_all.as_str()));

    // A public read grant lets anonymous callers read, and only read.
    assert_eq!(h.raw(RawRequest::new("GET", &format!("/{bucket}/{key}"))).await.status, 403);
    let public = public_policy(&bucket);
    owner.put_bucket_policy().bucket(&bucket).policy(&public).send().await.expect("public policy");
    let status = owner.get_bucket_policy_status().bucket(&bucket).send().await.expect("status");
    assert_eq!(status.policy_status().and_then(|s| s.is_public()), Some(true));
    assert_eq!(h.raw(RawRequest::new("GET", &format!("/{bucket}/{key}"))).await.status, 200);
    assert_eq!(h.raw(RawRequest::new("DELETE", &format!("/{bucket}/{key}"))).await.status, 403);

    // Bad policies are refused with MalformedPolicy; nothing changes.
    for bad in [
        "{".to_owned(),
        r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#.to_owned(),
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other-bucket/*"}]}"#.to_owned(),
    ] {
        let e = owner.put_bucket_policy().bucket(&bucket).policy(bad).send().await.expect_err("malformed");
        assert_eq!((status_of(&e), e.code()), (400, Some("MalformedPolicy")));
    }
    assert_eq!(owner.get_bucket_policy().bucket(&bucket).send().await.expect("get").policy(), Some(public.as_str()));
    owner.delete_bucket_policy().bucket(&bucket).send().await.expect("delete policy");
    let e = owner.get_bucket_policy().bucket(&bucket).send().await.expect_err("gone");
    assert_eq!((status_of(&e), e.code()), (404, Some("NoSuchBucketPolicy")));
    assert_eq!(h.raw(RawRequest::new("GET", &format!("/{bucket}/{key}"))).await.status, 403);
}

fn public_policy(bucket: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    )
}

/// A deny on reading an object also covers what GetObjectAttributes would tell of it (ETag,
/// checksums, size), as on AWS: the operation needs s3:GetObject as well as its own action.
pub async fn denied_reads_cover_object_attributes(h: &Harness) {
    use aws_sdk_s3::types::ObjectAttributes;
    let tag = random_hex(6);
    let (owner, account_a) = account(h, &format!("attrs-{tag}")).await;
    let (bucket, key, _) = owned_bucket(&owner).await;
    owner
        .put_object()
        .bucket(&bucket)
        .key("open.txt")
        .body(ByteStream::from_static(b"open"))
        .send()
        .await
        .expect("put");
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::{bucket}","arn:aws:s3:::{bucket}/*"]}},{{"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/{key}"}}]}}"#
    );
    let (reader, ..) = user(h, &account_a, "no-secret", Some(policy)).await;
    let attrs = |k: &str| {
        reader
            .get_object_attributes()
            .bucket(&bucket)
            .key(k)
            .object_attributes(ObjectAttributes::Etag)
            .object_attributes(ObjectAttributes::ObjectSize)
            .object_attributes(ObjectAttributes::Checksum)
    };
    let e = attrs(&key).send().await.expect_err("attributes of a denied object");
    assert_eq!((status_of(&e), e.code()), (403, Some("AccessDenied")));
    let e = reader.head_object().bucket(&bucket).key(&key).send().await.expect_err("head of a denied object");
    assert_eq!(status_of(&e), 403);
    // The same user reads the attributes of an object the deny does not name.
    let got = attrs("open.txt").send().await.expect("attributes of an allowed object");
    assert_eq!(got.object_size(), Some(4));
}
