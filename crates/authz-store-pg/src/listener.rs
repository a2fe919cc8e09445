//! Commit announcements: one direct, long-lived connection `LISTEN`s on `authz_changes` and
//! feeds the broadcast channel behind `Store::subscribe`. When the connection dies it is
//! re-established with backoff; announcements made meanwhile are lost, which followers
//! tolerate (an announcement is a hint: they also poll `changes_since`).

use std::time::Duration;

use authz_store::Committed;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::CHANNEL;

/// The listener connection's `application_name`, to find it in `pg_stat_activity`.
pub const LISTENER_APPLICATION: &str = "authz-store-pg listener";

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(30);

/// Connects and listens, then hands the listener to a task; returns once it is listening.
pub(crate) async fn start(
    options: PgConnectOptions,
    commits: broadcast::Sender<Committed>,
) -> Result<JoinHandle<()>, sqlx::Error> {
    let options = options.application_name(LISTENER_APPLICATION);
    let listener = listen(&options).await?;
    Ok(tokio::spawn(run(listener, options, commits)))
}

async fn listen(options: &PgConnectOptions) -> Result<PgListener, sqlx::Error> {
    // `PgListener` reconnects through a pool: one of its own, never the store's (which may go
    // through a transaction-mode pooler, where `LISTEN` does not work).
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_with(options.clone())
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

async fn run(
    mut listener: PgListener,
    options: PgConnectOptions,
    commits: broadcast::Sender<Committed>,
) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => match parse(notification.payload()) {
                // Nobody subscribed is fine.
                Some(commit) => drop(commits.send(commit)),
                None => tracing::warn!(
                    payload = notification.payload(),
                    "ignoring a malformed commit announcement"
                ),
            },
            Ok(None) => {
                tracing::warn!("commit listener reconnected; announcements in between are lost");
            }
            Err(error) => {
                tracing::warn!(%error, "commit listener failed; reconnecting");
                drop(listener);
                listener = reconnect(&options).await;
            }
        }
    }
}

/// A new listener, however long it takes: retries with exponential backoff.
async fn reconnect(options: &PgConnectOptions) -> PgListener {
    let mut delay = FIRST_RETRY;
    loop {
        tokio::time::sleep(delay).await;
        match listen(options).await {
            Ok(listener) => {
                tracing::info!("commit listener listening again");
                return listener;
            }
            Err(error) => {
                tracing::warn!(%error, retry_in = ?delay, "commit listener cannot reconnect");
                delay = (delay * 2).min(LAST_RETRY);
            }
        }
    }
}

/// `<tenant_id>:<revision>`; tenant ids may hold `:`, revisions do not.
fn parse(payload: &str) -> Option<Committed> {
    let (tenant_id, revision) = payload.rsplit_once(':')?;
    Some(Committed {
        tenant_id: tenant_id.to_owned(),
        revision: revision.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_read_back() {
        let commit = |tenant_id: &str, revision| {
            Some(Committed {
                tenant_id: tenant_id.to_owned(),
                revision,
            })
        };
        assert_eq!(parse("acme:7"), commit("acme", 7));
        assert_eq!(parse("a:b:12"), commit("a:b", 12));
        assert_eq!(parse("acme"), None);
        assert_eq!(parse("acme:-1"), None);
    }
}
