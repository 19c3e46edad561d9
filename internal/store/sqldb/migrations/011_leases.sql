-- Leases make one replica of several do a periodic job (a resource's drift
-- check): the holder has it until until; then anyone may take it.
CREATE TABLE {leases} (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  {timestamp}
);
