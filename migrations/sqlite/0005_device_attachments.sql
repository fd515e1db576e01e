-- What a device adds beyond its key: its fingerprint credential (WebAuthn) and its Web Push subscription, one
-- value per kind, as JSON.
CREATE TABLE device_attachments (
    device_id TEXT NOT NULL REFERENCES devices (device_id),
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (device_id, kind)
);
