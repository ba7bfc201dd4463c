//! Encryption at rest (issue #14 item 5, ADR 0014): SSE-S3, bucket default encryption, SSE-C
//! and SSE-KMS against the platform's keys; multipart, copies, ranges and part reads of
//! encrypted objects; the blob store never holding the plaintext; strangers refused.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use futures::StreamExt as _;
use serde_json::Value;

use crate::harness::{Harness, RawRequest, Signer, expect_err, md5_hex, pattern, random_hex, sdk_client};

const KEY_A: &str = "pO3upElrwuEXSoFwCfnZPdSsmt/xWeFa0N9KgDijwVs=";
const MD5_A: &str = "DWygnHRtgiJ77HCm+1rvHw==";
const KEY_B: &str = "6b+WOZ1T3cqZMxgThRcXAQBrS5mXKdDUphvpxptl9/4=";
const MD5_B: &str = "arxBvwY2V4SiOne6yppVPQ==";

/// The stored bytes of every blob of an object, as the blob backend holds them.
async fn stored_bytes(h: &Harness, bucket: &str, key: &str) -> Vec<u8> {
    let obj = h.meta.get_object(bucket, key).await.expect("read").expect("object");
    let mut out = Vec::new();
    for p in &obj.parts {
        let mut s = h.blobs.get(&p.blob, None).await.expect("blob");
        while let Some(b) = s.next().await {
            out.extend_from_slice(&b.expect("bytes"));
        }
    }
    out
}

/// Asserts that no 32-byte window of `plain` (sampled) appears in `stored`.
fn assert_not_plaintext(stored: &[u8], plain: &[u8]) {
    assert!(!stored.is_empty());
    for start in (0..plain.len().saturating_sub(32)).step_by(4099) {
        let w = &plain[start..start + 32];
        assert!(!stored.windows(32).any(|s| s == w), "plaintext at {start} found in the blob store");
    }
}

fn sealed_len(plain: u64) -> u64 {
    plain + 16 * plain.div_ceil(64 * 1024)
}

