-- The audit chain: each finished session gets the next sequence number and
-- a hash over its canonical record and the previous session's hash
-- (store/chain.go). chain holds the head: the last number and hash, and when
-- the chain began (sessions finished before this migration are chained
-- once, when the store first opens after it).
ALTER TABLE {sessions} ADD COLUMN chain_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE {sessions} ADD COLUMN chain_hash TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX {sessions_chain} ON {sessions} (chain_seq) WHERE chain_seq > 0;

CREATE TABLE {chain} (
    id         INTEGER PRIMARY KEY,
    seq        BIGINT NOT NULL,
    hash       TEXT NOT NULL,
    started_at {timestamp_or_unset}
);
INSERT INTO {chain} (id, seq, hash) VALUES (1, 0, '');
