//! Keyed breakers: one breaker per key, bounded, idle keys evicted, manual
//! controls per key.
#![cfg(all(feature = "std", not(loom)))]

use brace::breaker::registry::{BreakerRegistry, RegistryConfigError};
use brace::breaker::{Config, State};
use brace::time::ManualClock;
use proptest::prelude::*;
use std::sync::Arc;
use std::time::Duration;

fn trip_on_first_failure() -> Config {
    Config::builder()
        .consecutive_failures(1)
        .open_duration(Duration::from_secs(30))
        .permitted_calls_in_half_open(1)
        .build()
        .unwrap()
}

fn registry(capacity: usize, clock: &ManualClock) -> BreakerRegistry<String, ManualClock> {
    BreakerRegistry::builder(trip_on_first_failure())
        .capacity(capacity)
        .idle_after(Duration::from_secs(60))
        .build(clock.clone())
        .unwrap()
}

#[test]
fn one_breaker_per_key() {
    let clock = ManualClock::new();
    let reg = registry(100, &clock);
    let a1 = reg.breaker("a");
    let a2 = reg.breaker("a");
    let b = reg.breaker("b");
    assert!(Arc::ptr_eq(&a1, &a2));
    assert!(!Arc::ptr_eq(&a1, &b));
    assert_eq!(reg.len(), 2);
}

#[test]
fn a_failing_key_trips_only_its_own_breaker() {
    let clock = ManualClock::new();
    let reg = registry(100, &clock);
    reg.try_acquire("db-1").unwrap().record_failure();
    assert_eq!(reg.state("db-1"), Some(State::Open));
    let rejected = reg.try_acquire("db-1").unwrap_err();
    assert_eq!(rejected.retry_after(), Some(Duration::from_secs(30)));
    reg.try_acquire("db-2").unwrap().record_success();
    assert_eq!(reg.state("db-2"), Some(State::Closed));
}

#[test]
fn open_duration_runs_on_the_registry_clock() {
    let clock = ManualClock::new();
    let reg = registry(100, &clock);
    reg.try_acquire("k").unwrap().record_failure();
    clock.advance(Duration::from_secs(29));
    assert!(reg.try_acquire("k").is_err());
    clock.advance(Duration::from_secs(1));
    reg.try_acquire("k")
        .expect("probe admitted")
        .record_success();
    assert_eq!(reg.state("k"), Some(State::Closed));
}

#[test]
fn force_open_and_reset_by_key() {
    let clock = ManualClock::new();
    let reg = registry(100, &clock);
    // Forcing an unknown key creates it, so the force sticks.
    reg.force_open("tenant-9");
    assert_eq!(reg.state("tenant-9"), Some(State::ForcedOpen));
    assert_eq!(reg.try_acquire("tenant-9").unwrap_err().retry_after(), None);
    assert!(reg.reset("tenant-9"));
    assert_eq!(reg.state("tenant-9"), Some(State::Closed));
    assert!(reg.try_acquire("tenant-9").is_ok());
    assert!(!reg.reset("never-seen"));
    assert_eq!(reg.state("never-seen"), None);
}

#[test]
fn handle_outlives_lookups_and_sees_the_same_state() {
    let clock = ManualClock::new();
    let reg = registry(100, &clock);
    let watch = reg.breaker("api");
    reg.try_acquire("api").unwrap().record_failure();
    assert_eq!(watch.state(), State::Open);
    watch.reset();
    assert_eq!(reg.state("api"), Some(State::Closed));
}

#[test]
fn get_never_creates() {
    let clock = ManualClock::new();
    let reg = registry(100, &clock);
    assert!(reg.get("x").is_none());
    assert!(reg.snapshot("x").is_none());
    assert!(reg.is_empty());
}

#[test]
fn never_holds_more_than_capacity() {
    let clock = ManualClock::new();
    for capacity in [1, 3, 8, 50, 100, 200, 10_007] {
        let reg = registry(capacity, &clock);
        for i in 0..(capacity * 5) {
            reg.breaker(&format!("k{i}"));
            assert!(reg.len() <= capacity, "{} > {capacity}", reg.len());
        }
        // The capacity is split exactly (100 was 16 shards of 6: 96, and
        // a shard evicted at its seventh breaker).
        assert_eq!(reg.capacity(), capacity);
    }
}

