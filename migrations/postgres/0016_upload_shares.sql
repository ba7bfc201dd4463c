-- Upload-only share links, file drops (issue #13 item 3, ADR 0015): NULL for a download link;
-- for an upload link, its rules as JSON owned by the gateway (max_bytes, content_types,
-- overwrite). An upload link's `key` is the prefix uploads go under, and max_downloads /
-- downloads count its uploads.
ALTER TABLE shares ADD COLUMN upload_rules TEXT;
