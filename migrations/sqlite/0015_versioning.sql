-- Versioning (issue #14 item 1, ADR 0017); see migrations/postgres/0018_versioning.sql.
ALTER TABLE buckets ADD COLUMN versioning TEXT;

CREATE TABLE object_versions (
    bucket              TEXT    NOT NULL COLLATE BINARY REFERENCES buckets (name),
    key                 TEXT    NOT NULL COLLATE BINARY,
    seq                 INTEGER NOT NULL,
    version_id          TEXT    NOT NULL COLLATE BINARY,
    is_delete_marker    BOOLEAN NOT NULL,
    size                INTEGER NOT NULL,
    etag                TEXT    NOT NULL,
    last_modified       INTEGER NOT NULL,
    content_type        TEXT,
    content_encoding    TEXT,
    content_disposition TEXT,
    content_language    TEXT,
    cache_control       TEXT,
    expires             TEXT,
    user_metadata       TEXT    NOT NULL DEFAULT '{}',
    checksum_algorithm  TEXT,
    checksum_value      TEXT,
    checksum_type       TEXT,
    parts               TEXT    NOT NULL DEFAULT '[]',
    multipart_parts     INTEGER,
    attributes          TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (bucket, key, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX object_versions_by_id ON object_versions (bucket, key, version_id);
