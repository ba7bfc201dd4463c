-- Folder share links (issue #13 item 1, ADR 0010): TRUE when the link is of every object under
-- a prefix (its `key` is that prefix, empty or ending in "/"), FALSE for a one-object link.
ALTER TABLE shares ADD COLUMN folder BOOLEAN NOT NULL DEFAULT FALSE;
