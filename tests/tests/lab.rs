//! Smoke test of the lab demo: a 2 s run against the real 127.0.0.1 service,
//! checking the report's invariants rather than its timings.

use std::time::Duration;

use brace_tests::lab::{self, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lab_run_trips_the_breaker_bounds_retries_and_writes_the_chart() {
    let dir = std::env::temp_dir().join(format!("brace-lab-test-{}", std::process::id()));
    let report = lab::run(Options {
        duration: Duration::from_secs(2),
        seed: 7,
        progress: false,
        chart_dir: Some(dir.clone()),
    })
    .await
    .expect("the lab runs");

    // Every phase saw traffic; the healthy phase had no errors, the outage did.
    assert_eq!(report.phases.len(), 4);
    assert!(report.phases.iter().all(|p| p.requests > 0), "{report}");
    assert_eq!(report.phases[0].errors, 0, "{report}");
    assert!(report.phases[1].errors > 0, "{report}");

    // The breaker opened during the outage and its refusals never reached the service.
    assert!(report.breaker_opened(), "{report}");
    let outage_start = Duration::from_millis(500);
    assert!(report.transitions[0].at >= outage_start, "{report}");
    assert!(report.phases[1].failed_fast > 0, "{report}");

    // Retries stay bounded: at most 3 attempts per request by policy, and the
    // shared budget plus the breaker keep the total far below that.
    assert!(report.downstream_calls <= report.requests * 3, "{report}");
    assert!(report.amplification() < 1.5, "{report}");

    // The front service served from cache and batched its database loads.
    assert!(report.cache_hit_ratio > 0.0, "{report}");
    assert!(
        report.db_queries > 0 && report.db_queries <= report.keys_loaded,
        "{report}"
    );
    assert_eq!(
        report.batch_calls_saved(),
        report.keys_loaded - report.db_queries
    );

    // The chart is a complete SVG document with one polyline per panel.
    let path = report.chart.clone().expect("a chart path");
    let svg = std::fs::read_to_string(&path).expect("the chart was written");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<polyline").count(), 4);
    let _ = std::fs::remove_dir_all(dir);
}
