//! Versioning (issue #14 item 1, ADR 0017): Put/GetBucketVersioning, version ids on writes and
//! reads, delete markers, reads and deletes by version id, the null version of suspended
//! buckets, ListObjectVersions, DeleteObjects with versions, CopyObject and multipart into a
//! versioned bucket, and strangers refused.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, Delete, ObjectAttributes, ObjectIdentifier,
    VersioningConfiguration,
};

use crate::harness::{Harness, RawRequest, expect_err, random_hex, sdk_client};

async fn set_versioning(h: &Harness, b: &str, status: BucketVersioningStatus) {
    h.client
        .put_bucket_versioning()
        .bucket(b)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .expect("put versioning");
}

async fn put(h: &Harness, b: &str, key: &str, body: &'static [u8]) -> Option<String> {
    let out = h.client.put_object().bucket(b).key(key).body(ByteStream::from_static(body)).send().await.expect("put");
    out.version_id().map(str::to_owned)
}

async fn body_of(h: &Harness, b: &str, key: &str, version: Option<&str>) -> (Vec<u8>, Option<String>) {
    let out = h.client.get_object().bucket(b).key(key).set_version_id(version.map(str::to_owned)).send().await;
    let out = out.expect("get");
    let v = out.version_id().map(str::to_owned);
    (out.body.collect().await.expect("body").into_bytes().to_vec(), v)
}

/// `(key, version id, is latest)` of the versions and, apart, the delete markers of `b`.
async fn versions(h: &Harness, b: &str) -> (Vec<(String, String, bool)>, Vec<(String, String, bool)>) {
    let out = h.client.list_object_versions().bucket(b).send().await.expect("list versions");
    let v = out
        .versions()
        .iter()
        .map(|v| {
            (
                v.key().unwrap_or_default().to_owned(),
                v.version_id().unwrap_or_default().to_owned(),
                v.is_latest() == Some(true),
            )
        })
        .collect();
    let m = out
        .delete_markers()
        .iter()
        .map(|v| {
            (
                v.key().unwrap_or_default().to_owned(),
                v.version_id().unwrap_or_default().to_owned(),
                v.is_latest() == Some(true),
            )
        })
        .collect();
    (v, m)
}

fn row(k: &str, v: &str, latest: bool) -> (String, String, bool) {
    (k.to_owned(), v.to_owned(), latest)
}

