CREATE TABLE stile_approval_required (
    role_name text PRIMARY KEY
);
CREATE TABLE stile_approvals (
    id         text PRIMARY KEY,
    role_name  text NOT NULL,
    user_name  text NOT NULL,
    database   text NOT NULL,
    status     text NOT NULL,
    created_at timestamptz NOT NULL,
    decided_by text NOT NULL DEFAULT ''
);
