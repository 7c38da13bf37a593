//! Loom models of `RetryBudget`: concurrent withdrawals never over-grant and
//! never take the balance below zero, across deposits and slice changes.
#![cfg(loom)]

use brace::retry::RetryBudget;
use brace::time::ManualClock;
use core::time::Duration;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicU32, Ordering};

/// A budget whose only money is `floor` retries (ttl 1 s, slices of 125 ms).
fn reserve_only(clock: &ManualClock, floor: u32, stripes: usize) -> Arc<RetryBudget<ManualClock>> {
    Arc::new(
        RetryBudget::builder()
            .ratio(0.0)
            .min_retries_per_sec(floor)
            .ttl(Duration::from_secs(1))
            .stripes(stripes)
            .build(clock.clone())
            .unwrap(),
    )
}

#[test]
fn two_withdrawals_share_one_retry() {
    loom::model(|| {
        let clock = ManualClock::new();
        let budget = reserve_only(&clock, 1, 1);
        let granted = Arc::new(AtomicU32::new(0));
        let (b, g) = (budget.clone(), granted.clone());
        let t = loom::thread::spawn(move || {
            if b.try_withdraw() {
                g.fetch_add(1, Ordering::Relaxed);
            }
        });
        if budget.try_withdraw() {
            granted.fetch_add(1, Ordering::Relaxed);
        }
        t.join().unwrap();
        assert_eq!(granted.load(Ordering::Relaxed), 1);
        assert_eq!(budget.available(), 0);
    });
}

#[test]
fn a_slice_change_during_withdrawals_does_not_mint_money() {
    loom::model(|| {
        let clock = ManualClock::new();
        let budget = reserve_only(&clock, 1, 2);
        let granted = Arc::new(AtomicU32::new(0));
        let (b, g, c) = (budget.clone(), granted.clone(), clock.clone());
        let t = loom::thread::spawn(move || {
            // Moves to the next slice; the first slice's grant still counts.
            c.advance(Duration::from_millis(125));
            if b.try_withdraw() {
                g.fetch_add(1, Ordering::Relaxed);
            }
        });
        if budget.try_withdraw() {
            granted.fetch_add(1, Ordering::Relaxed);
        }
        t.join().unwrap();
        assert_eq!(granted.load(Ordering::Relaxed), 1);
        assert!(!budget.try_withdraw());
    });
}

#[test]
fn a_racing_deposit_pays_for_at_most_one_retry() {
    loom::model(|| {
        let clock = ManualClock::new();
        let budget = Arc::new(
            RetryBudget::builder()
                .ratio(1.0)
                .min_retries_per_sec(0)
                .ttl(Duration::from_secs(1))
                .stripes(2)
                .build(clock.clone())
                .unwrap(),
        );
        let granted = Arc::new(AtomicU32::new(0));
        let (b, g) = (budget.clone(), granted.clone());
        let t = loom::thread::spawn(move || {
            b.deposit();
            if b.try_withdraw() {
                g.fetch_add(1, Ordering::Relaxed);
            }
        });
        if budget.try_withdraw() {
            granted.fetch_add(1, Ordering::Relaxed);
        }
        t.join().unwrap();
        // One deposit, one retry: granted once, by whichever saw it.
        assert_eq!(granted.load(Ordering::Relaxed), 1);
        assert_eq!(budget.available(), 0);
    });
}

#[test]
fn a_refund_racing_a_withdrawal_and_a_slice_change_gives_back_exactly_one_retry() {
    loom::model(|| {
        let clock = ManualClock::new();
        let budget = reserve_only(&clock, 1, 1);
        let paid = budget.try_withdrawal().expect("the floor pays one retry");
        let (b, c) = (budget.clone(), clock.clone());
        let t = loom::thread::spawn(move || {
            // The head moves on while the refund looks for the grant.
            c.advance(Duration::from_millis(125));
            b.try_withdraw()
        });
        budget.refund(paid);
        let other = t.join().unwrap();
        // One retry's worth, refunded once: taken by exactly one of the
        // racing withdrawal and a later one.
        let later = budget.try_withdraw();
        assert!(other ^ later, "racing {other}, later {later}");
        assert_eq!(budget.available(), 0);
    });
}
