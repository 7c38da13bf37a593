//! Prometheus text exposition (format 0.0.4) of a [`RedSnapshot`].

use std::fmt::{self, Write};
use std::string::String;
use std::vec::Vec;

use super::red::RedSnapshot;

/// Quantiles written into the summary.
const QUANTILES: [(f64, &str); 5] = [
    (0.5, "0.5"),
    (0.9, "0.9"),
    (0.95, "0.95"),
    (0.99, "0.99"),
    (0.999, "0.999"),
];

/// A metric or label name was refused, or the output could not be written.
///
/// ```
/// use brace::metrics::{prometheus, ExportError};
/// # use brace::metrics::{Red, WindowConfig};
/// # use brace::time::ManualClock;
/// # let s = Red::new(WindowConfig::default(), ManualClock::new()).snapshot();
/// let err = prometheus::encode_red("bad name", &[], &s).unwrap_err();
/// assert_eq!(err, ExportError::InvalidMetricName);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportError {
    /// The metric name does not match `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    InvalidMetricName,
    /// A label name does not match `[a-zA-Z_][a-zA-Z0-9_]*`, starts with
    /// the reserved `__`, is `quantile` (which the summary uses), or is
    /// given twice (Prometheus rejects a sample that repeats a label).
    InvalidLabelName,
    /// Two series of one [`write_red_series`] call have the same label set
    /// (whatever the order): Prometheus rejects the duplicate samples.
    DuplicateSeries,
    /// The writer returned an error.
    Write,
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExportError::InvalidMetricName => "the metric name is not a valid Prometheus name",
            ExportError::InvalidLabelName => "a label name is not a valid Prometheus label name",
            ExportError::DuplicateSeries => "two series have the same label set",
            ExportError::Write => "the exposition could not be written",
        })
    }
}

impl std::error::Error for ExportError {}

impl From<fmt::Error> for ExportError {
    fn from(_: fmt::Error) -> Self {
        ExportError::Write
    }
}

/// Writes `snapshot` as Prometheus text under the metric family `name`:
///
/// * `<name>_requests_per_second` (gauge): rate over the window;
/// * `<name>_window_requests` and `<name>_window_errors` (gauges): counts in
///   the window (they fall as samples age out, so they are not counters);
/// * `<name>_error_ratio` (gauge): errors / requests;
/// * `<name>_latency_seconds` (summary): quantiles 0.5, 0.9, 0.95, 0.99 and
///   0.999, with `_sum` and `_count` over the same window.
///
/// Label values are escaped (`\` → `\\`, `"` → `\"`, newline → `\n`).
///
/// One series: for several label sets of one family in one exposition, use
/// [`write_red_series`] (two `write_red` calls would repeat every `# TYPE`
/// line, which the format forbids).
///
/// # Errors
///
/// [`ExportError`] for an invalid metric or label name (nothing is written
/// then), or when `out` fails.
///
/// ```
/// use brace::metrics::{prometheus, Outcome, Red, WindowConfig};
/// use brace::time::ManualClock;
/// use core::time::Duration;
///
/// let clock = ManualClock::new();
/// let red = Red::new(WindowConfig::default(), clock.clone());
/// clock.advance(Duration::from_secs(10));
/// red.record(Duration::from_millis(20), Outcome::Success);
/// let mut text = String::new();
/// prometheus::write_red(&mut text, "api", &[("route", "/users/\"me\"")], &red.snapshot())?;
/// assert!(text.contains("# TYPE api_latency_seconds summary"));
/// assert!(text.contains(r#"api_latency_seconds{route="/users/\"me\"",quantile="0.99"} 0.02"#));
/// assert!(text.contains(r#"api_window_requests{route="/users/\"me\""} 1"#));
/// # Ok::<(), brace::metrics::ExportError>(())
/// ```
pub fn write_red(
    out: &mut impl Write,
    name: &str,
    labels: &[(&str, &str)],
    snapshot: &RedSnapshot,
) -> Result<(), ExportError> {
    write_red_series(out, name, &[(labels, snapshot)])
}

