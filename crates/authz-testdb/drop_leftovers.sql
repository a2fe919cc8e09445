-- Drops every `authz_test_%` database, as left by a killed test run (authz-testdb drops its
-- databases when a test ends). Run only when no test run is going on:
--   psql "$DATABASE_URL" -f crates/authz-testdb/drop_leftovers.sql
SELECT format('DROP DATABASE %I WITH (FORCE)', datname)
FROM pg_database
WHERE starts_with(datname, 'authz_test_')
\gexec
