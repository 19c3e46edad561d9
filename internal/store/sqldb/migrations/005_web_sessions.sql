CREATE TABLE {web_sessions} (
    id_hash TEXT PRIMARY KEY,
    csrf    TEXT NOT NULL,
    expires {timestamp}
);
