//! `PgStore` against the store conformance suite (`authz-store/tests/conformance/`, the same
//! cases the in-memory store runs), each case in a fresh database of its own; then what only
//! Postgres has (`postgres/`): row-level security, rollback of failed imports, migrations,
//! the commit listener, statements behind a pooler.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    reason = "test helpers fail the test by panicking"
)]

#[path = "../../authz-store/tests/conformance/mod.rs"]
mod conformance;
mod postgres;

use std::ops::Deref;

use authz_store_pg::{PgStore, PgStoreOptions};
use authz_testdb::TestDatabase;

/// A migrated store in a database of its own, dropped with it.
#[derive(Debug)]
pub(crate) struct Fresh {
    // Fields drop in order: the store (pool, listener) before its database.
    pub(crate) store: PgStore,
    pub(crate) db: TestDatabase,
}

impl Deref for Fresh {
    type Target = PgStore;

    fn deref(&self) -> &PgStore {
        &self.store
    }
}

pub(crate) async fn fresh() -> Fresh {
    fresh_with(|options| options).await
}

pub(crate) async fn fresh_with(configure: impl FnOnce(PgStoreOptions) -> PgStoreOptions) -> Fresh {
    let db = TestDatabase::create()
        .await
        .unwrap_or_else(|error| panic!("creating a test database: {error}"));
    let store = PgStore::connect(configure(PgStoreOptions::new(db.options())))
        .await
        .unwrap_or_else(|error| panic!("connecting to {}: {error}", db.name()));
    store
        .migrate()
        .await
        .unwrap_or_else(|error| panic!("migrating {}: {error}", db.name()));
    Fresh { store, db }
}

conformance::suite!(fresh());
