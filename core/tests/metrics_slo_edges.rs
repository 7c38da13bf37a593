//! SLO budget edge cases found by review: the period's oldest coarse slot
//! when no alert keeps the fine ring long, and spans too long for `u64`
//! nanoseconds.

use brace::metrics::{AlertLevel, BurnAlert, Outcome, SloConfig, SloTracker};
use brace::time::{ManualClock, Nanos};
use core::time::Duration;

/// Records one sample a minute for 30 days and 40 minutes, with one error
/// at minute 50; returns the status at the end (the period is then minutes
/// 40 to 43,239, so the error is in it).
fn thirty_days_of_minutes(config: SloConfig) -> brace::metrics::SloStatus {
    let clock = ManualClock::new();
    let slo = SloTracker::new(config, clock.clone());
    for minute in 0..(30 * 24 * 60 + 40) {
        clock.set(Nanos::from_duration(Duration::from_secs(minute * 60 + 1)));
        let outcome = if minute == 50 {
            Outcome::Error
        } else {
            Outcome::Success
        };
        slo.record(Duration::from_millis(1), outcome);
    }
    slo.evaluate()
}

#[test]
fn the_budget_keeps_the_periods_oldest_coarse_slot_with_short_alerts() {
    let config = SloConfig::builder()
        .target(0.999)
        .alerts([BurnAlert::new(
            Duration::from_secs(30 * 60),
            Duration::from_secs(5 * 60),
            14.4,
            AlertLevel::Critical,
        )])
        .build()
        .unwrap();
    let status = thirty_days_of_minutes(config);
    assert_eq!(status.bad(), 1, "{status:?}");
    assert!((43_200..=43_240).contains(&status.total()), "{status:?}");
}

#[test]
fn the_budget_keeps_the_periods_oldest_coarse_slot_without_alerts() {
    let config = SloConfig::builder().alerts([]).build().unwrap();
    let status = thirty_days_of_minutes(config);
    assert_eq!(status.bad(), 1, "{status:?}");
    assert!((43_200..=43_240).contains(&status.total()), "{status:?}");
}

#[test]
fn spans_beyond_a_hundred_years_are_refused() {
    let huge = Duration::from_nanos(u64::MAX) + Duration::from_nanos(1);
    let err = SloConfig::builder()
        .resolution(huge)
        .period(huge)
        .alerts([])
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "period");
    let err = SloConfig::builder()
        .resolution(Duration::from_secs(3600))
        .period(Duration::from_secs(600 * 365 * 24 * 3600))
        .alerts([])
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "period");
    // A century itself is fine.
    SloConfig::builder()
        .resolution(Duration::from_secs(3600))
        .period(Duration::from_secs(100 * 365 * 24 * 3600))
        .alerts([])
        .build()
        .unwrap();
}
