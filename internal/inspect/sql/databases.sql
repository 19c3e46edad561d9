-- Every database with the ACL entries granted to or by a target role, and
-- whether a target role has local pg_shdepend rows there (grants, default
-- privileges, ownership, policies …), which makes it worth inspecting.
WITH t AS (SELECT oid FROM pg_roles WHERE rolname = ANY($1::text[]))
SELECT d.datname::text, pg_get_userbyid(d.datdba)::text, d.datallowconn, d.datistemplate,
       coalesce((SELECT json_agg(json_build_object(
                    'grantee', pg_get_userbyid(a.grantee), 'grantor', pg_get_userbyid(a.grantor),
                    'privilege', a.privilege_type, 'grantable', a.is_grantable))
                 FROM aclexplode(d.datacl) a
                 WHERE a.grantee IN (SELECT oid FROM t) OR a.grantor IN (SELECT oid FROM t)), '[]'),
       EXISTS (SELECT 1 FROM pg_shdepend s
               WHERE s.dbid = d.oid AND s.refclassid = 'pg_authid'::regclass
                 AND s.refobjid IN (SELECT oid FROM t)),
       -- What PUBLIC holds here (a NULL datacl means the defaults: CONNECT,
       -- TEMPORARY): information, so "scoped" is not read as "isolated".
       coalesce((SELECT array_agg(a.privilege_type ORDER BY a.privilege_type)
                 FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a WHERE a.grantee = 0), '{}')
FROM pg_database d
