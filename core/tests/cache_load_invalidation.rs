//! A load overtaken by invalidations or writes: what it may cache, and
//! what it must leave alone. The first four tests, and the one of a later
//! load's value after `invalidate_all`, failed before the load checked
//! invalidations by their predicates instead of by the generation alone
//! and stopped removing the key after a refused write; the last two
//! failed against the first version of that fix.

mod swr;

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

use brace::cache::Cache;
use brace::time::ManualClock;
use swr::{SOFT, block_on, gated, poll_once, swr_cache, write_during_a_load};

/// Docs (`get_or_load`, "Racing writes"): a load "during which the key is
/// `insert`ed, still answers its callers but is not cached: ... the insert
/// is newer". Here the insert comes after an `invalidate_all`, or after an
/// `invalidate_if` that does not even match key 1, so it is valid, yet the
/// load used to remove it on its way out (reported `Invalidated`).
#[test]
fn an_insert_after_an_invalidation_survives_a_load_that_spanned_both() {
    let invalidations: [fn(&Cache<u32, u32>); 2] =
        [|c| c.invalidate_all(), |c| c.invalidate_if(|k, _| *k == 99)];
    for invalidate in invalidations {
        let (cache, log) = write_during_a_load(|c| {
            invalidate(c);
            c.insert(1, 20);
        });
        let reported = log.lock().unwrap().clone();
        assert_eq!(
            cache.get(&1),
            Some(20),
            "the load removed a newer insert (reported {reported:?})"
        );
        assert!(reported.is_empty(), "reported: {reported:?}");
    }
}

/// Docs (`get_or_load`, "Racing writes"): only "an `invalidate_all` or a
/// matching `invalidate_if`" keeps a load's value out of the cache. A
/// predicate that cannot match key 1 does too.
#[test]
fn a_load_overtaken_by_a_non_matching_invalidate_if_is_cached() {
    let (cache, _) = write_during_a_load(|c| c.invalidate_if(|k, _| *k == 99));
    assert_eq!(
        cache.get(&1),
        Some(10),
        "a non-matching predicate kept the value out"
    );
}

