-- Access that ends on its own (issue 24): a grant may make its group
-- eligible only (members request a window) and may end at a time; a role's
-- request policy; requests and their reviews.
ALTER TABLE {access} ADD COLUMN eligible {bool_false};
ALTER TABLE {access} ADD COLUMN until {timestamp_or_unset};
ALTER TABLE {access} ADD COLUMN granted_by TEXT NOT NULL DEFAULT '';
ALTER TABLE {access} ADD COLUMN granted_at {timestamp_or_unset};
CREATE TABLE {access_policies} (
    role_name       TEXT PRIMARY KEY,
    max_seconds     BIGINT NOT NULL,
    reason_required {bool_false},
    approvers       TEXT NOT NULL DEFAULT '',
    approvals       INTEGER NOT NULL,
    pending_seconds BIGINT NOT NULL
);
CREATE TABLE {requests} (
    id         TEXT PRIMARY KEY,
    role_name  TEXT NOT NULL,
    user_name  TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    seconds    BIGINT NOT NULL,
    status     TEXT NOT NULL,
    approvals  INTEGER NOT NULL,
    reviews    TEXT NOT NULL DEFAULT '[]',
    created_at {timestamp},
    expires_at {timestamp},
    starts_at  {timestamp_or_unset},
    ends_at    {timestamp_or_unset},
    ended_by   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX {requests_status} ON {requests} (status);
