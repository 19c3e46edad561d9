CREATE TABLE IF NOT EXISTS {meta} (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE {resources} (
    name         TEXT PRIMARY KEY,
    type         TEXT NOT NULL,
    host         TEXT NOT NULL,
    port         INTEGER NOT NULL,
    database     TEXT NOT NULL,
    sslmode      TEXT NOT NULL,
    agent        TEXT NOT NULL,
    admin_user   TEXT NOT NULL DEFAULT '',
    admin_secret TEXT NOT NULL DEFAULT '',
    created_at   {timestamp},
    updated_at   {timestamp}
);

CREATE TABLE {roles} (
    resource         TEXT NOT NULL REFERENCES {resources} (name) ON DELETE CASCADE,
    label            TEXT NOT NULL,
    role_name        TEXT NOT NULL UNIQUE,
    spec             {json} NOT NULL,
    password_current TEXT NOT NULL DEFAULT '',
    password_pending TEXT NOT NULL DEFAULT '',
    last_plan_sid    TEXT NOT NULL DEFAULT '',
    last_apply_sid   TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL DEFAULT '',
    created_at       {timestamp},
    updated_at       {timestamp},
    PRIMARY KEY (resource, label)
);

CREATE TABLE {sessions} (
    sid         TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    resource    TEXT NOT NULL,
    role        TEXT NOT NULL DEFAULT '',
    label       TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL,
    agent       TEXT NOT NULL DEFAULT '',
    created_at  {timestamp},
    finished_at {timestamp_or_unset},
    status      TEXT NOT NULL,
    exit_code   INTEGER NOT NULL DEFAULT 0,
    message     TEXT NOT NULL DEFAULT '',
    input       TEXT NOT NULL DEFAULT '',
    output      TEXT NOT NULL DEFAULT '',
    document    TEXT NOT NULL DEFAULT '',
    checksum    TEXT NOT NULL DEFAULT '',
    plan_sid    TEXT NOT NULL DEFAULT '',
    applied_by  TEXT NOT NULL DEFAULT ''
);

CREATE INDEX {sessions_resource} ON {sessions} (resource, created_at);
CREATE INDEX {sessions_kind} ON {sessions} (kind, created_at);
