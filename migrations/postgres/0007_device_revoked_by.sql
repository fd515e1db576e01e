-- Who took a key app off: 'user' (deregistered it), 'operator' (support revoked it), 'other_device' (the
-- user's other key app stopped a code reset it did not know of). NULL while the device is not revoked.
ALTER TABLE devices ADD COLUMN revoked_by TEXT;
