-- The admin's own standing. pg_stat_ssl tells whether this session uses TLS.
SELECT current_setting('server_version_num')::int,
       version(),
       current_user::text,
       r.rolsuper,
       r.rolcreaterole,
       r.rolcreatedb,
       pg_is_in_recovery(),
       coalesce((SELECT s.ssl FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()), false)
FROM pg_roles r
WHERE r.rolname = current_user
