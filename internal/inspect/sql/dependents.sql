-- pg_shdepend rows of target roles in this database that the relation,
-- schema, routine and default-privilege reads do not cover: types, large
-- objects, policies, languages, foreign servers, ownership of other objects.
-- A pg_default_acl row belongs, for diffing, to its grantees: the row FOR
-- ROLE a creator that grants to another role is that role's state (read by
-- defaults.sql), never the creator's own (its 'o' row here).
SELECT pg_get_userbyid(s.refobjid)::text, s.classid::regclass::text,
       coalesce(pg_describe_object(s.classid, s.objid, s.objsubid), s.classid::regclass::text || ' ' || s.objid),
       s.deptype::text,
       -- The schema of a type or domain, so an owned one in a scope counts
       -- as owned there rather than as unmanaged.
       CASE WHEN s.classid = 'pg_type'::regclass
            THEN coalesce((SELECT n.nspname::text FROM pg_type ty JOIN pg_namespace n ON n.oid = ty.typnamespace
                           WHERE ty.oid = s.objid), '')
            ELSE '' END
FROM pg_shdepend s
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND s.refclassid = 'pg_authid'::regclass AND s.refobjid = ANY($1::oid[])
  AND s.classid <> 'pg_default_acl'::regclass
  AND NOT (s.deptype = 'a' AND s.classid IN ('pg_class'::regclass, 'pg_namespace'::regclass,
                                             'pg_proc'::regclass))
  AND NOT (s.deptype = 'o' AND s.classid = 'pg_namespace'::regclass)
  AND NOT (s.deptype = 'o' AND s.classid = 'pg_proc'::regclass)
  AND NOT (s.deptype = 'o' AND s.classid = 'pg_class'::regclass
           AND EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE c.oid = s.objid AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
                         AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')))