#[test]
fn idle_breakers_make_room_first() {
    let clock = ManualClock::new();
    let reg = registry(4, &clock); // small: one shard
    for k in ["a", "b", "c", "d"] {
        reg.breaker(k);
    }
    clock.advance(Duration::from_secs(61));
    reg.breaker("a"); // "a" is in use again
    reg.breaker("e"); // full: "b", "c", "d" are idle and go
    assert_eq!(reg.len(), 2);
    assert!(reg.get("a").is_some());
    assert!(reg.get("e").is_some());
    assert!(reg.get("b").is_none());
}

#[test]
fn when_nothing_is_idle_open_breakers_outlive_closed_ones() {
    let clock = ManualClock::new();
    let reg = registry(3, &clock);
    reg.try_acquire("open").unwrap().record_failure();
    clock.advance(Duration::from_secs(10));
    reg.breaker("closed");
    reg.force_open("forced");
    clock.advance(Duration::from_secs(10));
    reg.breaker("new");
    assert!(
        reg.get("closed").is_none(),
        "the closed breaker was evicted"
    );
    assert_eq!(reg.state("open"), Some(State::Open));
    assert_eq!(reg.state("forced"), Some(State::ForcedOpen));
    assert!(reg.get("new").is_some());
}

#[test]
fn forced_open_breakers_are_not_evicted_for_idleness() {
    let clock = ManualClock::new();
    let reg = registry(100, &clock);
    reg.force_open("quarantined");
    reg.breaker("idle");
    clock.advance(Duration::from_secs(3600));
    assert_eq!(reg.evict_idle(), 1);
    assert_eq!(reg.state("quarantined"), Some(State::ForcedOpen));
    assert!(reg.get("idle").is_none());
}

#[test]
fn evict_idle_keeps_recently_used_keys() {
    let clock = ManualClock::new();
    let reg = registry(100, &clock);
    for i in 0..10 {
        reg.breaker(&format!("k{i}"));
    }
    clock.advance(Duration::from_secs(59));
    assert_eq!(reg.evict_idle(), 0);
    reg.breaker("k0");
    clock.advance(Duration::from_secs(2));
    assert_eq!(reg.evict_idle(), 9);
    assert_eq!(reg.len(), 1);
}

#[test]
fn remove_and_snapshots() {
    let clock = ManualClock::new();
    let reg = registry(100, &clock);
    reg.try_acquire("a").unwrap().record_success();
    reg.try_acquire("b").unwrap().record_failure();
    let mut snaps = reg.snapshots();
    snaps.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(snaps.len(), 2);
    assert_eq!(snaps[0].1.state, State::Closed);
    assert_eq!(snaps[1].1.state, State::Open);
    assert!(reg.remove("a"));
    assert!(!reg.remove("a"));
    assert_eq!(reg.len(), 1);
}

#[test]
fn invalid_config_names_the_field() {
    let clock = ManualClock::new();
    let err = BreakerRegistry::builder(Config::default())
        .capacity(0)
        .build::<String, _>(clock.clone())
        .unwrap_err();
    assert_eq!(err, RegistryConfigError::ZeroCapacity);
    assert_eq!(err.field(), "capacity");
    let err = BreakerRegistry::builder(Config::default())
        .idle_after(Duration::ZERO)
        .build::<String, _>(clock)
        .unwrap_err();
    assert_eq!(err.field(), "idle_after");
    assert_eq!(err.to_string(), "idle_after must be longer than zero");
}

