CREATE TABLE stile_web_sessions (
    id_hash text PRIMARY KEY,
    csrf    text NOT NULL,
    expires timestamptz NOT NULL
);