/// [`write_red`] for several series of one metric family, one per label
/// set (a route, a tenant): each family's `# HELP` and `# TYPE` lines are
/// written once, followed by every series' samples, as the exposition
/// format requires ("all lines for a given metric must be provided as one
/// single group"). Two `write_red` calls into one exposition would repeat
/// them.
///
/// # Errors
///
/// As [`write_red`], and [`ExportError::DuplicateSeries`] if two series
/// have the same label set. Nothing is written on a naming error.
///
/// ```
/// use brace::metrics::{prometheus, Outcome, Red, WindowConfig};
/// use brace::time::ManualClock;
/// use core::time::Duration;
///
/// let clock = ManualClock::new();
/// let (users, orders) = (
///     Red::new(WindowConfig::default(), clock.clone()),
///     Red::new(WindowConfig::default(), clock.clone()),
/// );
/// clock.advance(Duration::from_secs(10));
/// users.record(Duration::from_millis(20), Outcome::Success);
/// orders.record(Duration::from_millis(80), Outcome::Error);
/// let mut text = String::new();
/// prometheus::write_red_series(
///     &mut text,
///     "api",
///     &[
///         (&[("route", "/users")], &users.snapshot()),
///         (&[("route", "/orders")], &orders.snapshot()),
///     ],
/// )?;
/// assert_eq!(text.matches("# TYPE api_window_errors gauge").count(), 1);
/// assert!(text.contains("api_window_errors{route=\"/users\"} 0\napi_window_errors{route=\"/orders\"} 1\n"));
/// # Ok::<(), brace::metrics::ExportError>(())
/// ```
pub fn write_red_series(
    out: &mut impl Write,
    name: &str,
    series: &[(&[(&str, &str)], &RedSnapshot)],
) -> Result<(), ExportError> {
    if !valid_metric_name(name) {
        return Err(ExportError::InvalidMetricName);
    }
    for (labels, _) in series {
        let repeated = |i: usize, k: &str| labels[..i].iter().any(|(earlier, _)| *earlier == k);
        if !labels
            .iter()
            .enumerate()
            .all(|(i, (k, _))| valid_label_name(k) && !repeated(i, k))
        {
            return Err(ExportError::InvalidLabelName);
        }
    }
    let keys: Vec<Vec<(&str, &str)>> = series
        .iter()
        .map(|(labels, _)| {
            let mut pairs = labels.to_vec();
            pairs.sort_unstable();
            pairs
        })
        .collect();
    if keys.iter().enumerate().any(|(i, k)| keys[..i].contains(k)) {
        return Err(ExportError::DuplicateSeries);
    }
    let bases: Vec<String> = series
        .iter()
        .map(|(labels, _)| label_set(labels, None))
        .collect();
    type Gauge = fn(&RedSnapshot) -> f64;
    let gauges: [(&str, &str, Gauge); 4] = [
        (
            "requests_per_second",
            "Requests per second over the window.",
            RedSnapshot::rate,
        ),
        ("window_requests", "Requests in the window.", |s| {
            s.count() as f64
        }),
        ("window_errors", "Failed requests in the window.", |s| {
            s.errors() as f64
        }),
        (
            "error_ratio",
            "Fraction of requests in the window that failed.",
            RedSnapshot::error_rate,
        ),
    ];
    for (suffix, help, value_of) in gauges {
        writeln!(out, "# HELP {name}_{suffix} {help}")?;
        writeln!(out, "# TYPE {name}_{suffix} gauge")?;
        for ((_, snapshot), base) in series.iter().zip(&bases) {
            writeln!(out, "{name}_{suffix}{base} {}", value_of(snapshot))?;
        }
    }
    writeln!(
        out,
        "# HELP {name}_latency_seconds Request latency over the sliding window."
    )?;
    writeln!(out, "# TYPE {name}_latency_seconds summary")?;
    for ((labels, snapshot), base) in series.iter().zip(&bases) {
        for (q, text) in QUANTILES {
            let value = snapshot.quantile(q).map_or(f64::NAN, |d| d.as_secs_f64());
            let set = label_set(labels, Some(text));
            writeln!(out, "{name}_latency_seconds{set} {}", float(value))?;
        }
        let latency = snapshot.latency();
        let sum = latency
            .mean()
            .map_or(0.0, |m| m.as_secs_f64() * latency.count() as f64);
        writeln!(out, "{name}_latency_seconds_sum{base} {sum}")?;
        writeln!(
            out,
            "{name}_latency_seconds_count{base} {}",
            latency.count()
        )?;
    }
    Ok(())
}

/// [`write_red`] into a new `String`.
///
/// # Errors
///
/// As [`write_red`].
pub fn encode_red(
    name: &str,
    labels: &[(&str, &str)],
    snapshot: &RedSnapshot,
) -> Result<String, ExportError> {
    let mut out = String::new();
    write_red(&mut out, name, labels, snapshot)?;
    Ok(out)
}

fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else {
        std::format!("{v}")
    }
}

/// `{k="v",...}` with escaped values (empty when there are no labels).
fn label_set(labels: &[(&str, &str)], quantile: Option<&str>) -> String {
    let mut s = String::new();
    let pairs = labels
        .iter()
        .copied()
        .chain(quantile.map(|q| ("quantile", q)));
    for (i, (k, v)) in pairs.enumerate() {
        s.push(if i == 0 { '{' } else { ',' });
        s.push_str(k);
        s.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '"' => s.push_str("\\\""),
                '\n' => s.push_str("\\n"),
                c => s.push(c),
            }
        }
        s.push('"');
    }
    if !s.is_empty() {
        s.push('}');
    }
    s
}

fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
        && name != "quantile"
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::metrics::{Outcome, Red, WindowConfig};
    use crate::time::ManualClock;
    use core::time::Duration;
    use std::string::ToString;

    fn snapshot() -> RedSnapshot {
        let clock = ManualClock::new();
        let red = Red::new(WindowConfig::default(), clock.clone());
        clock.advance(Duration::from_secs(20));
        for i in 0..100u64 {
            let outcome = if i < 5 {
                Outcome::Error
            } else {
                Outcome::Success
            };
            red.record(Duration::from_millis(10 + i), outcome);
        }
        red.snapshot()
    }

    #[test]
    fn escapes_label_values() {
        let set = label_set(&[("path", "a\\b\"c\nd")], Some("0.5"));
        assert_eq!(set, r#"{path="a\\b\"c\nd",quantile="0.5"}"#);
        assert_eq!(label_set(&[], None), "");
    }

    #[test]
    fn writes_every_family_once_with_values() {
        let text = encode_red("svc", &[("route", "/x")], &snapshot()).unwrap();
        assert_eq!(text.matches("# TYPE ").count(), 5);
        assert!(text.contains("svc_requests_per_second{route=\"/x\"} 5\n"));
        assert!(text.contains("svc_window_errors{route=\"/x\"} 5\n"));
        assert!(text.contains("svc_error_ratio{route=\"/x\"} 0.05\n"));
        assert!(text.contains("svc_latency_seconds_count{route=\"/x\"} 100\n"));
        let p999 = text
            .lines()
            .find_map(|l| l.strip_prefix("svc_latency_seconds{route=\"/x\",quantile=\"0.999\"} "))
            .unwrap();
        assert!(
            (p999.parse::<f64>().unwrap() - 0.109).abs() <= 0.109 * 0.01,
            "{p999}"
        );
        // Every sample line is `name{labels} value` with a parseable value.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }

    /// Exposition format 0.0.4: one `# TYPE` line per family, and a
    /// family's lines in one group, whatever the number of series.
    #[test]
    fn several_series_make_one_group_per_family() {
        let (a, b) = (snapshot(), snapshot());
        let mut text = String::new();
        write_red_series(
            &mut text,
            "api",
            &[(&[("route", "/a")], &a), (&[("route", "/b")], &b)],
        )
        .unwrap();
        assert_eq!(text.matches("# TYPE ").count(), 5);
        let family_of = |line: &str| {
            let metric = line.split(['{', ' ']).next().unwrap();
            ["_sum", "_count"]
                .iter()
                .fold(metric, |m, suffix| m.strip_suffix(suffix).unwrap_or(m))
                .to_string()
        };
        let mut finished: Vec<String> = Vec::new();
        let mut current = String::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let family = family_of(line);
            if family != current {
                assert!(!finished.contains(&family), "{family} split in two");
                finished.push(std::mem::replace(&mut current, family));
            }
        }
        assert_eq!(text.matches("api_latency_seconds_count{").count(), 2);
        assert_eq!(
            write_red_series(
                &mut String::new(),
                "api",
                &[
                    (&[("a", "1"), ("b", "2")], &a),
                    (&[("b", "2"), ("a", "1")], &b)
                ],
            ),
            Err(ExportError::DuplicateSeries)
        );
    }

    #[test]
    fn empty_window_reports_nan_quantiles() {
        let red = Red::new(WindowConfig::default(), ManualClock::new());
        let text = encode_red("svc", &[], &red.snapshot()).unwrap();
        assert!(text.contains("svc_latency_seconds{quantile=\"0.5\"} NaN\n"));
        assert!(text.contains("svc_latency_seconds_count 0\n"));
    }

    #[test]
    fn refuses_bad_names() {
        let s = snapshot();
        assert_eq!(
            encode_red("9lives", &[], &s),
            Err(ExportError::InvalidMetricName)
        );
        assert_eq!(encode_red("", &[], &s), Err(ExportError::InvalidMetricName));
        for bad in ["__name", "quantile", "a-b", ""] {
            assert_eq!(
                encode_red("ok", &[(bad, "v")], &s),
                Err(ExportError::InvalidLabelName),
                "{bad}"
            );
        }
        assert_eq!(
            encode_red("ok", &[("a", "x"), ("a", "y")], &s),
            Err(ExportError::InvalidLabelName),
            "a repeated label"
        );
        assert!(encode_red("ns:ok_1", &[("_x1", ""), ("b", "")], &s).is_ok());
    }
}
