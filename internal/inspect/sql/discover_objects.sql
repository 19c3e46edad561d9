-- What every role holds in this database, summarised per schema and kind
-- of object, in one read: owned objects, explicit grants (counted against
-- the objects of that schema and kind), schema ACLs and default
-- privileges; column grants (counted in tables) and the row-level security
-- policies that name a role (kind 'policy', privilege the command, counted
-- in tables). Objects with the default ACL (NULL) grant nothing explicit.
WITH objs AS (
    SELECT n.nspname::text AS schema,
           CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END AS kind,
           c.relowner AS owner, c.relacl AS acl
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'
    UNION ALL
    SELECT n.nspname::text, 'function', p.proowner, p.proacl
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
), totals AS (
    SELECT schema, kind, count(*) AS n FROM objs GROUP BY schema, kind
)
SELECT 'owner', o.schema, o.kind, pg_get_userbyid(o.owner)::text, '', '', count(*), max(t.n)
FROM objs o JOIN totals t USING (schema, kind)
GROUP BY o.schema, o.kind, o.owner
UNION ALL
SELECT 'grant', o.schema, o.kind, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END, a.privilege_type, '', count(*), max(t.n)
FROM objs o JOIN totals t USING (schema, kind) CROSS JOIN LATERAL aclexplode(o.acl) a
WHERE o.acl IS NOT NULL AND a.grantee <> o.owner
GROUP BY o.schema, o.kind, a.grantee, a.privilege_type
UNION ALL
SELECT 'owner', n.nspname::text, 'schema', pg_get_userbyid(n.nspowner)::text, '', '', 1, 1
FROM pg_namespace n
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'
UNION ALL
SELECT 'grant', n.nspname::text, 'schema', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END, a.privilege_type, '', 1, 1
FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)' AND a.grantee <> n.nspowner
UNION ALL
SELECT 'default', coalesce(n.nspname::text, ''),
       CASE d.defaclobjtype WHEN 'r' THEN 'table' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'function' WHEN 'T' THEN 'type' ELSE 'schema' END,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END, a.privilege_type, pg_get_userbyid(d.defaclrole)::text, 0, 0
FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace CROSS JOIN LATERAL aclexplode(d.defaclacl) a
UNION ALL
SELECT 'grant', n.nspname::text, 'column', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END, a.privilege_type, '', count(DISTINCT c.oid), 0
FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     CROSS JOIN LATERAL aclexplode(att.attacl) a
WHERE att.attacl IS NOT NULL AND NOT att.attisdropped AND a.grantee <> c.relowner
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
GROUP BY n.nspname, a.grantee, a.privilege_type
UNION ALL
SELECT 'grant', n.nspname::text, 'policy', CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r.oid)::text END,
       CASE pol.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
       '', count(DISTINCT c.oid), 0
FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     CROSS JOIN LATERAL unnest(pol.polroles) AS r(oid)
GROUP BY n.nspname, r.oid, pol.polcmd
