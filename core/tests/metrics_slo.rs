//! SLO tracking on a manual clock: burn-rate alerts at steady error rates,
//! recovery, and the error budget over the period.
#![cfg(not(loom))]

use brace::metrics::{AlertLevel, BurnAlert, GoodEvent, Outcome, SloConfig, SloTracker};
use brace::time::ManualClock;
use core::time::Duration;

/// Runs `hours` of traffic at 2 requests per second where one request in
/// `one_in` fails (0: none fail).
fn steady(slo: &SloTracker<ManualClock>, clock: &ManualClock, hours: u64, one_in: u64) {
    for i in 0..hours * 3600 * 2 {
        clock.advance(Duration::from_millis(500));
        let failed = one_in != 0 && i % one_in == 0;
        let outcome = if failed {
            Outcome::Error
        } else {
            Outcome::Success
        };
        slo.record(Duration::from_millis(5), outcome);
    }
}

fn tracker() -> (SloTracker<ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    let config = SloConfig::builder().target(0.999).build().unwrap();
    (SloTracker::new(config, clock.clone()), clock)
}

#[test]
fn two_percent_errors_burn_20x_and_are_critical() {
    let (slo, clock) = tracker();
    steady(&slo, &clock, 7, 50);
    let status = slo.evaluate();
    assert_eq!(status.level(), AlertLevel::Critical);
    assert_eq!(slo.level(), AlertLevel::Critical);
    for burn in status.burns() {
        assert!((burn.long_burn() - 20.0).abs() < 0.5, "{burn:?}");
        assert!((burn.short_burn() - 20.0).abs() < 2.0, "{burn:?}");
        assert!(burn.firing());
    }
    // 2% bad against 0.1% allowed: the budget is overspent 20 times.
    assert!((status.budget_remaining() + 19.0).abs() < 0.1, "{status:?}");
    assert_eq!(status.total(), 7 * 3600 * 2);
}

#[test]
fn one_percent_errors_burn_10x_and_warn() {
    let (slo, clock) = tracker();
    steady(&slo, &clock, 7, 100);
    let status = slo.evaluate();
    assert_eq!(status.level(), AlertLevel::Warning);
    assert!(
        !status.burns()[0].firing(),
        "10x must not reach the 14.4x page"
    );
    assert!(status.burns()[1].firing());
}

#[test]
fn a_twentieth_of_a_percent_is_ok_and_spends_half_the_budget() {
    let (slo, clock) = tracker();
    steady(&slo, &clock, 7, 2000);
    let status = slo.evaluate();
    assert_eq!(status.level(), AlertLevel::Ok);
    assert!(
        (status.burns()[1].long_burn() - 0.5).abs() < 0.05,
        "{status:?}"
    );
    assert!((status.budget_remaining() - 0.5).abs() < 0.05, "{status:?}");
}

#[test]
fn alerts_clear_once_the_short_window_is_clean() {
    let (slo, clock) = tracker();
    steady(&slo, &clock, 2, 50);
    assert_eq!(slo.evaluate().level(), AlertLevel::Critical);
    // Ten clean minutes: the 5 min window is clean, the 30 min one is not.
    for _ in 0..10 * 60 * 2 {
        clock.advance(Duration::from_millis(500));
        slo.record(Duration::from_millis(5), Outcome::Success);
    }
    assert_eq!(slo.evaluate().level(), AlertLevel::Warning);
    for _ in 0..25 * 60 * 2 {
        clock.advance(Duration::from_millis(500));
        slo.record(Duration::from_millis(5), Outcome::Success);
    }
    assert_eq!(slo.evaluate().level(), AlertLevel::Ok);
}

#[test]
fn latency_objective_counts_slow_requests_as_bad() {
    let clock = ManualClock::new();
    let config = SloConfig::builder()
        .target(0.99)
        .good(GoodEvent::Within(Duration::from_millis(100)))
        .build()
        .unwrap();
    let slo = SloTracker::new(config, clock.clone());
    for i in 0..20_000u64 {
        clock.advance(Duration::from_millis(500));
        let latency = Duration::from_millis(if i % 5 == 0 { 250 } else { 20 });
        slo.record(latency, Outcome::Error); // outcome does not matter here
    }
    let status = slo.evaluate();
    assert_eq!(status.bad(), 4_000);
    assert_eq!(status.level(), AlertLevel::Critical); // 20% bad vs 1%: 20x
}

