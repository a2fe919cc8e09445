//! Commit announcements over `LISTEN`/`NOTIFY`: other servers' commits reach a store's
//! subscribers, and the listener survives losing its connection.

use std::time::Duration;

use authz_store::{Committed, Store};
use authz_store_pg::{LISTENER_APPLICATION, PgStore, PgStoreOptions};
use tokio::sync::broadcast;

use super::put;
use crate::conformance::{clinic, touch};
use crate::fresh;

/// Waits (at most 10 s) for `tenant_id` reaching `revision` to be announced.
async fn announced(commits: &mut broadcast::Receiver<Committed>, tenant_id: &str, revision: u64) {
    let wanted = Committed {
        tenant_id: tenant_id.to_owned(),
        revision,
    };
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match commits.recv().await {
                Ok(commit) if commit == wanted => return true,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return false,
            }
        }
    })
    .await;
    assert_eq!(got, Ok(true), "{wanted:?} was announced");
}

async fn write(store: &dyn Store, n: u32) -> u64 {
    store
        .write_relationships("acme", &[touch(&format!("patient:n{n}#assignee@user:ann"))])
        .await
        .unwrap()
}

/// The listener's backend, once it is listening.
async fn listener_pid(store: &PgStore, not: Option<i32>) -> i32 {
    for _ in 0..200 {
        let pid: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = $1 \
               AND query LIKE 'LISTEN%' AND pid IS DISTINCT FROM $2",
        )
        .bind(LISTENER_APPLICATION)
        .bind(not)
        .fetch_optional(store.pool())
        .await
        .unwrap();
        if let Some(pid) = pid {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no listener backend (other than {not:?}) within 10 s");
}

#[tokio::test]
async fn commits_of_other_servers_are_announced() {
    let store = fresh().await;
    put(&*store, clinic("acme")).await;
    let other = PgStore::connect(PgStoreOptions::new(store.db.options()))
        .await
        .unwrap();
    let mut commits = store.subscribe();
    let revision = write(&other, 1).await;
    announced(&mut commits, "acme", revision).await;
}

#[tokio::test]
async fn the_listener_survives_losing_its_connection() {
    let store = fresh().await;
    put(&*store, clinic("acme")).await;
    let mut commits = store.subscribe();
    let first = listener_pid(&store, None).await;
    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(first)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(terminated);
    listener_pid(&store, Some(first)).await;
    let revision = write(&*store, 2).await;
    announced(&mut commits, "acme", revision).await;
}
