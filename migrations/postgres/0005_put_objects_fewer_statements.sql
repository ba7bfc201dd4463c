-- put_objects with fewer statements per PUT (same signature, same outcomes as migration 0004).
--
-- A PostgreSQL profile of 4 KiB PUTs showed two thirds of the database's CPU in executing the
-- statements of put_object, about six per PUT (bucket lock, pending-blob lock, object read,
-- insert, pending-blob delete, and the subquery that picked the item's blobs out of the
-- arrays). This version runs the items in a loop of its own:
--   - the bucket row is locked once per bucket of the batch, not once per item (the items come
--     sorted by bucket and key, so it is locked when its first item comes; a bucket found
--     missing stays missing for the rest of the batch, as if the batch ran a moment earlier);
--   - an item's blobs are a slice of p_blob (the caller sends them grouped by item, in item
--     order; a batch that is not is refused whole, and the caller then runs each item alone);
--   - an unconditional write deletes its pending rows first (one statement that locks them just
--     as FOR UPDATE does) and then tries the insert of a new row; only when the key exists does
--     it read the old row FOR UPDATE and replace it. If a pending row was gone (reclaimed) or the
--     write lost too many races, the deleted rows are put back as they were, so that, as before,
--     a refused item leaves its blobs pending until their deadline. (A collector's claim that
--     was waiting on such a row then finds it gone and claims nothing; it claims the row put
--     back on its next pass. With 0004 it claimed it at once.)
--   A new key costs two statements, a replaced one three (and one more to queue the old blobs).
-- Conditional writes (If-Match, If-None-Match) call put_object as before.
--
-- Lock order is unchanged: bucket row, pending blob rows, object row, item after item in
-- (bucket, key) order, so concurrent batches cannot deadlock.

CREATE OR REPLACE FUNCTION put_objects(
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
                p_checksum_type[i], p_parts[i], p_multipart_parts[i], blobs, true, p_if_match[i],
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
                                         checksum_value, checksum_type, parts, multipart_parts)
                    VALUES (p_bucket[i], p_key[i], p_size[i], p_etag[i], p_last_modified[i],
                            p_content_type[i], p_content_encoding[i], p_content_disposition[i],
                            p_content_language[i], p_cache_control[i], p_expires[i],
                            p_user_metadata[i], p_checksum_algorithm[i], p_checksum_value[i],
                            p_checksum_type[i], p_parts[i], p_multipart_parts[i])
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
                               multipart_parts = p_multipart_parts[i]
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
