-- Every database one may connect to, its owner, and its explicit ACL
-- exploded (no row but the owner's when the ACL is the default).
SELECT d.datname::text, pg_get_userbyid(d.datdba)::text,
       coalesce(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END, ''),
       coalesce(a.privilege_type, '')
FROM pg_database d
LEFT JOIN LATERAL aclexplode(d.datacl) a ON true
WHERE d.datallowconn AND NOT d.datistemplate
ORDER BY 1, 3, 4
