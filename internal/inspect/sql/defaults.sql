-- Default privileges that grant to a target role, per creator and schema.
-- defaclnamespace = 0 is a global row, which a schema-level REVOKE does not
-- override (https://www.postgresql.org/docs/current/sql-alterdefaultprivileges.html).
SELECT pg_get_userbyid(d.defaclrole)::text, coalesce(n.nspname::text, ''), d.defaclobjtype::text,
       (SELECT json_agg(json_build_object(
                'grantee', pg_get_userbyid(a.grantee), 'grantor', pg_get_userbyid(a.grantor),
                'privilege', a.privilege_type, 'grantable', a.is_grantable))
        FROM aclexplode(d.defaclacl) a WHERE a.grantee = ANY($1::oid[]))
FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
WHERE EXISTS (SELECT 1 FROM aclexplode(d.defaclacl) a WHERE a.grantee = ANY($1::oid[]))
