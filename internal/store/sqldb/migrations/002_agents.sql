CREATE TABLE {agents} (
    name       TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    created_at {timestamp},
    revoked_at {timestamp_or_unset},
    last_seen  {timestamp_or_unset},
    version    TEXT NOT NULL DEFAULT ''
);
