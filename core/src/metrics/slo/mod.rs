//! SLO tracking: error budget over the period and multi-window burn-rate
//! alerts.
//!
//! Counts live in two rings (see `metrics::ring` for the protocol):
//!
//! * a **fine ring** at the configured resolution (1 min), as long as the
//!   longest alert window (6 h): every record goes here, striped;
//! * a **coarse ring** over the whole period (30 days in 720 one-hour
//!   slots): when a fine slot is reset for reuse, the thread resetting it
//!   first adds its counts to the coarse slot of its time ("retire").
//!
//! Budget over the period = coarse slots in the period (the oldest one
//! whole, so up to one coarse slot of events just older than the period may
//! count) + fine slots not yet retired. While a fine slot is being retired
//! (microseconds, once per resolution), a reader may miss its counts, never
//! count them twice.

mod config;

pub use config::{AlertLevel, BurnAlert, GoodEvent, SloConfig, SloConfigBuilder};

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use super::outcome::Outcome;
use super::ring::{Ring, SlotPayload};
use super::stripe::thread_hint;
use crate::sync::{AtomicU32, AtomicU64, CachePadded, Ordering};
use crate::time::{Clock, Nanos};

/// Slots in the coarse ring that covers the period.
const PERIOD_SLOTS: u64 = 720;

struct Cell {
    total: AtomicU64,
    bad: AtomicU64,
}

impl Cell {
    fn new() -> Self {
        Cell {
            total: AtomicU64::new(0),
            bad: AtomicU64::new(0),
        }
    }

    fn load(&self) -> (u64, u64) {
        (
            self.total.load(Ordering::Relaxed),
            self.bad.load(Ordering::Relaxed),
        )
    }

    fn add(&self, total: u64, bad: u64) {
        self.total.fetch_add(total, Ordering::Relaxed);
        if bad > 0 {
            self.bad.fetch_add(bad, Ordering::Relaxed);
        }
    }

    fn clear(&self) {
        self.total.store(0, Ordering::Relaxed);
        self.bad.store(0, Ordering::Relaxed);
    }
}

struct Striped(Box<[CachePadded<Cell>]>);

impl Striped {
    fn sum(&self) -> (u64, u64) {
        self.0.iter().fold((0, 0), |(t, b), c| {
            let (ct, cb) = c.load();
            (t + ct, b + cb)
        })
    }
}

impl SlotPayload for Striped {
    fn clear(&self) {
        self.0.iter().for_each(|c| c.clear());
    }
}

impl SlotPayload for Cell {
    fn clear(&self) {
        Cell::clear(self);
    }
}

/// Burn rates of one alert at evaluation time.
///
/// ```
/// use brace::metrics::{SloConfig, SloTracker};
/// use brace::time::ManualClock;
///
/// let slo = SloTracker::new(SloConfig::default(), ManualClock::new());
/// let status = slo.evaluate();
/// assert_eq!(status.burns().len(), 2);
/// assert!(!status.burns()[0].firing());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnReading {
    alert: BurnAlert,
    long: f64,
    short: f64,
}

/// Relative slack when a burn is compared with an alert's rate.
const RATE_TOLERANCE: f64 = 1e-9;

/// The fraction of events a target allows to be bad, `1 - target`, as the
/// decimal it was meant to be: `1.0 - 0.999` is 0.0010000000000000009 in
/// floating point, which read a burn of exactly 14.4 as 14.399999999999986
/// and an exactly spent budget as 8.9e-16 remaining. Rounded to twelve
/// decimals when that moves it by less than a billionth of itself (a
/// target with more nines keeps its difference as it is).
fn error_budget(target: f64) -> f64 {
    const SCALE: f64 = 1e12;
    let allowed = 1.0 - target;
    let rounded = ((allowed * SCALE + 0.5) as u64) as f64 / SCALE;
    let moved = if rounded > allowed {
        rounded - allowed
    } else {
        allowed - rounded
    };
    if rounded > 0.0 && moved <= allowed * RATE_TOLERANCE {
        rounded
    } else {
        allowed
    }
}

impl BurnReading {
    /// The alert this reading is for.
    pub fn alert(&self) -> &BurnAlert {
        &self.alert
    }

    /// Burn rate over the long window (1.0 spends the budget exactly over
    /// the period).
    pub fn long_burn(&self) -> f64 {
        self.long
    }

    /// Burn rate over the short window.
    pub fn short_burn(&self) -> f64 {
        self.short
    }

    /// Whether both windows reach the alert's burn rate. "Reach" allows
    /// for rounding: a burn within a billionth of the rate (relative)
    /// counts, so 144 bad of 10,000 against a 99.9% target, a burn of
    /// exactly 14.4 that floating point may compute as 14.399999999999986,
    /// fires a 14.4 alert.
    pub fn firing(&self) -> bool {
        let rate = self.alert.burn_rate() * (1.0 - RATE_TOLERANCE);
        self.long >= rate && self.short >= rate
    }
}

