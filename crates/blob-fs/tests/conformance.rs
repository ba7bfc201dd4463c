//! Runs the blob conformance suite against [`FsBlobStore`] in a temp dir, plus checks of the
//! fs-specific promises (no temp files left behind, stale ones removed on open).
#![allow(clippy::unwrap_used)]

use std::fs::{self, File};
use std::path::Path;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use cloudstore_blob_fs::{FsBlobStore, STALE_TEMP_AGE};
use cloudstore_store_api::{BlobId, BlobStore, ByteStream, StoreError};
use futures::stream;

fn temp_files(root: &Path) -> Vec<String> {
    fs::read_dir(root.join("tmp")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_blob_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::open(dir.path()).unwrap();
    cloudstore_store_api::testkit::blob_suite(&store).await;
    // Every failed put removed its temp file before returning.
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
}

#[tokio::test]
async fn open_removes_only_stale_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    FsBlobStore::open(dir.path()).unwrap();
    let tmp = dir.path().join("tmp");
    let old = File::create(tmp.join("x.1-2-3.tmp")).unwrap();
    old.set_modified(SystemTime::now() - STALE_TEMP_AGE - Duration::from_secs(60)).unwrap();
    drop(old);
    File::create(tmp.join("y.1-2-4.tmp")).unwrap();
    FsBlobStore::open(dir.path()).unwrap();
    assert_eq!(temp_files(dir.path()), vec!["y.1-2-4.tmp".to_owned()]);
}

#[tokio::test]
async fn cancelled_put_leaves_no_temp_file_and_no_blob() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::open(dir.path()).unwrap();
    let id = BlobId::generate();
    // A body that yields one chunk and then never ends.
    let body: ByteStream =
        Box::pin(futures::StreamExt::chain(stream::iter([Ok(Bytes::from_static(b"partial"))]), stream::pending()));
    let put = store.put(&id, body, None);
    assert!(tokio::time::timeout(Duration::from_millis(200), put).await.is_err());
    // The guard removes the temp file on a blocking thread; give it a moment.
    for _ in 0..50 {
        if temp_files(dir.path()).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
    assert!(matches!(store.get(&id, None).await, Err(StoreError::BlobNotFound)));
}
