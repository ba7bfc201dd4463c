-- Presigned URLs an owner revoked (issue #13): a presigned URL signed at or before the
-- time (unix seconds) of its key, or of its key's user (every key and temporary credential
-- of that user), is refused. NULL: nothing revoked.
ALTER TABLE iam_access_keys ADD COLUMN presigned_not_before INTEGER;
ALTER TABLE iam_users ADD COLUMN presigned_not_before INTEGER;
