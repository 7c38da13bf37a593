//! A hand-written SVG chart of the run: request rate, error rate, p99 and
//! breaker state over time, one panel each, phases shaded.

use std::fmt::Write;

use super::report::Bucket;

const WIDTH: f64 = 900.0;
const PANEL: f64 = 130.0;
const LEFT: f64 = 70.0;
const TOP: f64 = 40.0;
const GAP: f64 = 30.0;

/// A panel: its label, its line colour, and the value it plots per slice.
type Panel = (&'static str, &'static str, Box<dyn Fn(&Bucket) -> f64>);

/// Renders `buckets` (one per time slice of `slice_secs`) as an SVG document.
pub(crate) fn render(buckets: &[Bucket], slice_secs: f64, phase_bounds: &[(f64, &str)]) -> String {
    let plot_w = WIDTH - LEFT - 20.0;
    let total = (buckets.len() as f64 * slice_secs).max(slice_secs);
    let height = TOP + 4.0 * (PANEL + GAP) + 10.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="22" font-size="16" font-weight="bold">brace lab: reqwest + breaker + retry budget against a flaky service</text>"#
    );
    let x = |t: f64| LEFT + t / total * plot_w;
    let panels: [Panel; 4] = [
        (
            "requests/s",
            "#1f77b4",
            Box::new(move |b: &Bucket| b.requests as f64 / slice_secs),
        ),
        (
            "error rate %",
            "#d62728",
            Box::new(|b: &Bucket| b.error_rate() * 100.0),
        ),
        ("p99 ms", "#2ca02c", Box::new(|b: &Bucket| b.p99_ms())),
        (
            "breaker (0 closed, 1 half-open, 2 open)",
            "#9467bd",
            Box::new(|b: &Bucket| b.breaker_level as f64),
        ),
    ];
    for (i, (label, colour, value)) in panels.iter().enumerate() {
        let top = TOP + i as f64 * (PANEL + GAP);
        let bottom = top + PANEL;
        let values: Vec<f64> = buckets.iter().map(value).collect();
        let max = if i == 3 {
            2.0
        } else {
            values.iter().cloned().fold(0.0, f64::max).max(1.0) * 1.1
        };
        for (j, (start, name)) in phase_bounds.iter().enumerate() {
            let end = phase_bounds.get(j + 1).map_or(total, |b| b.0);
            let fill = ["#eef7ee", "#fbeaea", "#fdf5e6", "#eaf1fb"][j % 4];
            let _ = writeln!(
                svg,
                r#"<rect x="{:.1}" y="{top:.1}" width="{:.1}" height="{PANEL}" fill="{fill}"/>"#,
                x(*start),
                (x(end) - x(*start)).max(0.0)
            );
            if i == 0 {
                let _ = writeln!(
                    svg,
                    r##"<text x="{:.1}" y="{:.1}" fill="#555">{name}</text>"##,
                    x(*start) + 4.0,
                    top + 14.0
                );
            }
        }
        let _ = writeln!(
            svg,
            r##"<rect x="{LEFT}" y="{top:.1}" width="{plot_w}" height="{PANEL}" fill="none" stroke="#999"/>"##
        );
        let _ = writeln!(
            svg,
            r#"<text x="{LEFT}" y="{:.1}">{label}</text>"#,
            top - 6.0
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{max:.0}</text>"#,
            LEFT - 6.0,
            top + 10.0
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{bottom:.1}" text-anchor="end">0</text>"#,
            LEFT - 6.0
        );
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(k, v)| {
                format!(
                    "{:.1},{:.1}",
                    x((k as f64 + 0.5) * slice_secs),
                    bottom - v / max * PANEL
                )
            })
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
    }
    let axis_y = TOP + 4.0 * (PANEL + GAP) - GAP + 16.0;
    for s in 0..=(total.ceil() as u64) {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{axis_y:.1}" text-anchor="middle">{s}s</text>"#,
            x(s as f64)
        );
    }
    svg.push_str("</svg>\n");
    svg
}
