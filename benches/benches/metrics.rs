//! Criterion micro-benchmarks of brace's metrics record and read paths.
//!
//! `cargo bench -p brace-benches --bench metrics`

use std::hint::black_box;
use std::time::Duration;

use brace::metrics::{
    Histogram, HistogramConfig, Outcome, Red, SloConfig, SloTracker, Window, WindowConfig,
};
use brace::time::{Clock, ManualClock, Nanos, SystemClock};
use criterion::{Criterion, criterion_group, criterion_main};

/// Latencies spread over four decades (10 µs .. 100 ms), in nanoseconds.
fn samples() -> Vec<u64> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            10_000 + x % 100_000_000
        })
        .collect()
}

fn record(c: &mut Criterion) {
    let samples = samples();
    let mut g = c.benchmark_group("metrics/record");

    let hist = Histogram::new(HistogramConfig::default());
    let mut i = 0usize;
    g.bench_function("histogram", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            hist.record_nanos(black_box(samples[i]));
        })
    });

    let window = Window::new(WindowConfig::default(), Nanos::ZERO);
    let mut now = 0u64;
    g.bench_function("window_record_at", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            now += 100; // 10 M records per second of virtual time: slots rotate
            window.record_at(
                Nanos::new(now),
                Duration::from_nanos(black_box(samples[i])),
                Outcome::Success,
            );
        })
    });

    let red = Red::new(WindowConfig::default(), SystemClock::new());
    g.bench_function("red_record_system_clock", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            red.record(
                Duration::from_nanos(black_box(samples[i])),
                Outcome::Success,
            );
        })
    });

    let clock = ManualClock::new();
    let slo = SloTracker::new(SloConfig::default(), clock.clone());
    g.bench_function("slo_record_at", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            clock.advance(Duration::from_nanos(100));
            slo.record_at(
                clock.now(),
                Duration::from_nanos(black_box(samples[i])),
                Outcome::Success,
            );
        })
    });
    g.finish();
}

fn read(c: &mut Criterion) {
    let samples = samples();
    let mut g = c.benchmark_group("metrics/read");
    let clock = ManualClock::new();
    let red = Red::new(WindowConfig::default(), clock.clone());
    for (k, &v) in samples.iter().cycle().take(1_000_000).enumerate() {
        if k % 1000 == 0 {
            clock.advance(Duration::from_millis(50));
        }
        red.record(Duration::from_nanos(v), Outcome::Success);
    }
    g.bench_function("red_snapshot_p99", |b| {
        b.iter(|| black_box(red.snapshot().p99()))
    });

    let slo = SloTracker::new(SloConfig::default(), clock.clone());
    for _ in 0..100_000 {
        clock.advance(Duration::from_millis(200));
        slo.record(Duration::from_millis(3), Outcome::Success);
    }
    g.bench_function("slo_evaluate", |b| {
        b.iter(|| black_box(slo.evaluate().level()))
    });
    g.bench_function("slo_level", |b| b.iter(|| black_box(slo.level())));
    g.finish();
}

criterion_group!(benches, record, read);
criterion_main!(benches);
