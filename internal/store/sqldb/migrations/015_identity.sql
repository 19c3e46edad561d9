-- People who sign in with the company's identity provider: where a user
-- comes from (local or oidc), the provider's subject they are matched by
-- (issuer and subject, never a name or an email that can change), and when
-- they last signed in. A web sign-in made through the provider names its
-- user (a token's sign-in names the token) and ends at not_after, however
-- much it is used: then the provider is asked again.
ALTER TABLE {users} ADD COLUMN source TEXT NOT NULL DEFAULT 'local';
ALTER TABLE {users} ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE {users} ADD COLUMN last_sign_in {timestamp_or_unset};
CREATE UNIQUE INDEX {users_subject} ON {users} (subject) WHERE subject <> '';
ALTER TABLE {web_sessions} ADD COLUMN user_name TEXT NOT NULL DEFAULT '';
ALTER TABLE {web_sessions} ADD COLUMN not_after {timestamp_or_unset};
