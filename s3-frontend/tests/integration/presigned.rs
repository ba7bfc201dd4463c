//! Presigned URLs (issue #13): every operation a URL may carry (GET, HEAD, PUT, DELETE,
//! UploadPart) works from a plain HTTP client with no credentials of its own; the signer's
//! permissions when the URL is used decide, not those when it was signed; and an owner revokes
//! every URL a key (or a user) has signed so far without rotating the key. Strangers cannot.

use std::time::Duration;

use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use cloudstore_iam::store::{InlinePolicy, OwnerKind};

use crate::auth::presigned_raw;
use crate::harness::{Harness, RawRequest, Signer, random_hex};
use crate::iam::{allow_bucket, user};

/// Longer than the gateway's key cache keeps a grant (2 s).
const CACHE_REFRESH: Duration = Duration::from_millis(2300);

fn five_minutes() -> PresigningConfig {
    PresigningConfig::expires_in(Duration::from_secs(300)).expect("config")
}

/// Calls the IAM Query API as `signer`; answers (status, body).
async fn iam(h: &Harness, signer: &Signer, query: &str) -> (u16, String) {
    let req = RawRequest::new("POST", "/")
        .header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(format!("{query}&Version=2010-05-08").into_bytes());
    let resp = h.raw(signer.sign_for("iam", req, time::OffsetDateTime::now_utc())).await;
    (resp.status, resp.text())
}

fn signer(h: &Harness, access_key: &str, secret_key: &str) -> Signer {
    Signer { access_key: access_key.to_owned(), secret_key: secret_key.to_owned(), ..h.signer() }
}

async fn use_url(h: &Harness, url: &PresignedRequest) -> crate::harness::RawResponse {
    h.raw(presigned_raw(url, b"")).await
}

pub async fn presigned_operations_permissions_and_revocation(h: &Harness) {
    let name = format!("psg-{}", random_hex(8));
    let (profile, root_key) =
        h.iam.admin_create_account(&name, None, None, &Default::default()).await.expect("account");
    let owner = signer(h, &root_key.access_key_id, &root_key.secret.0);
    let owner_client = crate::harness::sdk_client(h.addr, &root_key.access_key_id, &root_key.secret.0);
    let bucket = format!("psg-{}", random_hex(10));
    owner_client.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    owner_client
        .put_object()
        .bucket(&bucket)
        .key("doc.txt")
        .body(ByteStream::from_static(b"the document"))
        .send()
        .await
        .expect("put");
    let (reader, u, key_id, reader_secret) = user(h, &profile.account_id, "reader", Some(allow_bucket(&bucket))).await;

    // ---- every operation a URL carries, from a client without credentials ----
    let get = reader.get_object().bucket(&bucket).key("doc.txt").presigned(five_minutes()).await.expect("presign");
    let resp = use_url(h, &get).await;
    assert_eq!((resp.status, resp.body.as_slice()), (200, b"the document".as_slice()), "{}", resp.text());
    let head = reader.head_object().bucket(&bucket).key("doc.txt").presigned(five_minutes()).await.expect("presign");
    let resp = use_url(h, &head).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.body.is_empty(), "HEAD has no body");
    let put = reader.put_object().bucket(&bucket).key("new.txt").presigned(five_minutes()).await.expect("presign");
    let resp = h.raw(presigned_raw(&put, b"uploaded by URL")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let upload = reader.create_multipart_upload().bucket(&bucket).key("big.bin").send().await.expect("create upload");
    let upload_id = upload.upload_id().expect("upload id");
    let part = reader
        .upload_part()
        .bucket(&bucket)
        .key("big.bin")
        .upload_id(upload_id)
        .part_number(1)
        .presigned(five_minutes())
        .await
        .expect("presign");
    let resp = h.raw(presigned_raw(&part, b"one part")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let etag = resp.header("etag").expect("part etag").to_owned();
    reader
        .complete_multipart_upload()
        .bucket(&bucket)
        .key("big.bin")
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).e_tag(etag).build())
                .build(),
        )
        .send()
        .await
        .expect("complete");
    let got = owner_client.get_object().bucket(&bucket).key("big.bin").send().await.expect("get");
    assert_eq!(got.body.collect().await.expect("body").into_bytes().as_ref(), b"one part");
    let delete =
        reader.delete_object().bucket(&bucket).key("new.txt").presigned(five_minutes()).await.expect("presign");
    let resp = use_url(h, &delete).await;
    assert_eq!(resp.status, 204, "{}", resp.text());
    let gone = owner_client.head_object().bucket(&bucket).key("new.txt").send().await;
    assert!(gone.is_err(), "the presigned DELETE deleted");

    // ---- the signer's permissions when the URL is used decide ----
    h.iam.store().delete_inline_policy(OwnerKind::User, &u.id, "p", &[]).await.expect("drop policy");
    tokio::time::sleep(CACHE_REFRESH).await;
    use_url(h, &get).await.assert_error(403, "AccessDenied");
    let p = InlinePolicy { name: "p".into(), document: allow_bucket(&bucket) };
    h.iam.store().put_inline_policy(OwnerKind::User, &u.id, &p, &[]).await.expect("policy back");
    tokio::time::sleep(CACHE_REFRESH).await;
    assert_eq!(use_url(h, &get).await.status, 200);

    // ---- a stranger cannot revoke them ----
    let (_, stranger_key) = h
        .iam
        .admin_create_account(&format!("psg-stranger-{}", random_hex(6)), None, None, &Default::default())
        .await
        .expect("stranger");
    let stranger = signer(h, &stranger_key.access_key_id, &stranger_key.secret.0);
    let (status, body) =
        iam(h, &stranger, &format!("Action=RevokePresignedUrls&UserName=reader&AccessKeyId={key_id}")).await;
    assert_eq!(status, 404, "another account's user is not the stranger's to touch: {body}");
    // Nor the user itself, without iam:UpdateAccessKey.
    let (status, body) = iam(h, &signer(h, &key_id, &reader_secret), "Action=RevokePresignedUrls").await;
    assert_eq!(status, 403, "{body}");
    tokio::time::sleep(CACHE_REFRESH).await;
    assert_eq!(use_url(h, &get).await.status, 200, "nothing was revoked");

    // ---- the owner revokes the key's URLs: old ones die, new ones work, the key too ----
    let (status, body) =
        iam(h, &owner, &format!("Action=RevokePresignedUrls&UserName=reader&AccessKeyId={key_id}")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<PresignedNotBefore>"), "{body}");
    tokio::time::sleep(CACHE_REFRESH).await;
    let resp = use_url(h, &get).await;
    resp.assert_error(403, "AccessDenied");
    assert!(resp.text().contains("revoked"), "{}", resp.text());
    assert_eq!(use_url(h, &head).await.status, 403, "HEAD: the status (no body)");
    let fresh = reader.get_object().bucket(&bucket).key("doc.txt").presigned(five_minutes()).await.expect("presign");
    assert_eq!(use_url(h, &fresh).await.status, 200, "a URL signed after the revocation works");
    reader.head_object().bucket(&bucket).key("doc.txt").send().await.expect("the key itself still works");

    // ---- revoking the user's URLs covers every key of the user ----
    let (status, body) = iam(h, &owner, "Action=RevokePresignedUrls&UserName=reader").await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(CACHE_REFRESH).await;
    use_url(h, &fresh).await.assert_error(403, "AccessDenied");
    reader.head_object().bucket(&bucket).key("doc.txt").send().await.expect("the key itself still works");
}
