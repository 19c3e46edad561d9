-- Memberships that involve a target role, with PostgreSQL 16's per-grant
-- options. There can be one row per grantor.
SELECT pg_get_userbyid(m.roleid)::text, pg_get_userbyid(m.member)::text, pg_get_userbyid(m.grantor)::text,
       m.admin_option, m.inherit_option, m.set_option
FROM pg_auth_members m
WHERE pg_get_userbyid(m.roleid) = ANY($1::text[]) OR pg_get_userbyid(m.member) = ANY($1::text[])
