-- Key-app devices and the nonces of their signed requests.
CREATE TABLE devices (
    device_id    TEXT PRIMARY KEY,
    serial       TEXT NOT NULL UNIQUE,
    sub          TEXT NOT NULL REFERENCES users (sub),
    public_key   BLOB NOT NULL,
    platform     TEXT NOT NULL,
    os_version   TEXT NOT NULL,
    name         TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'active', 'cancelled', 'revoked')),
    created_at   BIGINT NOT NULL,
    ready_at     BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    activated_at BIGINT
);
CREATE INDEX devices_by_sub ON devices (sub);

CREATE TABLE device_nonces (
    device_id TEXT NOT NULL,
    nonce     TEXT NOT NULL,
    seen_at   BIGINT NOT NULL,
    PRIMARY KEY (device_id, nonce)
);