/// The state of an SLO at one instant.
///
/// ```
/// use brace::metrics::{AlertLevel, Outcome, SloConfig, SloTracker};
/// use brace::time::ManualClock;
/// use core::time::Duration;
///
/// let slo = SloTracker::new(SloConfig::default(), ManualClock::new());
/// slo.record(Duration::from_millis(3), Outcome::Success);
/// let s = slo.evaluate();
/// assert_eq!(s.level(), AlertLevel::Ok);
/// assert_eq!((s.total(), s.bad()), (1, 0));
/// assert_eq!(s.budget_remaining(), 1.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SloStatus {
    level: AlertLevel,
    total: u64,
    bad: u64,
    budget_remaining: f64,
    burns: Vec<BurnReading>,
}

impl SloStatus {
    /// The loudest firing alert's level, or `Ok`.
    pub fn level(&self) -> AlertLevel {
        self.level
    }

    /// Requests counted over the period.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bad requests counted over the period.
    pub fn bad(&self) -> u64 {
        self.bad
    }

    /// Fraction of the period's error budget left: 1 untouched, 0 spent,
    /// below 0 overspent. The budget is `(1 - target) × total`.
    pub fn budget_remaining(&self) -> f64 {
        self.budget_remaining
    }

    /// One reading per configured alert, in configuration order.
    pub fn burns(&self) -> &[BurnReading] {
        &self.burns
    }
}

/// Tracks an SLO: counts good and bad requests, reports the error budget
/// left over the period and raises burn-rate alerts.
///
/// [`SloTracker::record`] is lock-free and allocation-free (one or two
/// `fetch_add`s on the thread's stripe). [`SloTracker::evaluate`] sums the
/// rings (a few thousand loads), allocates its report and stores the
/// level, which [`SloTracker::level`] then returns in one load: that is the
/// cheap read a circuit breaker or retry budget polls per call.
///
/// # Memory
///
/// Fixed at construction: at defaults 361 fine slots × 2 stripes × 128 B
/// plus 722 coarse slots × 16 B, about 105 KiB.
///
/// # Thread safety
///
/// `Send + Sync`; share it with an `Arc`.
///
/// ```
/// use brace::metrics::{AlertLevel, Outcome, SloConfig, SloTracker};
/// use brace::time::ManualClock;
/// use core::time::Duration;
///
/// let clock = ManualClock::new();
/// let slo = SloTracker::new(SloConfig::default(), clock.clone());
/// for i in 0..60_000u64 {
///     clock.advance(Duration::from_millis(100)); // 100 minutes, 10 req/s
///     let outcome = if i % 20 == 0 { Outcome::Error } else { Outcome::Success };
///     slo.record(Duration::from_millis(5), outcome);
/// }
/// assert_eq!(slo.evaluate().level(), AlertLevel::Critical); // 5% errors: 50x burn
/// assert_eq!(slo.level(), AlertLevel::Critical);
/// ```
pub struct SloTracker<C> {
    config: SloConfig,
    clock: C,
    stripe_mask: usize,
    fine: Ring<Striped>,
    coarse: Ring<Cell>,
    /// Ticks (of the fine ring) each alert's windows span: (long, short).
    alert_ticks: Box<[(u64, u64)]>,
    period_ticks: u64,
    level: AtomicU32,
}

