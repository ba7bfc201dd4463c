//! Browser POST-policy uploads (PostObject, ADR 0015) with raw forms as browsers send them:
//! SigV2 and SigV4 signatures over the policy, every policy condition and its refusal with
//! AWS's code, the success answers (204, 200, 201 with XML, a 303 redirect), `${filename}`,
//! checksums, fields after the file ignored, permissions (strangers, anonymous forms, a bucket
//! policy for anonymous writes, revoked signatures), virtual-host style and CORS.

use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::harness::{Harness, RawRequest, RawResponse, pattern, random_hex};
use crate::iam::user;

const BOUNDARY: &str = "----cloudstoreFormBoundary7MA4YWxkTrZu0gW";

/// One form field: a text field, or the file (name, filename, content type, bytes).
pub enum Part<'a> {
    Field(&'a str, String),
    File(&'a str, &'a [u8]),
}

pub fn form_body(parts: &[Part<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match p {
            Part::Field(name, value) => {
                out.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes());
                out.extend_from_slice(value.as_bytes());
            }
            Part::File(filename, data) => {
                out.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                );
                out.extend_from_slice(data);
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

pub async fn post_form(h: &Harness, path: &str, parts: &[Part<'_>], extra: &[(&str, &str)]) -> RawResponse {
    let mut req = RawRequest::new("POST", path)
        .header("Content-Type", &format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(form_body(parts));
    for (k, v) in extra {
        req = req.header(k, v);
    }
    h.raw(req).await
}

fn b64(s: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn policy(expires_in: i64, conditions: Value) -> String {
    let exp = time::OffsetDateTime::now_utc() + time::Duration::seconds(expires_in);
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    b64(json!({ "expiration": exp.format(fmt).unwrap(), "conditions": conditions }).to_string().as_bytes())
}

fn sign_v2(secret: &str, policy: &str) -> String {
    let mut mac = <Hmac<sha1::Sha1> as hmac::digest::KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(policy.as_bytes());
    b64(&mac.finalize().into_bytes())
}

/// The fields of a SigV2-signed form (key id, policy, signature).
fn v2_fields<'a>(access: &str, secret: &str, policy: &str) -> Vec<Part<'a>> {
    vec![
        Part::Field("AWSAccessKeyId", access.to_owned()),
        Part::Field("policy", policy.to_owned()),
        Part::Field("signature", sign_v2(secret, policy)),
    ]
}

/// SigV4 form fields for `access`, dated now: the credential and date go into the policy's
/// conditions (as boto3's generate_presigned_post does), then the signature over it.
fn v4_signed<'a>(access: &str, secret: &str, expires_in: i64, mut conditions: Vec<Value>) -> Vec<Part<'a>> {
    let now = time::OffsetDateTime::now_utc();
    let date = now.format(time::macros::format_description!("[year][month][day]")).unwrap();
    let amz_date = now.format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z")).unwrap();
    let credential = format!("{access}/{date}/us-east-1/s3/aws4_request");
    conditions.push(json!({ "x-amz-algorithm": "AWS4-HMAC-SHA256" }));
    conditions.push(json!({ "x-amz-credential": credential }));
    conditions.push(json!({ "x-amz-date": amz_date }));
    let policy = policy(expires_in, Value::Array(conditions));
    let key = cloudstore_sigv4::signing_key(secret, &date, "us-east-1", "s3");
    let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(&key).unwrap();
    mac.update(policy.as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    vec![
        Part::Field("x-amz-algorithm", "AWS4-HMAC-SHA256".into()),
        Part::Field("x-amz-credential", credential),
        Part::Field("x-amz-date", amz_date),
        Part::Field("policy", policy),
        Part::Field("x-amz-signature", signature),
    ]
}

fn field<'a>(name: &'a str, value: &str) -> Part<'a> {
    Part::Field(name, value.to_owned())
}

/// Both signature versions, the success answers, stored metadata, `${filename}`, checksums,
/// fields after the file, and virtual-host style.
pub async fn post_object_uploads(h: &Harness) {
    let tag = random_hex(6);
    let creds = h.iam.admin_create_account(&format!("poster2-{tag}"), None, None, &Default::default()).await.unwrap().1;
    let (access, secret) = (creds.access_key_id.clone(), creds.secret.0.clone());
    let client = crate::harness::sdk_client(h.addr, &access, &secret);
    let bucket = format!("post-{}", random_hex(10));
    client.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    let path = format!("/{bucket}");

    // SigV2, as the s3-tests and older SDKs sign: 204 by default, with ETag and Location.
    let pol = policy(
        600,
        json!([{"bucket": bucket}, ["starts-with", "$key", "up/"], {"acl": "private"},
               ["starts-with", "$Content-Type", "text/"], ["content-length-range", 0, 1 << 20],
               ["starts-with", "$x-amz-meta-color", ""], ["eq", "$Cache-Control", "max-age=60"]]),
    );
    let mut parts = vec![field("key", "up/a.txt"), field("acl", "private"), field("Content-Type", "text/plain")];
    parts.push(field("x-amz-meta-color", "blue"));
    parts.push(field("Cache-Control", "max-age=60"));
    parts.extend(v2_fields(&access, &secret, &pol));
    parts.push(Part::File("a.txt", b"hello form"));
    // A field after the file is never read: it would fail the policy.
    parts.push(field("x-amz-meta-after", "x"));
    let r = post_form(h, &path, &parts, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.header("etag").is_some_and(|e| e.starts_with('"')));
    assert_eq!(r.header("location"), Some(format!("http://{}/{bucket}/up/a.txt", h.addr).as_str()));
    let got = client.get_object().bucket(&bucket).key("up/a.txt").send().await.expect("stored");
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(got.cache_control(), Some("max-age=60"));
    let meta = got.metadata().cloned().unwrap_or_default();
    assert_eq!(meta.get("color").map(String::as_str), Some("blue"));
    assert!(!meta.contains_key("after"));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"hello form");

    // SigV4 with success_action_status 201: AWS's XML answer.
    let conditions =
        vec![json!({"bucket": bucket}), json!(["starts-with", "$key", "up/"]), json!({"success_action_status": "201"})];
    let mut parts = vec![field("key", "up/${filename}"), field("success_action_status", "201")];
    parts.extend(v4_signed(&access, &secret, 600, conditions.clone()));
    let data = pattern(300_000, 3);
    parts.push(Part::File("big.bin", &data));
    let r = post_form(h, &path, &parts, &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let xml = r.text();
    assert!(xml.contains("<Key>up/big.bin</Key>") && xml.contains(&format!("<Bucket>{bucket}</Bucket>")), "{xml}");
    assert!(xml.contains("<ETag>&quot;") && xml.contains("<Location>http://"), "{xml}");
    assert_eq!(h.get(&bucket, "up/big.bin").await, data, "${{filename}} became the file's name");

    // success_action_status 200 and anything else (204); a redirect wins (303).
    for (status, want) in [("200", 200), ("404", 204)] {
        let conditions = vec![
            json!({"bucket": bucket}),
            json!(["starts-with", "$key", ""]),
            json!({"success_action_status": status}),
        ];
        let mut parts = vec![field("key", "s.txt"), field("success_action_status", status)];
        parts.extend(v4_signed(&access, &secret, 600, conditions));
        parts.push(Part::File("s.txt", b"s"));
        let r = post_form(h, &path, &parts, &[]).await;
        assert_eq!(r.status, want, "{status}: {}", r.text());
        assert!(r.body.is_empty());
    }
    let target = "http://example.com/done?x=1";
    let pol = policy(
        600,
        json!([{"bucket": bucket}, ["starts-with", "$key", ""], ["eq", "$success_action_redirect", target]]),
    );
    let mut parts = vec![field("key", "r.txt"), field("success_action_redirect", target)];
    parts.extend(v2_fields(&access, &secret, &pol));
    parts.push(Part::File("r.txt", b"r"));
    let r = post_form(h, &path, &parts, &[]).await;
    assert_eq!(r.status, 303, "{}", r.text());
    let etag = client.head_object().bucket(&bucket).key("r.txt").send().await.unwrap().e_tag().unwrap().to_owned();
    let want = format!("{target}&bucket={bucket}&key=r.txt&etag={}", etag.replace('"', "%22"));
    assert_eq!(r.header("location"), Some(want.as_str()));

    // Checksums: a right one is stored (exempt from the policy, as the s3-tests expect), a
    // wrong one refused with nothing stored.
    let pol = policy(600, json!([{"bucket": bucket}, ["starts-with", "$key", ""]]));
    let body = b"checksummed";
    let sum = b64(&<Sha256 as sha2::Digest>::digest(body));
    let mut parts = vec![field("key", "c.txt"), field("x-amz-checksum-sha256", &sum)];
    parts.extend(v2_fields(&access, &secret, &pol));
    parts.push(Part::File("c.txt", body));
    assert_eq!(post_form(h, &path, &parts, &[]).await.status, 204);
    let mut parts = vec![field("key", "c2.txt"), field("x-amz-checksum-sha256", &b64(&[0u8; 32]))];
    parts.extend(v2_fields(&access, &secret, &pol));
    parts.push(Part::File("c2.txt", body));
    let r = post_form(h, &path, &parts, &[]).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(!h.exists(&bucket, "c2.txt").await);

    // The tagging field (a Tagging document) becomes the object's tags; a bad one is refused.
    let tagging = "<Tagging><TagSet><Tag><Key>team</Key><Value>blue</Value></Tag><Tag><Key>a</Key><Value></Value></Tag></TagSet></Tagging>";
    let tpol = policy(600, json!([{"bucket": bucket}, ["starts-with", "$key", ""], ["starts-with", "$tagging", ""]]));
    let mut parts = vec![field("key", "tagged.txt"), field("tagging", tagging)];
    parts.extend(v2_fields(&access, &secret, &tpol));
    parts.push(Part::File("t.txt", b"tagged"));
    let r = post_form(h, &path, &parts, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let tags = client.get_object_tagging().bucket(&bucket).key("tagged.txt").send().await.expect("tags");
    let got: Vec<(&str, &str)> = tags.tag_set().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(got, [("a", ""), ("team", "blue")]);
    for bad in ["<Tagging><TagSet>", "<Tagging><TagSet><Tag><Key>aws:x</Key><Value>v</Value></Tag></TagSet></Tagging>"]
    {
        let mut parts = vec![field("key", "badtag.txt"), field("tagging", bad)];
        parts.extend(v2_fields(&access, &secret, &tpol));
        parts.push(Part::File("t.txt", b"x"));
        let r = post_form(h, &path, &parts, &[]).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
    assert!(!h.exists(&bucket, "badtag.txt").await);

    // An empty file is an object too; field names are case-insensitive.
    let mut parts = vec![field("KEY", "empty")];
    parts.extend(v2_fields(&access, &secret, &pol));
    parts.push(Part::File("e", b""));
    assert_eq!(post_form(h, &path, &parts, &[]).await.status, 204);
    assert!(h.get(&bucket, "empty").await.is_empty());

    // Virtual-host style: the bucket from the Host header, the form to `/`.
    let shutdown = tokio_util::sync::CancellationToken::new();
    let frontend = s3_frontend::app::frontend(
        h.meta.clone(),
        h.blobs.clone(),
        s3_frontend::s3::GatewayConfig::default(),
        h.root.clone(),
        &["s3.test".to_owned()],
        std::sync::Arc::new(s3_frontend::metrics::Metrics::default()),
        std::sync::Arc::new(cloudstore_iam::api::InProcessIam::new(h.iam.clone())),
    )
    .expect("frontend");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(s3_frontend::server::serve(listener, std::sync::Arc::new(frontend), shutdown.clone()));
    let mut parts = vec![field("key", "vh.txt")];
    parts.extend(v2_fields(&access, &secret, &pol));
    parts.push(Part::File("vh.txt", b"virtual"));
    let body = form_body(&parts);
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {bucket}.s3.test\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let text = {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(head.as_bytes()).await.expect("write");
        s.write_all(&body).await.expect("write");
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.expect("read");
        String::from_utf8_lossy(&buf).into_owned()
    };
    assert!(text.starts_with("HTTP/1.1 204"), "{text}");
    assert!(text.to_ascii_lowercase().contains(&format!("location: http://{bucket}.s3.test/vh.txt")), "{text}");
    assert_eq!(h.get(&bucket, "vh.txt").await, b"virtual");
    shutdown.cancel();
    let _ = server.await;

    // A form to an object's path is not PostObject.
    let r = post_form(h, &format!("/{bucket}/k"), &parts, &[]).await;
    r.assert_error(405, "MethodNotAllowed");
}

/// Every refusal, with the code AWS gives, and nothing stored by any of them.
pub async fn post_object_refusals(h: &Harness) {
    let tag = random_hex(6);
    let creds = h.iam.admin_create_account(&format!("refused-{tag}"), None, None, &Default::default()).await.unwrap().1;
    let (access, secret) = (creds.access_key_id.clone(), creds.secret.0.clone());
    let client = crate::harness::sdk_client(h.addr, &access, &secret);
    let bucket = format!("postref-{}", random_hex(10));
    client.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    let path = format!("/{bucket}");
    let base = || {
        vec![
            json!({"bucket": bucket}),
            json!(["starts-with", "$key", "foo"]),
            json!({"acl": "private"}),
            json!(["starts-with", "$Content-Type", "text/plain"]),
            json!(["content-length-range", 0, 1024]),
        ]
    };
    let fields = || vec![field("key", "foo.txt"), field("acl", "private"), field("Content-Type", "text/plain")];
    // Sends `fields` signed (SigV2) over a policy of `conditions`, expiring in `exp` seconds.
    let send = |conditions: Vec<Value>, exp: i64, mut parts: Vec<Part<'static>>, file: &'static [u8]| {
        let pol = policy(exp, Value::Array(conditions));
        parts.extend(v2_fields(&access, &secret, &pol));
        parts.push(Part::File("f.txt", file));
        let path = path.clone();
        async move { post_form(h, &path, &parts, &[]).await }
    };
    let denied = |r: &RawResponse, message: &str| {
        r.assert_error(403, "AccessDenied");
        assert!(r.text().replace("&quot;", "\"").contains(message), "{message}: {}", r.text());
    };

    // The baseline passes.
    assert_eq!(send(base(), 600, fields(), b"bar").await.status, 204);
    client.delete_object().bucket(&bucket).key("foo.txt").send().await.unwrap();

    denied(&send(base(), -600, fields(), b"bar").await, "Invalid according to Policy: Policy expired.");
    let mut f = fields();
    f[0] = field("key", "bar.txt");
    denied(&send(base(), 600, f, b"bar").await, "Policy Condition failed: [\"starts-with\", \"$key\", \"foo\"]");
    let mut f = fields();
    f[1] = field("acl", "public-read");
    denied(&send(base(), 600, f, b"bar").await, "Policy Condition failed: [\"eq\", \"$acl\", \"private\"]");
    let mut f = fields();
    f[2] = field("Content-Type", "image/png");
    denied(&send(base(), 600, f, b"bar").await, "Policy Condition failed");
    let mut c = base();
    c.push(json!(["eq", "$x-amz-meta-foo", ""]));
    let mut f = fields();
    f.push(field("x-amz-meta-foo", "barclamp"));
    denied(&send(c, 600, f, b"bar").await, "[\"eq\", \"$x-amz-meta-foo\", \"\"]");
    let mut c = base();
    c.push(json!(["starts-with", "$x-amz-meta-foo", "bar"]));
    denied(&send(c, 600, fields(), b"bar").await, "Policy Condition failed");
    let mut f = fields();
    f.push(field("x-amz-meta-extra", "1"));
    denied(&send(base(), 600, f, b"bar").await, "Extra input fields: x-amz-meta-extra");
    denied(&send(base()[1..].to_vec(), 600, fields(), b"bar").await, "Extra input fields: bucket");
    // A policy for another bucket, used on this one.
    let mut c = base();
    c[0] = json!({"bucket": "some-other-bucket"});
    denied(
        &send(c, 600, fields(), b"bar").await,
        "Policy Condition failed: [\"eq\", \"$bucket\", \"some-other-bucket\"]",
    );

    // Sizes: over the range's maximum (read no further) and under its minimum.
    let mut c = base();
    c[4] = json!(["content-length-range", 0, 2]);
    send(c, 600, fields(), b"bar").await.assert_error(400, "EntityTooLarge");
    let mut c = base();
    c[4] = json!(["content-length-range", 512, 1000]);
    send(c, 600, fields(), b"bar").await.assert_error(400, "EntityTooSmall");

    // Bad policy documents.
    for bad in [
        json!([["content-length-range", 0]]),
        json!([["content-length-range", -1, 0]]),
        json!([{}]),
        json!([["starts-with", "key", "foo"]]),
    ] {
        let mut c = base();
        c.extend(bad.as_array().unwrap().iter().cloned());
        send(c, 600, fields(), b"bar").await.assert_error(400, "InvalidPolicyDocument");
    }
    for doc in [
        json!({"conditions": base()}),
        json!({"expiration": "2099-01-01 00:00:00", "conditions": base()}),
        json!({"expiration": "2099-01-01T00:00:00Z"}),
    ] {
        let pol = b64(doc.to_string().as_bytes());
        let mut parts = fields();
        parts.extend(v2_fields(&access, &secret, &pol));
        parts.push(Part::File("f.txt", b"bar"));
        post_form(h, &path, &parts, &[]).await.assert_error(400, "InvalidPolicyDocument");
    }

    // Credentials: a wrong signature, an unknown key, a policy without a signature or key,
    // no key field.
    let pol = policy(600, Value::Array(base()));
    let mut parts = fields();
    parts.extend([
        field("AWSAccessKeyId", &access),
        field("policy", &pol),
        field("signature", &sign_v2("wrong", &pol)),
    ]);
    parts.push(Part::File("f.txt", b"bar"));
    post_form(h, &path, &parts, &[]).await.assert_error(403, "SignatureDoesNotMatch");
    let mut parts = fields();
    parts.extend(v2_fields("AKIDNOSUCHKEY0000000", &secret, &pol));
    parts.push(Part::File("f.txt", b"bar"));
    post_form(h, &path, &parts, &[]).await.assert_error(403, "InvalidAccessKeyId");
    let mut parts = fields();
    parts.extend([field("AWSAccessKeyId", &access), field("policy", &pol)]);
    parts.push(Part::File("f.txt", b"bar"));
    post_form(h, &path, &parts, &[]).await.assert_error(400, "InvalidArgument");
    let mut parts = fields();
    parts.push(field("policy", &pol));
    parts.push(Part::File("f.txt", b"bar"));
    post_form(h, &path, &parts, &[]).await.assert_error(400, "InvalidArgument");
    let mut parts = vec![field("acl", "private")];
    parts.extend(v2_fields(&access, &secret, &pol));
    parts.push(Part::File("f.txt", b"bar"));
    post_form(h, &path, &parts, &[]).await.assert_error(400, "InvalidArgument");
    // SigV4 signed by another secret, or for another region.
    let mut parts = fields();
    parts.extend(v4_signed(&access, "not-the-secret", 600, base()));
    parts.push(Part::File("f.txt", b"bar"));
    post_form(h, &path, &parts, &[]).await.assert_error(403, "SignatureDoesNotMatch");
    // No file, a missing bucket, fields too large before the file.
    let mut parts = fields();
    parts.extend(v2_fields(&access, &secret, &pol));
    post_form(h, &path, &parts, &[]).await.assert_error(400, "InvalidArgument");
    let mut parts = fields();
    parts.extend(v2_fields(&access, &secret, &pol));
    parts.push(Part::File("f.txt", b"bar"));
    post_form(h, &format!("/no-such-{}", random_hex(8)), &parts, &[]).await.assert_error(404, "NoSuchBucket");
    let mut parts = fields();
    parts.push(field("x-ignore-padding", &"x".repeat(70_000)));
    parts.push(Part::File("f.txt", b"bar"));
    post_form(h, &path, &parts, &[]).await.assert_error(400, "MaxPostPreDataLengthExceededError");
    let r = h
        .raw(
            RawRequest::new("POST", &path)
                .header("Content-Type", &format!("multipart/form-data; boundary={BOUNDARY}"))
                .body("garbage"),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());

    let listed = client.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0), "a refused form stored nothing");
}

/// Who may post: the signer's permissions as for PutObject (strangers, users without a grant,
/// revoked signatures refused; a user's grant honoured), anonymous forms only where a bucket
/// policy lets anonymous writes, refusals as `access_denied` events; CORS on the answers.
pub async fn post_object_permissions(h: &Harness) {
    let tag = random_hex(6);
    let creds = h.iam.admin_create_account(&format!("permowner-{tag}"), None, None, &Default::default()).await.unwrap();
    let (account_id, access, secret) =
        (creds.0.account_id.clone(), creds.1.access_key_id.clone(), creds.1.secret.0.clone());
    let owner = crate::harness::sdk_client(h.addr, &access, &secret);
    let bucket = format!("postperm-{}", random_hex(10));
    owner.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    let path = format!("/{bucket}");
    let pol = policy(600, json!([{"bucket": bucket}, ["starts-with", "$key", ""]]));
    let form = |a: &str, s: &str, key: &str| {
        let mut parts = vec![field("key", key)];
        parts.extend(v2_fields(a, s, &pol));
        parts.push(Part::File("f", b"data"));
        parts
    };

    // A stranger's correctly signed form: refused.
    let stranger =
        h.iam.admin_create_account(&format!("permstranger-{tag}"), None, None, &Default::default()).await.unwrap().1;
    let r = post_form(h, &path, &form(&stranger.access_key_id, &stranger.secret.0, "s"), &[]).await;
    r.assert_error(403, "AccessDenied");
    // An IAM user of the owner's account without a grant, then one with s3:PutObject on up/*.
    let (_, _, idle_key, idle_secret) = user(h, &account_id, "idle", None).await;
    post_form(h, &path, &form(&idle_key, &idle_secret, "u"), &[]).await.assert_error(403, "AccessDenied");
    let grant = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::{bucket}/up/*"}}]}}"#
    );
    let (_, _, up_key, up_secret) = user(h, &account_id, "uploader", Some(grant)).await;
    assert_eq!(post_form(h, &path, &form(&up_key, &up_secret, "up/ok"), &[]).await.status, 204);
    post_form(h, &path, &form(&up_key, &up_secret, "elsewhere"), &[]).await.assert_error(403, "AccessDenied");

    // Anonymous forms (no policy, no signature): refused, until a bucket policy allows
    // anonymous writes under a prefix; still refused elsewhere.
    let anon = |key: &str| vec![field("key", key), Part::File("f", b"anon")];
    post_form(h, &path, &anon("public/a"), &[]).await.assert_error(403, "AccessDenied");
    let public = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::{bucket}/public/*"}}]}}"#
    );
    owner.put_bucket_policy().bucket(&bucket).policy(&public).send().await.expect("policy");
    assert_eq!(post_form(h, &path, &anon("public/a"), &[]).await.status, 204);
    assert_eq!(h.get(&bucket, "public/a").await, b"anon");
    post_form(h, &path, &anon("private/a"), &[]).await.assert_error(403, "AccessDenied");

    // The owner revokes everything the uploader signed so far: its forms die.
    let signer = crate::harness::Signer { access_key: access.clone(), secret_key: secret.clone(), ..h.signer() };
    let req = RawRequest::new("POST", "/")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("Action=RevokePresignedUrls&UserName=uploader&AccessKeyId={up_key}"));
    let r = h.raw(signer.sign_for("iam", req, time::OffsetDateTime::now_utc())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = post_form(h, &path, &form(&up_key, &up_secret, "up/late"), &[]).await;
    r.assert_error(403, "AccessDenied");
    assert!(r.text().contains("revoked"), "{}", r.text());

    // CORS: the bucket's rule for a browser's origin applies to the answer.
    let cors = aws_sdk_s3::types::CorsConfiguration::builder()
        .cors_rules(
            aws_sdk_s3::types::CorsRule::builder()
                .allowed_origins("http://app.example")
                .allowed_methods("POST")
                .expose_headers("ETag")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    owner.put_bucket_cors().bucket(&bucket).cors_configuration(cors).send().await.expect("cors");
    let r = post_form(h, &path, &anon("public/cors"), &[("Origin", "http://app.example")]).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some("http://app.example"));
    let r = post_form(h, &path, &anon("public/cors2"), &[("Origin", "http://evil.example")]).await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), None);

    // Refusals are access_denied events of the bucket owner.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let rows = h.meta.outbox_rows(100_000).await.expect("outbox rows");
    let events: Vec<cloudstore_events::Event> = rows
        .iter()
        .filter_map(|r| cloudstore_events::decode(r.body.as_bytes()).ok())
        .filter(|e| e.bucket.as_deref() == Some(bucket.as_str()))
        .collect();
    let denied = events
        .iter()
        .filter(|e| {
            e.event_type.as_str() == "access_denied"
                && e.detail.get("operation").map(String::as_str) == Some("PostObject")
        })
        .count();
    assert!(denied >= 5, "{denied} denials: {events:?}");
    let uploaded = events
        .iter()
        .filter(|e| e.event_type.as_str() == "file_uploaded" && e.object_key.as_deref() == Some("public/a"))
        .count();
    assert_eq!(uploaded, 1);
}

/// The form's `acl` field is stored as PutObject's `x-amz-acl` would be: `public-read` makes
/// the object readable by anyone where the bucket's ACLs apply; on a bucket whose ACLs are
/// disabled (BucketOwnerEnforced, the default) and under BlockPublicAcls it is refused before
/// anything is stored; a value that is no canned ACL is refused.
pub async fn post_object_acl_field(h: &Harness) {
    let creds = h
        .iam
        .admin_create_account(&format!("poster-acl-{}", random_hex(6)), None, None, &Default::default())
        .await
        .unwrap()
        .1;
    let (access, secret) = (creds.access_key_id.clone(), creds.secret.0.clone());
    let client = crate::harness::sdk_client(h.addr, &access, &secret);
    let writer = format!("post-acl-{}", random_hex(8));
    client
        .create_bucket()
        .bucket(&writer)
        .object_ownership(aws_sdk_s3::types::ObjectOwnership::ObjectWriter)
        .send()
        .await
        .expect("create an ObjectWriter bucket");
    let enforced = format!("post-acl-{}", random_hex(8));
    client.create_bucket().bucket(&enforced).send().await.expect("create a default bucket");
    let form = |bucket: &str, key: &str, acl: &str| {
        let pol = policy(600, json!([{"bucket": bucket}, ["starts-with", "$key", ""], {"acl": acl}]));
        let mut parts = vec![field("key", key), field("acl", acl)];
        parts.extend(v2_fields(&access, &secret, &pol));
        parts
    };
    let anonymous = |bucket: &str, key: &str| h.raw(RawRequest::new("GET", &format!("/{bucket}/{key}")));

    let mut parts = form(&writer, "public.txt", "public-read");
    parts.push(Part::File("a.txt", b"for everyone"));
    let r = post_form(h, &format!("/{writer}"), &parts, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let got = anonymous(&writer, "public.txt").await;
    assert_eq!((got.status, got.body.as_slice()), (200, b"for everyone".as_slice()), "{}", got.text());
    let acl = client.get_object_acl().bucket(&writer).key("public.txt").send().await.expect("object acl");
    assert!(
        acl.grants().iter().any(|g| g.grantee().and_then(|x| x.uri()).is_some_and(|u| u.ends_with("/global/AllUsers"))),
        "{acl:?}"
    );
    // Without the field: private, as PutObject.
    let mut parts = form(&writer, "private.txt", "private");
    parts.push(Part::File("a.txt", b"mine"));
    assert_eq!(post_form(h, &format!("/{writer}"), &parts, &[]).await.status, 204);
    anonymous(&writer, "private.txt").await.assert_error(403, "AccessDenied");

    // ACLs disabled: a public ACL is refused and nothing is stored.
    let mut parts = form(&enforced, "public.txt", "public-read");
    parts.push(Part::File("a.txt", b"no"));
    post_form(h, &format!("/{enforced}"), &parts, &[]).await.assert_error(400, "AccessControlListNotSupported");
    assert!(!h.exists(&enforced, "public.txt").await);
    // A value that is no canned ACL.
    let mut parts = form(&writer, "odd.txt", "everyone-please");
    parts.push(Part::File("a.txt", b"no"));
    assert_eq!(post_form(h, &format!("/{writer}"), &parts, &[]).await.status, 400);
    assert!(!h.exists(&writer, "odd.txt").await);
    // BlockPublicAcls refuses a public one.
    client
        .put_public_access_block()
        .bucket(&writer)
        .public_access_block_configuration(
            aws_sdk_s3::types::PublicAccessBlockConfiguration::builder().block_public_acls(true).build(),
        )
        .send()
        .await
        .expect("block public acls");
    let mut parts = form(&writer, "blocked.txt", "public-read");
    parts.push(Part::File("a.txt", b"no"));
    post_form(h, &format!("/{writer}"), &parts, &[]).await.assert_error(403, "AccessDenied");
    assert!(!h.exists(&writer, "blocked.txt").await);
}
