-- Object lock (issue #14 item 2, ADR 0018).
-- `buckets.object_lock`: NULL (object lock not enabled) or the bucket's configuration as the
-- frontend writes it (JSON: enabled, and the default retention's mode with days or years).
-- Per-version retention and legal hold live in the object attributes JSON (ADR 0012:
-- `lock_mode`, `retain_until`, `legal_hold`), checked by the store in the transaction that
-- would remove a version.
ALTER TABLE buckets ADD COLUMN object_lock TEXT;
