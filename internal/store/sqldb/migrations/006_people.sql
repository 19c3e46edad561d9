CREATE TABLE {users} (
    name       TEXT PRIMARY KEY,
    admin      {bool_false},
    disabled   {bool_false},
    created_at {timestamp}
);
CREATE TABLE {tokens} (
    id         TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL REFERENCES {users} (name) ON DELETE CASCADE,
    hash       TEXT NOT NULL UNIQUE,
    created_at {timestamp},
    revoked_at {timestamp_or_unset}
);
CREATE TABLE {groups} (
    name TEXT PRIMARY KEY
);
CREATE TABLE {group_members} (
    group_name TEXT NOT NULL REFERENCES {groups} (name) ON DELETE CASCADE,
    user_name  TEXT NOT NULL REFERENCES {users} (name) ON DELETE CASCADE,
    PRIMARY KEY (group_name, user_name)
);
CREATE TABLE {access} (
    role_name  TEXT NOT NULL,
    group_name TEXT NOT NULL REFERENCES {groups} (name) ON DELETE CASCADE,
    PRIMARY KEY (role_name, group_name)
);
