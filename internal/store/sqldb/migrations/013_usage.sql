-- Usage analytics, kept as connections finish so that reading them never
-- scans the sessions: per role, per user and for the fleet (kind), the last
-- use, all-time totals and a 90-day daily series (store/usage.go's Series,
-- one row per role); and each user's last use of each role.
CREATE TABLE {usage} (
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    last_used   {timestamp_or_unset},
    connections BIGINT NOT NULL DEFAULT 0,
    seconds     BIGINT NOT NULL DEFAULT 0,
    bytes_in    BIGINT NOT NULL DEFAULT 0,
    bytes_out   BIGINT NOT NULL DEFAULT 0,
    statements  BIGINT NOT NULL DEFAULT 0,
    days        {bytes},
    PRIMARY KEY (kind, name)
);

CREATE TABLE {usage_last} (
    role        TEXT NOT NULL,
    user_name   TEXT NOT NULL,
    last_used   {timestamp},
    connections BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (role, user_name)
);
CREATE INDEX {usage_last_user} ON {usage_last} (user_name);
