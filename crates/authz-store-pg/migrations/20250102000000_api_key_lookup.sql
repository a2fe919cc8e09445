-- An admin call presents only its key's secret: its owner is found by the secret's hash, in
-- whichever tenant holds it (the one lookup that does not start from a tenant id).
CREATE INDEX api_keys_by_secret_hash ON api_keys (secret_hash);

-- The one cross-tenant read of keys: by the hash of a presented secret, nothing else. A
-- transaction opts in with `authz.key_lookup = on` (see `tx::Begin::key_lookup`).
CREATE POLICY key_lookup ON api_keys FOR SELECT
    USING (current_setting('authz.key_lookup', true) = 'on');
