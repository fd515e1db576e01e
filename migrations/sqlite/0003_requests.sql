-- Requests to the key app; a user has at most one pending request.
CREATE TABLE auth_requests (
    request_id  TEXT PRIMARY KEY,
    sub         TEXT NOT NULL REFERENCES users (sub),
    client_id   TEXT NOT NULL,
    client_name TEXT NOT NULL,
    action      TEXT NOT NULL,
    match_code  TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'expired', 'cancelled')),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    decided_at  BIGINT,
    decided_by  TEXT
);
CREATE UNIQUE INDEX auth_requests_one_pending ON auth_requests (sub) WHERE state = 'pending';
CREATE INDEX auth_requests_by_sub ON auth_requests (sub, created_at);

ALTER TABLE users ADD COLUMN push_blocked_until BIGINT;
