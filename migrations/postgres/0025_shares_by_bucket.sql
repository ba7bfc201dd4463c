-- The policy explain tool lists the live share links that make an object public (issue #13
-- item 4, ADR 0010): links are found by bucket (and key) instead of by account.
CREATE INDEX shares_by_bucket ON shares (bucket, key);
