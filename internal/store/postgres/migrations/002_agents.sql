CREATE TABLE stile_agents (
    name       text PRIMARY KEY,
    token_hash text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    last_seen  timestamptz,
    version    text NOT NULL DEFAULT ''
);
