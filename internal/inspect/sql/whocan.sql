-- Every role that holds privilege $4 on table $1.$2 (or on its column $3),
-- as PostgreSQL decides (has_table_privilege, has_column_privilege), and
-- how: owner, superuser, a grant to it, to PUBLIC, on the column, or
-- through the roles it inherits from that hold it (a superuser holds
-- everything of itself); whether it may use the schema, and whether
-- row-level security applies to it.
WITH t AS (
    SELECT c.oid, c.relowner, c.relacl, c.relrowsecurity, c.relforcerowsecurity, n.oid AS nsp
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND c.relname = $2
), holders AS (
    -- Roles holding it themselves: the owner, a grantee of the table or
    -- of the column.
    SELECT t.relowner AS role FROM t
    UNION SELECT a.grantee FROM t CROSS JOIN LATERAL aclexplode(t.relacl) a WHERE a.privilege_type = $4::text AND a.grantee <> 0
    UNION SELECT a.grantee FROM t JOIN pg_attribute at ON at.attrelid = t.oid AND at.attname::text = $3::text
          CROSS JOIN LATERAL aclexplode(at.attacl) a WHERE a.privilege_type = $4::text AND a.grantee <> 0
)
SELECT r.rolname::text, r.rolsuper, r.oid = t.relowner,
       -- The owner's own entry of an explicit ACL is its ownership.
       r.oid <> t.relowner AND EXISTS (SELECT 1 FROM aclexplode(t.relacl) a WHERE a.grantee = r.oid AND a.privilege_type = $4::text),
       EXISTS (SELECT 1 FROM aclexplode(t.relacl) a WHERE a.grantee = 0 AND a.privilege_type = $4::text)
         OR EXISTS (SELECT 1 FROM pg_attribute at CROSS JOIN LATERAL aclexplode(at.attacl) a
                    WHERE at.attrelid = t.oid AND at.attname::text = $3::text AND a.grantee = 0 AND a.privilege_type = $4::text),
       EXISTS (SELECT 1 FROM pg_attribute at CROSS JOIN LATERAL aclexplode(at.attacl) a
               WHERE at.attrelid = t.oid AND at.attname::text = $3::text AND a.grantee = r.oid AND a.privilege_type = $4::text),
       coalesce((SELECT array_agg(g.rolname::text ORDER BY g.rolname) FROM holders h JOIN pg_roles g ON g.oid = h.role
                 WHERE g.oid <> r.oid AND NOT r.rolsuper AND pg_has_role(r.oid, g.oid, 'USAGE')), '{}'),
       has_schema_privilege(r.oid, t.nsp, 'USAGE'),
       t.relrowsecurity AND NOT r.rolsuper AND NOT r.rolbypassrls AND (r.oid <> t.relowner OR t.relforcerowsecurity)
FROM pg_roles r CROSS JOIN t
WHERE r.rolname !~ '^pg_'
  AND CASE WHEN $3::text = '' THEN has_table_privilege(r.oid, t.oid, $4::text) ELSE has_column_privilege(r.oid, t.oid, $3::text, $4::text) END
ORDER BY 1
