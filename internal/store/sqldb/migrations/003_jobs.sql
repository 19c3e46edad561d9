ALTER TABLE {agents} ADD COLUMN replica TEXT NOT NULL DEFAULT '';

CREATE TABLE {jobs} (
    id         TEXT PRIMARY KEY,
    agent      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    status     TEXT NOT NULL,
    result     TEXT NOT NULL DEFAULT '',
    error      TEXT NOT NULL DEFAULT '',
    claimed_by TEXT NOT NULL DEFAULT '',
    created_at {timestamp},
    deadline   {timestamp}
);

CREATE INDEX {jobs_queue} ON {jobs} (agent, status, created_at);
