//! Helpers shared by the IAM integration tests.

#![allow(dead_code, clippy::expect_used)]

use std::sync::Arc;

use cloudstore_iam::crypto::Keyring;
use cloudstore_iam::service::{IamService, ServiceConfig};
use cloudstore_iam::session::MemorySessionStore;
use cloudstore_iam::store::SqliteIamStore;

/// A fresh service on a SQLite store in a temporary directory (kept alive by the returned
/// guard) with in-memory sessions.
pub(crate) async fn service() -> (IamService, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteIamStore::open(&dir.path().join("iam.sqlite")).await.expect("open store");
    let svc = IamService::new(
        Arc::new(store),
        Arc::new(MemorySessionStore::new()),
        Keyring::new(&[7u8; 32]).expect("keyring"),
        ServiceConfig::default(),
    )
    .await
    .expect("service");
    (svc, dir)
}

/// Query parameters as owned pairs.
pub(crate) fn params(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}