pub async fn versions_markers_and_the_null_version(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("vers").await;
    // Never versioned: an empty configuration, and no version id on writes.
    let got = c.get_bucket_versioning().bucket(&b).send().await.expect("get versioning");
    assert_eq!(got.status(), None);
    assert_eq!(put(h, &b, "k", b"null-body").await, None);
    // A bucket can't go back to "never versioned": a configuration without a status is refused.
    expect_err(
        c.put_bucket_versioning()
            .bucket(&b)
            .versioning_configuration(VersioningConfiguration::builder().build())
            .send()
            .await,
        400,
        None,
    );

    set_versioning(h, &b, BucketVersioningStatus::Enabled).await;
    let got = c.get_bucket_versioning().bucket(&b).send().await.expect("get versioning");
    assert_eq!(got.status(), Some(&BucketVersioningStatus::Enabled));
    let v1 = put(h, &b, "k", b"one").await.expect("v1 id");
    let v2 = put(h, &b, "k", b"two").await.expect("v2 id");
    assert_ne!(v1, v2);
    assert_eq!(v1.len(), 32);
    assert_eq!(body_of(h, &b, "k", None).await, (b"two".to_vec(), Some(v2.clone())));
    assert_eq!(body_of(h, &b, "k", Some(&v1)).await, (b"one".to_vec(), Some(v1.clone())));
    assert_eq!(body_of(h, &b, "k", Some("null")).await, (b"null-body".to_vec(), Some("null".to_owned())));
    let head = c.head_object().bucket(&b).key("k").version_id(&v1).send().await.expect("head v1");
    assert_eq!((head.content_length(), head.version_id()), (Some(3), Some(v1.as_str())));
    expect_err(
        c.get_object().bucket(&b).key("k").version_id("no-such-version").send().await,
        404,
        Some("NoSuchVersion"),
    );
    let (vs, ms) = versions(h, &b).await;
    assert_eq!(vs, vec![row("k", &v2, true), row("k", &v1, false), row("k", "null", false)]);
    assert!(ms.is_empty());

    // DELETE adds a marker: the key reads as missing, with the marker's headers.
    let del = c.delete_object().bucket(&b).key("k").send().await.expect("delete");
    assert_eq!(del.delete_marker(), Some(true));
    let marker = del.version_id().expect("marker id").to_owned();
    expect_err(c.get_object().bucket(&b).key("k").send().await, 404, Some("NoSuchKey"));
    let now = time::OffsetDateTime::now_utc();
    let raw = h.raw(h.signer().sign(RawRequest::new("HEAD", &format!("/{b}/k")), None, now)).await;
    assert_eq!(raw.status, 404);
    assert_eq!(raw.header("x-amz-delete-marker"), Some("true"));
    assert_eq!(raw.header("x-amz-version-id"), Some(marker.as_str()));
    let raw =
        h.raw(h.signer().sign(RawRequest::new("GET", &format!("/{b}/k")).query("versionId", &marker), None, now)).await;
    raw.assert_error(405, "MethodNotAllowed");
    assert_eq!(raw.header("x-amz-delete-marker"), Some("true"));
    let (vs, ms) = versions(h, &b).await;
    assert_eq!(vs, vec![row("k", &v2, false), row("k", &v1, false), row("k", "null", false)]);
    assert_eq!(ms, vec![row("k", &marker, true)]);
    // The old versions stay readable.
    assert_eq!(body_of(h, &b, "k", Some(&v2)).await.0, b"two".to_vec());

    // Deleting the marker brings v2 back; deleting v2 (the latest) promotes v1.
    let del = c.delete_object().bucket(&b).key("k").version_id(&marker).send().await.expect("delete marker");
    assert_eq!((del.delete_marker(), del.version_id()), (Some(true), Some(marker.as_str())));
    assert_eq!(body_of(h, &b, "k", None).await.0, b"two".to_vec());
    c.delete_object().bucket(&b).key("k").version_id(&v2).send().await.expect("delete v2");
    assert_eq!(body_of(h, &b, "k", None).await, (b"one".to_vec(), Some(v1.clone())));
    expect_err(c.get_object().bucket(&b).key("k").version_id(&v2).send().await, 404, Some("NoSuchVersion"));

    // Suspended: writes replace the null version, v1 stays.
    set_versioning(h, &b, BucketVersioningStatus::Suspended).await;
    let got = c.get_bucket_versioning().bucket(&b).send().await.expect("get versioning");
    assert_eq!(got.status(), Some(&BucketVersioningStatus::Suspended));
    assert_eq!(put(h, &b, "k", b"s1").await, None, "a suspended write answers no version id, as AWS");
    assert_eq!(put(h, &b, "k", b"s2").await, None);
    let (vs, _) = versions(h, &b).await;
    assert_eq!(vs, vec![row("k", "null", true), row("k", &v1, false)]);
    assert_eq!(body_of(h, &b, "k", Some("null")).await.0, b"s2".to_vec());
    // A suspended DELETE puts a null marker in place of the null version.
    let del = c.delete_object().bucket(&b).key("k").send().await.expect("suspended delete");
    assert_eq!((del.delete_marker(), del.version_id()), (Some(true), Some("null")));
    let (vs, ms) = versions(h, &b).await;
    assert_eq!(vs, vec![row("k", &v1, false)]);
    assert_eq!(ms, vec![row("k", "null", true)]);

    // A bucket holding versions can't be deleted.
    expect_err(c.delete_bucket().bucket(&b).send().await, 409, Some("BucketNotEmpty"));
    // DeleteObjects with versions removes them, and says which were markers.
    let ids = [("k", "null"), ("k", v1.as_str())];
    let objects: Vec<ObjectIdentifier> =
        ids.iter().map(|(k, v)| ObjectIdentifier::builder().key(*k).version_id(*v).build().expect("id")).collect();
    let out = c
        .delete_objects()
        .bucket(&b)
        .delete(Delete::builder().set_objects(Some(objects)).build().expect("delete"))
        .send()
        .await
        .expect("delete objects");
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    let mut deleted: Vec<(String, bool)> = out
        .deleted()
        .iter()
        .map(|d| (d.version_id().unwrap_or_default().to_owned(), d.delete_marker() == Some(true)))
        .collect();
    deleted.sort();
    let mut want = vec![("null".to_owned(), true), (v1.clone(), false)];
    want.sort();
    assert_eq!(deleted, want);
    assert_eq!(versions(h, &b).await, (vec![], vec![]));
    c.delete_bucket().bucket(&b).send().await.expect("empty bucket deleted");
}

