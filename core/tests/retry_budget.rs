//! RetryBudget against a reference model of Finagle's semantics, on a
//! manual clock.

use std::time::Duration;

use brace::retry::{RetryBudget, SCALE};
use brace::time::{ManualClock, Nanos};
use proptest::prelude::*;

const TTL: Duration = Duration::from_secs(8); // 8 slices of 1 s
const SLICE: u64 = 1_000_000_000;

fn budget(clock: &ManualClock, ratio: f64, floor: u32, stripes: usize) -> RetryBudget<ManualClock> {
    RetryBudget::builder()
        .ratio(ratio)
        .min_retries_per_sec(floor)
        .ttl(TTL)
        .stripes(stripes)
        .build(clock.clone())
        .unwrap()
}

#[test]
fn fractional_ratios_are_exact() {
    // tower's TpsBudget turns 0.3 into one retry per 3 deposits (33%);
    // brace grants exactly 30 retries for 100 first attempts.
    for (ratio, deposits, retries) in [(0.3, 100, 30), (0.1, 95, 9), (0.7, 10, 7), (1.5, 3, 4)] {
        let clock = ManualClock::new();
        let b = budget(&clock, ratio, 0, 1);
        for _ in 0..deposits {
            b.deposit();
        }
        let granted = (0..1000).take_while(|_| b.try_withdraw()).count();
        assert_eq!(granted, retries, "ratio {ratio}, {deposits} deposits");
    }
}

#[test]
fn the_floor_allows_retries_without_traffic() {
    let clock = ManualClock::new();
    let b = budget(&clock, 0.2, 2, 1); // 2/s over 8 s
    assert_eq!(b.available(), 16);
    let granted = (0..100).take_while(|_| b.try_withdraw()).count();
    assert_eq!(granted, 16);
    // The grants expire with their window and the floor is there again.
    clock.advance(TTL);
    assert_eq!(b.available(), 16);
}

#[test]
fn deposits_expire_after_the_window() {
    let clock = ManualClock::new();
    let b = budget(&clock, 1.0, 0, 1);
    for _ in 0..5 {
        b.deposit();
    }
    clock.advance(Duration::from_secs(7)); // still in the window
    assert_eq!(b.available(), 5);
    clock.advance(Duration::from_secs(1)); // the first slice expired
    assert_eq!(b.available(), 0);
    assert!(!b.try_withdraw());
}

#[test]
fn deposits_from_every_thread_pay_for_any_threads_retries() {
    let clock = ManualClock::new();
    let b = budget(&clock, 1.0, 0, 8);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| b.deposit());
        }
    });
    let granted = (0..100).take_while(|_| b.try_withdraw()).count();
    assert_eq!(granted, 4);
}

#[test]
fn a_spent_budget_sees_other_threads_deposits_within_a_millisecond() {
    let clock = ManualClock::new();
    let b = budget(&clock, 1.0, 0, 64);
    assert!(!b.try_withdraw(), "nothing deposited yet");
    std::thread::scope(|s| {
        s.spawn(|| b.deposit());
    });
    clock.advance(Duration::from_millis(1));
    assert!(b.try_withdraw(), "another thread's deposit, summed afresh");
    assert!(!b.try_withdraw(), "and spent");
}

#[test]
fn a_spent_budget_sees_other_threads_deposits_within_64_refusals() {
    let clock = ManualClock::new();
    let b = budget(&clock, 1.0, 0, 64);
    assert!(!b.try_withdraw(), "nothing deposited yet");
    std::thread::scope(|s| {
        s.spawn(|| b.deposit());
    });
    // The clock stands still: the stripes are summed afresh at the latest
    // after 64 refusals decided on the old sum.
    let attempts = (0..=64).position(|_| b.try_withdraw());
    assert!(attempts.is_some(), "the deposit was never seen");
    assert_eq!(b.available(), 0);
}

#[test]
fn threads_never_get_more_than_the_budget_holds() {
    let clock = ManualClock::new();
    let b = std::sync::Arc::new(budget(&clock, 0.5, 0, 8));
    let granted = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..10_000 {
                    b.deposit();
                    if b.try_withdraw() {
                        granted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    // 40 000 deposits at 0.5 earn exactly 20 000 retries: whatever was not
    // granted on the way is still there.
    let granted = granted.into_inner();
    assert!(granted <= 20_000, "granted {granted} of 20000");
    assert_eq!(granted + b.available(), 20_000);
}

#[test]
fn invalid_settings_name_their_field() {
    let c = ManualClock::new();
    let err = |b: brace::retry::RetryBudgetBuilder| b.build(c.clone()).unwrap_err().field();
    assert_eq!(err(RetryBudget::builder().ratio(f64::NAN)), "ratio");
    assert_eq!(err(RetryBudget::builder().ratio(1000.5)), "ratio");
    assert_eq!(
        err(RetryBudget::builder().ttl(Duration::from_millis(999))),
        "ttl"
    );
    assert_eq!(
        err(RetryBudget::builder().ttl(Duration::from_secs(61))),
        "ttl"
    );
    assert_eq!(err(RetryBudget::builder().stripes(0)), "stripes");
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Deposit,
    Withdraw,
    Advance(u64),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            4 => Just(Op::Deposit),
            4 => Just(Op::Withdraw),
            1 => (0u64..3 * SLICE).prop_map(Op::Advance),
        ],
        0..400,
    )
}

