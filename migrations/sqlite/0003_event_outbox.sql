-- The transactional outbox of the events pipeline (ADR 0006); see the PostgreSQL migration
-- 0006 for the rules. AUTOINCREMENT: an id is never handed out twice, even after the rows
-- with the largest ids were published and removed.
CREATE TABLE event_outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    key        TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE outbox_lease (
    name     TEXT    PRIMARY KEY,
    owner    TEXT    NOT NULL,
    until_ms INTEGER NOT NULL
);
