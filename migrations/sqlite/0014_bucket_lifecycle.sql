-- A bucket's lifecycle configuration (issue #14 item 3): JSON of the frontend's lifecycle rules
-- (s3-frontend/src/lifecycle.rs); NULL: none configured.
ALTER TABLE buckets ADD COLUMN lifecycle TEXT;
