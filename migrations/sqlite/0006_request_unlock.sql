-- How the approving app was unlocked ("pin": the app code, "fpt": a fingerprint), for the ID token's amr.
ALTER TABLE auth_requests ADD COLUMN decided_with TEXT;
