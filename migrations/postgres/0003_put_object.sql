-- put_object(): the metadata write that makes an object live, as one statement, so that a
-- PUT costs one round trip instead of a transaction of six or seven. The caller runs it in
-- autocommit (PgMetadataStore::put_object) or inside its own transaction (complete_upload).
--
-- The protocol is the one described in the module docs of crates/store-postgres: a key-share
-- lock on the bucket; If-None-Match is an insert that does nothing on conflict; otherwise the
-- current row is read FOR UPDATE and replaced, or inserted when there is none, trying again
-- when a concurrent insert won. A PL/pgSQL function is VOLATILE, so each of its statements
-- takes a new snapshot (READ COMMITTED) and sees the winner of such a race.
--
-- Returns 0 when the object was written, else why not, having written nothing:
--   1  no such bucket     2  precondition failed     4  too many lost races (Conflict)
-- (returned, not raised: clients cause 412s at will, and a raised error is a server log line).
-- A blob no longer pending (the collector reclaimed it) is found after the write, so that one
-- is raised, SQLSTATE CS003, which undoes the statement.
-- Times are computed by the caller (milliseconds since the epoch), never by the database.

CREATE FUNCTION put_object(
    -- The columns of `objects`, in table order.
    p_bucket              TEXT,
    p_key                 TEXT,
    p_size                BIGINT,
    p_etag                TEXT,
    p_last_modified       BIGINT,
    p_content_type        TEXT,
    p_content_encoding    TEXT,
    p_content_disposition TEXT,
    p_content_language    TEXT,
    p_cache_control       TEXT,
    p_expires             TEXT,
    p_user_metadata       TEXT,
    p_checksum_algorithm  TEXT,
    p_checksum_value      TEXT,
    p_checksum_type       TEXT,
    p_parts               TEXT,
    p_multipart_parts     INTEGER,
    -- The distinct blob ids of p_parts.
    p_blobs               TEXT[],
    -- Whether p_blobs are pending registrations to clear (a PUT), or parts of a completed
    -- multipart upload (not registered).
    p_claim               BOOLEAN,
    -- If-Match (NULL when absent) and If-None-Match: *.
    p_if_match            TEXT,
    p_if_none_match       BOOLEAN,
    -- When the blobs of a replaced object may be collected.
    p_not_before          BIGINT
) RETURNS INTEGER
LANGUAGE plpgsql
AS $$
DECLARE
    old_etag  TEXT;
    -- The replaced object's parts; NULL unless an object was replaced.
    old_parts TEXT;
    written   BOOLEAN := false;
    claimed   BIGINT;
BEGIN
    -- delete_bucket takes FOR UPDATE on the bucket row, so it waits for this transaction.
    PERFORM 1 FROM buckets WHERE name = p_bucket FOR KEY SHARE;
    IF NOT FOUND THEN
        RETURN 1;
    END IF;

    -- With both If-Match and If-None-Match, no state satisfies both.
    IF p_if_none_match AND p_if_match IS NOT NULL THEN
        RETURN 2;
    END IF;
    -- As many rounds as WRITE_ATTEMPTS in the Rust store: each extra round means a concurrent
    -- writer created and then deleted the row meanwhile. If-None-Match only ever inserts.
    FOR attempt IN 1..16 LOOP
        IF NOT p_if_none_match THEN
            SELECT etag, parts INTO old_etag, old_parts
              FROM objects WHERE bucket = p_bucket AND key = p_key FOR UPDATE;
            IF FOUND THEN
                IF p_if_match IS NOT NULL AND p_if_match <> old_etag THEN
                    RETURN 2;
                END IF;
                UPDATE objects SET size = p_size, etag = p_etag, last_modified = p_last_modified,
                       content_type = p_content_type, content_encoding = p_content_encoding,
                       content_disposition = p_content_disposition, content_language = p_content_language,
                       cache_control = p_cache_control, expires = p_expires, user_metadata = p_user_metadata,
                       checksum_algorithm = p_checksum_algorithm, checksum_value = p_checksum_value,
                       checksum_type = p_checksum_type, parts = p_parts, multipart_parts = p_multipart_parts
                 WHERE bucket = p_bucket AND key = p_key;
                written := true;
                EXIT;
            END IF;
            IF p_if_match IS NOT NULL THEN
                RETURN 2;
            END IF;
        END IF;
        INSERT INTO objects (bucket, key, size, etag, last_modified, content_type, content_encoding,
                             content_disposition, content_language, cache_control, expires, user_metadata,
                             checksum_algorithm, checksum_value, checksum_type, parts, multipart_parts)
        VALUES (p_bucket, p_key, p_size, p_etag, p_last_modified, p_content_type, p_content_encoding,
                p_content_disposition, p_content_language, p_cache_control, p_expires, p_user_metadata,
                p_checksum_algorithm, p_checksum_value, p_checksum_type, p_parts, p_multipart_parts)
        ON CONFLICT (bucket, key) DO NOTHING;
        written := FOUND;
        EXIT WHEN written;
        -- The key exists: If-None-Match fails; otherwise a concurrent insert won, and the next
        -- round reads and replaces it.
        IF p_if_none_match THEN
            RETURN 2;
        END IF;
    END LOOP;
    IF NOT written THEN
        RETURN 4;
    END IF;

    -- Clear the pending registrations. The collector's claim deletes the same rows, so the
    -- row lock makes exactly one of the two win.
    IF p_claim THEN
        DELETE FROM blob_gc WHERE blob = ANY (p_blobs);
        GET DIAGNOSTICS claimed = ROW_COUNT;
        IF claimed <> cardinality(p_blobs) THEN
            RAISE SQLSTATE 'CS003' USING MESSAGE = 'pending blob was reclaimed before commit';
        END IF;
    END IF;

    -- Queue the replaced object's blobs that the new one does not reuse, keeping a later time
    -- if one is queued already.
    IF old_parts IS NOT NULL THEN
        INSERT INTO blob_gc (blob, not_before)
        SELECT DISTINCT part ->> 'blob', p_not_before
          FROM json_array_elements(old_parts::json) AS part
         WHERE part ->> 'blob' <> ALL (p_blobs)
        ON CONFLICT (blob) DO UPDATE SET not_before = GREATEST(blob_gc.not_before, EXCLUDED.not_before);
    END IF;
    RETURN 0;
END;
$$;
