-- User schemas: everything but pg_catalog, information_schema, pg_toast and
-- the per-session pg_temp_N / pg_toast_temp_N (the "pg_" prefix is reserved,
-- so a schema named pgx_data is a user schema). Extension members carry a
-- pg_depend row of deptype 'e'.
-- $2, when not NULL, names the only schemas to read (an apply's verification).
WITH t AS (SELECT oid FROM pg_roles WHERE rolname = ANY($1::text[]))
SELECT n.nspname::text, pg_get_userbyid(n.nspowner)::text,
       EXISTS (SELECT 1 FROM pg_depend d
               WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e'),
       coalesce((SELECT json_agg(json_build_object(
                    'grantee', pg_get_userbyid(a.grantee), 'grantor', pg_get_userbyid(a.grantor),
                    'privilege', a.privilege_type, 'grantable', a.is_grantable))
                 FROM aclexplode(n.nspacl) a
                 WHERE a.grantee IN (SELECT oid FROM t) OR a.grantor IN (SELECT oid FROM t)), '[]'),
       coalesce((SELECT array_agg(DISTINCT pg_get_userbyid(a.grantee)::text)
                 FROM aclexplode(n.nspacl) a
                 WHERE a.privilege_type = 'CREATE' AND a.grantee <> 0), '{}'),
       coalesce((SELECT array_agg(a.privilege_type ORDER BY a.privilege_type)
                 FROM aclexplode(n.nspacl) a WHERE a.grantee = 0), '{}')
FROM pg_namespace n
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
  AND ($2::text[] IS NULL OR n.nspname = ANY($2::text[]))
