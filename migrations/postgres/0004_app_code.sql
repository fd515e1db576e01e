-- The app code (OPAQUE): each device's registration record and its count of wrong codes in a row.
ALTER TABLE devices ADD COLUMN opaque_record BYTEA;
ALTER TABLE devices ADD COLUMN code_failures BIGINT NOT NULL DEFAULT 0;
