-- The authz store: tenants, their policies, relationships and the change log.
--
-- INVARIANT: every table's primary key and every foreign key start with `tenant_id`, and no
-- query joins across tenants, so the schema can be distributed by tenant (Citus) unchanged.
-- Ids are `COLLATE "C"`: keys sort by bytes, as Rust's `String` does, so keyset pages and
-- listings come back in the order the in-memory store gives.
--
-- Row-level security is defence in depth: the service runs every transaction as the
-- non-login role `authz_app` (`SET LOCAL ROLE`), which sees only the rows of the tenant named
-- by the transaction-local setting `authz.tenant_id`; `authz.all_tenants = 'on'` lets it read
-- (only read, and only) the tenants table, to list tenants.

-- Roles are cluster-wide while migrations run per database: several databases of one
-- cluster (tests run in parallel) may create the role at once, so a lost race is fine.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authz_app') THEN
        CREATE ROLE authz_app NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

-- The migrating user runs the service too and must be able to `SET ROLE authz_app`.
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'authz_app', 'MEMBER') THEN
        EXECUTE format('GRANT authz_app TO %I', current_user);
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

DO $$
BEGIN
    -- Imports diff relationships through a temporary table.
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO authz_app', current_database());
END
$$;
GRANT USAGE ON SCHEMA public TO authz_app;

