//! Bucket operations.

use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

use crate::harness::{Harness, expect_err, random_hex};

pub async fn bucket_lifecycle(h: &Harness) {
    let c = &h.client;
    let eu = format!("eu-{}", random_hex(10));
    let out = c
        .create_bucket()
        .bucket(&eu)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::EuWest1).build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.location(), Some(format!("/{eu}").as_str()));
    let loc = c.get_bucket_location().bucket(&eu).send().await.unwrap();
    assert_eq!(loc.location_constraint(), Some(&BucketLocationConstraint::EuWest1));
    let head = c.head_bucket().bucket(&eu).send().await.unwrap();
    assert_eq!(head.bucket_region(), Some("eu-west-1"));

    // No constraint: us-east-1, which GetBucketLocation reports as empty.
    let us = h.bucket("us").await;
    let loc = c.get_bucket_location().bucket(&us).send().await.unwrap();
    assert!(
        loc.location_constraint().is_none_or(|l| l.as_str().is_empty()),
        "us-east-1 is an empty LocationConstraint: {loc:?}"
    );

    // Creating it again: AWS's legacy us-east-1 behaviour answers 200 and changes nothing; in
    // any other region the caller learns it already owns the bucket.
    c.create_bucket().bucket(&us).send().await.unwrap();
    let loc = c.get_bucket_location().bucket(&us).send().await.unwrap();
    assert!(loc.location_constraint().is_none_or(|l| l.as_str().is_empty()), "{loc:?}");
    expect_err(
        c.create_bucket()
            .bucket(&eu)
            .create_bucket_configuration(
                CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::EuWest1).build(),
            )
            .send()
            .await,
        409,
        Some("BucketAlreadyOwnedByYou"),
    );
    // ... and the first creation is what stays.
    let loc = c.get_bucket_location().bucket(&eu).send().await.unwrap();
    assert_eq!(loc.location_constraint(), Some(&BucketLocationConstraint::EuWest1));

    // ListBuckets: exactly ours (each test has its own stores), sorted, with creation dates.
    let list = c.list_buckets().send().await.unwrap();
    let names: Vec<&str> = list.buckets().iter().filter_map(|b| b.name()).collect();
    let mut expected = vec![eu.as_str(), us.as_str()];
    expected.sort_unstable();
    assert_eq!(names, expected);
    assert!(list.buckets().iter().all(|b| b.creation_date().is_some()));
    assert!(list.owner().and_then(|o| o.id()).is_some());

    // HEAD / GetBucketLocation / DELETE of a missing bucket.
    let missing = format!("missing-{}", random_hex(10));
    expect_err(c.head_bucket().bucket(&missing).send().await, 404, None);
    expect_err(c.get_bucket_location().bucket(&missing).send().await, 404, Some("NoSuchBucket"));
    expect_err(c.delete_bucket().bucket(&missing).send().await, 404, Some("NoSuchBucket"));

    // Delete an empty bucket, then it is gone.
    c.delete_bucket().bucket(&us).send().await.unwrap();
    expect_err(c.head_bucket().bucket(&us).send().await, 404, None);
    expect_err(c.delete_bucket().bucket(&us).send().await, 404, Some("NoSuchBucket"));
    expect_err(c.list_objects_v2().bucket(&us).send().await, 404, Some("NoSuchBucket"));
    let list = c.list_buckets().send().await.unwrap();
    assert_eq!(list.buckets().iter().filter_map(|b| b.name()).collect::<Vec<_>>(), vec![eu.as_str()]);
}

pub async fn invalid_bucket_names(h: &Harness) {
    let c = &h.client;
    let long = "a".repeat(64);
    for name in [
        "ab",
        long.as_str(),
        "Upper-Case",
        "under_score",
        "-leading-dash",
        "trailing-dash-",
        "two..dots",
        "192.168.10.20",
        "xn--punycode",
        "name-s3alias",
    ] {
        expect_err(c.create_bucket().bucket(name).send().await, 400, Some("InvalidBucketName"));
    }
    // 3 and 63 characters are fine.
    let min = format!("a{}", random_hex(2));
    c.create_bucket().bucket(&min).send().await.unwrap();
    let max = format!("z{}", random_hex(62));
    c.create_bucket().bucket(&max).send().await.unwrap();
    // Nothing else was created.
    let list = c.list_buckets().send().await.unwrap();
    let mut names: Vec<&str> = list.buckets().iter().filter_map(|b| b.name()).collect();
    names.sort_unstable();
    assert_eq!(names, vec![min.as_str(), max.as_str()]);
}

pub async fn delete_bucket_refuses_while_not_empty(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("nonempty").await;

    // An object keeps it, and nothing is lost.
    h.put(&b, "dir/object", "data").await;
    c.create_multipart_upload().bucket(&b).key("pending").send().await.unwrap();
    expect_err(c.delete_bucket().bucket(&b).send().await, 409, Some("BucketNotEmpty"));
    assert_eq!(h.get(&b, "dir/object").await, b"data");
    let uploads = c.list_multipart_uploads().bucket(&b).send().await.unwrap();
    assert_eq!(uploads.uploads().len(), 1, "the upload survives the refused delete");
    c.delete_object().bucket(&b).key("dir/object").send().await.unwrap();
    h.put(&b, "gone", "data").await;
    c.delete_object().bucket(&b).key("gone").send().await.unwrap();
}

pub async fn delete_bucket_aborts_uploads_in_progress(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("uploads").await;
    // Two uploads in progress, one with a part: the bucket lists no objects, and AWS deletes
    // it, aborting the uploads.
    let up = c.create_multipart_upload().bucket(&b).key("big").send().await.unwrap();
    let upload_id = up.upload_id().unwrap().to_owned();
    c.upload_part()
        .bucket(&b)
        .key("big")
        .upload_id(&upload_id)
        .part_number(1)
        .body(vec![7u8; 1024].into())
        .send()
        .await
        .unwrap();
    c.create_multipart_upload().bucket(&b).key("other").send().await.unwrap();
    assert!(h.keys(&b).await.is_empty());

    c.delete_bucket().bucket(&b).send().await.unwrap();
    expect_err(c.head_bucket().bucket(&b).send().await, 404, None);
    expect_err(c.list_parts().bucket(&b).key("big").upload_id(&upload_id).send().await, 404, Some("NoSuchBucket"));

    // A bucket made again under the name starts without them.
    c.create_bucket().bucket(&b).send().await.unwrap();
    let uploads = c.list_multipart_uploads().bucket(&b).send().await.unwrap();
    assert!(uploads.uploads().is_empty(), "aborted uploads came back: {uploads:?}");
    expect_err(c.list_parts().bucket(&b).key("big").upload_id(&upload_id).send().await, 404, Some("NoSuchUpload"));
    c.delete_bucket().bucket(&b).send().await.unwrap();
}
