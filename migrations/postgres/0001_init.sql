-- cloudstore metadata schema, PostgreSQL flavour.
-- Every column that is compared or ordered uses COLLATE "C" (byte order of UTF-8), which is
-- how S3 sorts keys, whatever the database's default collation.
-- Times are milliseconds since the Unix epoch (BIGINT).

CREATE TABLE buckets (
    name       TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
    owner      TEXT   NOT NULL,
    region     TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE objects (
    bucket              TEXT    COLLATE "C" NOT NULL REFERENCES buckets (name),
    key                 TEXT    COLLATE "C" NOT NULL,
    size                BIGINT  NOT NULL,
    etag                TEXT    NOT NULL,
    last_modified       BIGINT  NOT NULL,
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
    upload_id          TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
    bucket             TEXT   COLLATE "C" NOT NULL REFERENCES buckets (name),
    key                TEXT   COLLATE "C" NOT NULL,
    initiated          BIGINT NOT NULL,
    -- JSON of the metadata the completed object will carry.
    template           TEXT   NOT NULL,
    checksum_algorithm TEXT,
    checksum_type      TEXT
);
CREATE INDEX uploads_by_key ON uploads (bucket, key, upload_id);
CREATE INDEX uploads_by_initiated ON uploads (initiated);

CREATE TABLE parts (
    upload_id     TEXT    COLLATE "C" NOT NULL REFERENCES uploads (upload_id),
    part_number   INTEGER NOT NULL,
    blob          TEXT    NOT NULL,
    size          BIGINT  NOT NULL,
    etag          TEXT    NOT NULL,
    checksum      TEXT,
    last_modified BIGINT  NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);

-- The collector's queue. A row is either a pending registration (not_before = its deadline)
-- or garbage (not_before = when it may be deleted). A commit deletes its blobs' rows.
CREATE TABLE blob_gc (
    blob       TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
    not_before BIGINT NOT NULL
);
CREATE INDEX blob_gc_due ON blob_gc (not_before, blob);
