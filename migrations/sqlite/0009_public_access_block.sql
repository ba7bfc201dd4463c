-- Block Public Access of a bucket (issue #13 item 4): JSON {"block_public_acls", "ignore_public_acls",
-- "block_public_policy", "restrict_public_buckets"}; NULL: none configured.
ALTER TABLE buckets ADD COLUMN public_access_block TEXT;
