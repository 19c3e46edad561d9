-- Every role with its attributes and what the admin can do for it. The
-- connection runs with TimeZone UTC and DateStyle ISO, so valid-until text is
-- stable.
-- pg_has_role: https://www.postgresql.org/docs/current/functions-info.html
SELECT r.oid, r.rolname::text,
       r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
       r.rolreplication, r.rolbypassrls, r.rolconnlimit,
       coalesce(r.rolvaliduntil::text, ''),
       pg_has_role(current_user, r.oid, 'USAGE'),
       pg_has_role(current_user, r.oid, 'MEMBER'),
       pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION'),
       -- SET ROLE needs the membership's SET option on 16+ (a membership
       -- WITH SET FALSE still inherits); before 16 any membership allows it.
       CASE WHEN current_setting('server_version_num')::int >= 160000
            THEN pg_has_role(current_user, r.oid, 'SET')
            ELSE pg_has_role(current_user, r.oid, 'MEMBER') END
FROM pg_roles r
