-- Public share links (issue #13 item 1, ADR 0010). The token is never stored: token_hash is
-- the hex SHA-256 of it (tokens carry 256 random bits, so a plain hash suffices). Times are
-- unix milliseconds, as everywhere in the metadata tables.
CREATE TABLE shares (
    id              TEXT    NOT NULL PRIMARY KEY,
    token_hash      TEXT    NOT NULL UNIQUE,
    account_id      TEXT    NOT NULL,
    creator_arn     TEXT    NOT NULL,
    bucket          TEXT    COLLATE "C" NOT NULL,
    key             TEXT    COLLATE "C" NOT NULL,
    filename        TEXT,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    max_downloads   BIGINT,
    downloads       BIGINT  NOT NULL DEFAULT 0,
    last_used_at    BIGINT,
    last_counted_at BIGINT,
    -- An optional password: its argon2id hash (PHC string). Wrong guesses are counted per
    -- link in a window starting at guesses_since, charged before the hash is computed.
    password_hash   TEXT,
    guesses         BIGINT  NOT NULL DEFAULT 0,
    guesses_since   BIGINT ,
    revoked         BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX shares_by_account ON shares (account_id, created_at);
