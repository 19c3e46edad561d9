-- Memberships that involve a target role. Before 16 inheritance is the
-- member's rolinherit and every membership allows SET ROLE.
SELECT pg_get_userbyid(m.roleid)::text, pg_get_userbyid(m.member)::text, pg_get_userbyid(m.grantor)::text,
       m.admin_option, r.rolinherit, true
FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member
WHERE pg_get_userbyid(m.roleid) = ANY($1::text[]) OR pg_get_userbyid(m.member) = ANY($1::text[])
