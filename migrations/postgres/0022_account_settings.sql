-- Account-wide settings of the S3 data plane (issue #13 item 4): the S3 Control API's Block
-- Public Access (JSON as buckets.public_access_block). No row, or NULL: not configured.
CREATE TABLE account_settings (
    account_id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    public_access_block TEXT
);
