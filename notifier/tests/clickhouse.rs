//! The ClickHouse sink against the real ClickHouse of the test stack
//! (`source "$(scripts/stack.sh start clickhouse)"` sets CLOUDSTORE_TEST_CLICKHOUSE_URL; without
//! it this test fails, it never skips).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cloudstore_events::{Event, EventType};
use cloudstore_notifier::{ClickHouseSink, SinkError};

fn url() -> String {
    std::env::var("CLOUDSTORE_TEST_CLICKHOUSE_URL").expect(
        "CLOUDSTORE_TEST_CLICKHOUSE_URL is not set: start ClickHouse with `source \"$(scripts/stack.sh start clickhouse)\"`",
    )
}

/// A database of its own per run.
fn database() -> String {
    format!("cs_test_{}", uuid_like())
}

fn uuid_like() -> String {
    Event::new(EventType::Other("x".into()), 0).event_id.replace('-', "")
}

#[tokio::test]
async fn events_land_once_however_often_delivered() {
    let db = database();
    // The test stack's ClickHouse is 18.16: no schema validation there.
    let sink = ClickHouseSink::connect(&url(), &db, false).await.expect("connect and create");
    // Creating again at the next start is harmless.
    let sink2 = ClickHouseSink::connect(&url(), &db, false).await.expect("connect again");

    let mut batch = Vec::new();
    for (i, t) in
        [EventType::FileUploaded, EventType::FileDownloaded, EventType::FileDownloaded].into_iter().enumerate()
    {
        let mut e = Event::new(t, 1_796_640_000_000 + i64::try_from(i).unwrap());
        e.bucket = Some("photos".into());
        e.object_key = Some(format!("k{i}"));
        e.bytes = Some(100 + u64::try_from(i).unwrap());
        batch.push(e);
    }
    sink.insert(&batch).await.expect("insert");
    // A re-delivery (a notifier killed between insert and offset commit) of part of the batch.
    sink2.insert(&batch[1..]).await.expect("insert again");
    sink.insert(&[]).await.expect("an empty batch is nothing");

    assert_eq!(sink.count_events(None).await.expect("count"), 3);
    assert_eq!(sink.count_events(Some("file_downloaded")).await.expect("count"), 2);
    assert_eq!(sink.count_events(Some("bucket_created")).await.expect("count"), 0);
    assert_eq!(sink.stored_bytes_of(&batch[2].event_id).await.expect("read"), Some(102));
    assert_eq!(sink.stored_bytes_of("no-such-event").await.expect("read"), None);
}

#[tokio::test]
async fn bad_database_names_and_unreachable_servers_are_errors() {
    let e = ClickHouseSink::connect(&url(), "x; DROP TABLE y", false).await.expect_err("refused");
    assert!(matches!(e, SinkError::BadDatabase(_)), "{e}");
    let e = ClickHouseSink::connect("http://127.0.0.1:1", "cloudstore", false).await.expect_err("unreachable");
    assert!(matches!(e, SinkError::ClickHouse(_)), "{e}");
}
