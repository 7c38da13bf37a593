//! Behaviour of the policy as the cache sees it: capacity, eviction order,
//! window adaptation, and a proptest against a reference model.

use super::*;
use alloc::vec;
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};

/// A cache of keys only: a read hits if the key is resident, otherwise it
/// misses and inserts. Returns whether it hit.
struct Simulator {
    policy: Policy,
    resident: HashSet<u64>,
    evicted: Vec<u64>,
    /// What every entry weighs.
    weight: u32,
}

impl Simulator {
    fn new(capacity: u64) -> Self {
        Simulator {
            policy: Policy::new(capacity),
            resident: HashSet::new(),
            evicted: Vec::new(),
            weight: 1,
        }
    }

    /// A policy that counts requests from the first one, not from half
    /// full: for tests of admission that reason about counts of one.
    fn counting_from_the_start(capacity: u64) -> Self {
        let mut sim = Self::new(capacity);
        sim.policy.counting = true;
        sim
    }

    /// A weighted policy of `entries` entries that each weigh `weight`.
    fn weighted(entries: u64, weight: u32) -> Self {
        Simulator {
            policy: Policy::weighted(entries * u64::from(weight)),
            resident: HashSet::new(),
            evicted: Vec::new(),
            weight,
        }
    }

    fn read(&mut self, key: u64) -> bool {
        if self.resident.contains(&key) {
            self.policy.record_access(key);
            return true;
        }
        self.policy.record_miss(key);
        self.evicted.clear();
        self.policy.insert(key, self.weight, &mut self.evicted);
        self.resident.insert(key);
        for hash in &self.evicted {
            assert!(self.resident.remove(hash), "{hash} evicted twice");
        }
        false
    }
}

/// xorshift64: a seeded stream of pseudo-random numbers.
fn random_stream(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

#[test]
fn a_cold_newcomer_is_rejected_and_a_frequent_one_displaces_the_victim() {
    let mut sim = Simulator::counting_from_the_start(100);
    for key in 0..100 {
        sim.read(key);
    }
    assert_eq!(sim.policy.weighted_size(), 100);
    // Key 100 pushes key 99 out of the window; 99 (seen once) does not beat
    // the probation victim 0 (seen once), so 99 is the one dropped.
    sim.read(100);
    assert_eq!(sim.evicted, [99]);
    // Key 100, read twice more, beats victim 0 when 101 pushes it out.
    sim.read(100);
    sim.read(100);
    sim.read(101);
    assert_eq!(sim.evicted, [0]);
    assert_eq!(sim.policy.weighted_size(), 100);
}

#[test]
fn a_hit_on_probation_protects_the_entry() {
    let mut sim = Simulator::counting_from_the_start(100);
    for key in 0..100 {
        sim.read(key);
    }
    // Key 0 is the probation victim; a hit promotes it to protected, so
    // the next victim is key 1.
    assert!(sim.read(0));
    for _ in 0..3 {
        sim.read(1000);
    }
    sim.read(1001);
    assert_eq!(sim.evicted, [1]);
    assert!(sim.resident.contains(&0));
}

#[test]
fn weighted_entries_never_exceed_capacity() {
    let mut policy = Policy::new(50);
    let mut evict = Vec::new();
    let mut resident: HashMap<u64, u32> = HashMap::new();
    let mut next = random_stream(7);
    for step in 0..5000u64 {
        let key = next() % 200;
        let weight = (next() % 12) as u32;
        evict.clear();
        if let Some(resident_weight) = resident.get_mut(&key) {
            policy.record_access(key);
            policy.update_weight(key, weight, &mut evict);
            *resident_weight = weight;
        } else {
            policy.record_miss(key);
            policy.insert(key, weight, &mut evict);
            resident.insert(key, weight);
        }
        for hash in &evict {
            assert!(
                resident.remove(hash).is_some(),
                "step {step}: {hash} not resident"
            );
        }
        let total: u64 = resident.values().map(|&w| u64::from(w)).sum();
        assert_eq!(policy.weighted_size(), total);
        assert!(total <= 50, "step {step}: {total} > 50");
    }
}

#[test]
fn an_entry_heavier_than_the_cache_is_rejected_at_once() {
    let mut policy = Policy::new(10);
    let mut evict = Vec::new();
    policy.insert(1, 11, &mut evict);
    assert_eq!(evict, [1]);
    assert_eq!(policy.weighted_size(), 0);
    evict.clear();
    policy.insert(2, 4, &mut evict);
    policy.update_weight(2, 40, &mut evict);
    assert_eq!(evict, [2]);
    assert_eq!(policy.weighted_size(), 0);
}

#[test]
fn a_zero_capacity_keeps_nothing() {
    let mut sim = Simulator::new(0);
    for key in [1, 2, 1, 1] {
        assert!(!sim.read(key));
        assert_eq!(sim.evicted, [key]);
    }
}

/// Phases of a fresh working set somewhat smaller than the cache, each read
/// many times in random order: what was hot a moment ago is cold now, so
/// recency predicts better than frequency.
fn shifting_working_sets(sim: &mut Simulator, phases: u64) {
    let mut next = random_stream(11);
    for phase in 0..phases {
        for _ in 0..2_000 {
            sim.read(phase * 1_000_000 + next() % 800);
        }
    }
}

#[test]
fn the_window_grows_on_a_recency_friendly_stream_and_shrinks_on_a_loop() {
    let mut sim = Simulator::new(1000);
    let initial = sim.policy.window_max();
    shifting_working_sets(&mut sim, 150);
    let after_recency = sim.policy.window_max();
    assert!(
        after_recency >= 4 * initial.max(50),
        "window {initial} -> {after_recency} on shifting working sets"
    );
    // A loop over 1500 keys: LRU would never hit; only a frequency-guarded
    // main space keeps part of the loop, so the window should shrink.
    for _ in 0..200 {
        for key in 0..1500 {
            sim.read(10_000_000_000 + key);
        }
    }
    let after_loop = sim.policy.window_max();
    assert!(
        after_loop * 4 <= after_recency,
        "window {after_recency} -> {after_loop} on a loop"
    );
}

#[derive(Clone, Debug)]
enum Op {
    Read(u64),
    Insert(u64, u32),
    Reweigh(u64, u32),
    Remove(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..48u64).prop_map(Op::Read),
        3 => (0..48u64, 0..12u32).prop_map(|(k, w)| Op::Insert(k, w)),
        1 => (0..48u64, 0..12u32).prop_map(|(k, w)| Op::Reweigh(k, w)),
        1 => (0..48u64).prop_map(Op::Remove),
    ]
}

