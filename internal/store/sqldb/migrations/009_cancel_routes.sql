-- How to cancel the query running on an open connection, so that a cancel
-- request reaching any replica finds it: key_hash is the SHA-256 of what
-- the client presents (its cancel token, or the key data it was given),
-- route the sealed way to the real server or agent.
CREATE TABLE {cancel_routes} (
    key_hash   TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL,
    route      {bytes} NOT NULL,
    created_at {timestamp}
);
