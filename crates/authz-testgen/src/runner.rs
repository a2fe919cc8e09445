//! Seeded, replayable property runs.
//!
//! Every run draws a fresh seed (so CI keeps exploring) and prints it; setting
//! `PROPTEST_RNG_SEED` to that number replays the run case for case. A failure is also
//! persisted to a regression file kept in the repository, which every later run replays first.

use std::hash::{BuildHasher, Hasher};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{
    Config, FileFailurePersistence, RngSeed, TestCaseError, TestError, TestRunner,
};

/// The environment variable that replays a run (proptest's own).
pub const SEED_VARIABLE: &str = "PROPTEST_RNG_SEED";

/// The seed of this run: the one `PROPTEST_RNG_SEED` names, else a fresh random one.
pub fn seed() -> u64 {
    std::env::var(SEED_VARIABLE)
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| {
            // `RandomState` is seeded from the operating system's randomness per instance.
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        })
}

/// Runs `test` on `cases` values of `strategy`, seeded and replayable; panics (as a test
/// does) with the seed, the minimal failing value and the reason when a case fails.
///
/// `regressions` is the file failures are persisted to and replayed from, e.g.
/// `concat!(env!("CARGO_MANIFEST_DIR"), "/tests/proptest-regressions/properties.txt")`.
#[track_caller]
#[expect(
    clippy::panic,
    reason = "a failed property fails its test, as `assert!` would"
)]
pub fn check<S: Strategy>(
    name: &str,
    cases: u32,
    regressions: &'static str,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let seed = seed();
    println!("{name}: seed {seed} (replay: {SEED_VARIABLE}={seed})");
    let config = Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    match runner.run(&strategy, test) {
        Ok(()) => {}
        Err(TestError::Abort(why)) => {
            panic!("{name} aborted (seed {seed}, replay: {SEED_VARIABLE}={seed}): {why}")
        }
        Err(TestError::Fail(why, value)) => panic!(
            "{name} failed (seed {seed}, replay: {SEED_VARIABLE}={seed}): {why}\nminimal failing input: {value:#?}"
        ),
    }
}

/// Draws `count` values of `strategy` from a seeded, printed seed (as [`check`] does), for tests
/// that cannot run inside a proptest loop — an async test talking to a server, say. There is no
/// shrinking; the printed seed replays the same values.
#[track_caller]
#[expect(
    clippy::panic,
    reason = "a strategy that cannot draw fails its test, as `assert!` would"
)]
pub fn draw<S: Strategy>(name: &str, strategy: S, count: usize) -> Vec<S::Value> {
    let seed = seed();
    println!("{name}: seed {seed} (replay: {SEED_VARIABLE}={seed})");
    let mut runner = TestRunner::new(Config {
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    });
    (0..count)
        .map(|_| match strategy.new_tree(&mut runner) {
            Ok(tree) => tree.current(),
            Err(why) => panic!("{name}: cannot draw a value (seed {seed}): {why}"),
        })
        .collect()
}

/// Feeds every file of a fuzz corpus directory to `each` (the fuzz target's body), so the
/// normal test suite replays what the fuzzer found; returns how many files it replayed.
#[track_caller]
#[expect(
    clippy::panic,
    reason = "an unreadable corpus fails its test, as `assert!` would"
)]
pub fn replay_corpus(directory: &str, mut each: impl FnMut(&[u8])) -> usize {
    let entries = match std::fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) => panic!("cannot read {directory}: {error}"),
    };
    let mut replayed = 0;
    for entry in entries {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(error) => panic!("cannot list {directory}: {error}"),
        };
        match std::fs::read(&path) {
            Ok(data) => each(&data),
            Err(error) => panic!("cannot read {}: {error}", path.display()),
        }
        replayed += 1;
    }
    replayed
}
