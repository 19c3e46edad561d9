ALTER TABLE stile_agents ADD COLUMN replica text NOT NULL DEFAULT '';

CREATE TABLE stile_jobs (
    id         text PRIMARY KEY,
    agent      text NOT NULL,
    kind       text NOT NULL,
    payload    text NOT NULL,
    status     text NOT NULL,
    result     text NOT NULL DEFAULT '',
    error      text NOT NULL DEFAULT '',
    claimed_by text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    deadline   timestamptz NOT NULL
);

CREATE INDEX stile_jobs_queue ON stile_jobs (agent, status, created_at);
