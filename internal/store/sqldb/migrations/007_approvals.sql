CREATE TABLE {approval_required} (
    role_name TEXT PRIMARY KEY
);
CREATE TABLE {approvals} (
    id         TEXT PRIMARY KEY,
    role_name  TEXT NOT NULL,
    user_name  TEXT NOT NULL,
    database   TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at {timestamp},
    decided_by TEXT NOT NULL DEFAULT ''
);
