//! Admin calls, transport-neutral: who is calling (an API key's secret, of which only a hash is
//! stored), whether they may (the same engine, against the `authz.*` admin permissions every
//! catalog carries), then the store. A call that fails any of these writes nothing.

mod actor;
mod service;

pub use actor::{Actor, AdminAction, secret_hash};
pub use service::{Admin, AdminError, BOOTSTRAP_KEY_MIN_LEN, bootstrap_platform};
