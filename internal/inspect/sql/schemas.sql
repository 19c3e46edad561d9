-- User schemas: everything but pg_catalog, information_schema, pg_toast and
-- the per-session pg_temp_N / pg_toast_temp_N (the "pg_" prefix is reserved,
-- so a schema named pgx_data is a user schema). Extension members carry a
-- pg_depend row of deptype 'e'.
-- $2, when not NULL, names the only schemas to read (an apply's verification).
-- The last column lists the roles that own an object in the schema, or
-- granted a target role a privilege on one, but lack USAGE on the schema
-- (members of a role with it and PUBLIC's count): as them, a name in the
-- schema cannot be looked up, so the plan lends them USAGE while it runs.
-- actors is MATERIALIZED so that each (schema, role) pair is checked for
-- USAGE once, not once per relation and routine; column grants to target
-- roles are found through their pg_shdepend rows, by index, not by a scan
-- of pg_attribute.
WITH sel AS (SELECT oid FROM pg_namespace
        WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
          AND nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%'
          AND ($2::text[] IS NULL OR nspname = ANY($2::text[]))),
actors AS MATERIALIZED (
  SELECT c.relnamespace AS nsp, c.relowner AS who FROM pg_class c
   WHERE c.relnamespace IN (SELECT oid FROM sel) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
  UNION
  SELECT p.pronamespace, p.proowner FROM pg_proc p WHERE p.pronamespace IN (SELECT oid FROM sel)
  UNION
  SELECT g.relnamespace, a.grantor
   FROM (SELECT DISTINCT c.relnamespace, c.relacl FROM pg_class c
         WHERE c.relnamespace IN (SELECT oid FROM sel) AND c.relacl IS NOT NULL) g,
        aclexplode(g.relacl) a
   WHERE a.grantee = ANY($1::oid[])
  UNION
  SELECT c.relnamespace, a.grantor
   FROM pg_shdepend sd JOIN pg_class c ON c.oid = sd.objid
   JOIN pg_attribute att ON att.attrelid = sd.objid AND att.attnum = sd.objsubid, aclexplode(att.attacl) a
   WHERE sd.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
     AND sd.classid = 'pg_class'::regclass AND sd.objsubid > 0 AND sd.deptype = 'a'
     AND sd.refclassid = 'pg_authid'::regclass AND sd.refobjid = ANY($1::oid[])
     AND c.relnamespace IN (SELECT oid FROM sel) AND a.grantee = ANY($1::oid[])
  UNION
  SELECT p.pronamespace, a.grantor FROM pg_proc p, aclexplode(p.proacl) a
   WHERE p.pronamespace IN (SELECT oid FROM sel) AND p.proacl IS NOT NULL AND a.grantee = ANY($1::oid[])),
nousage AS (
  SELECT nsp, array_agg(pg_get_userbyid(who)::text ORDER BY pg_get_userbyid(who)::text) AS roles
  FROM actors WHERE NOT has_schema_privilege(who, nsp, 'USAGE') GROUP BY nsp)
SELECT n.nspname::text, pg_get_userbyid(n.nspowner)::text,
       EXISTS (SELECT 1 FROM pg_depend d
               WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e'),
       coalesce((SELECT json_agg(json_build_object(
                    'grantee', pg_get_userbyid(a.grantee), 'grantor', pg_get_userbyid(a.grantor),
                    'privilege', a.privilege_type, 'grantable', a.is_grantable))
                 FROM aclexplode(n.nspacl) a
                 WHERE a.grantee = ANY($1::oid[]) OR a.grantor = ANY($1::oid[])), '[]'),
       coalesce((SELECT array_agg(DISTINCT pg_get_userbyid(a.grantee)::text)
                 FROM aclexplode(n.nspacl) a
                 WHERE a.privilege_type = 'CREATE' AND a.grantee <> 0), '{}'),
       coalesce((SELECT array_agg(a.privilege_type ORDER BY a.privilege_type)
                 FROM aclexplode(n.nspacl) a WHERE a.grantee = 0), '{}'),
       coalesce(u.roles, '{}')
FROM pg_namespace n LEFT JOIN nousage u ON u.nsp = n.oid
WHERE n.oid IN (SELECT oid FROM sel)