CREATE TABLE tenants (
    tenant_id text COLLATE "C" PRIMARY KEY,
    name text NOT NULL,
    status text NOT NULL CHECK (status IN ('active', 'suspended', 'deactivated')),
    time_zone text NOT NULL,
    -- The latest committed revision. Every write locks this row first, so a tenant's writers
    -- are serialised by it and revision order is commit order.
    revision bigint NOT NULL CHECK (revision >= 0),
    -- `changes` holds every event of the revisions after this one; pruning the log raises it,
    -- and a follower asking from further back reloads the tenant whole.
    changes_floor bigint NOT NULL DEFAULT 0 CHECK (changes_floor >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The catalog-level documents of a tenant's policy. `json`, not `jsonb`: the text is kept as
-- written, so numbers and key order read back exactly and an export re-imports as no change.
CREATE TABLE policy_documents (
    tenant_id text COLLATE "C" PRIMARY KEY REFERENCES tenants ON DELETE CASCADE,
    entitlements json NOT NULL,
    catalog json NOT NULL,
    locked_grants json NOT NULL
);

-- `ordinal` columns keep the order the policy file gave, so an export is the import.
CREATE TABLE roles (
    tenant_id text COLLATE "C" NOT NULL REFERENCES tenants ON DELETE CASCADE,
    role_id text COLLATE "C" NOT NULL,
    ordinal integer NOT NULL,
    body json NOT NULL,
    PRIMARY KEY (tenant_id, role_id)
);

CREATE TABLE constraints (
    tenant_id text COLLATE "C" NOT NULL REFERENCES tenants ON DELETE CASCADE,
    constraint_id text COLLATE "C" NOT NULL,
    ordinal integer NOT NULL,
    body json NOT NULL,
    PRIMARY KEY (tenant_id, constraint_id)
);

CREATE TABLE principals (
    tenant_id text COLLATE "C" NOT NULL REFERENCES tenants ON DELETE CASCADE,
    principal_id text COLLATE "C" NOT NULL,
    ordinal integer NOT NULL,
    kind text NOT NULL CHECK (kind IN ('user', 'service')),
    display_name text NOT NULL,
    status text NOT NULL CHECK (status IN ('invited', 'active', 'suspended', 'deactivated')),
    -- A u64 in the model: numeric, so every value fits.
    token_version numeric(20, 0) NOT NULL CHECK (token_version >= 0),
    attributes json NOT NULL,
    PRIMARY KEY (tenant_id, principal_id)
);

CREATE TABLE sessions (
    tenant_id text COLLATE "C" NOT NULL,
    principal_id text COLLATE "C" NOT NULL,
    session_id text COLLATE "C" NOT NULL,
    ordinal integer NOT NULL,
    revoked boolean NOT NULL,
    expires_at timestamptz,
    PRIMARY KEY (tenant_id, principal_id, session_id),
    FOREIGN KEY (tenant_id, principal_id) REFERENCES principals ON DELETE CASCADE
);

CREATE TABLE api_keys (
    tenant_id text COLLATE "C" NOT NULL,
    principal_id text COLLATE "C" NOT NULL,
    key_id text COLLATE "C" NOT NULL,
    ordinal integer NOT NULL,
    scopes text[] NOT NULL,
    expires_at timestamptz,
    revoked boolean NOT NULL,
    rate_limit_per_second bigint CHECK (rate_limit_per_second BETWEEN 0 AND 4294967295),
    -- Hex SHA-256 of the secret; the secret itself is never stored.
    secret_hash text NOT NULL,
    PRIMARY KEY (tenant_id, principal_id, key_id),
    FOREIGN KEY (tenant_id, principal_id) REFERENCES principals ON DELETE CASCADE
);
-- A presented key is found by its hash.
CREATE INDEX api_keys_by_hash ON api_keys (tenant_id, secret_hash);

-- Cross-entity references are checked at commit: an import writes entities in any order.
CREATE TABLE bindings (
    tenant_id text COLLATE "C" NOT NULL REFERENCES tenants ON DELETE CASCADE,
    binding_id text COLLATE "C" NOT NULL,
    ordinal integer NOT NULL,
    principal_id text COLLATE "C" NOT NULL,
    role_id text COLLATE "C" NOT NULL,
    locations text[] NOT NULL,
    tenants text[] NOT NULL,
    not_before timestamptz,
    expires_at timestamptz,
    source text NOT NULL
        CHECK (source IN ('direct', 'delegation', 'elevation', 'break_glass', 'scim')),
    reason text NOT NULL,
    PRIMARY KEY (tenant_id, binding_id),
    FOREIGN KEY (tenant_id, principal_id) REFERENCES principals DEFERRABLE INITIALLY DEFERRED,
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX bindings_by_principal ON bindings (tenant_id, principal_id);
CREATE INDEX bindings_by_role ON bindings (tenant_id, role_id);

CREATE TABLE delegations (
    tenant_id text COLLATE "C" NOT NULL REFERENCES tenants ON DELETE CASCADE,
    delegation_id text COLLATE "C" NOT NULL,
    ordinal integer NOT NULL,
    delegator text COLLATE "C" NOT NULL,
    delegate text COLLATE "C" NOT NULL,
    permissions text[] NOT NULL,
    not_before timestamptz,
    expires_at timestamptz,
    revoked boolean NOT NULL,
    reason text NOT NULL,
    PRIMARY KEY (tenant_id, delegation_id),
    FOREIGN KEY (tenant_id, delegator) REFERENCES principals DEFERRABLE INITIALLY DEFERRED,
    FOREIGN KEY (tenant_id, delegate) REFERENCES principals DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX delegations_by_delegator ON delegations (tenant_id, delegator);
CREATE INDEX delegations_by_delegate ON delegations (tenant_id, delegate);

-- No foreign key to `tenants`: its per-row check made a million-row import 40% slower, and
-- every writer holds the tenant's row lock, so no relationship is written for a tenant that
-- does not exist. (Deleting a tenant must delete its relationships explicitly.)
CREATE TABLE relationships (
    tenant_id text COLLATE "C" NOT NULL,
    resource_type text COLLATE "C" NOT NULL,
    resource_id text COLLATE "C" NOT NULL,
    relation text COLLATE "C" NOT NULL,
    subject_type text COLLATE "C" NOT NULL,
    subject_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, resource_type, resource_id, relation, subject_type, subject_id)
);
-- Reads by subject ("what is user:ann assigned to").
CREATE INDEX relationships_by_subject
    ON relationships (tenant_id, subject_type, subject_id, relation, resource_type, resource_id);

-- The change log and outbox: every committed event, in revision order, `seq` ordering the
-- events of one revision. Relationship events carry the relationship.
CREATE TABLE changes (
    tenant_id text COLLATE "C" NOT NULL REFERENCES tenants ON DELETE CASCADE,
    revision bigint NOT NULL,
    seq integer NOT NULL,
    kind text NOT NULL CHECK (kind IN (
        'relationship_touched', 'relationship_deleted', 'policy', 'principal', 'tenant', 'reload'
    )),
    principal_id text COLLATE "C",
    resource_type text COLLATE "C",
    resource_id text COLLATE "C",
    relation text COLLATE "C",
    subject_type text COLLATE "C",
    subject_id text COLLATE "C",
    committed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, revision, seq),
    CHECK ((kind = 'principal') = (principal_id IS NOT NULL)),
    CHECK ((kind LIKE 'relationship_%') = (resource_type IS NOT NULL AND resource_id IS NOT NULL
        AND relation IS NOT NULL AND subject_type IS NOT NULL AND subject_id IS NOT NULL))
);

DO $$
DECLARE
    tenant_table text;
BEGIN
    FOREACH tenant_table IN ARRAY ARRAY[
        'tenants', 'policy_documents', 'roles', 'constraints', 'principals', 'sessions',
        'api_keys', 'bindings', 'delegations', 'relationships', 'changes'
    ] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tenant_table);
        -- FORCE: the owner (who migrates) is held to the policies too.
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', tenant_table);
        EXECUTE format(
            'CREATE POLICY tenant_scope ON %I '
            'USING (tenant_id = current_setting(''authz.tenant_id'', true)) '
            'WITH CHECK (tenant_id = current_setting(''authz.tenant_id'', true))',
            tenant_table
        );
        EXECUTE format(
            'GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO authz_app', tenant_table
        );
    END LOOP;
END
$$;

-- The one all-tenants scope: listing tenants (ids, names, statuses, revisions).
CREATE POLICY all_tenants ON tenants FOR SELECT
    USING (current_setting('authz.all_tenants', true) = 'on');