#[test]
fn threads_racing_on_new_keys_share_one_breaker_per_key() {
    let clock = ManualClock::new();
    let reg = Arc::new(registry(1_000, &clock));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let reg = Arc::clone(&reg);
            std::thread::spawn(move || {
                (0..50)
                    .map(|k| reg.breaker(&format!("k{k}")))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let seen: Vec<Vec<_>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(reg.len(), 50);
    for other in &seen[1..] {
        for (a, b) in seen[0].iter().zip(other) {
            assert!(Arc::ptr_eq(a, b));
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Lookup(u8),
    Fail(u8),
    Force(u8),
    Reset(u8),
    Advance(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..12).prop_map(Op::Lookup),
        1 => (0u8..12).prop_map(Op::Fail),
        1 => (0u8..12).prop_map(Op::Force),
        1 => (0u8..12).prop_map(Op::Reset),
        1 => (0u16..90).prop_map(Op::Advance),
    ]
}

proptest! {
    /// Against a reference model of what must hold whatever is evicted: the
    /// bound, the key just used is present, state of a present key matches
    /// what was done to it since it was (re)created.
    #[test]
    fn registry_matches_reference_model(ops in proptest::collection::vec(op(), 1..200)) {
        let clock = ManualClock::new();
        let reg = registry(5, &clock);
        // key -> the state it must have if still present
        let mut model: std::collections::HashMap<String, State> = Default::default();
        for op in ops {
            match op {
                Op::Advance(s) => clock.advance(Duration::from_secs(u64::from(s))),
                Op::Lookup(k) | Op::Fail(k) | Op::Force(k) | Op::Reset(k) => {
                    let key = format!("k{k}");
                    if reg.get(key.as_str()).is_none() {
                        model.remove(&key); // evicted: comes back fresh
                    }
                    let expected = model.entry(key.clone()).or_insert(State::Closed);
                    match op {
                        Op::Lookup(_) => { reg.breaker(key.as_str()); }
                        Op::Fail(_) => {
                            if let Ok(p) = reg.try_acquire(key.as_str()) {
                                p.record_failure();
                            }
                            if *expected == State::Closed { *expected = State::Open; }
                        }
                        Op::Force(_) => { reg.force_open(key.as_str()); *expected = State::ForcedOpen; }
                        Op::Reset(_) => { reg.breaker(key.as_str()); reg.reset(key.as_str()); *expected = State::Closed; }
                        Op::Advance(_) => unreachable!(),
                    }
                    prop_assert!(reg.get(key.as_str()).is_some(), "key just used is present");
                }
            }
            prop_assert!(reg.len() <= 5);
            for (key, expected) in &model {
                if let Some(state) = reg.state(key.as_str()) {
                    // Open may have moved on to half-open after 30 s; that
                    // is the breaker's business, not the registry's.
                    let ok = state == *expected
                        || (*expected == State::Open && matches!(state, State::HalfOpen));
                    prop_assert!(ok, "{key}: {state:?} but expected {expected:?}");
                }
            }
        }
    }
}

#[test]
fn a_transition_listener_may_call_back_into_the_registry() {
    // The listener evicts idle breakers; it runs when `try_acquire` moves
    // "h" from open to half-open, which must not hold the registry's lock.
    type Registry = BreakerRegistry<String, ManualClock>;
    let registry: Arc<std::sync::OnceLock<std::sync::Weak<Registry>>> = Arc::default();
    let in_listener = Arc::clone(&registry);
    let config = Config::builder()
        .consecutive_failures(1)
        .open_duration(Duration::from_secs(30))
        .on_transition(move |_| {
            if let Some(registry) = in_listener.get().and_then(std::sync::Weak::upgrade) {
                registry.evict_idle();
            }
        })
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let reg = Arc::new(
        BreakerRegistry::builder(config)
            .capacity(8)
            .build(clock.clone())
            .unwrap(),
    );
    registry.set(Arc::downgrade(&reg)).unwrap();
    reg.try_acquire("h").unwrap().record_failure();
    clock.advance(Duration::from_secs(31));
    let (done, finished) = std::sync::mpsc::channel();
    let on_thread = Arc::clone(&reg);
    std::thread::spawn(move || {
        let probe = on_thread.try_acquire("h");
        done.send(probe.is_ok()).unwrap();
    });
    let probed = finished
        .recv_timeout(Duration::from_secs(5))
        .expect("try_acquire returned (no self-deadlock)");
    assert!(probed, "the half-open probe");
}
