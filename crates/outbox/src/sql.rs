//! The outbox's SQL, written once for PostgreSQL and SQLite: [`sql_outbox!`] expands to a
//! module of functions over one sqlx driver. The statements use `$N` parameters (or
//! `QueryBuilder` binds) and portable SQL (`ON CONFLICT … DO UPDATE … WHERE`), which both
//! drivers accept. Tables: `migrations/postgres/0006_event_outbox.sql`,
//! `migrations/sqlite/0003_event_outbox.sql`.

/// Rows per multi-row statement (3 binds a row: well inside both databases' limits).
pub const CHUNK: usize = 1000;

/// The lease row's name.
pub const LEASE: &str = "relay";

/// Expands to a module (`outbox`, or the name given first) with the outbox queries for the
/// sqlx database `$db` (e.g. `sqlx::Postgres`). The calling crate depends on sqlx with that
/// driver.
#[macro_export]
macro_rules! sql_outbox {
    ($db:ty) => {
        $crate::sql_outbox!(outbox, $db);
    };
    ($name:ident, $db:ty) => {
        /// The outbox queries (ADR 0006), from `cloudstore_outbox::sql_outbox!`.
        #[allow(dead_code)]
        pub(crate) mod $name {
            use ::cloudstore_store_api::{OutboxBacklog, OutboxEvent, OutboxRow};
            use ::sqlx::Row as _;

            type Db = $db;
            type Conn = <Db as ::sqlx::Database>::Connection;

            /// Inserts `events` (in order) with the caller's connection or transaction.
            pub(crate) async fn insert(conn: &mut Conn, events: &[OutboxEvent]) -> ::sqlx::Result<()> {
                let now_ms = ::cloudstore_store_api::sql::now_ms();
                for chunk in events.chunks($crate::sql::CHUNK) {
                    let mut q = ::sqlx::QueryBuilder::<Db>::new("INSERT INTO event_outbox (key, body, created_at) ");
                    q.push_values(chunk, |mut row, e| {
                        row.push_bind(e.key.as_str()).push_bind(e.body.as_str()).push_bind(now_ms);
                    });
                    q.build().execute(&mut *conn).await?;
                }
                Ok(())
            }

            /// Takes or renews the relay lease for `owner` for `ttl`; `true` if held.
            pub(crate) async fn lease(
                pool: &::sqlx::Pool<Db>,
                owner: &str,
                ttl: ::std::time::Duration,
            ) -> ::sqlx::Result<bool> {
                let now_ms = ::cloudstore_store_api::sql::now_ms();
                let until_ms = now_ms.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
                let done = ::sqlx::query(
                    "INSERT INTO outbox_lease (name, owner, until_ms) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until_ms = excluded.until_ms \
                     WHERE outbox_lease.owner = excluded.owner OR outbox_lease.until_ms < $4",
                )
                .bind($crate::sql::LEASE)
                .bind(owner)
                .bind(until_ms)
                .bind(now_ms)
                .execute(pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// The oldest unpublished rows by id, at most `limit`.
            pub(crate) async fn rows(pool: &::sqlx::Pool<Db>, limit: usize) -> ::sqlx::Result<Vec<OutboxRow>> {
                let rows = ::sqlx::query("SELECT id, key, body, created_at FROM event_outbox ORDER BY id LIMIT $1")
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                    .fetch_all(pool)
                    .await?;
                rows.into_iter()
                    .map(|r| {
                        Ok(OutboxRow {
                            id: r.try_get(0)?,
                            key: r.try_get(1)?,
                            body: r.try_get(2)?,
                            created_at: r.try_get(3)?,
                        })
                    })
                    .collect()
            }

            /// Removes published rows.
            pub(crate) async fn remove(pool: &::sqlx::Pool<Db>, ids: &[i64]) -> ::sqlx::Result<()> {
                for chunk in ids.chunks($crate::sql::CHUNK) {
                    let mut q = ::sqlx::QueryBuilder::<Db>::new("DELETE FROM event_outbox WHERE id IN (");
                    let mut list = q.separated(", ");
                    for id in chunk {
                        list.push_bind(*id);
                    }
                    q.push(")");
                    q.build().execute(pool).await?;
                }
                Ok(())
            }

            /// Unpublished rows and the oldest one's time.
            pub(crate) async fn backlog(pool: &::sqlx::Pool<Db>) -> ::sqlx::Result<OutboxBacklog> {
                let r = ::sqlx::query("SELECT COUNT(*), MIN(created_at) FROM event_outbox").fetch_one(pool).await?;
                let rows: i64 = r.try_get(0)?;
                Ok(OutboxBacklog { rows: u64::try_from(rows).unwrap_or(0), oldest_ms: r.try_get(1)? })
            }
        }
    };
}
