//! Quantile error and memory of each contender after one million samples.

use std::time::Duration;

use brace::metrics::{Histogram, HistogramConfig, Outcome, Window, WindowConfig};
use brace::time::Nanos;
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;

use super::{ddsketch, hdr, lognormal_samples, pareto_samples, prom};
use crate::harness::Options;

const QUANTILES: [f64; 4] = [0.5, 0.9, 0.99, 0.999];

/// One contender's answers: its quantile estimates and its memory.
struct Answers {
    name: &'static str,
    quantiles: Vec<f64>,
    bytes: usize,
    note: &'static str,
}

fn exact(sorted: &[u64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64
}

fn answers(samples: &[u64]) -> Vec<Answers> {
    let mut out = Vec::new();

    let window = Window::new(WindowConfig::default(), Nanos::ZERO);
    for (i, &v) in samples.iter().enumerate() {
        // 1M samples over 50 s: one window, every slot used.
        let now = Nanos::new(i as u64 * 50_000);
        window.record_at(now, Duration::from_nanos(v), Outcome::Success);
    }
    let snap = window.snapshot_at(Nanos::new(samples.len() as u64 * 50_000));
    out.push(Answers {
        name: "brace",
        quantiles: QUANTILES
            .iter()
            .map(|&q| {
                snap.latency()
                    .quantile(q)
                    .map_or(f64::NAN, |d| d.as_nanos() as f64)
            })
            .collect(),
        bytes: window.memory_bytes(),
        note: "whole 60 s window (6 physical slots x 2 stripes), fixed",
    });

    let hist = Histogram::new(HistogramConfig::default());
    samples.iter().for_each(|&v| hist.record_nanos(v));
    let snap = hist.snapshot();
    out.push(Answers {
        name: "brace-histogram",
        quantiles: QUANTILES
            .iter()
            .map(|&q| snap.quantile(q).map_or(f64::NAN, |d| d.as_nanos() as f64))
            .collect(),
        bytes: hist.memory_bytes(),
        note: "no window, u64 counters, fixed",
    });

    let mut h = hdr();
    samples.iter().for_each(|&v| h.record(v).expect("in range"));
    out.push(Answers {
        name: "hdrhistogram",
        quantiles: QUANTILES
            .iter()
            .map(|&q| h.value_at_quantile(q) as f64)
            .collect(),
        bytes: h.distinct_values() * 8 + std::mem::size_of_val(&h),
        note: "no window; u64 counts array, fixed",
    });

    let mut d = ddsketch();
    samples.iter().for_each(|&v| d.add(v as f64));
    out.push(Answers {
        name: "ddsketch",
        quantiles: QUANTILES
            .iter()
            .map(|&q| d.quantile(q).ok().flatten().unwrap_or(f64::NAN))
            .collect(),
        bytes: d.length() * 8 + std::mem::size_of_val(&d),
        note: "no window; bins grow with the value range (capped at 2048)",
    });

    let bucket = metrics_util::storage::AtomicBucket::<u64>::new();
    samples.iter().for_each(|&v| bucket.push(v));
    let mut summary = metrics_util::storage::Summary::with_defaults();
    let mut held = 0usize;
    bucket.data_with(|block| held += block.len());
    bucket.clear_with(|block| block.iter().for_each(|&v| summary.add(v as f64)));
    out.push(Answers {
        name: "metrics-util",
        quantiles: QUANTILES
            .iter()
            .map(|&q| summary.quantile(q).unwrap_or(f64::NAN))
            .collect(),
        bytes: held * 8 + summary.estimated_size(),
        note: "8 B per sample held until drained (1M here), then a Summary (alpha 0.0001)",
    });

    let p = prom();
    samples.iter().for_each(|&v| p.observe(v as f64 * 1e-9));
    out.push(Answers {
        name: "prometheus-client",
        quantiles: QUANTILES
            .iter()
            .map(|&q| prom_quantile(&p, q) * 1e9)
            .collect(),
        bytes: 33 * 16 + 64,
        note: "33 fixed buckets; quantile by histogram_quantile's linear interpolation",
    });
    out
}

/// Prometheus' `histogram_quantile`: find the bucket holding rank q·count
/// and interpolate linearly inside it, from the scraped exposition.
fn prom_quantile(h: &prometheus_client::metrics::histogram::Histogram, q: f64) -> f64 {
    let mut registry = Registry::default();
    registry.register("lat", "latency", h.clone());
    let mut text = String::new();
    encode(&mut text, &registry).expect("encodes");
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("lat_bucket")) {
        let le = line
            .split("le=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("");
        let upper = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().unwrap_or(f64::NAN)
        };
        let count: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0.0);
        buckets.push((upper, count));
    }
    let total = buckets.last().map_or(0.0, |b| b.1);
    let rank = q * total;
    let mut prev = (0.0, 0.0);
    for &(upper, cumulative) in &buckets {
        if cumulative >= rank {
            if upper.is_infinite() {
                return prev.0;
            }
            let within = (rank - prev.1) / (cumulative - prev.1).max(1.0);
            return prev.0 + (upper - prev.0) * within;
        }
        prev = (upper, cumulative);
    }
    f64::NAN
}

/// Prints the relative error of each contender's quantiles on 1M lognormal
/// and 1M Pareto (alpha 1.1) samples, and the memory each holds.
pub(super) fn print_table(opts: &Options) {
    let n = if opts.quick { 300_000 } else { 1_000_000 };
    let sets = [
        ("lognormal", lognormal_samples(n, 11)),
        ("pareto 1.1", pareto_samples(n, 12)),
    ];
    println!("\n### metrics: quantile relative error and memory ({n} samples)\n");
    println!("| contender | distribution | p50 | p90 | p99 | p99.9 | max error | bytes |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let mut notes = Vec::new();
    for (dist, mut samples) in sets {
        let got = answers(&samples);
        samples.sort_unstable();
        for a in got {
            let errs: Vec<f64> = QUANTILES
                .iter()
                .zip(&a.quantiles)
                .map(|(&q, &v)| (v - exact(&samples, q)).abs() / exact(&samples, q))
                .collect();
            let worst = errs.iter().cloned().fold(0.0, f64::max);
            let cells: Vec<String> = errs.iter().map(|e| format!("{:.3}%", e * 100.0)).collect();
            println!(
                "| {} | {dist} | {} | {:.3}% | {} |",
                a.name,
                cells.join(" | "),
                worst * 100.0,
                a.bytes
            );
            if dist == "lognormal" {
                notes.push(format!("- `{}` memory: {}", a.name, a.note));
            }
        }
    }
    println!();
    notes.iter().for_each(|n| println!("{n}"));
}
