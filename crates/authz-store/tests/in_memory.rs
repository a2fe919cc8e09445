//! `InMemoryStore` against the store conformance suite (`conformance/`), which every backend
//! runs.

mod conformance;

use authz_store::InMemoryStore;

conformance::suite!(async { Box::new(InMemoryStore::new()) });
