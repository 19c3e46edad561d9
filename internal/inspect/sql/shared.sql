-- pg_shdepend rows of target roles on shared objects, other than database
-- ACLs (read from pg_database itself): database ownership, tablespaces,
-- parameter ACLs, membership grantors (16+).
WITH t AS (SELECT oid FROM pg_roles WHERE rolname = ANY($1::text[]))
SELECT pg_get_userbyid(s.refobjid)::text, s.classid::regclass::text,
       coalesce(pg_describe_object(s.classid, s.objid, s.objsubid), s.classid::regclass::text || ' ' || s.objid),
       s.deptype::text, ''
FROM pg_shdepend s
WHERE s.dbid = 0 AND s.refclassid = 'pg_authid'::regclass AND s.refobjid IN (SELECT oid FROM t)
  AND NOT (s.classid = 'pg_database'::regclass AND s.deptype = 'a')
