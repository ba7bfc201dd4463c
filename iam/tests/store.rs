//! The IamStore conformance suite on SQLite and on PostgreSQL (a real server: the test
//! command exports `CLOUDSTORE_TEST_POSTGRES_URL`; a missing server is a failure).

use cloudstore_iam::store::suite::iam_store_suite;
use cloudstore_iam::store::{PgIamStore, SqliteIamStore};

#[tokio::test]
async fn sqlite_store_passes_the_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteIamStore::open(&dir.path().join("meta.sqlite")).await.expect("open");
    iam_store_suite(&store).await;
}

#[tokio::test]
async fn postgres_store_passes_the_suite() {
    let url = std::env::var("CLOUDSTORE_TEST_POSTGRES_URL")
        .expect("CLOUDSTORE_TEST_POSTGRES_URL must point at a PostgreSQL server (scripts/test.sh starts one)");
    let store = PgIamStore::connect(&url).await.expect("connect");
    iam_store_suite(&store).await;
}
