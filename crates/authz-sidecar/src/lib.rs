//! Client-side decision cache: moka in-process (L1) plus optional Redis (L2), with epoch-based
//! invalidation fed by `WatchInvalidations` and Redis pub/sub.
//!
//! Not built yet: this crate is reserved by the workspace layout and filled by the sidecar
//! cache stage. It deliberately exports nothing, so nothing can depend on a cache that does
//! not exist.
