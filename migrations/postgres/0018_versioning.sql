-- Versioning (issue #14 item 1, ADR 0017).
-- `buckets.versioning`: NULL (never versioned), 'Enabled' or 'Suspended'.
-- `objects` stays the CURRENT version of each key (its version id lives in the attributes JSON,
-- absent = the "null" version), so GET, HEAD, ListObjects and the PUT functions are unchanged.
-- `object_versions` holds every NONCURRENT version and every delete marker, newest first by
-- `seq` per key (a key whose newest entry here is a marker and that has no `objects` row is
-- "deleted"). `version_id` is 'null' for the null version (a real id is never "null").
ALTER TABLE buckets ADD COLUMN versioning TEXT;

CREATE TABLE object_versions (
    bucket              TEXT    COLLATE "C" NOT NULL REFERENCES buckets (name),
    key                 TEXT    COLLATE "C" NOT NULL,
    seq                 BIGINT  NOT NULL,
    version_id          TEXT    COLLATE "C" NOT NULL,
    is_delete_marker    BOOLEAN NOT NULL,
    size                BIGINT  NOT NULL,
    etag                TEXT    NOT NULL,
    last_modified       BIGINT  NOT NULL,
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
);
CREATE UNIQUE INDEX object_versions_by_id ON object_versions (bucket, key, version_id);
