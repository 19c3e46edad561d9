-- Functions, procedures, aggregates and window functions: ALL ROUTINES covers
-- them all, while ALL FUNCTIONS skips procedures.
-- $2, when not NULL, names the only schemas to read (an apply's verification).
SELECT n.nspname::text, p.proname::text, pg_get_function_identity_arguments(p.oid), p.prokind::text,
       pg_get_userbyid(p.proowner)::text,
       EXISTS (SELECT 1 FROM pg_depend d
               WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'),
       coalesce((SELECT json_agg(json_build_object(
                    'grantee', pg_get_userbyid(a.grantee), 'grantor', pg_get_userbyid(a.grantor),
                    'privilege', a.privilege_type, 'grantable', a.is_grantable))
                 FROM aclexplode(p.proacl) a
                 WHERE a.grantee = ANY($1::oid[]) OR a.grantor = ANY($1::oid[])), '[]')
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
  AND ($2::text[] IS NULL OR n.nspname = ANY($2::text[]))
