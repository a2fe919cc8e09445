-- Drops the `authz_test_<created>_<hex>` databases created more than an hour ago: leftovers
-- of killed test runs (authz-testdb drops its databases when a test ends; those of test runs
-- going on now are younger). Same rule as `authz_testdb::drop_leftovers`:
--   psql "$DATABASE_URL" -f crates/authz-testdb/drop_leftovers.sql
SELECT format('DROP DATABASE %I WITH (FORCE)', datname)
FROM pg_database
WHERE datname ~ '^authz_test_[0-9]+_[0-9a-f]+$'
  AND split_part(substr(datname, length('authz_test_') + 1), '_', 1)::bigint
      < extract(epoch FROM now()) - 3600
\gexec
