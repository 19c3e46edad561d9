-- Scheduled rotation (issue 24): when each role's password was last set,
-- and each role's rotation schedule with its last attempt.
ALTER TABLE {roles} ADD COLUMN password_set_at {timestamp_or_unset};
CREATE TABLE {rotations} (
    role_name     TEXT PRIMARY KEY,
    every_seconds BIGINT NOT NULL,
    set_by        TEXT NOT NULL DEFAULT '',
    set_at        {timestamp},
    last_attempt  {timestamp_or_unset},
    last_error    TEXT NOT NULL DEFAULT ''
);
