-- A web sign-in made with a personal token remembers that token's hash, so
-- the browser acts as its user and stops working when the token is revoked
-- or the user disabled. Empty means the admin token.
ALTER TABLE {web_sessions} ADD COLUMN token_hash TEXT NOT NULL DEFAULT '';