proptest! {
    /// The model: the weight of every hash that was inserted and neither
    /// evicted nor removed since. The policy must agree with it, report each
    /// eviction of a resident hash once, and stay within capacity.
    #[test]
    fn residents_match_the_model_and_capacity_holds(
        capacity in 0..40u64,
        ops in proptest::collection::vec(op(), 1..400),
    ) {
        let mut policy = Policy::new(capacity);
        let mut model: HashMap<u64, u32> = HashMap::new();
        let mut evict = vec![];
        for op in ops {
            evict.clear();
            match op {
                Op::Read(key) if model.contains_key(&key) => policy.record_access(key),
                Op::Read(key) => policy.record_miss(key),
                Op::Insert(key, _) if model.contains_key(&key) => {}
                Op::Insert(key, weight) => {
                    policy.insert(key, weight, &mut evict);
                    model.insert(key, weight);
                }
                Op::Reweigh(key, weight) => {
                    policy.update_weight(key, weight, &mut evict);
                    if let Some(w) = model.get_mut(&key) {
                        *w = weight;
                    }
                }
                Op::Remove(key) => {
                    policy.remove(key);
                    model.remove(&key);
                }
            }
            for hash in &evict {
                prop_assert!(model.remove(hash).is_some(), "{} reported but not resident", hash);
            }
            let total: u64 = model.values().map(|&w| u64::from(w)).sum();
            prop_assert_eq!(policy.weighted_size(), total);
            prop_assert!(total <= capacity);
            for key in 0..48u64 {
                prop_assert_eq!(policy.is_resident(key), model.contains_key(&key));
            }
        }
    }
}

/// Hits recorded as one batch (looked up first, then applied) leave the
/// policy exactly as the same hits recorded one at a time: the next misses
/// evict the same entries.
#[test]
fn batched_hits_match_hits_one_at_a_time() {
    let capacity = 200;
    let (mut one, mut batched) = (Simulator::new(capacity), Simulator::new(capacity));
    let mut next = random_stream(11);
    for _ in 0..20 {
        // Fill both alike with misses...
        for _ in 0..150 {
            let key = next() % 600;
            assert_eq!(one.read(key), batched.read(key));
        }
        // ...then the same hits, one at a time against batches of 32.
        let mut hits: Vec<u64> = one.resident.iter().copied().collect();
        hits.sort_unstable();
        hits.retain(|&k| next() % 3 != 0 || k % 2 == 0);
        for &key in &hits {
            one.policy.record_access(key);
        }
        for chunk in hits.chunks(32) {
            batched.policy.record_accesses(chunk);
        }
        assert_eq!(one.resident, batched.resident);
    }
    assert!(one.evicted == batched.evicted, "the last evictions differ");
}

