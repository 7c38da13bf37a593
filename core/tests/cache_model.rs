//! The cache against a reference model (a `BTreeMap` with deadlines) on a
//! manual clock: never an expired value, never a wrong value, capacity never
//! exceeded; and with room for every key, exactly the model's answers.

use std::collections::BTreeMap;
use std::time::Duration;

use brace::cache::Cache;
use brace::time::{Clock, ManualClock, Nanos};
use proptest::prelude::*;

const KEYS: u32 = 16;
const TTL_MS: u64 = 50;

#[derive(Clone, Debug)]
enum Op {
    Insert(u32, u32),
    InsertWithTtl(u32, u32, u64),
    Get(u32),
    Remove(u32),
    Advance(u64),
    InvalidateAll,
    InvalidateIf(u32),
    RunPendingTasks,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..KEYS, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        2 => (0..KEYS, any::<u32>(), 1..100u64).prop_map(|(k, v, t)| Op::InsertWithTtl(k, v, t)),
        6 => (0..KEYS).prop_map(Op::Get),
        1 => (0..KEYS).prop_map(Op::Remove),
        2 => (0..60u64).prop_map(Op::Advance),
        1 => Just(Op::InvalidateAll),
        1 => (0..3u32).prop_map(Op::InvalidateIf),
        1 => Just(Op::RunPendingTasks),
    ]
}

/// Live entries: key -> (value, expires_at).
#[derive(Default)]
struct Model(BTreeMap<u32, (u32, Nanos)>);

impl Model {
    fn live(&self, k: u32, now: Nanos) -> Option<u32> {
        self.0
            .get(&k)
            .filter(|(_, expires_at)| now < *expires_at)
            .map(|(v, _)| *v)
    }
}

fn run(capacity: u64, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let exact = capacity >= u64::from(KEYS);
    let clock = ManualClock::new();
    let cache: Cache<u32, u32, ManualClock> = Cache::builder()
        .max_capacity(capacity)
        .time_to_live(Duration::from_millis(TTL_MS))
        .clock(clock.clone())
        .build()
        .unwrap();
    let mut model = Model::default();
    let after =
        |now: Nanos, ms: u64| now.saturating_add(Nanos::from_duration(Duration::from_millis(ms)));
    for op in ops {
        let now = clock.now();
        match op {
            Op::Insert(k, v) => {
                cache.insert(k, v);
                model.0.insert(k, (v, after(now, TTL_MS)));
            }
            Op::InsertWithTtl(k, v, ttl) => {
                cache.insert_with_ttl(k, v, Duration::from_millis(ttl));
                model.0.insert(k, (v, after(now, ttl)));
            }
            Op::Get(k) => {
                let got = cache.get(&k);
                let want = model.live(k, now);
                if let Some(v) = got {
                    prop_assert_eq!(Some(v), want, "key {} returned a value the model lacks", k);
                } else if exact {
                    prop_assert_eq!(None, want, "key {} lost with room to spare", k);
                }
            }
            Op::Remove(k) => {
                let got = cache.remove(&k);
                let want = model.live(k, now);
                model.0.remove(&k);
                if got.is_some() || exact {
                    prop_assert_eq!(got, want);
                }
            }
            Op::Advance(ms) => clock.advance(Duration::from_millis(ms)),
            Op::InvalidateAll => {
                cache.invalidate_all();
                model.0.clear();
            }
            Op::InvalidateIf(r) => {
                cache.invalidate_if(move |k, _| k % 3 == r);
                model.0.retain(|k, _| k % 3 != r);
            }
            Op::RunPendingTasks => cache.run_pending_tasks(),
        }
        // Capacity: no slack once a call has returned.
        prop_assert!(
            cache.entry_count() <= capacity,
            "{} entries",
            cache.entry_count()
        );
        prop_assert!(cache.weighted_size() <= capacity);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn with_room_for_every_key_the_cache_answers_like_the_model(
        ops in proptest::collection::vec(op(), 1..200)
    ) {
        run(u64::from(KEYS), ops)?;
    }

    #[test]
    fn under_eviction_the_cache_never_returns_a_wrong_or_expired_value(
        capacity in 1..12u64,
        ops in proptest::collection::vec(op(), 1..200)
    ) {
        run(capacity, ops)?;
    }
}
