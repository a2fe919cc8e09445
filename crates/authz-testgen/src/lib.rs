//! Generated tenants and requests for property tests, and the reference model they are
//! checked against.
//!
//! - [`strategy::world`] draws a valid tenant over a fixed home-health [`catalog`]: roles with
//!   inheritance, removals, locked grants, scoped and conditional grants with field visibility
//!   and step-up; principals of both kinds and every status, with sessions, token versions and
//!   API keys; bindings limited to containers and to windows; relationships through nested
//!   containers; forbid constraints; delegations.
//! - [`aim::request`] draws a request spec that [`aim::RequestSpec::resolve`] aims at
//!   a world: mostly valid questions, many of them ones the world allows.
//! - [`reference::expected`] answers a request from the documented rules, reason codes,
//!   deciding role and binding and obligations included.
//! - [`mix::OutcomeMix`] records what a run exercised and asserts it meant something;
//!   [`runner::check`] runs a property seeded and replayable.
//!
//! The engine's properties use it today; the store conformance suite, the list = check
//! property and the cache on/off property are meant to reuse the same worlds.

pub mod aim;
pub mod catalog;
pub mod expected;
pub mod mix;
pub mod reference;
pub mod request;
pub mod runner;
pub mod strategy;
pub mod world;

pub use aim::{RequestSpec, request, requests};
pub use expected::Expected;
pub use mix::OutcomeMix;
pub use reference::expected;
pub use request::Request;
pub use strategy::world;
pub use world::World;
