-- Every database with the ACL entries granted to or by a target role, and
-- whether a target role has local pg_shdepend rows there (grants, default
-- privileges, ownership, policies …), which makes it worth inspecting, and
-- whether some of those rows are ones only dependents.sql reads.
-- deps finds those databases in one pass over pg_shdepend: an EXISTS per
-- database scanned the table up to its first row of that database, for
-- each database (31 ms of a re-plan's 46 ms cluster read with 16 databases
-- and 50,000 rows; quadratic as a fleet grows).
WITH t AS (SELECT oid FROM pg_roles WHERE rolname = ANY($1::text[])),
deps AS MATERIALIZED (
  SELECT s.dbid,
         -- Rows dependents.sql may list: all but grants on relations,
         -- schemas and routines, default privileges, and ownership of
         -- schemas and routines (a relation's ownership counts: whether
         -- dependents.sql lists it depends on the relation's kind, which
         -- only its database can tell).
         bool_or(s.classid <> 'pg_default_acl'::regclass
                 AND NOT (s.deptype = 'a' AND s.classid IN ('pg_class'::regclass, 'pg_namespace'::regclass,
                                                            'pg_proc'::regclass))
                 AND NOT (s.deptype = 'o' AND s.classid IN ('pg_namespace'::regclass, 'pg_proc'::regclass))) AS others,
         array_agg(DISTINCT s.refobjid) AS roles
  FROM pg_shdepend s
  WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid IN (SELECT oid FROM t)
  GROUP BY s.dbid)
SELECT d.datname::text, pg_get_userbyid(d.datdba)::text, d.datallowconn, d.datistemplate,
       coalesce((SELECT json_agg(json_build_object(
                    'grantee', pg_get_userbyid(a.grantee), 'grantor', pg_get_userbyid(a.grantor),
                    'privilege', a.privilege_type, 'grantable', a.is_grantable))
                 FROM aclexplode(d.datacl) a
                 WHERE a.grantee IN (SELECT oid FROM t) OR a.grantor IN (SELECT oid FROM t)), '[]'),
       d.oid IN (SELECT dbid FROM deps),
       coalesce((SELECT others FROM deps WHERE deps.dbid = d.oid), false),
       -- What PUBLIC holds here (a NULL datacl means the defaults: CONNECT,
       -- TEMPORARY): information, so "scoped" is not read as "isolated".
       coalesce((SELECT array_agg(a.privilege_type ORDER BY a.privilege_type)
                 FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a WHERE a.grantee = 0), '{}'),
       -- Which target roles have those rows, so a retirement in a batch
       -- visits only its own role's databases.
       (SELECT array_agg(r.rolname::text ORDER BY r.rolname)
        FROM deps x JOIN pg_roles r ON r.oid = ANY(x.roles) WHERE x.dbid = d.oid)
FROM pg_database d
