//! Criterion micro-benchmarks of the cache: a hit, a miss, an update of a
//! resident key, next to quick_cache and moka on the same operations.

use std::hint::black_box;

use brace_benches::cache::{KEYS, zipf_keys};
use criterion::{Criterion, criterion_group, criterion_main};

fn hits(c: &mut Criterion) {
    let keys = zipf_keys(KEYS, 1.0, 1 << 16, 7);
    let brace = brace::cache::Cache::<u64, u64>::builder()
        .max_capacity(KEYS)
        .build()
        .unwrap();
    let quick = quick_cache::sync::Cache::<u64, u64>::new(KEYS as usize);
    let moka = moka::sync::Cache::<u64, u64>::new(KEYS);
    for k in 0..KEYS {
        brace.insert(k, k);
        quick.insert(k, k);
        moka.insert(k, k);
    }
    moka.run_pending_tasks();
    let mut group = c.benchmark_group("cache_get_hit_zipf");
    let mut i = 0usize;
    group.bench_function("brace", |b| {
        b.iter(|| {
            i = (i + 1) & 0xFFFF;
            black_box(brace.get(&keys[i]))
        })
    });
    group.bench_function("quick_cache", |b| {
        b.iter(|| {
            i = (i + 1) & 0xFFFF;
            black_box(quick.get(&keys[i]))
        })
    });
    group.bench_function("moka", |b| {
        b.iter(|| {
            i = (i + 1) & 0xFFFF;
            black_box(moka.get(&keys[i]))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("cache_brace_ops");
    group.bench_function("get_miss", |b| {
        b.iter(|| {
            i = (i + 1) & 0xFFFF;
            black_box(brace.get(&(KEYS + keys[i])))
        })
    });
    group.bench_function("insert_resident", |b| {
        b.iter(|| {
            i = (i + 1) & 0xFFFF;
            brace.insert(black_box(keys[i]), i as u64)
        })
    });
    group.finish();
}

criterion_group!(benches, hits);
criterion_main!(benches);
