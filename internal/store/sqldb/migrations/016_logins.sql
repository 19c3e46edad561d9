-- Tokens a sign-in mints (stile login) expire; and device logins wait for
-- a person to approve them in a browser (stile login --device). A device
-- login is found by the hash of its device code (which only the CLI holds)
-- or by its user code (which the person types or follows).
ALTER TABLE {tokens} ADD COLUMN expires_at {timestamp_or_unset};

CREATE TABLE {device_logins} (
    device_hash TEXT PRIMARY KEY,
    user_code   TEXT NOT NULL UNIQUE,
    status      TEXT NOT NULL,
    user_name   TEXT NOT NULL DEFAULT '',
    expires     {timestamp}
);