#[test]
fn a_loop_slightly_larger_than_the_cache_keeps_a_stable_resident_set() {
    // 1,013 keys in a cycle through 1,000 entries (the shape of the LIRS
    // `loop` trace): LRU never hits, OPT hits 98.7%. Frequency admission
    // that keeps the resident on a tie gets close to OPT; admitting a warm
    // loser now and then (Caffeine's 1/128) evicts a key the loop needs
    // next, and each such miss spreads: this policy fell to 94–96%.
    let mut sim = Simulator::new(1000);
    let key = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let cycles = 60;
    let mut hits = 0;
    let mut reads = 0;
    for cycle in 0..cycles {
        for i in 0..1013 {
            let hit = sim.read(key(i));
            if cycle >= cycles - 20 {
                hits += u64::from(hit);
                reads += 1;
            }
        }
    }
    let ratio = hits as f64 / reads as f64;
    assert!(ratio >= 0.975, "loop hit ratio {ratio:.4}");
}

/// Reads 20 rounds of a popular set of 1,024 keys, then 60 rounds of a new
/// one; returns the hits of the last 10 rounds.
fn hits_after_a_popularity_shift(sim: &mut Simulator) -> u32 {
    for _ in 0..20 {
        for key in 1..=1024u64 {
            sim.read(key);
        }
    }
    let mut hits = 0;
    for round in 0..60 {
        for key in 1_000_000..1_001_024u64 {
            let hit = sim.read(key);
            if round >= 50 {
                hits += u32::from(hit);
            }
        }
    }
    hits
}

#[test]
fn a_weighted_cache_follows_a_popularity_shift_as_an_unweighted_one_does() {
    let counted = hits_after_a_popularity_shift(&mut Simulator::new(1024));
    // 1,024 entries of 1 MiB in a 1 GiB cache: sized by weight, the sketch
    // held 2^20 words and halved its counts every 10 million reads, so the
    // old set's saturated counts kept the new one out (0 hits).
    let mut weighed = Simulator::weighted(1024, 1 << 20);
    let hits = hits_after_a_popularity_shift(&mut weighed);
    assert!(
        hits * 2 >= counted,
        "last 10 rounds of 1,024: {counted} hits counted, {hits} weighed"
    );
    assert_eq!(weighed.policy.sized_for, Some(1024));
}

#[test]
fn a_weighted_cache_samples_its_shadows_by_entries() {
    const W: u32 = 1024;
    let mut counted = Simulator::new(1000);
    let mut weighed = Simulator::weighted(1000, W);
    let mut next = random_stream(11);
    // Recency phases, then a loop a little larger than the cache.
    for phase in 0..150u64 {
        for _ in 0..2_000 {
            let key = phase * 1_000_000 + next() % 800;
            counted.read(key);
            weighed.read(key);
        }
    }
    let (mut counted_hits, mut weighed_hits) = (0u32, 0u32);
    for cycle in 0..200 {
        for key in 0..1500u64 {
            let c = counted.read(10_000_000_000 + key);
            let w = weighed.read(10_000_000_000 + key);
            if cycle >= 150 {
                counted_hits += u32::from(c);
                weighed_hits += u32::from(w);
            }
        }
    }
    // Sampled by weight, the shadows replayed 1 key in 256 into 3 entries'
    // room; noise sent the window to 100% and the loop then never hit.
    assert_eq!(weighed.policy.tuner.sample_shift(), 0);
    let counted_window = counted.policy.window_max();
    let weighed_window = weighed.policy.window_max() / u64::from(W);
    assert!(
        weighed_window <= 2 * counted_window.max(10),
        "window {weighed_window} entries weighed, {counted_window} counted"
    );
    assert!(
        weighed_hits * 2 >= counted_hits,
        "loop hits {weighed_hits} weighed, {counted_hits} counted"
    );
}

