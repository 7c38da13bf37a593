//! Extreme capacities build, stay bounded and keep their counts.
use brace::cache::Cache;

#[test]
fn huge_capacities_build_and_hold_entries() {
    for cap in [u64::MAX, u64::MAX / 2, 1 << 40, u32::MAX as u64 + 1] {
        let c = Cache::<u64, u64>::builder()
            .max_capacity(cap)
            .build()
            .unwrap();
        for k in 0..5000 {
            c.insert(k, k);
            c.get(&k);
        }
        assert_eq!(c.entry_count(), 5000, "cap {cap}");
        assert_eq!(c.weighted_size(), 5000, "cap {cap}");
        let w = Cache::<u64, u64>::builder()
            .max_capacity(cap)
            .weigher(|_: &u64, v: &u64| (*v as u32).wrapping_mul(2654435761))
            .build()
            .unwrap();
        let mut sum = 0u64;
        for k in 0..5000u64 {
            w.insert(k, k);
            w.get(&k);
            sum += u64::from(((k as u32).wrapping_mul(2654435761)).max(1));
        }
        assert!(w.weighted_size() <= cap);
        if sum <= cap {
            assert_eq!(w.entry_count(), 5000, "weighted cap {cap}");
            assert_eq!(w.weighted_size(), sum, "weighted cap {cap}");
        }
    }
}

#[test]
fn capacity_one() {
    let c = Cache::<u64, u64>::builder()
        .max_capacity(1)
        .build()
        .unwrap();
    for k in 0..100 {
        c.insert(k, k);
        assert!(c.entry_count() <= 1);
    }
    let w = Cache::<u64, u64>::builder()
        .max_capacity(1)
        .weigher(|_: &u64, v: &u64| (*v % 3) as u32)
        .build()
        .unwrap();
    for k in 0..100 {
        w.insert(k, k);
        assert!(w.weighted_size() <= 1);
        assert_eq!(w.weighted_size(), w.entry_count());
    }
}
