//! The notion of now, injected wherever time matters so tests control it.
//!
//! `authz-core` is pure and takes time as a parameter; everything above it (the decision
//! point, the cache, the audit writer, admin writes) asks a [`Clock`]. Only [`SystemClock`]
//! reads the wall clock, so a grep finds every place real time enters the system.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};

/// A source of the current time.
pub trait Clock: Clone + Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that reads the wall clock"
    )]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock stopped at one instant.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// A clock a test moves by hand; clones share the same time, so a test can hold one and
/// advance the time the server (holding another) sees.
#[derive(Debug, Clone)]
pub struct ManualClock {
    micros: Arc<AtomicI64>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock {
            micros: Arc::new(AtomicI64::new(start.timestamp_micros())),
        }
    }

    pub fn set(&self, at: DateTime<Utc>) {
        self.micros.store(at.timestamp_micros(), Ordering::SeqCst);
    }

    /// Moves the clock forward (or back, with a negative delta).
    pub fn advance(&self, by: TimeDelta) {
        let by = by.num_microseconds().unwrap_or(i64::MAX);
        self.micros
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(by))
            })
            .ok();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        let micros = self.micros.load(Ordering::SeqCst);
        // Out of chrono's range only after `advance` by centuries: clamp rather than panic.
        DateTime::from_timestamp_micros(micros).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap_or_default()
    }

    #[test]
    fn a_manual_clock_is_shared_by_its_clones() {
        let clock = ManualClock::new(at(1_000));
        let seen_by_server = clock.clone();
        clock.advance(TimeDelta::seconds(30));
        assert_eq!(seen_by_server.now(), at(1_030));
        clock.set(at(5));
        assert_eq!(seen_by_server.now(), at(5));
    }

    #[test]
    fn a_fixed_clock_never_moves() {
        let clock = FixedClock(at(42));
        assert_eq!(clock.now(), clock.now());
        assert_eq!(clock.now(), at(42));
    }

    #[test]
    fn the_system_clock_moves_forward() {
        let first = SystemClock.now();
        let second = SystemClock.now();
        assert!(second >= first);
        assert!(first > at(1_700_000_000), "the wall clock reads {first}");
    }
}
