//! The IamStore conformance suite on SQLite and on PostgreSQL (a real server: the test
//! command exports `CLOUDSTORE_TEST_POSTGRES_URL`; a missing server is a failure).
//!
//! After the suite, the event outbox (read with a connection of its own) holds exactly the
//! events of the changes that succeeded, in order, and none of a refused one: each change
//! writes its identity events in its own transaction.

use cloudstore_iam::store::suite::{ExpectedOutbox, iam_store_suite};
use cloudstore_iam::store::{PgIamStore, SqliteIamStore};

const OUTBOX: &str = "SELECT body FROM event_outbox WHERE key = $1 ORDER BY id";

fn check(expected: &ExpectedOutbox, got: &[String]) {
    assert!(expected.bodies.len() > 30, "the suite hands the store an event with every change");
    assert_eq!(got, expected.bodies, "the outbox holds the events of the changes that committed, in order");
}

#[tokio::test]
async fn sqlite_store_passes_the_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("meta.sqlite");
    let store = SqliteIamStore::open(&path).await.expect("open");
    let expected = iam_store_suite(&store).await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.expect("reader");
    let got: Vec<String> = sqlx::query_scalar(OUTBOX).bind(&expected.key).fetch_all(&pool).await.expect("outbox");
    check(&expected, &got);
}

#[tokio::test]
async fn postgres_store_passes_the_suite() {
    let url = std::env::var("CLOUDSTORE_TEST_POSTGRES_URL")
        .expect("CLOUDSTORE_TEST_POSTGRES_URL must point at a PostgreSQL server (scripts/test.sh starts one)");
    let store = PgIamStore::connect(&url).await.expect("connect");
    let expected = iam_store_suite(&store).await;
    let pool = sqlx::PgPool::connect(&url).await.expect("reader");
    let got: Vec<String> = sqlx::query_scalar(OUTBOX).bind(&expected.key).fetch_all(&pool).await.expect("outbox");
    check(&expected, &got);
}
