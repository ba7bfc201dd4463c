//! The collector: after overwrite, delete, abort and a refused upload, one pass deletes exactly
//! the blobs nothing references any more, and keeps the live ones.

use aws_sdk_s3::primitives::ByteStream;
use cloudstore_store_api::{BlobId, StoreError};
use futures::TryStreamExt as _;

use crate::harness::{Harness, expect_err, md5_b64};

async fn blobs_of(h: &Harness, bucket: &str, key: &str) -> Vec<BlobId> {
    let obj = h.meta.get_object(bucket, key).await.unwrap().unwrap_or_else(|| panic!("{bucket}/{key} has metadata"));
    obj.parts.into_iter().map(|p| p.blob).collect()
}

async fn read_blob(h: &Harness, blob: &BlobId) -> Result<Vec<u8>, StoreError> {
    let stream = h.blobs.get(blob, None).await?;
    let chunks: Vec<bytes::Bytes> = stream.try_collect().await.map_err(StoreError::backend)?;
    Ok(chunks.concat())
}

#[track_caller]
fn assert_gone(r: Result<Vec<u8>, StoreError>, what: &str) {
    match r {
        Err(StoreError::BlobNotFound) => {}
        other => panic!("{what}: expected BlobNotFound, got {other:?}"),
    }
}

pub async fn collector_deletes_unreferenced_blobs(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("gc").await;

    // Overwrite: the first version's blob is replaced.
    h.put(&b, "overwritten", "version 1").await;
    let v1 = blobs_of(h, &b, "overwritten").await;
    h.put(&b, "overwritten", "version 2").await;
    let v2 = blobs_of(h, &b, "overwritten").await;
    assert_eq!((v1.len(), v2.len()), (1, 1));
    assert_ne!(v1, v2, "an overwrite writes a new blob");

    // Delete.
    h.put(&b, "deleted", "short-lived").await;
    let deleted = blobs_of(h, &b, "deleted").await;
    c.delete_object().bucket(&b).key("deleted").send().await.unwrap();

    // Abort: the part's blob. Its id is in the upload's part list.
    let id =
        c.create_multipart_upload().bucket(&b).key("aborted").send().await.unwrap().upload_id().unwrap().to_owned();
    c.upload_part()
        .bucket(&b)
        .key("aborted")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from_static(b"part"))
        .send()
        .await
        .unwrap();
    let part_blobs: Vec<BlobId> = h.meta.list_parts(&id, 0, 10).await.unwrap().into_iter().map(|p| p.blob).collect();
    assert_eq!(part_blobs.len(), 1);
    c.abort_multipart_upload().bucket(&b).key("aborted").upload_id(&id).send().await.unwrap();

    // A refused upload: its blob was written, then abandoned.
    expect_err(
        c.put_object()
            .bucket(&b)
            .key("refused")
            .body(ByteStream::from_static(b"bad"))
            .content_md5(md5_b64(b"good"))
            .send()
            .await,
        400,
        Some("BadDigest"),
    );

    // A live multipart object, and a copy, to be kept.
    let id =
        c.create_multipart_upload().bucket(&b).key("live-mp").send().await.unwrap().upload_id().unwrap().to_owned();
    let p = c
        .upload_part()
        .bucket(&b)
        .key("live-mp")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from_static(b"mp data"))
        .send()
        .await
        .unwrap();
    c.complete_multipart_upload()
        .bucket(&b)
        .key("live-mp")
        .upload_id(&id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(aws_sdk_s3::types::CompletedPart::builder().part_number(1).e_tag(p.e_tag().unwrap()).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let live_mp = blobs_of(h, &b, "live-mp").await;
    c.copy_object().bucket(&b).key("copy").copy_source(format!("{b}/overwritten")).send().await.unwrap();
    let copy = blobs_of(h, &b, "copy").await;

    // Before the pass every garbage blob is still there (grace is zero here, so all are due).
    for blob in v1.iter().chain(&deleted).chain(&part_blobs) {
        assert!(read_blob(h, blob).await.is_ok(), "{blob} is still stored before collection");
    }
    let due = h.meta.due_blobs(time::OffsetDateTime::now_utc(), 100).await.unwrap();
    for blob in v1.iter().chain(&deleted).chain(&part_blobs) {
        assert!(due.contains(blob), "{blob} is queued for collection: {due:?}");
    }
    for blob in v2.iter().chain(&live_mp).chain(&copy) {
        assert!(!due.contains(blob), "live {blob} is not queued");
    }
    // The three above plus the refused upload's blob.
    assert_eq!(due.len(), 4, "{due:?}");

    let done = h.collector().run_once().await.unwrap();
    assert_eq!(done.blobs, 4);
    assert_eq!(done.uploads, 0);

    assert_gone(read_blob(h, &v1[0]).await, "the overwritten version");
    assert_gone(read_blob(h, &deleted[0]).await, "the deleted object");
    assert_gone(read_blob(h, &part_blobs[0]).await, "the aborted upload's part");
    for blob in &due {
        assert_gone(read_blob(h, blob).await, "a collected blob");
    }
    assert_eq!(read_blob(h, &v2[0]).await.unwrap(), b"version 2");
    assert_eq!(read_blob(h, &live_mp[0]).await.unwrap(), b"mp data");
    assert_eq!(read_blob(h, &copy[0]).await.unwrap(), b"version 2");
    // And through S3.
    assert_eq!(h.get(&b, "overwritten").await, b"version 2");
    assert_eq!(h.get(&b, "live-mp").await, b"mp data");
    assert_eq!(h.get(&b, "copy").await, b"version 2");

    // Nothing is left to collect; a second pass does nothing.
    assert!(h.meta.due_blobs(time::OffsetDateTime::now_utc(), 100).await.unwrap().is_empty());
    assert_eq!(h.collector().run_once().await.unwrap().blobs, 0);
}
