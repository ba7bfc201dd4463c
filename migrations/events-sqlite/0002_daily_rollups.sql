-- Daily sums for the two questions that read every event of a range (traffic and top
-- principals), so they answer from a few thousand rows instead of millions (docs/analytics.md,
-- docs/benchmarks.md). Kept by triggers, which fire only for rows actually inserted (an event
-- ignored by INSERT OR IGNORE as already stored adds nothing). The analytics use them when the
-- range is whole UTC days (or open); other ranges read the events.
CREATE TABLE IF NOT EXISTS traffic_daily (
    day            INTEGER NOT NULL,
    account_id     TEXT    NOT NULL,
    user_id        TEXT    NOT NULL,
    access_key     TEXT    NOT NULL,
    bucket         TEXT    NOT NULL,
    uploads        INTEGER NOT NULL,
    upload_bytes   INTEGER NOT NULL,
    downloads      INTEGER NOT NULL,
    download_bytes INTEGER NOT NULL,
    PRIMARY KEY (day, account_id, user_id, access_key, bucket)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS traffic_daily_account ON traffic_daily (account_id, day);

CREATE TABLE IF NOT EXISTS principal_daily (
    day            INTEGER NOT NULL,
    account_id     TEXT    NOT NULL,
    principal_arn  TEXT    NOT NULL,
    uploads        INTEGER NOT NULL,
    upload_bytes   INTEGER NOT NULL,
    downloads      INTEGER NOT NULL,
    download_bytes INTEGER NOT NULL,
    requests       INTEGER NOT NULL,
    PRIMARY KEY (day, account_id, principal_arn)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS principal_daily_account ON principal_daily (account_id, day);

-- Events stored before these tables existed.
INSERT INTO traffic_daily
SELECT occurred_at / 86400000, account_id, user_id, access_key, bucket,
       sum(CASE WHEN event_type = 'file_downloaded' THEN 0 ELSE 1 END),
       sum(CASE WHEN event_type = 'file_downloaded' THEN 0 ELSE bytes END),
       sum(CASE WHEN event_type = 'file_downloaded' THEN 1 ELSE 0 END),
       sum(CASE WHEN event_type = 'file_downloaded' THEN bytes ELSE 0 END)
FROM events WHERE event_type IN ('file_uploaded', 'multipart_completed', 'file_downloaded')
GROUP BY 1, 2, 3, 4, 5;

INSERT INTO principal_daily
SELECT occurred_at / 86400000, account_id, principal_arn,
       sum(CASE WHEN event_type IN ('file_uploaded', 'multipart_completed') THEN 1 ELSE 0 END),
       sum(CASE WHEN event_type IN ('file_uploaded', 'multipart_completed') THEN bytes ELSE 0 END),
       sum(CASE WHEN event_type = 'file_downloaded' THEN 1 ELSE 0 END),
       sum(CASE WHEN event_type = 'file_downloaded' THEN bytes ELSE 0 END),
       count(*)
FROM events GROUP BY 1, 2, 3;

CREATE TRIGGER IF NOT EXISTS events_traffic_daily AFTER INSERT ON events
WHEN NEW.event_type IN ('file_uploaded', 'multipart_completed', 'file_downloaded')
BEGIN
    INSERT INTO traffic_daily VALUES (
        NEW.occurred_at / 86400000, NEW.account_id, NEW.user_id, NEW.access_key, NEW.bucket,
        CASE WHEN NEW.event_type = 'file_downloaded' THEN 0 ELSE 1 END,
        CASE WHEN NEW.event_type = 'file_downloaded' THEN 0 ELSE NEW.bytes END,
        CASE WHEN NEW.event_type = 'file_downloaded' THEN 1 ELSE 0 END,
        CASE WHEN NEW.event_type = 'file_downloaded' THEN NEW.bytes ELSE 0 END)
    ON CONFLICT (day, account_id, user_id, access_key, bucket) DO UPDATE SET
        uploads = uploads + excluded.uploads,
        upload_bytes = upload_bytes + excluded.upload_bytes,
        downloads = downloads + excluded.downloads,
        download_bytes = download_bytes + excluded.download_bytes;
END;

CREATE TRIGGER IF NOT EXISTS events_principal_daily AFTER INSERT ON events
BEGIN
    INSERT INTO principal_daily VALUES (
        NEW.occurred_at / 86400000, NEW.account_id, NEW.principal_arn,
        CASE WHEN NEW.event_type IN ('file_uploaded', 'multipart_completed') THEN 1 ELSE 0 END,
        CASE WHEN NEW.event_type IN ('file_uploaded', 'multipart_completed') THEN NEW.bytes ELSE 0 END,
        CASE WHEN NEW.event_type = 'file_downloaded' THEN 1 ELSE 0 END,
        CASE WHEN NEW.event_type = 'file_downloaded' THEN NEW.bytes ELSE 0 END,
        1)
    ON CONFLICT (day, account_id, principal_arn) DO UPDATE SET
        uploads = uploads + excluded.uploads,
        upload_bytes = upload_bytes + excluded.upload_bytes,
        downloads = downloads + excluded.downloads,
        download_bytes = download_bytes + excluded.download_bytes,
        requests = requests + excluded.requests;
END;