#[test]
fn a_weighted_policy_grows_its_sketch_and_sample_with_its_entries() {
    let mut sim = Simulator::weighted(100_000, 3);
    assert_eq!(sim.policy.sized_for, Some(256));
    for key in 0..10_000u64 {
        sim.read(key);
    }
    assert_eq!(sim.policy.sized_for, Some(16_384));
    assert_eq!(
        sim.policy.tuner.sample_shift(),
        WindowTuner::sample_shift_for(16_384)
    );
    assert_eq!(sim.policy.tuner.sample_shift(), 3);
}

#[test]
fn requests_are_counted_only_once_the_cache_is_half_full() {
    let mut sim = Simulator::new(100);
    for key in 0..49 {
        for _ in 0..3 {
            sim.read(key);
        }
    }
    assert!(!sim.policy.counting);
    assert!(
        (0..49).all(|key| sim.policy.sketch.frequency(key) == 0),
        "reads of a cache under half full are not counted"
    );
    sim.read(49);
    sim.read(50);
    assert!(sim.policy.counting, "counting starts at half full");
    sim.read(0);
    sim.read(0);
    assert_eq!(sim.policy.sketch.frequency(0), 2);
    assert_eq!(sim.policy.sketch.frequency(50), 1);
    for key in 51..100 {
        sim.read(key);
    }
    sim.policy.remove(0);
    sim.resident.remove(&0);
    assert!(
        sim.policy.counting,
        "counting does not stop when the cache shrinks"
    );
}

/// The first reversal of a zigzag (keys up past the capacity, then back
/// down) wants the most recent keys. Counted from the start, each newcomer
/// of the first pass ties with the oldest keys and is turned away, so the
/// cache meets the reversal holding the keys asked for last.
#[test]
fn the_first_half_of_a_cold_cache_gives_way_to_the_next_keys() {
    let capacity = 200;
    let mut sim = Simulator::new(capacity);
    for key in 0..2 * capacity {
        sim.read(key);
    }
    let recent_resident = (capacity..2 * capacity)
        .filter(|key| sim.resident.contains(key))
        .count();
    let reversal_hits = (0..2 * capacity).rev().filter(|&key| sim.read(key)).count();
    assert!(
        recent_resident >= 90,
        "{recent_resident} of the first pass's last {capacity} keys resident"
    );
    assert!(reversal_hits >= 90, "{reversal_hits} hits on the reversal");
}

/// A loop over twice the capacity (the LIRS `scan` trace's pattern): any
/// fixed set of keys hits once per pass, and a policy that lets each
/// newcomer displace a resident hits almost nothing. At its turn a key's
/// count includes the request it is being admitted for, while the resident
/// it faces was last seen a pass ago, so by counts alone it leads by one;
/// the strict shape asks it to lead by two, and the tuner picks that shape.
#[test]
fn a_loop_larger_than_the_cache_keeps_a_fixed_set() {
    let capacity = 500;
    let keys = 2 * capacity + 1;
    let mut sim = Simulator::new(capacity);
    let mut hits_per_pass = Vec::new();
    for _ in 0..24 {
        hits_per_pass.push((0..keys).filter(|&key| sim.read(key)).count());
    }
    // From the third pass on, with no strict shape: 10,726 (419 to 495
    // hits a pass; the 1% window's keys never hit). With it: 10,996.
    let settled: usize = hits_per_pass[2..].iter().sum();
    assert!(
        settled >= 22 * 497,
        "{settled} hits from the third pass on, at most {} possible: {hits_per_pass:?}",
        22 * capacity
    );
}

/// An entry heavier than half the capacity can overflow a cache that is
/// under half full, so admission contests happen before the cache is half
/// full. Were nothing counted then, the heavy entry would tie with its
/// victim (both at zero) and be turned away on every request, the cache
/// would stay under half full and counting would never start: here it got
/// in on the 88th request, only because the LRU shadow took the window.
#[test]
fn a_heavy_entry_asked_for_again_is_admitted_into_a_cache_under_half_full() {
    let mut policy = Policy::weighted(100);
    let mut evict = Vec::new();
    for key in 0..40 {
        policy.record_miss(key);
        policy.insert(key, 1, &mut evict);
    }
    assert!(evict.is_empty());
    let heavy = 1_000;
    let mut requests = 0;
    while !policy.is_resident(heavy) && requests < 100 {
        requests += 1;
        policy.record_miss(heavy);
        evict.clear();
        policy.insert(heavy, 70, &mut evict);
    }
    assert!(
        policy.is_resident(heavy),
        "still rejected after {requests} requests, weighted size {}",
        policy.weighted_size()
    );
    assert!(requests <= 2, "admitted after {requests} requests");
}
