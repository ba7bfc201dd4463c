-- cloudstore metadata schema, SQLite flavour.
-- Text compares with the default BINARY collation (memcmp over UTF-8), i.e. S3 byte order.
-- Times are milliseconds since the Unix epoch (INTEGER).

CREATE TABLE buckets (
    name       TEXT    NOT NULL COLLATE BINARY PRIMARY KEY,
    owner      TEXT    NOT NULL,
    region     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE objects (
    bucket              TEXT    NOT NULL COLLATE BINARY REFERENCES buckets (name),
    key                 TEXT    NOT NULL COLLATE BINARY,
    size                INTEGER NOT NULL,
    etag                TEXT    NOT NULL,
    last_modified       INTEGER NOT NULL,
    content_type        TEXT,
    content_encoding    TEXT,
    content_disposition TEXT,
    content_language    TEXT,
    cache_control       TEXT,
    expires             TEXT,
    -- JSON object of x-amz-meta-* headers.
    user_metadata       TEXT    NOT NULL DEFAULT '{}',
    -- The object checksum, split so that listings need no JSON decoding.
    checksum_algorithm  TEXT,
    checksum_value      TEXT,
    checksum_type       TEXT,
    -- JSON array of BlobPart, in order.
    parts               TEXT    NOT NULL DEFAULT '[]',
    multipart_parts     INTEGER,
    PRIMARY KEY (bucket, key)
);

CREATE TABLE uploads (
    upload_id          TEXT    NOT NULL COLLATE BINARY PRIMARY KEY,
    bucket             TEXT    NOT NULL COLLATE BINARY REFERENCES buckets (name),
    key                TEXT    NOT NULL COLLATE BINARY,
    initiated          INTEGER NOT NULL,
    -- JSON of the metadata the completed object will carry.
    template           TEXT    NOT NULL,
    checksum_algorithm TEXT,
    checksum_type      TEXT
);
CREATE INDEX uploads_by_key ON uploads (bucket, key, upload_id);
CREATE INDEX uploads_by_initiated ON uploads (initiated);

CREATE TABLE parts (
    upload_id     TEXT    NOT NULL REFERENCES uploads (upload_id),
    part_number   INTEGER NOT NULL,
    blob          TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    etag          TEXT    NOT NULL,
    checksum      TEXT,
    last_modified INTEGER NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;

-- The collector's queue. A row is either a pending registration (not_before = its deadline)
-- or garbage (not_before = when it may be deleted). A commit deletes its blobs' rows.
CREATE TABLE blob_gc (
    blob       TEXT    NOT NULL PRIMARY KEY,
    not_before INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX blob_gc_due ON blob_gc (not_before, blob);