impl<C: Clock> SloTracker<C> {
    /// A tracker with empty counts; all memory is allocated here.
    pub fn new(config: SloConfig, clock: C) -> Self {
        let res = config.resolution.as_nanos() as u64;
        let ticks = |d: Duration| (d.as_nanos() as u64).div_ceil(res).max(1);
        let alert_ticks: Box<[(u64, u64)]> = config
            .alerts
            .iter()
            .map(|a| (ticks(a.long()), ticks(a.short())))
            .collect();
        let fine_live = alert_ticks.iter().map(|t| t.0).max().unwrap_or(1);
        let period_ticks = ticks(config.period);
        let per_coarse = period_ticks.div_ceil(PERIOD_SLOTS);
        let stripes = config.stripes as usize;
        // What `record` files samples by.
        let start = clock.recent();
        SloTracker {
            stripe_mask: stripes - 1,
            fine: Ring::new(res, fine_live, start, || {
                Striped(
                    (0..stripes)
                        .map(|_| CachePadded::new(Cell::new()))
                        .collect(),
                )
            }),
            // One more than the period's coarse slots: a period that starts
            // inside a coarse slot spans one more, and the ring clears a
            // spare slot ahead of its head, which must not be the oldest
            // (when no alert keeps the fine ring a coarse slot long, the
            // head reaches the newest coarse slot).
            coarse: Ring::new(
                res * per_coarse,
                period_ticks.div_ceil(per_coarse) + 1,
                start,
                Cell::new,
            ),
            alert_ticks,
            period_ticks,
            level: AtomicU32::new(AlertLevel::Ok as u32),
            config,
            clock,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SloConfig {
        &self.config
    }

    /// Counts one finished request against the objective.
    #[inline]
    pub fn record(&self, latency: Duration, outcome: Outcome) {
        self.record_at(self.clock.recent(), latency, outcome);
    }

    /// Counts one request that finished at `now` (a reading of this
    /// tracker's clock).
    #[inline]
    pub fn record_at(&self, now: Nanos, latency: Duration, outcome: Outcome) {
        let good = self.config.good.is_good(latency, outcome);
        let retire = |old_tick: u64, slot: &Striped| self.retire(old_tick, slot);
        if let Some(slot) = self.fine.writable(now, retire) {
            slot.0[thread_hint() & self.stripe_mask].add(1, u64::from(!good));
        }
    }

    /// Moves a fine slot's counts into the coarse ring before it is reused.
    fn retire(&self, old_tick: u64, slot: &Striped) {
        let (total, bad) = slot.sum();
        if total == 0 {
            return;
        }
        let start = Nanos::new(old_tick.saturating_mul(self.fine.slot_len()));
        if let Some(cell) = self.coarse.writable(start, |_, _| {}) {
            cell.add(total, bad);
        }
    }

    /// Budget and alerts as of now; also stores the level for
    /// [`SloTracker::level`].
    pub fn evaluate(&self) -> SloStatus {
        self.evaluate_at(self.clock.now())
    }

    /// Budget and alerts as of `now`.
    pub fn evaluate_at(&self, now: Nanos) -> SloStatus {
        let newest = self.fine.tick(now);
        let oldest = newest.saturating_sub(self.period_ticks - 1);
        // The coarse ring first, then the fine one: a fine slot retired
        // between the two reads is then missed (the module docs admit it)
        // rather than counted twice. The oldest coarse slot is read even
        // when the period starts inside it: a tick is either retired or
        // still in the fine ring, so leaving it out dropped the period's
        // oldest retired events while their unretired neighbours counted;
        // reading it may count up to one coarse slot of events just older
        // than the period.
        let per_coarse = self.coarse.slot_len() / self.fine.slot_len();
        let (mut total, mut bad) = (0u64, 0u64);
        self.coarse.read(
            oldest / per_coarse..=newest / per_coarse,
            Cell::load,
            |_, (t, b)| {
                total += t;
                bad += b;
            },
        );
        // (ticks ago, total, bad) of every readable fine slot in the period.
        let mut fine: Vec<(u64, u64, u64)> = Vec::new();
        self.fine
            .read(oldest..=newest, Striped::sum, |tick, (t, b)| {
                fine.push((newest - tick, t, b))
            });
        for f in &fine {
            total += f.1;
            bad += f.2;
        }
        let allowed = error_budget(self.config.target);
        let burn = |ticks: u64| {
            let (t, b) = fine
                .iter()
                .filter(|f| f.0 < ticks)
                .fold((0u64, 0u64), |(t, b), f| (t + f.1, b + f.2));
            if t == 0 {
                0.0
            } else {
                b as f64 / (t as f64 * allowed)
            }
        };
        let burns: Vec<BurnReading> = self
            .config
            .alerts
            .iter()
            .zip(self.alert_ticks.iter())
            .map(|(alert, &(long, short))| BurnReading {
                alert: *alert,
                long: burn(long),
                short: burn(short),
            })
            .collect();
        let level = burns
            .iter()
            .filter(|b| b.firing())
            .map(|b| b.alert.level())
            .max()
            .unwrap_or(AlertLevel::Ok);
        self.level.store(level as u32, Ordering::Relaxed);
        let budget_remaining = if total == 0 {
            1.0
        } else {
            1.0 - bad as f64 / (allowed * total as f64)
        };
        SloStatus {
            level,
            total,
            bad,
            budget_remaining,
            burns,
        }
    }

    /// The level found by the last [`SloTracker::evaluate`] (`Ok` before
    /// the first): one atomic load, cheap enough to poll per request.
    pub fn level(&self) -> AlertLevel {
        match self.level.load(Ordering::Relaxed) {
            2 => AlertLevel::Critical,
            1 => AlertLevel::Warning,
            _ => AlertLevel::Ok,
        }
    }

    /// Samples not counted because they were older than the fine ring.
    pub fn dropped(&self) -> u64 {
        self.fine.dropped()
    }
}

impl<C> fmt::Debug for SloTracker<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SloTracker")
            .field("config", &self.config)
            .field("fine", &self.fine)
            .field("coarse", &self.coarse)
            .finish_non_exhaustive()
    }
}
