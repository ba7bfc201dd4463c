//! The notification service (SPEC.md "Events", ADR 0006). Built so far: the ClickHouse side —
//! the table, created at start from `migrations/clickhouse/`, batched inserts of
//! [`cloudstore_events::Event`]s, and counts that see each event once however often it was
//! delivered; and the Kafka consumer that feeds it ([`consumer`], run by the `notifier` binary
//! and by `cloudstore serve`), with its metrics and health checks.

use cloudstore_events::Event;
use serde::{Deserialize, Serialize};

pub mod analytics;
pub mod consumer;
pub mod health;
pub mod kafka;
pub mod local;
pub mod metrics;
pub mod publish;

pub use analytics::{Analytics, AnalyticsError};
pub use consumer::{ConsumerConfig, ConsumerError, Notifier, run};
pub use local::{LocalEventStore, LocalStoreError};

/// The table DDL; `{database}` is replaced by the database name.
const EVENTS_DDL: &str = include_str!("../../migrations/clickhouse/0001_events.sql");

/// What went wrong talking to ClickHouse.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The database name is not a plain identifier.
    #[error("invalid ClickHouse database name {0:?}: letters, digits and _ only")]
    BadDatabase(String),
    /// ClickHouse refused or could not be reached.
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
}

/// One row of `events`: the event's fields, absent ones as empty strings and zeros (columns
/// are not Nullable, so queries need no NULL handling), `detail` as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, clickhouse::Row)]
struct EventRow {
    event_id: String,
    event_type: String,
    occurred_at: i64,
    schema_version: u16,
    account_id: String,
    user_id: String,
    access_key: String,
    principal_arn: String,
    bucket: String,
    object_key: String,
    version_id: String,
    etag: String,
    bytes: u64,
    source_ip: String,
    user_agent: String,
    request_id: String,
    status: u16,
    detail: String,
}

impl From<&Event> for EventRow {
    fn from(e: &Event) -> Self {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            event_id: e.event_id.clone(),
            event_type: e.event_type.as_str().to_owned(),
            occurred_at: e.occurred_at,
            schema_version: e.schema_version,
            account_id: s(&e.account_id),
            user_id: s(&e.user_id),
            access_key: s(&e.access_key),
            principal_arn: s(&e.principal_arn),
            bucket: s(&e.bucket),
            object_key: s(&e.object_key),
            version_id: s(&e.version_id),
            etag: s(&e.etag),
            bytes: e.bytes.unwrap_or(0),
            source_ip: s(&e.source_ip),
            user_agent: s(&e.user_agent),
            request_id: s(&e.request_id),
            status: e.status.unwrap_or(0),
            detail: if e.detail.is_empty() {
                String::new()
            } else {
                serde_json::to_string(&e.detail).unwrap_or_default()
            },
        }
    }
}

/// Events into ClickHouse, and the counts over them.
#[derive(Clone)]
pub struct ClickHouseSink {
    client: clickhouse::Client,
    database: String,
}

impl std::fmt::Debug for ClickHouseSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseSink").field("database", &self.database).finish_non_exhaustive()
    }
}

impl ClickHouseSink {
    /// Connects to `url` and creates `database` and its `events` table if missing.
    /// `validation: false` is for ClickHouse releases older than the crate's schema checks
    /// (the test stack's 18.16); a current ClickHouse works either way.
    ///
    /// # Errors
    /// [`SinkError::BadDatabase`] for a name that is not a plain identifier; ClickHouse's error
    /// when it cannot be reached or refuses the DDL.
    pub async fn connect(url: &str, database: &str, validation: bool) -> Result<Self, SinkError> {
        if database.is_empty() || !database.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(SinkError::BadDatabase(database.to_owned()));
        }
        let client = clickhouse::Client::default().with_url(url).with_validation(validation);
        client.query(&format!("CREATE DATABASE IF NOT EXISTS {database}")).execute().await?;
        client.query(&EVENTS_DDL.replace("{database}", database)).execute().await?;
        Ok(Self { client: client.with_database(database), database: database.to_owned() })
    }

    /// Inserts `events` in one batch; after `Ok`, ClickHouse has them (the moment to commit
    /// their Kafka offsets). Inserting an event again is harmless: counts deduplicate.
    ///
    /// # Errors
    /// ClickHouse's error; then nothing of the batch is to be taken as written.
    pub async fn insert(&self, events: &[Event]) -> Result<(), SinkError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut insert = self.client.insert::<EventRow>("events").await?;
        for e in events {
            insert.write(&EventRow::from(e)).await?;
        }
        insert.end().await?;
        tracing::debug!(events = events.len(), "inserted into ClickHouse");
        Ok(())
    }

    /// Distinct events of `event_type` (all types with `None`), each counted once however many
    /// times it was delivered.
    ///
    /// # Errors
    /// ClickHouse's error.
    pub async fn count_events(&self, event_type: Option<&str>) -> Result<u64, SinkError> {
        let q = match event_type {
            Some(t) => self.client.query("SELECT uniqExact(event_id) FROM events WHERE event_type = ?").bind(t),
            None => self.client.query("SELECT uniqExact(event_id) FROM events"),
        };
        Ok(q.fetch_one::<u64>().await?)
    }

    /// The event with this id, as stored (one row, whatever was delivered more than once).
    ///
    /// # Errors
    /// ClickHouse's error.
    pub async fn stored_bytes_of(&self, event_id: &str) -> Result<Option<u64>, SinkError> {
        let rows = self
            .client
            .query("SELECT bytes FROM events FINAL WHERE event_id = ?")
            .bind(event_id)
            .fetch_all::<u64>()
            .await?;
        Ok(rows.first().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudstore_events::EventType;

    #[test]
    fn rows_carry_every_field_and_empty_for_absent_ones() {
        let mut e = Event::new(EventType::FileDownloaded, 1_796_640_000_123);
        e.bucket = Some("photos".into());
        e.bytes = Some(7);
        e.detail.insert("range".into(), "bytes=0-6".into());
        let r = EventRow::from(&e);
        assert_eq!(
            (r.event_type.as_str(), r.occurred_at, r.bucket.as_str(), r.bytes),
            ("file_downloaded", 1_796_640_000_123, "photos", 7)
        );
        assert_eq!((r.object_key.as_str(), r.status), ("", 0));
        assert_eq!(r.detail, r#"{"range":"bytes=0-6"}"#);
        assert_eq!(EventRow::from(&Event::new(EventType::LoginFailed, 0)).detail, "");
    }

    #[test]
    fn the_ddl_names_its_database() {
        assert!(EVENTS_DDL.contains("{database}.events"));
        assert!(EVENTS_DDL.contains("ReplacingMergeTree"));
    }
}
