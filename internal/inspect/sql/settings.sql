-- ALTER ROLE … [IN DATABASE …] SET entries of target roles.
SELECT pg_get_userbyid(s.setrole)::text, coalesce(d.datname::text, ''), s.setconfig
FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase
WHERE pg_get_userbyid(s.setrole) = ANY($1::text[])