pub async fn versioned_listing_pages_and_batch_markers(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("versl").await;
    set_versioning(h, &b, BucketVersioningStatus::Enabled).await;
    let mut ids = Vec::new();
    for key in ["a/1", "a/1", "a/2", "b", "b", "b"] {
        ids.push((key, put(h, &b, key, b"x").await.expect("id")));
    }
    // With a delimiter: the a/ prefix is one entry; pages of 2 continue by key and version id.
    let out = c.list_object_versions().bucket(&b).delimiter("/").max_keys(2).send().await.expect("page 1");
    assert_eq!(out.common_prefixes().iter().filter_map(|p| p.prefix()).collect::<Vec<_>>(), vec!["a/"]);
    assert_eq!(out.versions().len(), 1);
    assert_eq!(out.is_truncated(), Some(true));
    assert_eq!(out.next_key_marker(), Some("b"));
    assert_eq!(out.next_version_id_marker(), Some(ids[5].1.as_str()));
    let out = c
        .list_object_versions()
        .bucket(&b)
        .delimiter("/")
        .key_marker("b")
        .version_id_marker(&ids[5].1)
        .send()
        .await
        .expect("page 2");
    let got: Vec<_> = out.versions().iter().map(|v| (v.version_id().unwrap_or_default(), v.is_latest())).collect();
    assert_eq!(got, vec![(ids[4].1.as_str(), Some(false)), (ids[3].1.as_str(), Some(false))]);
    assert_eq!(out.is_truncated(), Some(false));
    // A prefix lists only its keys, newest first per key.
    let out = c.list_object_versions().bucket(&b).prefix("a/").send().await.expect("prefix");
    let got: Vec<_> = out.versions().iter().map(|v| v.version_id().unwrap_or_default().to_owned()).collect();
    assert_eq!(got, vec![ids[1].1.clone(), ids[0].1.clone(), ids[2].1.clone()]);

    // DeleteObjects without version ids adds markers and names them.
    let objects: Vec<ObjectIdentifier> =
        ["a/1", "b"].iter().map(|k| ObjectIdentifier::builder().key(*k).build().expect("id")).collect();
    let out = c
        .delete_objects()
        .bucket(&b)
        .delete(Delete::builder().set_objects(Some(objects)).build().expect("delete"))
        .send()
        .await
        .expect("delete objects");
    assert_eq!(out.deleted().len(), 2);
    for d in out.deleted() {
        assert_eq!(d.delete_marker(), Some(true));
        assert_eq!(d.delete_marker_version_id().map(str::len), Some(32));
    }
    let listed = c.list_objects_v2().bucket(&b).send().await.expect("list objects");
    assert_eq!(listed.contents().iter().filter_map(|o| o.key()).collect::<Vec<_>>(), vec!["a/2"]);
}

