-- The local event store of the embedded default (ADR 0006, notifier/src/local.rs): a SQLite
-- file of its own, `<data dir>/events.sqlite`, so analytics scans never contend with the
-- metadata writer. The same columns as migrations/clickhouse/0001_events.sql, absent values as
-- '' and 0 as there; `detail` is the event's detail map as JSON ('' when empty).
-- `event_id` is the primary key and rows are written with INSERT OR IGNORE: an event delivered
-- twice is stored once, so queries here need no deduplication.
CREATE TABLE IF NOT EXISTS events (
    event_id       TEXT    NOT NULL PRIMARY KEY,
    event_type     TEXT    NOT NULL,
    occurred_at    INTEGER NOT NULL,
    schema_version INTEGER NOT NULL,
    account_id     TEXT    NOT NULL,
    user_id        TEXT    NOT NULL,
    access_key     TEXT    NOT NULL,
    principal_arn  TEXT    NOT NULL,
    bucket         TEXT    NOT NULL,
    object_key     TEXT    NOT NULL,
    version_id     TEXT    NOT NULL,
    etag           TEXT    NOT NULL,
    bytes          INTEGER NOT NULL,
    source_ip      TEXT    NOT NULL,
    user_agent     TEXT    NOT NULL,
    request_id     TEXT    NOT NULL,
    status         INTEGER NOT NULL,
    detail         TEXT    NOT NULL
);

-- Traffic, top objects, top principals and denials: one event type (or a few) over a time
-- range, optionally of one account. The trailing columns cover the top-objects and traffic
-- scans so they never touch the table.
CREATE INDEX IF NOT EXISTS events_type_time
    ON events (event_type, occurred_at, account_id, bucket, object_key, bytes);
-- One account's events over time (the scope of every question an account asks).
CREATE INDEX IF NOT EXISTS events_account_time ON events (account_id, occurred_at);
-- The access history of one object, newest first.
CREATE INDEX IF NOT EXISTS events_object_time ON events (bucket, object_key, occurred_at);
-- The last use of each access key.
CREATE INDEX IF NOT EXISTS events_key_time ON events (access_key, occurred_at);
