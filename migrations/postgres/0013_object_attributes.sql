-- Object attributes (ADR 0012): one JSON column for what an object carries beyond its HTTP
-- metadata -- its tags first; ACL grants and encryption parameters join it as fields -- so that
-- each new per-object feature needs no new column and no new version of the PUT functions.
-- `put_object`, `put_objects` and `put_objects_with_events` are redefined with one argument
-- more, `p_attributes`, right after `p_multipart_parts`; their bodies are those of migrations
-- 0004, 0005 and 0006 with the column added to each INSERT and UPDATE.

ALTER TABLE objects ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';

-- A bucket's tag set (PutBucketTagging), a JSON array of {key, value}; NULL when it has none.
ALTER TABLE buckets ADD COLUMN tagging TEXT;

DROP FUNCTION put_objects_with_events(TEXT[], TEXT[], BIGINT[], TEXT[], BIGINT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], INTEGER[], TEXT[], INTEGER[], TEXT[], BOOLEAN[], BIGINT[], TEXT[], TEXT[], INTEGER[], BIGINT);
DROP FUNCTION put_objects(TEXT[], TEXT[], BIGINT[], TEXT[], BIGINT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], INTEGER[], TEXT[], INTEGER[], TEXT[], BOOLEAN[], BIGINT[]);
DROP FUNCTION put_object(TEXT, TEXT, BIGINT, TEXT, BIGINT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, INTEGER, TEXT[], BOOLEAN, TEXT, BOOLEAN, BIGINT);

-- put_object of migration 0004, with p_attributes.
CREATE FUNCTION put_object(
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
    p_attributes          TEXT,
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
                       checksum_type = p_checksum_type, parts = p_parts, multipart_parts = p_multipart_parts,
                       attributes = p_attributes
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
                             checksum_algorithm, checksum_value, checksum_type, parts, multipart_parts, attributes)
        VALUES (p_bucket, p_key, p_size, p_etag, p_last_modified, p_content_type, p_content_encoding,
                p_content_disposition, p_content_language, p_cache_control, p_expires, p_user_metadata,
                p_checksum_algorithm, p_checksum_value, p_checksum_type, p_parts, p_multipart_parts, p_attributes)
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

-- put_objects of migration 0005, with p_attributes.
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
    p_attributes          TEXT[],
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
    codes      INTEGER[] := '{}';
    n_blobs    INTEGER := coalesce(cardinality(p_blob), 0);
    next_blob  INTEGER := 1;
    first_blob INTEGER;
    blobs      TEXT[];
    cur_bucket TEXT;
    bucket_ok  BOOLEAN := false;
    code       INTEGER;
    claimed    TEXT[];
    claimed_nb BIGINT[];
    old_parts  TEXT;
