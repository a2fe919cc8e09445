//! `InMemoryStore` against the store conformance suite (`conformance/mod.rs`), which every
//! backend runs.

mod conformance;

use authz_store::InMemoryStore;

#[tokio::test]
async fn an_empty_store_holds_nothing() {
    conformance::an_empty_store_holds_nothing(&InMemoryStore::new()).await;
}

#[tokio::test]
async fn every_write_gets_a_higher_revision() {
    conformance::every_write_gets_a_higher_revision(&InMemoryStore::new()).await;
}

#[tokio::test]
async fn writing_a_tenant_again_replaces_it() {
    conformance::writing_a_tenant_again_replaces_it(&InMemoryStore::new()).await;
}

#[tokio::test]
async fn the_platform_policy_is_kept_apart() {
    conformance::the_platform_policy_is_kept_apart(&InMemoryStore::new()).await;
}

#[tokio::test]
async fn a_policy_that_does_not_compile_writes_nothing() {
    conformance::a_policy_that_does_not_compile_writes_nothing(&InMemoryStore::new()).await;
}

#[tokio::test]
async fn a_platform_policy_under_another_id_is_a_tenant() {
    conformance::a_platform_policy_under_another_id_is_a_tenant(&InMemoryStore::new()).await;
}

#[tokio::test]
async fn the_platform_id_is_written_only_as_the_platform() {
    conformance::the_platform_id_is_written_only_as_the_platform(&InMemoryStore::new()).await;
}
