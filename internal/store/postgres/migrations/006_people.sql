CREATE TABLE stile_users (
    name       text PRIMARY KEY,
    admin      boolean NOT NULL DEFAULT false,
    disabled   boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL
);
CREATE TABLE stile_tokens (
    id         text PRIMARY KEY,
    user_name  text NOT NULL REFERENCES stile_users (name) ON DELETE CASCADE,
    hash       text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE TABLE stile_groups (
    name text PRIMARY KEY
);
CREATE TABLE stile_group_members (
    group_name text NOT NULL REFERENCES stile_groups (name) ON DELETE CASCADE,
    user_name  text NOT NULL REFERENCES stile_users (name) ON DELETE CASCADE,
    PRIMARY KEY (group_name, user_name)
);
CREATE TABLE stile_access (
    role_name  text NOT NULL,
    group_name text NOT NULL REFERENCES stile_groups (name) ON DELETE CASCADE,
    PRIMARY KEY (role_name, group_name)
);
