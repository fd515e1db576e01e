-- The per-address guess limit shared by every node (used on PostgreSQL): guesses per client address per
-- minute (window = unix minute). Rows of past minutes are purged by the housekeeping.
CREATE TABLE guess_windows (
    address TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    guesses BIGINT NOT NULL,
    PRIMARY KEY (address, window_start)
);
