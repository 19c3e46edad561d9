-- The addresses each administrator's token was used from: a use from a new
-- one raises an alert (service/alerts.go). token is "admin" for the
-- server's admin token, else a personal token's id.
CREATE TABLE {token_addresses} (
    token      TEXT NOT NULL,
    addr       TEXT NOT NULL,
    first_seen {timestamp},
    PRIMARY KEY (token, addr)
);
