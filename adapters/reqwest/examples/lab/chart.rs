//! A hand-written SVG: request rate, error rate, p99 and breaker state over
//! time, one panel each, phases shaded.

use std::fmt::Write as _;
use std::time::Duration;

use brace::breaker::State;
use brace::metrics::{Histogram, HistogramConfig};

use super::Sample;
use super::downstream::PHASES;

const WIDTH: f64 = 900.0;
const PANEL: f64 = 140.0;
const LEFT: f64 = 70.0;
const BUCKET: f64 = 0.5; // seconds

struct Series {
    name: &'static str,
    unit: &'static str,
    points: Vec<(f64, f64)>,
    color: &'static str,
    step: bool,
}

pub fn svg(
    samples: &[Sample],
    states: &[(f64, State)],
    duration: Duration,
    phase: Duration,
) -> String {
    let secs = duration.as_secs_f64();
    let buckets = (secs / BUCKET).ceil() as usize;
    let mut rate = vec![0.0; buckets];
    let mut errors = vec![0.0; buckets];
    let hists: Vec<Histogram> = (0..buckets)
        .map(|_| Histogram::new(HistogramConfig::default()))
        .collect();
    for s in samples {
        let b = ((s.at / BUCKET) as usize).min(buckets - 1);
        rate[b] += 1.0;
        if !s.ok {
            errors[b] += 1.0;
        }
        hists[b].record(s.latency);
    }
    let mid = |b: usize| (b as f64 + 0.5) * BUCKET;
    let series = [
        Series {
            name: "request rate",
            unit: "req/s",
            points: rate
                .iter()
                .enumerate()
                .map(|(b, n)| (mid(b), n / BUCKET))
                .collect(),
            color: "#1f77b4",
            step: false,
        },
        Series {
            name: "error rate",
            unit: "%",
            points: (0..buckets)
                .map(|b| (mid(b), 100.0 * errors[b] / rate[b].max(1.0)))
                .collect(),
            color: "#d62728",
            step: false,
        },
        Series {
            name: "p99 latency",
            unit: "ms",
            points: hists
                .iter()
                .enumerate()
                .map(|(b, h)| {
                    let p99 = h.snapshot().quantile(0.99).unwrap_or_default();
                    (mid(b), p99.as_secs_f64() * 1e3)
                })
                .collect(),
            color: "#9467bd",
            step: false,
        },
        Series {
            name: "breaker (0 closed, 1 half-open, 2 open)",
            unit: "",
            points: states
                .iter()
                .map(|&(t, s)| {
                    let y = match s {
                        State::Closed => 0.0,
                        State::HalfOpen => 1.0,
                        _ => 2.0,
                    };
                    (t, y)
                })
                .collect(),
            color: "#ff7f0e",
            step: true,
        },
    ];
    let height = 40.0 + PANEL * series.len() as f64 + 30.0;
    let plot_w = WIDTH - LEFT - 20.0;
    let x = |t: f64| LEFT + plot_w * (t / secs).clamp(0.0, 1.0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="22" font-size="15">brace lab: reqwest + breaker + retry budget + metrics</text>"#
    );
    for (i, s) in series.iter().enumerate() {
        let top = 40.0 + PANEL * i as f64;
        let h = PANEL - 30.0;
        let max = s
            .points
            .iter()
            .map(|p| p.1)
            .fold(0.0f64, f64::max)
            .max(if s.step { 2.0 } else { 1.0 });
        for (p, name) in PHASES.iter().enumerate() {
            let (a, b) = (
                x(p as f64 * phase.as_secs_f64()),
                x((p + 1) as f64 * phase.as_secs_f64()),
            );
            let fill = if p % 2 == 0 { "#f4f4f4" } else { "#e8eef7" };
            let _ = writeln!(
                out,
                r#"<rect x="{a:.1}" y="{top}" width="{:.1}" height="{h}" fill="{fill}"/>"#,
                b - a
            );
            if i == 0 {
                let _ = writeln!(
                    out,
                    r##"<text x="{:.1}" y="{:.1}" fill="#555">{name}</text>"##,
                    a + 4.0,
                    top + 12.0
                );
            }
        }
        let y = |v: f64| top + h - h * (v / max);
        let mut path = String::new();
        let mut last_y = None;
        for &(t, v) in &s.points {
            if s.step {
                if let Some(ly) = last_y {
                    let _ = write!(path, "{:.1},{:.1} ", x(t), ly);
                }
            }
            let _ = write!(path, "{:.1},{:.1} ", x(t), y(v));
            last_y = Some(y(v));
        }
        let _ = writeln!(
            out,
            r#"<polyline points="{path}" fill="none" stroke="{}" stroke-width="1.8"/>"#,
            s.color
        );
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333"/>"##,
            top + h,
            LEFT + plot_w,
            top + h
        );
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{:.1}" stroke="#333"/>"##,
            top + h
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}">{} {}</text>"#,
            LEFT + 4.0,
            top + h + 16.0,
            s.name,
            if s.unit.is_empty() {
                String::new()
            } else {
                format!("({})", s.unit)
            }
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{max:.0}</text>"#,
            LEFT - 6.0,
            top + 10.0
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">0</text>"#,
            LEFT - 6.0,
            top + h
        );
    }
    let axis_y = height - 12.0;
    let mut t = 0.0;
    while t <= secs + 1e-9 {
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{axis_y}" text-anchor="middle">{t:.0} s</text>"#,
            x(t)
        );
        t += (secs / 10.0).max(1.0).round();
    }
    out.push_str("</svg>\n");
    out
}
