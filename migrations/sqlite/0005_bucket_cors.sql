-- S3 bucket CORS configuration (issue #13): JSON of the frontend's CORS rules
-- (s3-frontend/src/cors.rs), like the policy opaque to the store.
ALTER TABLE buckets ADD COLUMN cors TEXT;
