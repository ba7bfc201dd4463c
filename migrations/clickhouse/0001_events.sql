-- The analytics table of cloudstore's events (ADR 0006), created by the notifier at start.
-- `{database}` is replaced by CLOUDSTORE_CLICKHOUSE_DATABASE (default `cloudstore`).
-- Works on ClickHouse 18.16 (the test stack's) and current releases: no JSON type, no
-- DateTime64; times are milliseconds since the epoch, as the events carry them.
-- ReplacingMergeTree ordered by event_id: a re-delivered event is one row once parts merge;
-- queries that must count exactly deduplicate (uniqExact(event_id), or FINAL).
CREATE TABLE IF NOT EXISTS {database}.events (
    event_id       String,
    event_type     String,
    occurred_at    Int64,
    schema_version UInt16,
    account_id     String,
    user_id        String,
    access_key     String,
    principal_arn  String,
    bucket         String,
    object_key     String,
    version_id     String,
    etag           String,
    bytes          UInt64,
    source_ip      String,
    user_agent     String,
    request_id     String,
    status         UInt16,
    detail         String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(toDate(toDateTime(intDiv(occurred_at, 1000))))
ORDER BY event_id
