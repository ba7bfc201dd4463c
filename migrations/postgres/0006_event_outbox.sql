-- The transactional outbox of the events pipeline (ADR 0006): every change that users see
-- writes its event here in its own transaction; the relay publishes rows to Kafka (or the local
-- event store) and removes them. Ids are handed out at insert, before commit: the relay never
-- keeps a high-water mark, it reads whatever is still here, oldest id first.
CREATE TABLE event_outbox (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key        TEXT   NOT NULL,
    body       TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

-- One relay at a time publishes (the lease's owner until `until_ms`): the outbox leaves in
-- commit order per key, and concurrent relays do not publish the same rows.
CREATE TABLE outbox_lease (
    name     TEXT   PRIMARY KEY,
    owner    TEXT   NOT NULL,
    until_ms BIGINT NOT NULL
);

-- PUT commits with their events, still one statement per batch: `put_objects` (0004, 0005)
-- then one outbox row per item that was written (code 0), in item order, in the same
-- transaction. One element of `p_event_key`/`p_event_body`/`p_event_item` per event; the item
-- is the 1-based position of the write it belongs to.
CREATE OR REPLACE FUNCTION put_objects_with_events(
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
        p_multipart_parts, p_blob, p_blob_item, p_if_match, p_if_none_match, p_not_before);
    INSERT INTO event_outbox (key, body, created_at)
    SELECT e.k, e.b, p_now
    FROM unnest(p_event_key, p_event_body, p_event_item) WITH ORDINALITY AS e(k, b, item, i)
    WHERE codes[e.item] = 0
    ORDER BY e.i;
    RETURN codes;
END;
$$;
