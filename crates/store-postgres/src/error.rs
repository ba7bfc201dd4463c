//! Maps sqlx/PostgreSQL errors to [`StoreError`] at the edge.

use cloudstore_store_api::StoreError;
use sqlx::migrate::MigrateError;

/// What a SQLSTATE means for the caller.
fn classify(code: &str) -> Option<fn(sqlx::Error) -> StoreError> {
    match code {
        // serialization_failure, deadlock_detected: a concurrent change; retrying may work.
        "40001" | "40P01" => Some(|_| StoreError::Conflict),
        // admin_shutdown, crash_shutdown, cannot_connect_now, idle_session_timeout,
        // lock_not_available, query_canceled (statement timeout), idle_in_transaction /
        // transaction_timeout.
        "57P01" | "57P02" | "57P03" | "57P05" | "55P03" | "57014" | "25P03" | "25P04" => Some(StoreError::unavailable),
        // connection_exception, insufficient_resources (too many connections, disk full, ...).
        c if c.starts_with("08") || c.starts_with("53") => Some(StoreError::unavailable),
        _ => None,
    }
}

/// Connection trouble, pool exhaustion and server overload are `Unavailable`; serialization
/// failures and deadlocks are `Conflict`; the rest `Backend`.
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => StoreError::unavailable(e),
        sqlx::Error::Database(d) => match d.code().as_deref().and_then(classify) {
            Some(map) => map(e),
            None => StoreError::backend(e),
        },
        _ => StoreError::backend(e),
    }
}

/// Whether the server refused a statement with an ordinary error — not one that ends the
/// session (FATAL, PANIC) or says the database is unavailable, after which a commit may have
/// happened. The statement's transaction rolled back: nothing of it was written.
pub(crate) fn is_refusal(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(d) = e else { return false };
    let unavailable = d
        .code()
        .as_deref()
        .and_then(classify)
        .is_some_and(|map| matches!(map(sqlx::Error::PoolClosed), StoreError::Unavailable(_)));
    !unavailable && !crate::hot::is_dead(e)
}

pub(crate) fn migrate_err(e: MigrateError) -> StoreError {
    match e {
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => db_err(e),
        e => StoreError::backend(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_are_classified() {
        let conflict = classify("40P01").map(|f| f(sqlx::Error::PoolClosed));
        assert!(matches!(conflict, Some(StoreError::Conflict)));
        let down = classify("08006").map(|f| f(sqlx::Error::PoolClosed));
        assert!(matches!(down, Some(StoreError::Unavailable(_))));
        assert!(classify("53300").is_some());
        assert!(classify("57P05").is_some() && classify("25P04").is_some());
        assert!(classify("23505").is_none());
        assert!(matches!(db_err(sqlx::Error::PoolTimedOut), StoreError::Unavailable(_)));
        assert!(matches!(db_err(sqlx::Error::RowNotFound), StoreError::Backend(_)));
    }
}
