-- nøgle schema, SQLite. Times are Unix seconds; secrets are stored only as digests.
CREATE TABLE users (
    sub             TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    blocked         BOOLEAN NOT NULL DEFAULT FALSE,
    failed_attempts BIGINT NOT NULL DEFAULT 0,
    last_failure_at BIGINT,
    created_at      BIGINT NOT NULL
);

CREATE TABLE key_cards (
    serial    TEXT PRIMARY KEY,
    sub       TEXT NOT NULL REFERENCES users (sub),
    status    TEXT NOT NULL CHECK (status IN ('active', 'pending', 'superseded', 'blocked')),
    issued_at BIGINT NOT NULL
);
CREATE INDEX key_cards_by_sub ON key_cards (sub);

CREATE TABLE card_keys (
    serial  TEXT NOT NULL REFERENCES key_cards (serial),
    number  TEXT NOT NULL,
    digest  BLOB NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (serial, number)
);

CREATE TABLE clients (
    client_id     TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    secret_digest TEXT,
    redirect_uris TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE auth_codes (
    code_digest    TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    sub            TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    amr            TEXT NOT NULL,
    auth_time      BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);

CREATE TABLE access_tokens (
    token_digest TEXT PRIMARY KEY,
    sub          TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    scope        TEXT NOT NULL,
    code_digest  TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX access_tokens_by_code ON access_tokens (code_digest);

CREATE TABLE sessions (
    id_digest  TEXT PRIMARY KEY,
    data       TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      BIGINT NOT NULL,
    kind    TEXT NOT NULL,
    user_id TEXT,
    source  TEXT,
    detail  TEXT NOT NULL
);
CREATE INDEX audit_log_by_user ON audit_log (user_id, id);

-- The audit trail is append-only.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