BEGIN
    FOR i IN 1..coalesce(cardinality(p_key), 0) LOOP
        first_blob := next_blob;
        WHILE next_blob <= n_blobs AND p_blob_item[next_blob] = i LOOP
            next_blob := next_blob + 1;
        END LOOP;
        blobs := coalesce(p_blob[first_blob:next_blob - 1], '{}');

        IF i = 1 OR cur_bucket IS DISTINCT FROM p_bucket[i] THEN
            cur_bucket := p_bucket[i];
            -- delete_bucket takes FOR UPDATE on the bucket row, so it waits for this transaction.
            PERFORM 1 FROM buckets WHERE name = cur_bucket FOR KEY SHARE;
            bucket_ok := FOUND;
        END IF;

        IF NOT bucket_ok THEN
            code := 1;
        ELSIF p_if_match[i] IS NOT NULL OR p_if_none_match[i] IS NOT FALSE THEN
            code := put_object(
                p_bucket[i], p_key[i], p_size[i], p_etag[i], p_last_modified[i], p_content_type[i],
                p_content_encoding[i], p_content_disposition[i], p_content_language[i], p_cache_control[i],
                p_expires[i], p_user_metadata[i], p_checksum_algorithm[i], p_checksum_value[i],
                p_checksum_type[i], p_parts[i], p_multipart_parts[i], p_attributes[i], blobs, true, p_if_match[i],
                p_if_none_match[i], p_not_before[i]);
        ELSE
            old_parts := NULL;
            -- Claim the pending registrations (the collector's claim deletes the same rows, so
            -- the two never both get a row).
            WITH gone AS (DELETE FROM blob_gc WHERE blob = ANY (blobs) RETURNING blob, not_before)
            SELECT coalesce(array_agg(blob), '{}'), coalesce(array_agg(not_before), '{}')
              INTO claimed, claimed_nb FROM gone;
            IF cardinality(claimed) <> cardinality(blobs) THEN
                code := 3;
            ELSE
                code := 4;
                FOR attempt IN 1..16 LOOP
                    INSERT INTO objects (bucket, key, size, etag, last_modified, content_type,
                                         content_encoding, content_disposition, content_language,
                                         cache_control, expires, user_metadata, checksum_algorithm,
                                         checksum_value, checksum_type, parts, multipart_parts, attributes)
                    VALUES (p_bucket[i], p_key[i], p_size[i], p_etag[i], p_last_modified[i],
                            p_content_type[i], p_content_encoding[i], p_content_disposition[i],
                            p_content_language[i], p_cache_control[i], p_expires[i],
                            p_user_metadata[i], p_checksum_algorithm[i], p_checksum_value[i],
                            p_checksum_type[i], p_parts[i], p_multipart_parts[i], p_attributes[i])
                    ON CONFLICT (bucket, key) DO NOTHING;
                    IF FOUND THEN
                        code := 0;
                        EXIT;
                    END IF;
                    -- The key exists: replace it, keeping what it pointed at for the collector.
                    SELECT parts INTO old_parts
                      FROM objects WHERE bucket = p_bucket[i] AND key = p_key[i] FOR UPDATE;
                    IF FOUND THEN
                        UPDATE objects SET size = p_size[i], etag = p_etag[i],
                               last_modified = p_last_modified[i], content_type = p_content_type[i],
                               content_encoding = p_content_encoding[i],
                               content_disposition = p_content_disposition[i],
                               content_language = p_content_language[i],
                               cache_control = p_cache_control[i], expires = p_expires[i],
                               user_metadata = p_user_metadata[i],
                               checksum_algorithm = p_checksum_algorithm[i],
                               checksum_value = p_checksum_value[i],
                               checksum_type = p_checksum_type[i], parts = p_parts[i],
                               multipart_parts = p_multipart_parts[i],
                               attributes = p_attributes[i]
                         WHERE bucket = p_bucket[i] AND key = p_key[i];
                        code := 0;
                        EXIT;
                    END IF;
                    -- Deleted meanwhile: try the insert again.
                END LOOP;
            END IF;
            IF code <> 0 THEN
                -- Refused: the registrations this took go back as they were.
                INSERT INTO blob_gc (blob, not_before)
                SELECT * FROM unnest(claimed, claimed_nb);
            ELSIF old_parts IS NOT NULL THEN
                INSERT INTO blob_gc (blob, not_before)
                SELECT DISTINCT part ->> 'blob', p_not_before[i]
                  FROM json_array_elements(old_parts::json) AS part
                 WHERE part ->> 'blob' <> ALL (blobs)
                ON CONFLICT (blob) DO UPDATE
                   SET not_before = GREATEST(blob_gc.not_before, EXCLUDED.not_before);
            END IF;
        END IF;
        codes := codes || code;
    END LOOP;
    IF next_blob <= n_blobs THEN
        -- Blobs not grouped by item in item order: refuse the batch (nothing is written).
        RAISE EXCEPTION 'put_objects: p_blob_item must group the blobs by item, in item order';
    END IF;
    RETURN codes;
END;
$$;

-- put_objects_with_events of migration 0006, with p_attributes.
CREATE FUNCTION put_objects_with_events(
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
    p_attributes          TEXT[],
    p_blob                TEXT[],
    p_blob_item           INTEGER[],
    p_if_match            TEXT[],
    p_if_none_match       BOOLEAN[],
    p_not_before          BIGINT[],
    p_event_key           TEXT[],
    p_event_body          TEXT[],
    p_event_item          INTEGER[],
    p_now                 BIGINT
) RETURNS INTEGER[]
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    codes INTEGER[];
BEGIN
    codes := put_objects(p_bucket, p_key, p_size, p_etag, p_last_modified, p_content_type,
        p_content_encoding, p_content_disposition, p_content_language, p_cache_control, p_expires,
        p_user_metadata, p_checksum_algorithm, p_checksum_value, p_checksum_type, p_parts,
        p_multipart_parts, p_attributes, p_blob, p_blob_item, p_if_match, p_if_none_match, p_not_before);
    INSERT INTO event_outbox (key, body, created_at)
    SELECT e.k, e.b, p_now
    FROM unnest(p_event_key, p_event_body, p_event_item) WITH ORDINALITY AS e(k, b, item, i)
    WHERE codes[e.item] = 0
    ORDER BY e.i;
    RETURN codes;
END;
$$;