/// The reference model: every event with its slice; a withdrawal is granted
/// iff the window's money pays for one more grant.
#[derive(Default)]
struct Model {
    deposits: Vec<u64>,
    grants: Vec<u64>,
}

impl Model {
    fn in_window(events: &[u64], slice: u64) -> u64 {
        events
            .iter()
            .filter(|&&e| e + 8 > slice && e <= slice)
            .count() as u64
    }

    fn money(&self, slice: u64, earn: u64, reserve: u64) -> u128 {
        u128::from(reserve) + u128::from(Self::in_window(&self.deposits, slice)) * u128::from(earn)
    }

    fn spent(&self, slice: u64) -> u128 {
        u128::from(Self::in_window(&self.grants, slice)) * u128::from(SCALE)
    }
}

proptest! {
    /// One thread: the budget decides exactly as the model does, whatever
    /// the striping.
    #[test]
    fn single_thread_matches_the_reference_model(
        ratio_millionths in 0u64..2_000_000,
        floor in 0u32..3,
        stripes in prop_oneof![Just(1usize), Just(8)],
        ops in ops(),
    ) {
        let ratio = ratio_millionths as f64 / 1e6;
        let clock = ManualClock::starting_at(Nanos::new(123 * SLICE));
        let b = budget(&clock, ratio, floor, stripes);
        let reserve = u64::from(floor) * 8 * SCALE;
        let mut model = Model::default();
        let mut now = 123 * SLICE;
        for op in ops {
            let slice = now / SLICE;
            match op {
                Op::Deposit => { b.deposit(); model.deposits.push(slice); }
                Op::Withdraw => {
                    let expect = model.money(slice, ratio_millionths, reserve)
                        >= model.spent(slice) + u128::from(SCALE);
                    prop_assert_eq!(b.try_withdraw(), expect, "at slice {}", slice);
                    if expect { model.grants.push(slice); }
                }
                Op::Advance(by) => { clock.advance(Duration::from_nanos(by)); now += by; }
            }
        }
    }

    /// Whenever a retry is granted, the grants in the window ending there
    /// are at most `ratio × deposits + floor × ttl` of that window
    /// (Finagle's guarantee; a grant may outlive the deposits that paid for
    /// it, as in Finagle, and then lowers what the window can grant later).
    #[test]
    fn grants_never_exceed_ratio_times_deposits_plus_floor(
        ratio_millionths in 0u64..2_000_000,
        floor in 0u32..3,
        ops in ops(),
    ) {
        let ratio = ratio_millionths as f64 / 1e6;
        let clock = ManualClock::new();
        let b = budget(&clock, ratio, floor, 8);
        let reserve = u64::from(floor) * 8 * SCALE;
        let mut model = Model::default();
        let mut now = 0;
        for op in ops {
            let slice = now / SLICE;
            match op {
                Op::Deposit => { b.deposit(); model.deposits.push(slice); }
                Op::Withdraw => {
                    if b.try_withdraw() {
                        model.grants.push(slice);
                        prop_assert!(
                            model.spent(slice) <= model.money(slice, ratio_millionths, reserve),
                            "over-granted at slice {}", slice
                        );
                    }
                }
                Op::Advance(by) => { clock.advance(Duration::from_nanos(by)); now += by; }
            }
        }
    }
}

#[test]
fn a_refund_gives_the_retry_back_in_its_own_slice() {
    let clock = ManualClock::new();
    let b = budget(&clock, 0.0, 1, 1); // the floor: 8 retries per window
    let paid: Vec<_> = (0..8).map(|_| b.try_withdrawal().unwrap()).collect();
    assert!(b.try_withdrawal().is_none());
    let mut paid = paid.into_iter();
    b.refund(paid.next().unwrap());
    assert_eq!(b.available(), 1);
    assert!(b.try_withdraw());
    assert!(!b.try_withdraw());

    // Refunded after the head moved on: taken off the finished slice's
    // count, so the retry is free again now and the count stays right
    // when that slice leaves the window.
    clock.advance(Duration::from_nanos(3 * SLICE));
    b.refund(paid.next().unwrap());
    assert_eq!(b.available(), 1);
    assert!(b.try_withdraw());
    assert!(!b.try_withdraw());
    // Slice 0 (7 grants, one refunded) leaves; slice 3 keeps its one.
    clock.advance(Duration::from_nanos(5 * SLICE));
    assert_eq!(b.available(), 7);
}

#[test]
fn a_refund_after_the_window_or_from_another_budget_changes_nothing() {
    let clock = ManualClock::new();
    let b = budget(&clock, 0.0, 1, 1);
    let old = b.try_withdrawal().unwrap();
    clock.advance(TTL + Duration::from_nanos(SLICE));
    let granted = (0..100).take_while(|_| b.try_withdraw()).count();
    assert_eq!(granted, 8);
    b.refund(old); // expired with its slice: no extra retry
    assert!(!b.try_withdraw());

    let other = budget(&clock, 0.0, 1, 1);
    let foreign = other.try_withdrawal().unwrap();
    b.refund(foreign);
    assert!(
        !b.try_withdraw(),
        "a refund from another budget pays nothing here"
    );
}
