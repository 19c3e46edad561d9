-- How to cancel the query running on an open connection, so that a cancel
-- request reaching any replica finds it: key_hash is the SHA-256 of what
-- the client presents (its cancel token, or the key data it was given),
-- route the sealed way to the real server or agent.
CREATE TABLE stile_cancel_routes (
    key_hash   text PRIMARY KEY,
    user_name  text NOT NULL,
    route      bytea NOT NULL,
    created_at timestamptz NOT NULL
);
