-- Object attributes (ADR 0012): one JSON column for what an object carries beyond its HTTP
-- metadata -- its tags first; ACL grants and encryption parameters join it as fields.
ALTER TABLE objects ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';

-- A bucket's tag set (PutBucketTagging), a JSON array of {key, value}; NULL when it has none.
ALTER TABLE buckets ADD COLUMN tagging TEXT;