#[test]
fn budget_counts_retired_slots_and_forgets_what_left_the_period() {
    let clock = ManualClock::new();
    let config = SloConfig::builder()
        .period(Duration::from_secs(2 * 3600))
        .alerts([BurnAlert::new(
            Duration::from_secs(3600),
            Duration::from_secs(300),
            14.4,
            AlertLevel::Critical,
        )])
        .build()
        .unwrap();
    let slo = SloTracker::new(config, clock.clone());
    // One failed request per minute for 90 minutes: the 1 h fine ring has
    // retired the first 30 minutes into the period ring by then.
    for _ in 0..90 {
        clock.advance(Duration::from_secs(60));
        slo.record(Duration::from_millis(1), Outcome::Error);
    }
    assert_eq!(slo.evaluate().total(), 90);
    // Three hours on, one per minute: only the last 2 h (120 minutes) count.
    for _ in 0..180 {
        clock.advance(Duration::from_secs(60));
        slo.record(Duration::from_millis(1), Outcome::Success);
    }
    let status = slo.evaluate();
    assert_eq!(status.total(), 120);
    assert_eq!(status.bad(), 0);
    assert_eq!(status.budget_remaining(), 1.0);
    assert_eq!(slo.dropped(), 0);
}

#[test]
fn config_errors_name_the_field() {
    let b = SloConfig::builder;
    assert_eq!(b().target(f64::NAN).build().unwrap_err().field(), "target");
    assert_eq!(
        b().resolution(Duration::ZERO).build().unwrap_err().field(),
        "resolution"
    );
    assert_eq!(
        b().period(Duration::from_secs(1))
            .build()
            .unwrap_err()
            .field(),
        "period"
    );
    let bad_alert = BurnAlert::new(
        Duration::from_secs(60),
        Duration::from_secs(600),
        2.0,
        AlertLevel::Warning,
    );
    assert_eq!(
        b().alerts([bad_alert]).build().unwrap_err().field(),
        "alerts"
    );
    assert_eq!(b().stripes(0).build().unwrap_err().field(), "stripes");
    // A 6 h alert over a 1 h period would burn over the period alone.
    let too_long = BurnAlert::new(
        Duration::from_secs(6 * 3600),
        Duration::from_secs(300),
        6.0,
        AlertLevel::Warning,
    );
    let err = b()
        .period(Duration::from_secs(3600))
        .alerts([too_long])
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "alerts");
    assert!(
        b().period(Duration::from_secs(6 * 3600))
            .alerts([too_long])
            .build()
            .is_ok()
    );
}

#[test]
fn an_error_at_the_start_of_the_period_still_counts_once_retired() {
    // 1 s resolution, a 1,500 s period (3 fine ticks per coarse slot) and
    // a fine ring of 60 s, so the error's fine slot is long retired.
    let clock = ManualClock::new();
    let config = SloConfig::builder()
        .target(0.99)
        .resolution(Duration::from_secs(1))
        .period(Duration::from_secs(1500))
        .alerts([BurnAlert::new(
            Duration::from_secs(60),
            Duration::from_secs(5),
            14.4,
            AlertLevel::Critical,
        )])
        .build()
        .unwrap();
    let slo = SloTracker::new(config, clock.clone());
    clock.advance(Duration::from_secs(1));
    slo.record(Duration::from_millis(5), Outcome::Error); // tick 1
    let mut total = 1;
    for _ in 0..149 {
        clock.advance(Duration::from_secs(10));
        slo.record(Duration::from_millis(5), Outcome::Success);
        total += 1;
    }
    // At tick 1,500 the period covers ticks 1 to 1,500: the error is in.
    clock.set(brace::time::Nanos::from_duration(Duration::from_secs(1500)));
    let status = slo.evaluate();
    assert_eq!((status.total(), status.bad()), (total, 1));
}

/// The default SLO (99.9%) after `bad` errors among 10,000 requests.
fn after_errors(bad: u32) -> brace::metrics::SloStatus {
    let clock = ManualClock::new();
    let slo = SloTracker::new(SloConfig::default(), clock.clone());
    clock.advance(Duration::from_secs(1));
    for i in 0..10_000u32 {
        let outcome = if i < bad {
            Outcome::Error
        } else {
            Outcome::Success
        };
        slo.record(Duration::from_millis(1), outcome);
    }
    slo.evaluate()
}

#[test]
fn an_alert_fires_at_exactly_its_burn_rate_and_a_spent_budget_reads_zero() {
    // 144 bad of 10,000 against 99.9%: a burn of exactly 14.4.
    let status = after_errors(144);
    let critical = status.burns()[0];
    assert_eq!(critical.alert().burn_rate(), 14.4);
    assert!(
        critical.firing(),
        "long {} short {}",
        critical.long_burn(),
        critical.short_burn()
    );
    assert_eq!(status.level(), AlertLevel::Critical);
    // 10 bad of 10,000: the 0.1% budget exactly spent.
    assert_eq!(after_errors(10).budget_remaining(), 0.0);
}
