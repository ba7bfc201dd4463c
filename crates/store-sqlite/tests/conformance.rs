//! The metadata conformance suite on a fresh SQLite file, plus SQLite-specific checks.

use std::path::PathBuf;
use std::sync::Arc;

use cloudstore_store_api::{MetadataStore, StoreError};
use cloudstore_store_sqlite::SqliteMetadataStore;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("cloudstore-sqlite-test-{}-{}", std::process::id(), uuid_like()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{t:x}-{}", N.fetch_add(1, Ordering::Relaxed))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_metadata_conformance() {
    let dir = TempDir::new();
    let store = SqliteMetadataStore::open(&dir.0.join("meta.db")).await.expect("open sqlite store");
    cloudstore_store_api::testkit::metadata_suite(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_keeps_data_and_migrations_are_idempotent() {
    let dir = TempDir::new();
    let path = dir.0.join("meta.db");
    let bucket = cloudstore_store_api::Bucket {
        name: "reopen-bucket".into(),
        owner: "o".into(),
        region: "r".into(),
        created_at: time::OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time"),
        policy: None,
        notification: None,
        cors: None,
        public_access_block: None,
        tagging: None,
        lifecycle: None,
        acl: None,
        object_ownership: None,
        encryption: None,
        versioning: None,
        object_lock: None,
    };
    {
        let store = SqliteMetadataStore::open(&path).await.expect("open");
        store.create_bucket(&bucket, &[]).await.expect("create bucket");
    }
    let store = SqliteMetadataStore::open(&path).await.expect("reopen");
    assert_eq!(store.get_bucket("reopen-bucket").await.expect("get"), Some(bucket));
    // A second store on the same file (another process, say) sees the same data.
    let other = SqliteMetadataStore::open(&path).await.expect("second store");
    assert!(matches!(other.delete_bucket("reopen-bucket", &[]).await, Ok(())));
    assert_eq!(store.get_bucket("reopen-bucket").await.expect("get"), None);
}

#[tokio::test]
async fn unopenable_path_is_an_error_not_a_panic() {
    let dir = TempDir::new();
    let path = dir.0.join("missing-dir").join("meta.db");
    match SqliteMetadataStore::open(&path).await {
        Err(StoreError::Unavailable(_) | StoreError::Backend(_)) => {}
        other => panic!("expected an error, got {other:?}"),
    }
}
