//! The metadata conformance suite against a real PostgreSQL, plus Postgres-specific checks.
//!
//! Needs `CLOUDSTORE_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:55433/postgres`);
//! without it the tests fail: a suite that silently skips is a defect. Runs can repeat against
//! one database (every run uses fresh names and cleans up).

use std::sync::Arc;

use cloudstore_store_api::StoreError;
use cloudstore_store_pg::PgMetadataStore;

fn url() -> String {
    match std::env::var("CLOUDSTORE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "CLOUDSTORE_TEST_POSTGRES_URL is not set: the Postgres conformance suite needs a server \
             (see BACKENDS.md, e.g. postgres://postgres@127.0.0.1:55433/postgres); it never skips"
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_metadata_conformance() {
    let store = PgMetadataStore::connect(&url()).await.expect("connect to CLOUDSTORE_TEST_POSTGRES_URL");
    cloudstore_store_api::testkit::metadata_suite(Arc::new(store)).await;
}

#[tokio::test]
async fn key_columns_use_the_c_collation() {
    let url = url();
    // Migrations ran (or run now), so the schema is there.
    let _store = PgMetadataStore::connect(&url).await.expect("connect");
    let pool = sqlx::PgPool::connect(&url).await.expect("connect");
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, collation_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND (table_name, column_name) IN \
         (('objects', 'bucket'), ('objects', 'key'), ('uploads', 'key'), ('uploads', 'upload_id'), ('buckets', 'name'))",
    )
    .fetch_all(&pool)
    .await
    .expect("query the schema");
    assert_eq!(rows.len(), 5, "{rows:?}");
    for (table, column, collation) in rows {
        assert_eq!(collation.as_deref(), Some("C"), "{table}.{column} must be COLLATE \"C\"");
    }
}

#[tokio::test]
async fn unreachable_server_is_unavailable() {
    // Nothing listens on port 1.
    match PgMetadataStore::connect("postgres://postgres@127.0.0.1:1/postgres").await {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
}
