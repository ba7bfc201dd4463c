//! Events (ADR 0006) as the gateway writes them to the outbox: one per change, in the change's
//! transaction, none for a change that did not happen; downloads (not HEADs) and refusals
//! through the buffer; each with who, from where and which request.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use cloudstore_events::{Event, EventType};

use crate::harness::{Harness, random_hex, sdk_client};

/// The events of `bucket` in the outbox, oldest first, once the buffer has flushed.
async fn events_of(h: &Harness, bucket: &str) -> Vec<Event> {
    // The buffer appends every 100 ms.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let rows = h.meta.outbox_rows(100_000).await.expect("outbox rows");
    rows.iter()
        .map(|r| cloudstore_events::decode(r.body.as_bytes()).expect("every outbox row is an event"))
        .filter(|e| e.bucket.as_deref() == Some(bucket))
        .collect()
}

fn types(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

pub async fn changes_reads_and_refusals_become_events(h: &Harness) {
    let c = &h.client;
    let b = format!("ev-{}", random_hex(10));
    c.create_bucket().bucket(&b).send().await.expect("create");
    let etag = h.put(&b, "a.txt", b"hello events".to_vec()).await;
    // A write that does not happen writes no event.
    let refused =
        c.put_object().bucket(&b).key("a.txt").if_none_match("*").body(ByteStream::from_static(b"x")).send().await;
    assert!(refused.is_err(), "If-None-Match on an existing key must fail");
    assert_eq!(h.get(&b, "a.txt").await, b"hello events");
    c.get_object().bucket(&b).key("a.txt").range("bytes=0-4").send().await.expect("range get");
    c.head_object().bucket(&b).key("a.txt").send().await.expect("head");
    c.copy_object().bucket(&b).key("b.txt").copy_source(format!("{b}/a.txt")).send().await.expect("copy");
    let up = c.create_multipart_upload().bucket(&b).key("m.bin").send().await.expect("mpu");
    let part = c
        .upload_part()
        .bucket(&b)
        .key("m.bin")
        .upload_id(up.upload_id().expect("id"))
        .part_number(1)
        .body(ByteStream::from(vec![7u8; 1024]))
        .send()
        .await
        .expect("part");
    c.complete_multipart_upload()
        .bucket(&b)
        .key("m.bin")
        .upload_id(up.upload_id().expect("id"))
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).e_tag(part.e_tag().expect("etag")).build())
                .build(),
        )
        .send()
        .await
        .expect("complete");
    // A stranger is refused, and the refusal is recorded.
    let (stranger_profile, stranger) = h
        .iam
        .admin_create_account(&format!("ev-stranger-{}", random_hex(6)), None, None, &Default::default())
        .await
        .expect("account");
    let thief = sdk_client(h.addr, &stranger.access_key_id, &stranger.secret.0);
    assert!(thief.get_object().bucket(&b).key("a.txt").send().await.is_err(), "a stranger reads nothing");
    c.delete_object().bucket(&b).key("a.txt").send().await.expect("delete");
    // Deleting what is not there changes nothing: no event.
    c.delete_object().bucket(&b).key("never-there").send().await.expect("delete nothing");
    c.delete_objects()
        .bucket(&b)
        .delete(
            Delete::builder()
                .objects(ObjectIdentifier::builder().key("b.txt").build().expect("id"))
                .objects(ObjectIdentifier::builder().key("m.bin").build().expect("id"))
                .build()
                .expect("delete"),
        )
        .send()
        .await
        .expect("delete objects");
    c.delete_bucket().bucket(&b).send().await.expect("delete bucket");

    let events = events_of(h, &b).await;
    // Changes are in commit order; the buffered reads and the refusal come after the changes
    // committed before their flush, so compare the two streams apart.
    let changes: Vec<&Event> = events
        .iter()
        .filter(|e| !matches!(e.event_type, EventType::FileDownloaded | EventType::AccessDenied))
        .collect();
    assert_eq!(
        changes.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>(),
        [
            "bucket_created",
            "file_uploaded",
            "file_copied",
            "multipart_completed",
            "file_deleted",
            "file_deleted",
            "file_deleted",
            "bucket_deleted"
        ],
        "all: {:?}",
        types(&events)
    );
    let reads: Vec<&Event> = events.iter().filter(|e| e.event_type == EventType::FileDownloaded).collect();
    assert_eq!(reads.len(), 2, "two GETs, the HEAD is no download: {:?}", types(&events));
    assert_eq!(reads.iter().map(|e| e.bytes).collect::<Vec<_>>(), [Some(12), Some(5)], "bytes sent");
    assert_eq!(reads.iter().map(|e| e.status).collect::<Vec<_>>(), [Some(200), Some(206)]);

    let upload = changes[1];
    assert_eq!(upload.object_key.as_deref(), Some("a.txt"));
    assert_eq!(upload.bytes, Some(12));
    assert_eq!(upload.etag.as_deref(), Some(etag.trim_matches('"')));
    assert_eq!(upload.access_key.as_deref(), Some(h.root.access_key.as_str()));
    assert!(upload.source_ip.as_deref() == Some("127.0.0.1"), "{upload:?}");
    assert!(upload.user_agent.as_deref().is_some_and(|ua| !ua.is_empty()), "{upload:?}");
    assert!(upload.request_id.as_deref().is_some_and(|r| !r.is_empty()), "{upload:?}");
    assert_eq!(changes[2].detail.get("source_key").map(String::as_str), Some("a.txt"));
    assert_eq!(changes[3].detail.get("parts").map(String::as_str), Some("1"));
    assert_eq!(changes[4].etag.as_deref(), Some(etag.trim_matches('"')), "a deletion names what it deleted");

    let denied: Vec<&Event> = events.iter().filter(|e| e.event_type == EventType::AccessDenied).collect();
    assert_eq!(denied.len(), 1, "{:?}", types(&events));
    let d = denied[0];
    assert_eq!(d.access_key.as_deref(), Some(stranger.access_key_id.as_str()));
    assert_eq!(d.detail.get("action").map(String::as_str), Some("s3:GetObject"));
    assert_eq!(d.status, Some(403));
    assert!(d.principal_arn.as_deref().is_some_and(|a| a.ends_with(":root")), "{d:?}");
    // The denial belongs to the bucket's owner, who sees who tried; the caller's account is named.
    assert_eq!(d.account_id, upload.account_id, "the bucket owner's");
    assert_eq!(d.detail.get("actor_account"), Some(&stranger_profile.account_id));

    // Every event has its own id; bodies carry the schema version.
    let mut ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), events.len());
    assert!(events.iter().all(|e| e.schema_version == cloudstore_events::SCHEMA_VERSION));
}