pub async fn copy_multipart_and_attributes_by_version(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("versc").await;
    set_versioning(h, &b, BucketVersioningStatus::Enabled).await;
    let v1 = put(h, &b, "src", b"first").await.expect("v1");
    put(h, &b, "src", b"second").await.expect("v2");
    // CopyObject from an older version: a new version of the target.
    let out = c
        .copy_object()
        .bucket(&b)
        .key("dst")
        .copy_source(format!("{b}/src?versionId={v1}"))
        .send()
        .await
        .expect("copy v1");
    assert_eq!(out.copy_source_version_id(), Some(v1.as_str()));
    let copy_id = out.version_id().expect("copy version").to_owned();
    assert_eq!(body_of(h, &b, "dst", None).await, (b"first".to_vec(), Some(copy_id)));
    // GetObjectAttributes of the old version.
    let attrs = c
        .get_object_attributes()
        .bucket(&b)
        .key("src")
        .version_id(&v1)
        .object_attributes(ObjectAttributes::ObjectSize)
        .send()
        .await
        .expect("attributes v1");
    assert_eq!((attrs.object_size(), attrs.version_id()), (Some(5), Some(v1.as_str())));

    // A completed multipart upload is a new version; the replaced one stays readable.
    let up = c.create_multipart_upload().bucket(&b).key("src").send().await.expect("create");
    let id = up.upload_id().expect("upload id");
    let part = c
        .upload_part()
        .bucket(&b)
        .key("src")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from_static(b"multi"))
        .send()
        .await
        .expect("part");
    let done = c
        .complete_multipart_upload()
        .bucket(&b)
        .key("src")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).set_e_tag(part.e_tag().map(str::to_owned)).build())
                .build(),
        )
        .send()
        .await
        .expect("complete");
    let mp = done.version_id().expect("multipart version").to_owned();
    assert_eq!(body_of(h, &b, "src", None).await, (b"multi".to_vec(), Some(mp)));
    assert_eq!(body_of(h, &b, "src", Some(&v1)).await.0, b"first".to_vec());
    let (vs, _) = versions(h, &b).await;
    assert_eq!(vs.iter().filter(|v| v.0 == "src").count(), 3);
}

