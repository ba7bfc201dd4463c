-- ACLs and Object Ownership of a bucket (issue #13 item 4, ADR 0013), opaque to the store like
-- the policy: `acl` is JSON of the frontend's grants (s3-frontend/src/acl.rs; NULL: the
-- default, the owner's FULL_CONTROL), `object_ownership` the Object Ownership setting
-- (BucketOwnerEnforced, BucketOwnerPreferred, ObjectWriter; "none" after
-- DeleteBucketOwnershipControls; NULL on buckets made before it existed: BucketOwnerEnforced).
ALTER TABLE buckets ADD COLUMN acl TEXT;
ALTER TABLE buckets ADD COLUMN object_ownership TEXT;
