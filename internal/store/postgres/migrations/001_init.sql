CREATE TABLE IF NOT EXISTS stile_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE stile_resources (
    name         text PRIMARY KEY,
    type         text NOT NULL,
    host         text NOT NULL,
    port         integer NOT NULL,
    database     text NOT NULL,
    sslmode      text NOT NULL,
    agent        text NOT NULL,
    admin_user   text NOT NULL DEFAULT '',
    admin_secret text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE stile_roles (
    resource         text NOT NULL REFERENCES stile_resources (name) ON DELETE CASCADE,
    label            text NOT NULL,
    role_name        text NOT NULL UNIQUE,
    spec             jsonb NOT NULL,
    password_current text NOT NULL DEFAULT '',
    password_pending text NOT NULL DEFAULT '',
    last_plan_sid    text NOT NULL DEFAULT '',
    last_apply_sid   text NOT NULL DEFAULT '',
    status           text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (resource, label)
);

CREATE TABLE stile_sessions (
    sid         text PRIMARY KEY,
    kind        text NOT NULL,
    resource    text NOT NULL,
    role        text NOT NULL DEFAULT '',
    label       text NOT NULL DEFAULT '',
    actor       text NOT NULL,
    agent       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    finished_at timestamptz,
    status      text NOT NULL,
    exit_code   integer NOT NULL DEFAULT 0,
    message     text NOT NULL DEFAULT '',
    input       text NOT NULL DEFAULT '',
    output      text NOT NULL DEFAULT '',
    document    text NOT NULL DEFAULT '',
    checksum    text NOT NULL DEFAULT '',
    plan_sid    text NOT NULL DEFAULT '',
    applied_by  text NOT NULL DEFAULT ''
);

CREATE INDEX stile_sessions_resource ON stile_sessions (resource, created_at);
CREATE INDEX stile_sessions_kind ON stile_sessions (kind, created_at);