pub async fn versioning_refuses_strangers(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("versx").await;
    set_versioning(h, &b, BucketVersioningStatus::Enabled).await;
    let v = put(h, &b, "k", b"secret").await.expect("id");
    let (_, key) = h
        .iam
        .admin_create_account(&format!("vers-other-{}", random_hex(6)), None, None, &Default::default())
        .await
        .expect("other account");
    let other = sdk_client(h.addr, &key.access_key_id, &key.secret.0);
    expect_err(other.get_bucket_versioning().bucket(&b).send().await, 403, Some("AccessDenied"));
    expect_err(
        other
            .put_bucket_versioning()
            .bucket(&b)
            .versioning_configuration(
                VersioningConfiguration::builder().status(BucketVersioningStatus::Suspended).build(),
            )
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    expect_err(other.list_object_versions().bucket(&b).send().await, 403, Some("AccessDenied"));
    expect_err(other.get_object().bucket(&b).key("k").version_id(&v).send().await, 403, Some("AccessDenied"));
    expect_err(other.head_object().bucket(&b).key("k").version_id(&v).send().await, 403, None);
    expect_err(other.delete_object().bucket(&b).key("k").version_id(&v).send().await, 403, Some("AccessDenied"));
    expect_err(other.delete_object().bucket(&b).key("k").send().await, 403, Some("AccessDenied"));
    // Nothing changed.
    let got = c.get_bucket_versioning().bucket(&b).send().await.expect("get versioning");
    assert_eq!(got.status(), Some(&BucketVersioningStatus::Enabled));
    assert_eq!(body_of(h, &b, "k", Some(&v)).await.0, b"secret".to_vec());
}

/// Get/PutObjectAcl with `versionId`: each version has its own ACL (s3-tests'
/// test_versioned_object_acl); an ACL put without a version changes the current one only; a
/// version that does not exist is NoSuchVersion; strangers neither read nor change a version's
/// ACL. And a missing key of a bucket never versioned answers `x-amz-delete-marker: false`.
pub async fn object_acls_by_version(h: &Harness) {
    use aws_sdk_s3::types::{ObjectCannedAcl, ObjectOwnership, Permission, Type};
    let c = &h.client;
    let b = format!("vacl-{}", random_hex(8));
    c.create_bucket().bucket(&b).object_ownership(ObjectOwnership::ObjectWriter).send().await.expect("create");
    let head = RawRequest::new("HEAD", &format!("/{b}/missing"));
    let r = h.raw(h.signer().sign(head, None, time::OffsetDateTime::now_utc())).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("x-amz-delete-marker"), Some("false"));
    // The error's XML still names its request.
    let get = RawRequest::new("GET", &format!("/{b}/missing"));
    let r = h.raw(h.signer().sign(get, None, time::OffsetDateTime::now_utc())).await;
    r.assert_error(404, "NoSuchKey");
    assert_eq!(r.header("x-amz-delete-marker"), Some("false"));
    let id = r.header("x-amz-request-id").expect("request id").to_owned();
    assert!(r.text().contains(&format!("<RequestId>{id}</RequestId>")), "{}", r.text());
    set_versioning(h, &b, BucketVersioningStatus::Enabled).await;
    let v1 = put(h, &b, "k", b"one").await.expect("id");
    let v2 = put(h, &b, "k", b"two").await.expect("id");
    let grants = |out: &aws_sdk_s3::operation::get_object_acl::GetObjectAclOutput| {
        let mut g: Vec<(Type, String, Permission)> = out
            .grants()
            .iter()
            .map(|g| {
                let who = g.grantee().expect("grantee");
                (
                    who.r#type().clone(),
                    who.id().or(who.uri()).unwrap_or_default().to_owned(),
                    g.permission().expect("permission").clone(),
                )
            })
            .collect();
        g.sort_by(|a, b| a.1.cmp(&b.1));
        g
    };
    let acl_of = |v: Option<&str>| c.get_object_acl().bucket(&b).key("k").set_version_id(v.map(str::to_owned)).send();
    let owner_only = grants(&acl_of(Some(&v1)).await.expect("acl of v1"));
    assert_eq!(owner_only.len(), 1);
    assert_eq!(owner_only[0].2, Permission::FullControl);

    c.put_object_acl()
        .bucket(&b)
        .key("k")
        .version_id(&v1)
        .acl(ObjectCannedAcl::AuthenticatedRead)
        .send()
        .await
        .expect("put acl of v1");
    let got = grants(&acl_of(Some(&v1)).await.expect("acl of v1"));
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().any(|g| g.1.ends_with("/AuthenticatedUsers") && g.2 == Permission::Read), "{got:?}");
    assert_eq!(grants(&acl_of(None).await.expect("acl of current")), owner_only, "the current version keeps its ACL");
    assert_eq!(grants(&acl_of(Some(&v2)).await.expect("acl of v2")), owner_only);
    // Without a version: the current one (v2) only.
    c.put_object_acl()
        .bucket(&b)
        .key("k")
        .acl(ObjectCannedAcl::AuthenticatedRead)
        .send()
        .await
        .expect("put acl of current");
    assert_eq!(grants(&acl_of(Some(&v2)).await.expect("acl of v2")).len(), 2);
    expect_err(acl_of(Some("nosuchversion")).await, 404, Some("NoSuchVersion"));
    expect_err(
        c.put_object_acl().bucket(&b).key("k").version_id("nosuchversion").acl(ObjectCannedAcl::Private).send().await,
        404,
        Some("NoSuchVersion"),
    );

    // Strangers: refused, nothing changed.
    let (_, key) = h
        .iam
        .admin_create_account(&format!("vacl-other-{}", random_hex(6)), None, None, &Default::default())
        .await
        .expect("other account");
    let other = sdk_client(h.addr, &key.access_key_id, &key.secret.0);
    expect_err(other.get_object_acl().bucket(&b).key("k").version_id(&v1).send().await, 403, Some("AccessDenied"));
    expect_err(
        other.put_object_acl().bucket(&b).key("k").version_id(&v1).acl(ObjectCannedAcl::Private).send().await,
        403,
        Some("AccessDenied"),
    );
    assert_eq!(grants(&acl_of(Some(&v1)).await.expect("acl of v1")).len(), 2);
}
