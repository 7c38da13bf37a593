//! Quantile accuracy against exact values (sorting), on a million samples
//! of heavy-tailed and multi-modal latency distributions, plus a proptest
//! against a sorted-vector reference model.
#![cfg(not(loom))]

use brace::metrics::{
    Histogram, HistogramConfig, HistogramSnapshot, Outcome, Window, WindowConfig,
};
use brace::time::Nanos;
use core::time::Duration;
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, LogNormal, Pareto};

const SAMPLES: usize = 1_000_000;
const QUANTILES: [f64; 5] = [0.5, 0.9, 0.95, 0.99, 0.999];

/// Nanoseconds from seconds, kept inside the default 1 µs ..= 1 h range.
fn nanos(secs: f64) -> u64 {
    ((secs * 1e9) as u64).clamp(1_000, 3_600_000_000_000)
}

/// The nearest-rank quantile of sorted data: the value at the smallest
/// rank `r` with `r / n ≥ q` (not `ceil(q · n)` in floating point, which
/// is one rank too high when the product rounds up past a whole number).
fn exact(sorted: &[u64], q: f64) -> u64 {
    let n = sorted.len();
    let rank = (1..=n).find(|&r| r as f64 / n as f64 >= q).unwrap_or(n);
    sorted[rank - 1]
}

fn assert_within_error(name: &str, snap: &HistogramSnapshot, samples: &mut [u64]) {
    samples.sort_unstable();
    let alpha = snap.config().relative_error();
    assert_eq!(snap.count(), samples.len() as u64, "{name}: count");
    assert_eq!(
        snap.min(),
        Some(Duration::from_nanos(samples[0])),
        "{name}: min"
    );
    assert_eq!(
        snap.max(),
        Some(Duration::from_nanos(*samples.last().unwrap())),
        "{name}: max"
    );
    for q in QUANTILES {
        let want = exact(samples, q) as f64;
        let got = snap.quantile(q).unwrap().as_nanos() as f64;
        let err = (got - want).abs() / want;
        assert!(
            err <= alpha,
            "{name}: q{q} got {got} want {want} (error {err:.5})"
        );
    }
    let mut last = Duration::ZERO;
    for i in 0..=1000 {
        let v = snap.quantile(f64::from(i) / 1000.0).unwrap();
        assert!(v >= last, "{name}: quantiles not monotone at {i}");
        last = v;
    }
}

/// Records into a histogram and a window at once and checks both.
fn check(name: &str, seed: u64, mut draw: impl FnMut(&mut StdRng) -> u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut samples: Vec<u64> = (0..SAMPLES).map(|_| draw(&mut rng)).collect();
    let histogram = Histogram::new(HistogramConfig::default());
    let window = Window::new(WindowConfig::default(), Nanos::ZERO);
    for (i, &v) in samples.iter().enumerate() {
        histogram.record_nanos(v);
        // Spread over 50 s of timestamps: one window, many slots.
        let now = Nanos::new(i as u64 * 50_000);
        window.record_at(now, Duration::from_nanos(v), Outcome::Success);
    }
    assert_within_error(name, &histogram.snapshot(), &mut samples);
    let from_window = window.snapshot_at(Nanos::new(SAMPLES as u64 * 50_000));
    assert_within_error(
        &format!("{name} (window)"),
        from_window.latency(),
        &mut samples,
    );
}

#[test]
fn lognormal_latencies() {
    // Median 1 ms, sigma 1: p99.9 around 22 ms.
    let d = LogNormal::new((1e-3f64).ln(), 1.0).unwrap();
    check("lognormal", 1, |rng| nanos(d.sample(rng)));
}

#[test]
fn pareto_alpha_1_1() {
    let d = Pareto::new(100e-6, 1.1).unwrap();
    check("pareto 1.1", 2, |rng| nanos(d.sample(rng)));
}

#[test]
fn pareto_alpha_1_5() {
    let d = Pareto::new(100e-6, 1.5).unwrap();
    check("pareto 1.5", 3, |rng| nanos(d.sample(rng)));
}

#[test]
fn bimodal_fast_path_and_slow_path() {
    // 95% around 1 ms, 5% around 200 ms, each with 10% log-normal jitter.
    let fast = LogNormal::new((1e-3f64).ln(), 0.1).unwrap();
    let slow = LogNormal::new((200e-3f64).ln(), 0.1).unwrap();
    let pick = rand_distr::Bernoulli::new(0.05).unwrap();
    check("bimodal", 4, |rng| {
        let d = if pick.sample(rng) { &slow } else { &fast };
        nanos(d.sample(rng))
    });
}

proptest! {
    #[test]
    fn matches_a_sorted_reference(
        values in prop::collection::vec(1_000u64..5_000_000_000, 1..400),
        q in 0.0f64..=1.0,
    ) {
        let h = Histogram::new(HistogramConfig::default());
        values.iter().for_each(|&v| h.record_nanos(v));
        let snap = h.snapshot();
        let mut sorted = values.clone();
        sorted.sort_unstable();
        prop_assert_eq!(snap.count(), sorted.len() as u64);
        prop_assert_eq!(snap.max(), Some(Duration::from_nanos(*sorted.last().unwrap())));
        let want = if q == 0.0 { sorted[0] } else { exact(&sorted, q) } as f64;
        let got = snap.quantile(q).unwrap().as_nanos() as f64;
        prop_assert!((got - want).abs() <= want * 0.01, "q{} got {} want {}", q, got, want);
        let mean = values.iter().map(|&v| v as f64).sum::<f64>() / values.len() as f64;
        let got_mean = snap.mean().unwrap().as_nanos() as f64;
        prop_assert!((got_mean - mean).abs() <= mean * 0.01, "mean {} vs {}", got_mean, mean);
    }

    #[test]
    fn merged_snapshots_equal_one_histogram_of_both(
        a in prop::collection::vec(1_000u64..1_000_000_000, 0..200),
        b in prop::collection::vec(1_000u64..1_000_000_000, 0..200),
    ) {
        let (ha, hb, both) = (
            Histogram::new(HistogramConfig::default()),
            Histogram::new(HistogramConfig::default()),
            Histogram::new(HistogramConfig::default()),
        );
        a.iter().for_each(|&v| { ha.record_nanos(v); both.record_nanos(v); });
        b.iter().for_each(|&v| { hb.record_nanos(v); both.record_nanos(v); });
        let mut merged = ha.snapshot();
        merged.merge(&hb.snapshot()).unwrap();
        let want = both.snapshot();
        prop_assert_eq!(merged.count(), want.count());
        prop_assert_eq!(merged.buckets().collect::<Vec<_>>(), want.buckets().collect::<Vec<_>>());
        prop_assert_eq!(merged.min(), want.min());
    }
}

#[test]
fn the_rank_is_not_pushed_up_by_a_product_that_rounds_up() {
    // 0.07 * 100.0 is 7.000000000000001: the p7 of 1..=100 ms is 7 ms
    // (it read 8 ms, 14% off); likewise p14, p28, p55, p56.
    let h = Histogram::new(HistogramConfig::default());
    for ms in 1..=100u64 {
        h.record(Duration::from_millis(ms));
    }
    let snap = h.snapshot();
    for (q, want_ms) in [
        (0.07, 7.0),
        (0.14, 14.0),
        (0.28, 28.0),
        (0.55, 55.0),
        (0.56, 56.0),
    ] {
        let got_ms = snap.quantile(q).unwrap().as_secs_f64() * 1e3;
        let error = (got_ms - want_ms).abs() / want_ms;
        assert!(error <= 0.01, "p{q}: {got_ms} ms, want {want_ms} ms");
    }
}
