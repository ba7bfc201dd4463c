-- cloudstore IAM schema (sqlite flavour): accounts, users, groups, roles, policies, access keys.
-- Times are seconds since the Unix epoch. Names are unique case-insensitively (as in AWS IAM),
-- through the lowercase *_key columns. Secrets are stored sealed (AES-256-GCM), never plain.

-- Buckets get an optional bucket policy (the JSON document as given).
ALTER TABLE buckets ADD COLUMN policy TEXT;

CREATE TABLE iam_accounts (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    name_key   TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE iam_users (
    id            TEXT    NOT NULL PRIMARY KEY,
    account_id    TEXT    NOT NULL REFERENCES iam_accounts (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    name_key      TEXT    NOT NULL,
    path          TEXT    NOT NULL,
    is_root       BOOLEAN NOT NULL,
    email         TEXT,
    display_name  TEXT,
    password_hash TEXT,
    created_at    INTEGER NOT NULL,
    UNIQUE (account_id, name_key)
);

CREATE TABLE iam_groups (
    id         TEXT    NOT NULL PRIMARY KEY,
    account_id TEXT    NOT NULL REFERENCES iam_accounts (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    name_key   TEXT    NOT NULL,
    path       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (account_id, name_key)
);

CREATE TABLE iam_group_members (
    group_id TEXT NOT NULL REFERENCES iam_groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES iam_users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX iam_group_members_user ON iam_group_members (user_id);

CREATE TABLE iam_roles (
    id                   TEXT    NOT NULL PRIMARY KEY,
    account_id           TEXT    NOT NULL REFERENCES iam_accounts (id) ON DELETE CASCADE,
    name                 TEXT    NOT NULL,
    name_key             TEXT    NOT NULL,
    path                 TEXT    NOT NULL,
    trust_policy         TEXT    NOT NULL,
    description          TEXT,
    max_session_secs     INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    UNIQUE (account_id, name_key)
);

-- Inline policies of a user, group or role (owner_kind 'user' | 'group' | 'role').
CREATE TABLE iam_inline_policies (
    owner_kind TEXT NOT NULL,
    owner_id   TEXT NOT NULL,
    name       TEXT NOT NULL,
    document   TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, name)
);

CREATE TABLE iam_managed_policies (
    id          TEXT    NOT NULL PRIMARY KEY,
    account_id  TEXT    NOT NULL REFERENCES iam_accounts (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    name_key    TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    arn         TEXT    NOT NULL UNIQUE,
    document    TEXT    NOT NULL,
    description TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (account_id, name_key)
);

CREATE TABLE iam_policy_attachments (
    policy_id  TEXT NOT NULL REFERENCES iam_managed_policies (id) ON DELETE CASCADE,
    owner_kind TEXT NOT NULL,
    owner_id   TEXT NOT NULL,
    PRIMARY KEY (policy_id, owner_kind, owner_id)
);
CREATE INDEX iam_policy_attachments_owner ON iam_policy_attachments (owner_kind, owner_id);

CREATE TABLE iam_access_keys (
    id            TEXT    NOT NULL PRIMARY KEY,
    user_id       TEXT    NOT NULL REFERENCES iam_users (id) ON DELETE CASCADE,
    account_id    TEXT    NOT NULL,
    secret_sealed TEXT    NOT NULL,
    active        BOOLEAN NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
);
CREATE INDEX iam_access_keys_user ON iam_access_keys (user_id);
