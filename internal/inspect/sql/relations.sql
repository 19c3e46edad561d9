-- Relations ON ALL TABLES IN SCHEMA covers (r, p, v, m, f; partitions
-- included) and sequences, with the ACL entries and column ACL entries of
-- target roles. A NULL relacl means "owner's defaults": for any other grantee
-- it means no direct grant.
-- $2, when not NULL, names the only schemas to read (an apply's verification).
-- $3 asks for every column name (for strict column rules), else NULL.
-- The relation's ACL entries come as four arrays of one order (grantees,
-- grantors, privileges, grant options; NULL for none), column ACL entries,
-- rare, as JSON (NULL for none). Relations alike in all but their name
-- (schema, kind, owner, extension, partition, those entries and column
-- names) come as one row with their names: the tables of a schema granted
-- alike are one row, not one each, and a read of thousands of relations
-- sends and decodes a few dozen rows.
-- Relations with a column ACL naming a target role: each role a column ACL
-- names, but the relation's owner, has a pg_shdepend row (deptype 'a',
-- objsubid the column), found by index; probing every relation's columns
-- was a tenth of the read.
WITH cols AS MATERIALIZED (
  SELECT DISTINCT sd.objid FROM pg_shdepend sd
  WHERE sd.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND sd.refclassid = 'pg_authid'::regclass AND sd.refobjid = ANY($1::oid[])
    AND sd.classid = 'pg_class'::regclass AND sd.objsubid > 0 AND sd.deptype = 'a'),
rel AS (
SELECT n.nspname::text AS nsp, c.relname::text AS name, c.relkind::text AS kind,
       pg_get_userbyid(c.relowner)::text AS owner,
       EXISTS (SELECT 1 FROM pg_depend d
               WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') AS ext,
       c.relispartition AS part,
       acl.grantees, acl.grantors, acl.privileges, acl.grantable,
       CASE WHEN c.oid IN (SELECT objid FROM cols) OR c.relowner = ANY($1::oid[]) THEN
            (SELECT json_agg(json_build_object(
                    'column', att.attname, 'grantee', pg_get_userbyid(a.grantee),
                    'grantor', pg_get_userbyid(a.grantor), 'privilege', a.privilege_type,
                    'grantable', a.is_grantable))
                 FROM pg_attribute att, aclexplode(att.attacl) a
                 WHERE att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped
                   AND att.attacl IS NOT NULL
                   AND (a.grantee = ANY($1::oid[]) OR a.grantor = ANY($1::oid[])))::text END AS cols,
       CASE WHEN $3::bool AND c.relkind <> 'S' THEN
            ARRAY(SELECT att.attname::text FROM pg_attribute att
                  WHERE att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped
                  ORDER BY att.attnum) END AS atts
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (
       SELECT array_agg(pg_get_userbyid(a.grantee)::text) AS grantees,
              array_agg(pg_get_userbyid(a.grantor)::text) AS grantors,
              array_agg(a.privilege_type) AS privileges, array_agg(a.is_grantable) AS grantable
       FROM aclexplode(c.relacl) a
       WHERE a.grantee = ANY($1::oid[]) OR a.grantor = ANY($1::oid[])) acl
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
  AND ($2::text[] IS NULL OR n.nspname = ANY($2::text[])))
SELECT nsp, kind, owner, ext, part, grantees, grantors, privileges, grantable, cols, atts, array_agg(name)
FROM rel
GROUP BY nsp, kind, owner, ext, part, grantees, grantors, privileges, grantable, cols, atts
