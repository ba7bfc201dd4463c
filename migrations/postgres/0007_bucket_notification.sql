-- S3 bucket notification rules (issue #12): JSON of cloudstore_events::notification::Rules,
-- like the policy opaque to the store.
ALTER TABLE buckets ADD COLUMN notification TEXT;
