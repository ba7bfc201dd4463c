-- Encryption at rest (issue #14 item 5, ADR 0014).
-- A bucket's default encryption (PutBucketEncryption): JSON of the frontend's rule
-- {"algorithm": "AES256" | "aws:kms", "kms_key_id"?, "bucket_key"?}; NULL: none configured.
ALTER TABLE buckets ADD COLUMN encryption TEXT;

-- The platform's KMS keys (SSE-KMS), created by the platform admin. The key material is stored
-- only sealed under the gateway's SSE master key (AES-256-GCM, bound to the key's id): a reader
-- of this table learns the ids, never a key. account_id NULL: every account may use the key.
-- Times are unix milliseconds, as everywhere in the metadata tables.
CREATE TABLE kms_keys (
    id              TEXT    NOT NULL PRIMARY KEY,
    account_id      TEXT,
    sealed_material TEXT    NOT NULL,
    description     TEXT,
    created_at      INTEGER NOT NULL
);