async fn body(o: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Vec<u8> {
    o.body.collect().await.expect("body").into_bytes().to_vec()
}

fn default_rule(algorithm: ServerSideEncryption, kms: Option<&str>) -> ServerSideEncryptionConfiguration {
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(algorithm)
        .set_kms_master_key_id(kms.map(str::to_owned))
        .build()
        .expect("rule");
    ServerSideEncryptionConfiguration::builder()
        .rules(ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(by_default).build())
        .build()
        .expect("configuration")
}

pub async fn sse_s3_and_bucket_default_keep_plaintext_from_the_backend(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("sses3").await;
    let data = pattern(200 * 1024 + 7, 3);
    let put = c
        .put_object()
        .bucket(&b)
        .key("k")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .expect("put");
    assert_eq!(put.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert_eq!(put.e_tag(), Some(format!("\"{}\"", md5_hex(&data)).as_str()), "SSE-S3 ETags are the MD5, as on AWS");
    let stored = stored_bytes(h, &b, "k").await;
    assert_eq!(stored.len() as u64, sealed_len(data.len() as u64));
    assert_not_plaintext(&stored, &data);

    let got = c.get_object().bucket(&b).key("k").send().await.expect("get");
    assert_eq!(got.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert_eq!(got.content_length(), Some(data.len() as i64));
    assert_eq!(body(got).await, data);
    // Ranges inside a chunk, across chunk boundaries, and the tail.
    for (from, to) in [(0usize, 0usize), (65_530, 65_560), (70_000, 140_000), (data.len() - 10, data.len() - 1)] {
        let got = c.get_object().bucket(&b).key("k").range(format!("bytes={from}-{to}")).send().await.expect("range");
        assert_eq!(body(got).await, data[from..=to], "range {from}-{to}");
    }
    let head = c.head_object().bucket(&b).key("k").send().await.expect("head");
    assert_eq!(head.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert_eq!(head.content_length(), Some(data.len() as i64));
    let listed = c.list_objects_v2().bucket(&b).send().await.expect("list");
    assert_eq!(listed.contents()[0].size(), Some(data.len() as i64), "listings show the plaintext size");
    // SSE headers belong to writes: a read that sends one is refused, as AWS refuses it.
    let signer = h.signer();
    let r = h
        .raw(signer.sign(
            RawRequest::new("HEAD", &format!("/{b}/k")).header("x-amz-server-side-encryption", "AES256"),
            None,
            time::OffsetDateTime::now_utc(),
        ))
        .await;
    assert_eq!(r.status, 400);

    // Bucket default encryption: none, then AES256 for writes that ask for none, then none.
    expect_err(
        c.get_bucket_encryption().bucket(&b).send().await,
        404,
        Some("ServerSideEncryptionConfigurationNotFoundError"),
    );
    c.put_bucket_encryption()
        .bucket(&b)
        .server_side_encryption_configuration(default_rule(ServerSideEncryption::Aes256, None))
        .send()
        .await
        .expect("put bucket encryption");
    let got = c.get_bucket_encryption().bucket(&b).send().await.expect("get bucket encryption");
    let rule = &got.server_side_encryption_configuration().expect("configuration").rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default().map(|d| d.sse_algorithm().clone()),
        Some(ServerSideEncryption::Aes256)
    );
    let small = b"default encrypted".to_vec();
    let put = c.put_object().bucket(&b).key("d").body(ByteStream::from(small.clone())).send().await.expect("put");
    assert_eq!(put.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert_not_plaintext(&stored_bytes(h, &b, "d").await, b"default encrypted, and long enough to look for");
    assert_ne!(stored_bytes(h, &b, "d").await, small);
    assert_eq!(body(c.get_object().bucket(&b).key("d").send().await.expect("get")).await, small);
    c.delete_bucket_encryption().bucket(&b).send().await.expect("delete bucket encryption");
    expect_err(
        c.get_bucket_encryption().bucket(&b).send().await,
        404,
        Some("ServerSideEncryptionConfigurationNotFoundError"),
    );
    let put = c.put_object().bucket(&b).key("p").body(ByteStream::from_static(b"plain")).send().await.expect("put");
    assert_eq!(put.server_side_encryption(), None);
    assert_eq!(stored_bytes(h, &b, "p").await, b"plain");

    // A stranger may neither read nor change the bucket's encryption.
    let (_, key) = h
        .iam
        .admin_create_account(&format!("sse-other-{}", random_hex(6)), None, None, &Default::default())
        .await
        .expect("other account");
    let other = sdk_client(h.addr, &key.access_key_id, &key.secret.0);
    expect_err(other.get_bucket_encryption().bucket(&b).send().await, 403, Some("AccessDenied"));
    expect_err(
        other
            .put_bucket_encryption()
            .bucket(&b)
            .server_side_encryption_configuration(default_rule(ServerSideEncryption::Aes256, None))
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    expect_err(other.delete_bucket_encryption().bucket(&b).send().await, 403, Some("AccessDenied"));
    expect_err(other.get_object().bucket(&b).key("k").send().await, 403, Some("AccessDenied"));
}

pub async fn sse_c_needs_its_key_on_every_read(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("ssec").await;
    let data = pattern(100 * 1024, 5);
    let put = c
        .put_object()
        .bucket(&b)
        .key("k")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(KEY_A)
        .sse_customer_key_md5(MD5_A)
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .expect("put");
    assert_eq!(put.sse_customer_algorithm(), Some("AES256"));
    assert_eq!(put.sse_customer_key_md5(), Some(MD5_A));
    assert_ne!(put.e_tag(), Some(format!("\"{}\"", md5_hex(&data)).as_str()), "an SSE-C ETag is not the MD5");
    assert_not_plaintext(&stored_bytes(h, &b, "k").await, &data);

    expect_err(c.get_object().bucket(&b).key("k").send().await, 400, Some("InvalidRequest"));
    expect_err(c.head_object().bucket(&b).key("k").send().await, 400, None);
    expect_err(
        c.get_object()
            .bucket(&b)
            .key("k")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(KEY_B)
            .sse_customer_key_md5(MD5_B)
            .send()
            .await,
        400,
        Some("InvalidRequest"),
    );
    let get = c
        .get_object()
        .bucket(&b)
        .key("k")
        .range("bytes=65000-70000")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(KEY_A)
        .sse_customer_key_md5(MD5_A)
        .send()
        .await
        .expect("get with the key");
    assert_eq!(get.sse_customer_key_md5(), Some(MD5_A));
    assert_eq!(body(get).await, data[65_000..=70_000]);
    let head = c
        .head_object()
        .bucket(&b)
        .key("k")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(KEY_A)
        .sse_customer_key_md5(MD5_A)
        .send()
        .await
        .expect("head with the key");
    assert_eq!(head.sse_customer_algorithm(), Some("AES256"));
    expect_err(
        c.get_object_attributes()
            .bucket(&b)
            .key("k")
            .object_attributes(aws_sdk_s3::types::ObjectAttributes::ObjectSize)
            .send()
            .await,
        400,
        None,
    );
    // A key whose MD5 does not match, or a key without its algorithm: refused, nothing written.
    expect_err(
        c.put_object()
            .bucket(&b)
            .key("bad")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(KEY_A)
            .sse_customer_key_md5(MD5_B)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        400,
        Some("InvalidArgument"),
    );
    let signer = h.signer();
    let r = h
        .raw(
            signer.sign(
                RawRequest::new("PUT", &format!("/{b}/bad"))
                    .header("x-amz-server-side-encryption-customer-key", KEY_A)
                    .header("x-amz-server-side-encryption-customer-key-md5", MD5_A)
                    .body(b"x".to_vec()),
                None,
                time::OffsetDateTime::now_utc(),
            ),
        )
        .await;
    r.assert_error(400, "InvalidArgument");
    assert!(h.meta.get_object(&b, "bad").await.expect("read").is_none());

    // Copies: the source's key is required; the copy is encrypted as its request says.
    expect_err(
        c.copy_object()
            .bucket(&b)
            .key("copy")
            .copy_source(format!("{b}/k"))
            .server_side_encryption(ServerSideEncryption::Aes256)
            .send()
            .await,
        400,
        None,
    );
    let copied = c
        .copy_object()
        .bucket(&b)
        .key("copy")
        .copy_source(format!("{b}/k"))
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(KEY_A)
        .copy_source_sse_customer_key_md5(MD5_A)
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .expect("copy SSE-C to SSE-S3");
    assert_eq!(copied.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    let got = c.get_object().bucket(&b).key("copy").send().await.expect("get the copy without a key");
    assert_eq!(got.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert_eq!(body(got).await, data);
    // In place, to another customer key (changing the encryption is allowed in place).
    c.copy_object()
        .bucket(&b)
        .key("k")
        .copy_source(format!("{b}/k"))
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(KEY_A)
        .copy_source_sse_customer_key_md5(MD5_A)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(KEY_B)
        .sse_customer_key_md5(MD5_B)
        .send()
        .await
        .expect("re-key in place");
    let got = c
        .get_object()
        .bucket(&b)
        .key("k")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(KEY_B)
        .sse_customer_key_md5(MD5_B)
        .send()
        .await
        .expect("get with the new key");
    assert_eq!(body(got).await, data);

    // A stranger holding the right key is still refused.
    let (_, key) = h
        .iam
        .admin_create_account(&format!("ssec-other-{}", random_hex(6)), None, None, &Default::default())
        .await
        .expect("other account");
    let other = sdk_client(h.addr, &key.access_key_id, &key.secret.0);
    expect_err(
        other
            .get_object()
            .bucket(&b)
            .key("k")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(KEY_B)
            .sse_customer_key_md5(MD5_B)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
}

pub async fn encrypted_multipart_parts_and_ranges(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("ssemp").await;
    let sizes = [5 * 1024 * 1024 + 1, 300 * 1024];
    let parts: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, n)| pattern(*n, 10 + i as u64)).collect();
    let all: Vec<u8> = parts.concat();
    let up = c
        .create_multipart_upload()
        .bucket(&b)
        .key("mp")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(KEY_A)
        .sse_customer_key_md5(MD5_A)
        .send()
        .await
        .expect("create");
    assert_eq!(up.sse_customer_key_md5(), Some(MD5_A));
    let id = up.upload_id().expect("id").to_owned();
    // A part under another key is refused. Its body is small: the refusal comes before the
    // body is read, and a client still writing megabytes then sees a broken pipe, not the answer.
    expect_err(
        c.upload_part()
            .bucket(&b)
            .key("mp")
            .upload_id(&id)
            .part_number(1)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(KEY_B)
            .sse_customer_key_md5(MD5_B)
            .body(ByteStream::from_static(b"a refused part"))
            .send()
            .await,
        400,
        None,
    );
    let mut done = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let n = i32::try_from(i + 1).expect("n");
        let out = c
            .upload_part()
            .bucket(&b)
            .key("mp")
            .upload_id(&id)
            .part_number(n)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(KEY_A)
            .sse_customer_key_md5(MD5_A)
            .body(ByteStream::from(p.clone()))
            .send()
            .await
            .expect("part");
        done.push(CompletedPart::builder().part_number(n).e_tag(out.e_tag().expect("etag")).build());
    }
    let completed = CompletedMultipartUpload::builder().set_parts(Some(done)).build();
    // Completing an SSE-C upload needs its key too.
    expect_err(
        c.complete_multipart_upload()
            .bucket(&b)
            .key("mp")
            .upload_id(&id)
            .multipart_upload(completed.clone())
            .send()
            .await,
        400,
        None,
    );
    c.complete_multipart_upload()
        .bucket(&b)
        .key("mp")
        .upload_id(&id)
        .multipart_upload(completed)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(KEY_A)
        .sse_customer_key_md5(MD5_A)
        .send()
        .await
        .expect("complete");
    assert_not_plaintext(&stored_bytes(h, &b, "mp").await, &all[..200_000]);
    let listed = c.list_objects_v2().bucket(&b).send().await.expect("list");
    assert_eq!(listed.contents()[0].size(), Some(all.len() as i64));
    let get = |range: Option<String>, part: Option<i32>| {
        c.get_object()
            .bucket(&b)
            .key("mp")
            .set_range(range)
            .set_part_number(part)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(KEY_A)
            .sse_customer_key_md5(MD5_A)
            .send()
    };
    assert_eq!(body(get(None, None).await.expect("get")).await, all);
    let boundary = sizes[0];
    let r = get(Some(format!("bytes={}-{}", boundary - 100, boundary + 100)), None).await.expect("range");
    assert_eq!(body(r).await, all[boundary - 100..=boundary + 100]);
    let p2 = get(None, Some(2)).await.expect("part 2");
    assert_eq!(p2.parts_count(), Some(2));
    assert_eq!(body(p2).await, parts[1]);
    expect_err(c.get_object().bucket(&b).key("mp").send().await, 400, None);
    // A part the object does not have is InvalidPart even without the key, as on AWS.
    expect_err(c.get_object().bucket(&b).key("mp").part_number(5).send().await, 400, Some("InvalidPart"));

    // SSE-S3 through the bucket default, with UploadPartCopy from the SSE-C object.
    c.put_bucket_encryption()
        .bucket(&b)
        .server_side_encryption_configuration(default_rule(ServerSideEncryption::Aes256, None))
        .send()
        .await
        .expect("default");
    let up = c.create_multipart_upload().bucket(&b).key("mp2").send().await.expect("create");
    assert_eq!(up.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    let id = up.upload_id().expect("id").to_owned();
    let copy = c
        .upload_part_copy()
        .bucket(&b)
        .key("mp2")
        .upload_id(&id)
        .part_number(1)
        .copy_source(format!("{b}/mp"))
        .copy_source_range(format!("bytes=0-{}", boundary - 1))
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(KEY_A)
        .copy_source_sse_customer_key_md5(MD5_A)
        .send()
        .await
        .expect("part copy");
    let p1 = CompletedPart::builder()
        .part_number(1)
        .e_tag(copy.copy_part_result().and_then(|r| r.e_tag()).expect("etag"))
        .build();
    let out = c
        .upload_part()
        .bucket(&b)
        .key("mp2")
        .upload_id(&id)
        .part_number(2)
        .body(ByteStream::from(parts[1].clone()))
        .send()
        .await
        .expect("part 2");
    let p2 = CompletedPart::builder().part_number(2).e_tag(out.e_tag().expect("etag")).build();
    let done = c
        .complete_multipart_upload()
        .bucket(&b)
        .key("mp2")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().parts(p1).parts(p2).build())
        .send()
        .await
        .expect("complete");
    assert_eq!(done.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    let got = c.get_object().bucket(&b).key("mp2").send().await.expect("get");
    assert_eq!(got.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert_eq!(body(got).await, all);
    assert_not_plaintext(&stored_bytes(h, &b, "mp2").await, &all[..200_000]);
}

/// `/_api/v1/kms/keys` as `signer`.
async fn kms_call(h: &Harness, signer: &Signer, method: &str, body: Option<&Value>) -> (u16, Value) {
    let mut req = RawRequest::new(method, "/_api/v1/kms/keys");
    if let Some(b) = body {
        req = req.header("Content-Type", "application/json").body(b.to_string());
    }
    let resp = h.raw(signer.sign_for("s3", req, time::OffsetDateTime::now_utc())).await;
    let v = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    (resp.status, v)
}

pub async fn sse_kms_with_platform_keys(h: &Harness) {
    let c = &h.client;
    let root = h.signer();
    let id = format!("it-{}", random_hex(6));
    let (status, v) = kms_call(h, &root, "POST", Some(&serde_json::json!({ "id": id }))).await;
    assert_eq!(status, 201, "{v}");
    assert!(v.get("material").is_none() && !v.to_string().contains("sealed"), "no key material leaves: {v}");
    let (status, _) = kms_call(h, &root, "POST", Some(&serde_json::json!({ "id": id }))).await;
    assert_eq!(status, 409);
    let (status, v) = kms_call(h, &root, "GET", None).await;
    assert_eq!(status, 200);
    assert!(v["keys"].as_array().expect("keys").iter().any(|k| k["id"] == id.as_str()));
    // Only the platform admin manages keys; anonymous callers are asked to sign in.
    let (account, key) = h
        .iam
        .admin_create_account(&format!("kms-other-{}", random_hex(6)), None, None, &Default::default())
        .await
        .expect("other account");
    let other_signer = Signer { access_key: key.access_key_id.clone(), secret_key: key.secret.0.clone(), ..h.signer() };
    assert_eq!(kms_call(h, &other_signer, "POST", Some(&serde_json::json!({}))).await.0, 403);
    assert_eq!(kms_call(h, &other_signer, "GET", None).await.0, 403);
    assert_eq!(h.raw(RawRequest::new("GET", "/_api/v1/kms/keys")).await.status, 401);

    let b = h.bucket("ssekms").await;
    let data = pattern(70 * 1024, 9);
    let put = c
        .put_object()
        .bucket(&b)
        .key("k")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&id)
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .expect("put");
    assert_eq!(put.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    assert_eq!(put.ssekms_key_id(), Some(id.as_str()));
    assert_not_plaintext(&stored_bytes(h, &b, "k").await, &data);
    let got = c.get_object().bucket(&b).key("k").send().await.expect("get");
    assert_eq!(got.ssekms_key_id(), Some(id.as_str()));
    assert_eq!(body(got).await, data);
    // An unknown key, or aws:kms with no key at all: refused.
    expect_err(
        c.put_object()
            .bucket(&b)
            .key("x")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id("no-such-key")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        400,
        None,
    );
    expect_err(
        c.put_object()
            .bucket(&b)
            .key("x")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        400,
        None,
    );
    // Bucket default SSE-KMS.
    c.put_bucket_encryption()
        .bucket(&b)
        .server_side_encryption_configuration(default_rule(ServerSideEncryption::AwsKms, Some(&id)))
        .send()
        .await
        .expect("default kms");
    let put =
        c.put_object().bucket(&b).key("d").body(ByteStream::from_static(b"by default")).send().await.expect("put");
    assert_eq!(put.ssekms_key_id(), Some(id.as_str()));

    // A key of one account is refused to another.
    let private = format!("it-own-{}", random_hex(6));
    let (status, v) = kms_call(
        h,
        &root,
        "POST",
        Some(&serde_json::json!({ "id": private, "account": format!("not-{}", account.account_id) })),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let other = sdk_client(h.addr, &key.access_key_id, &key.secret.0);
    other.create_bucket().bucket(format!("kmso-{}", random_hex(8))).send().await.expect("own bucket");
    let ob = format!("kmso2-{}", random_hex(8));
    other.create_bucket().bucket(&ob).send().await.expect("own bucket");
    expect_err(
        other
            .put_object()
            .bucket(&ob)
            .key("k")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&private)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    // The platform-wide key is usable by every account.
    other
        .put_object()
        .bucket(&ob)
        .key("k")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&id)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("a platform-wide key");
}
