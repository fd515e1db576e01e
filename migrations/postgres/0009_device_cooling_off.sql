-- A device's `ready_at` meant two moments: for a pending device when its second log-in becomes possible,
-- for an active device after "Glemt kode" the end of its cooling-off. Each now has a column of its own:
-- `second_login_from` (the activation wait's end) and `cooling_off_until` (NULL while the code was never
-- reset). An active or revoked device whose `ready_at` lies after its activation had its code reset: that
-- moment moves to `cooling_off_until`, and as the reset overwrote its second-login moment, the activation
-- (when its second log-in was made) stands in for it.
ALTER TABLE devices RENAME COLUMN ready_at TO second_login_from;
ALTER TABLE devices ADD COLUMN cooling_off_until BIGINT;
UPDATE devices SET cooling_off_until = second_login_from, second_login_from = activated_at
    WHERE activated_at IS NOT NULL AND second_login_from > activated_at;
