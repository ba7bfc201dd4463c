//! Runs the blob conformance suite against [`MinioBlobStore`] on a real S3 backend.
//!
//! Needs `CLOUDSTORE_TEST_S3_ENDPOINT` (e.g. `http://127.0.0.1:58333`),
//! `CLOUDSTORE_TEST_S3_ACCESS_KEY` and `CLOUDSTORE_TEST_S3_SECRET_KEY`; the test command
//! starts the backend (see BACKENDS.md). Without them the tests fail: a suite that silently
//! skips is a defect.
#![allow(clippy::unwrap_used)]

use cloudstore_blob_minio::MinioBlobStore;
use cloudstore_store_api::BlobStore;
use minio::s3::MinioClientBuilder;
use minio::s3::creds::StaticProvider;
use minio::s3::http::BaseUrl;
use minio::s3::types::S3Api;

/// Bucket the suite writes to (it deletes what it writes).
const BUCKET: &str = "cloudstore-blob-conformance";

struct Backend {
    endpoint: String,
    access_key: String,
    secret_key: String,
}

fn backend() -> Backend {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: the MinioBlobStore conformance tests need an S3 backend. Start one \
                 (see BACKENDS.md, SeaweedFS) and set CLOUDSTORE_TEST_S3_ENDPOINT, \
                 CLOUDSTORE_TEST_S3_ACCESS_KEY and CLOUDSTORE_TEST_S3_SECRET_KEY"
            )
        })
    };
    Backend {
        endpoint: var("CLOUDSTORE_TEST_S3_ENDPOINT"),
        access_key: var("CLOUDSTORE_TEST_S3_ACCESS_KEY"),
        secret_key: var("CLOUDSTORE_TEST_S3_SECRET_KEY"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minio_blob_store_conforms() {
    let b = backend();
    let store = MinioBlobStore::new(&b.endpoint, &b.access_key, &b.secret_key, BUCKET, "us-east-1").await.unwrap();
    cloudstore_store_api::testkit::blob_suite(&store).await;
}

#[tokio::test]
async fn new_creates_a_missing_bucket() {
    let b = backend();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let bucket = format!("cloudstore-blob-new-{nanos}");
    let store = MinioBlobStore::new(&b.endpoint, &b.access_key, &b.secret_key, &bucket, "").await.unwrap();
    store.ping().await.unwrap();
    // Opening it again finds the bucket.
    MinioBlobStore::new(&b.endpoint, &b.access_key, &b.secret_key, &bucket, "").await.unwrap();

    let client = MinioClientBuilder::new(b.endpoint.parse::<BaseUrl>().unwrap())
        .provider(Some(StaticProvider::new(&b.access_key, &b.secret_key, None)))
        .build()
        .unwrap();
    client.delete_bucket(&bucket).unwrap().build().send().await.unwrap();
    assert!(store.ping().await.is_err(), "ping must fail once the bucket is gone");
}