/// A stale-while-revalidate cache whose key 1 holds 10, now past its soft
/// TTL (the next `get_or_load` refreshes it).
fn stale_one(clock: &ManualClock) -> Cache<u32, u32, ManualClock> {
    let cache = swr_cache(clock);
    assert_eq!(
        block_on(cache.get_or_load(1, || std::future::ready(Ok::<u32, &'static str>(10)))),
        Ok(10)
    );
    clock.advance(SOFT);
    cache
}

/// A stale-while-revalidate refresh overtaken by an unrelated
/// `invalidate_if`: the stale value was not invalidated and is within its
/// hard TTL, yet the refresh leaves the key empty.
#[test]
fn a_refresh_overtaken_by_an_unrelated_invalidate_if_does_not_drop_the_key() {
    let clock = ManualClock::new();
    let cache = stale_one(&clock);
    let gate = Arc::new(AtomicBool::new(false));
    let mut refresh = pin!(cache.get_or_load(1, gated(&gate, Ok(11))));
    assert!(poll_once(refresh.as_mut()).is_pending());
    cache.invalidate_if(|k, _| *k == 99);
    assert_eq!(cache.get(&1), Some(10), "still valid and servable");
    gate.store(true, Ordering::SeqCst);
    assert_eq!(poll_once(refresh.as_mut()), Poll::Ready(Ok(11)));
    assert!(
        cache.get(&1).is_some(),
        "key 1 was dropped by an unrelated invalidate_if"
    );
}

/// `CacheStats::stale_served`: "Reads answered with a value past its soft
/// TTL." A failed refresh whose key was re-inserted meanwhile answers with
/// the fresh insert, and counts it as stale.
#[test]
fn a_fresh_value_after_a_failed_refresh_is_not_counted_stale() {
    let clock = ManualClock::new();
    let cache = stale_one(&clock);
    let gate = Arc::new(AtomicBool::new(false));
    let mut refresh = pin!(cache.get_or_load(1, gated::<u32>(&gate, Err("db down"))));
    assert!(poll_once(refresh.as_mut()).is_pending());
    cache.insert(1, 20);
    gate.store(true, Ordering::SeqCst);
    assert_eq!(poll_once(refresh.as_mut()), Poll::Ready(Ok(20)));
    assert_eq!(
        cache.stats().stale_served,
        0,
        "a fresh value counted as stale"
    );
}

/// A matching `invalidate_if` keeps the load's value out, and a sweep that
/// retires the predicate before the load finishes does not let it in.
#[test]
fn a_load_overtaken_by_a_matching_invalidate_if_is_not_cached_even_after_a_sweep() {
    for sweep in [false, true] {
        let (cache, _) = write_during_a_load(|c| {
            c.invalidate_if(|k, _| *k == 1);
            if sweep {
                c.run_pending_tasks();
            }
        });
        assert_eq!(cache.get(&1), None, "sweep: {sweep}");
    }
}

/// A sweep during a load, with an `invalidate_if` that cannot match: the
/// predicate is gone before the load could ask it, so the load does not
/// cache (it cannot tell), but it removes nothing either.
#[test]
fn a_load_that_cannot_ask_a_retired_predicate_caches_nothing_and_removes_nothing() {
    let (cache, log) = write_during_a_load(|c| {
        c.invalidate_if(|k, _| *k == 99);
        c.run_pending_tasks();
        c.insert(2, 30);
    });
    assert_eq!(cache.get(&1), None);
    assert_eq!(cache.get(&2), Some(30));
    assert!(log.lock().unwrap().is_empty());
}

/// `invalidate_all` during a load: its value is not cached.
#[test]
fn a_load_overtaken_by_invalidate_all_is_not_cached() {
    let (cache, log) = write_during_a_load(|c| c.invalidate_all());
    assert_eq!(cache.get(&1), None);
    assert!(log.lock().unwrap().is_empty());
}

/// Holds a load of key 1 that will answer `held`, runs `invalidate`, lets
/// a later caller load 20 (it does not join the held load: the
/// invalidation moved the flight epoch), then lets the held load finish.
/// The held load answers its callers, but the cache must keep the newer 20.
fn a_newer_load_survives_an_older_one(
    cache: &Cache<u32, u32, impl brace::time::Clock + 'static>,
    held: u32,
    invalidate: impl FnOnce(),
) {
    let gate = Arc::new(AtomicBool::new(false));
    let mut older = pin!(cache.get_or_load(1, gated(&gate, Ok(held))));
    assert!(poll_once(older.as_mut()).is_pending());
    invalidate();
    assert_eq!(
        block_on(cache.get_or_load(1, || std::future::ready(Ok::<u32, &'static str>(20)))),
        Ok(20)
    );
    gate.store(true, Ordering::SeqCst);
    assert_eq!(poll_once(older.as_mut()), Poll::Ready(Ok(held)));
    assert_eq!(
        cache.get(&1),
        Some(20),
        "the older load's end lost the newer value"
    );
}

fn plain_cache() -> Cache<u32, u32> {
    Cache::<u32, u32>::builder()
        .max_capacity(100)
        .build()
        .unwrap()
}

/// After an `invalidate_all` the older load is rightly not cached, but it
/// used to take out the newer load's value on its way out.
#[test]
fn a_load_overtaken_by_invalidate_all_leaves_a_later_loads_value() {
    let cache = plain_cache();
    a_newer_load_survives_an_older_one(&cache, 10, || cache.invalidate_all());
}

/// An `invalidate_if` that does not match: the older load's value passes
/// the predicate, and landed over the newer one once the predicate check
/// replaced the generation check (found by review of that fix).
#[test]
fn an_older_load_does_not_overwrite_a_newer_loads_value() {
    let cache = plain_cache();
    a_newer_load_survives_an_older_one(&cache, 10, || cache.invalidate_if(|k, _| *k == 99));
}

/// The same for a refresh: the stale 10 is invalidated by a predicate
/// that the refreshed 11 would pass; the refresh must not overwrite the 20
/// a caller loaded since.
#[test]
fn a_refresh_does_not_overwrite_a_value_loaded_after_an_invalidation() {
    let clock = ManualClock::new();
    let cache = stale_one(&clock);
    a_newer_load_survives_an_older_one(&cache, 11, || cache.invalidate_if(|_, v| *v == 10));
}
