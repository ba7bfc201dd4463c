//! Maps sqlx/SQLite errors to [`StoreError`] at the edge.

use cloudstore_store_api::StoreError;
use sqlx::migrate::MigrateError;

/// SQLite primary result codes that mean "busy, try later" (`SQLITE_BUSY`, `SQLITE_LOCKED`).
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;

fn is_busy(e: &dyn sqlx::error::DatabaseError) -> bool {
    e.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| matches!(c & 0xff, SQLITE_BUSY | SQLITE_LOCKED))
}

/// Connection trouble, pool exhaustion and lock timeouts are `Unavailable`; the rest `Backend`.
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed | sqlx::Error::Io(_) => {
            StoreError::unavailable(e)
        }
        sqlx::Error::Database(d) if is_busy(d.as_ref()) => StoreError::unavailable(e),
        _ => StoreError::backend(e),
    }
}

pub(crate) fn migrate_err(e: MigrateError) -> StoreError {
    match e {
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => db_err(e),
        e => StoreError::backend(e),
    }
}
