//! The local event store of the embedded default: the contract the outbox relay relies on
//! (`LocalEventStore::open`, `insert`: one transaction per batch, idempotent on `event_id`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt as _;

use cloudstore_events::{Event, EventType};
use cloudstore_notifier::LocalEventStore;
use sqlx::Connection as _;

fn event(t: EventType, at: i64, bytes: u64) -> Event {
    let mut e = Event::new(t, at);
    e.account_id = Some("111111111111".into());
    e.bucket = Some("photos".into());
    e.object_key = Some("cat.jpg".into());
    e.bytes = Some(bytes);
    e
}

#[tokio::test]
async fn open_creates_a_private_file_and_inserts_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite");
    let store = LocalEventStore::open(&path).await.expect("open");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the event file is its owner's only");

    let batch: Vec<Event> = (0..5)
        .map(|i| event(EventType::FileDownloaded, 1_796_640_000_000 + i, 10 + u64::try_from(i).unwrap()))
        .collect();
    store.insert(&batch).await.expect("insert");
    // The relay re-delivers part of a batch (crash between insert and outbox delete), plus one new.
    let mut again = batch[2..].to_vec();
    again.push(event(EventType::FileUploaded, 1_796_640_000_100, 99));
    store.insert(&again).await.expect("insert again");
    store.insert(&[]).await.expect("an empty batch is nothing");
    assert_eq!(store.count_events(None).await.unwrap(), 6);
    assert_eq!(store.count_events(Some("file_downloaded")).await.unwrap(), 5);

    // A changed body under a stored id does not overwrite it (first write wins, as the id is
    // the event).
    let mut changed = batch[0].clone();
    changed.event_type = EventType::FileDeleted;
    store.insert(&[changed]).await.unwrap();
    assert_eq!(store.count_events(Some("file_deleted")).await.unwrap(), 0);

    // Reopening keeps everything and applies no migration twice.
    drop(store);
    let store = LocalEventStore::open(&path).await.expect("reopen");
    assert_eq!(store.count_events(None).await.unwrap(), 6);
}

#[tokio::test]
async fn a_batch_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite");
    let store = LocalEventStore::open(&path).await.unwrap();
    // A trigger (set up behind the store's back) makes one event of a batch fail.
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.bucket = 'poison' \
         BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
    )
    .execute(&mut other)
    .await
    .unwrap();
    let good = event(EventType::FileUploaded, 1, 1);
    let mut bad = event(EventType::FileUploaded, 2, 2);
    bad.bucket = Some("poison".into());
    store.insert(&[good.clone(), bad]).await.expect_err("the batch fails");
    assert_eq!(store.count_events(None).await.unwrap(), 0, "nothing of a failed batch is written");
    store.insert(&[good]).await.unwrap();
    assert_eq!(store.count_events(None).await.unwrap(), 1);
}

#[tokio::test]
async fn an_unwritable_place_is_an_error() {
    let err =
        LocalEventStore::open(std::path::Path::new("/proc/no/such/dir/events.sqlite")).await.expect_err("refused");
    assert!(err.to_string().contains("events.sqlite"), "{err}");
}
