-- Group commit: the PUT commits of concurrent requests share one statement and one
-- transaction (one round trip, one WAL flush), see crates/store-postgres/src/batch.rs.
--
-- put_object() is redefined so that a reclaimed pending blob is found before anything is
-- written, and returned (3) instead of raised: one item of a batch can then fail without
-- undoing the others, and no subtransaction is needed. The pending rows are locked first
-- (FOR UPDATE); the collector's claim deletes the same rows, so it waits for this transaction
-- and then finds them gone (written) or still there (refused: they stay pending until their
-- deadline), or it claimed them before and this finds them missing. Either way exactly one of
-- the two wins, as before.
--
-- Returns 0 when the object was written, else why not, having written nothing:
--   1  no such bucket     2  precondition failed     3  a pending blob was reclaimed
--   4  too many lost races (Conflict)

CREATE OR REPLACE FUNCTION put_object(
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
    p_blobs               TEXT[],
    p_claim               BOOLEAN,
    p_if_match            TEXT,
    p_if_none_match       BOOLEAN,
    p_not_before          BIGINT
) RETURNS INTEGER
LANGUAGE plpgsql
AS $$
DECLARE
    old_etag  TEXT;
    old_parts TEXT;
    written   BOOLEAN := false;
    pending   BIGINT;
BEGIN
    -- delete_bucket takes FOR UPDATE on the bucket row, so it waits for this transaction.
    PERFORM 1 FROM buckets WHERE name = p_bucket FOR KEY SHARE;
    IF NOT FOUND THEN
        RETURN 1;
    END IF;

    IF p_if_none_match AND p_if_match IS NOT NULL THEN
        RETURN 2;
    END IF;

    -- The pending registrations this write clears, locked until it commits.
    IF p_claim THEN
        SELECT count(*) INTO pending
          FROM (SELECT 1 FROM blob_gc WHERE blob = ANY (p_blobs) FOR UPDATE) AS locked;
        IF pending <> cardinality(p_blobs) THEN
            RETURN 3;
        END IF;
    END IF;

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
        IF p_if_none_match THEN
            RETURN 2;
        END IF;
    END LOOP;
    IF NOT written THEN
        RETURN 4;
    END IF;

    IF p_claim THEN
        DELETE FROM blob_gc WHERE blob = ANY (p_blobs);
    END IF;

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

-- Several PUT commits in one transaction: item i is put_object() of element i of every array
-- (claiming its pending blobs: the elements of p_blob whose p_blob_item is i), in array order.
-- The caller orders the items by (bucket, key), so two batches lock object rows in the same
-- order and cannot deadlock. Returns put_object()'s code for each item, in order; the items
-- that return non-zero wrote nothing, the others commit together.
-- Its statements (and put_object's, called from here) use generic plans: the array arguments
-- otherwise make PostgreSQL plan them anew on every call (a fifth of its CPU per PUT, measured).
CREATE FUNCTION put_objects(
    p_bucket              TEXT[],
    p_key                 TEXT[],
    p_size                BIGINT[],
    p_etag                TEXT[],
    p_last_modified       BIGINT[],
    p_content_type        TEXT[],
    p_content_encoding    TEXT[],
    p_content_disposition TEXT[],
    p_content_language    TEXT[],
    p_cache_control       TEXT[],
    p_expires             TEXT[],
    p_user_metadata       TEXT[],
    p_checksum_algorithm  TEXT[],
    p_checksum_value      TEXT[],
    p_checksum_type       TEXT[],
    p_parts               TEXT[],
    p_multipart_parts     INTEGER[],
    p_blob                TEXT[],
    p_blob_item           INTEGER[],
    p_if_match            TEXT[],
    p_if_none_match       BOOLEAN[],
    p_not_before          BIGINT[]
) RETURNS INTEGER[]
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    codes INTEGER[] := '{}';
BEGIN
    FOR i IN 1..coalesce(cardinality(p_key), 0) LOOP
        codes := codes || put_object(
            p_bucket[i], p_key[i], p_size[i], p_etag[i], p_last_modified[i], p_content_type[i],
            p_content_encoding[i], p_content_disposition[i], p_content_language[i], p_cache_control[i],
            p_expires[i], p_user_metadata[i], p_checksum_algorithm[i], p_checksum_value[i],
            p_checksum_type[i], p_parts[i], p_multipart_parts[i],
            ARRAY(SELECT b FROM unnest(p_blob, p_blob_item) AS t(b, item) WHERE item = i),
            true, p_if_match[i], p_if_none_match[i], p_not_before[i]);
    END LOOP;
    RETURN codes;
END;
$$;
