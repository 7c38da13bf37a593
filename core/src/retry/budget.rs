//! [`RetryBudget`]: retries limited to a fraction of recent first attempts
//! (semantics on the type; the protocol here).
//!
//! # Protocol (lock-free, striped)
//!
//! Deposits, one per call, are the hot path; they are striped: each stripe
//! is a cache-line-padded ring of 8 deposit cells, one per slice, and a
//! thread deposits into its home stripe (threads are numbered as they come,
//! with `std`; hashed from a stack address without it). Grants, one per retry, go through one `head` word
//! for the current slice, plus a ring of the 7 slices before it:
//!
//! ```text
//! deposit cell: [ slice tag: 32 | deposits: 32 ]
//! head:         [ slice tag: 32 | sealed: 1 | grants: 31 ]
//! grant cell:   [ slice tag: 32 | grants: 32 ]   (a finished slice)
//! ```
//!
//! A cell counts for the slice named by its tag; a cell whose tag is not one
//! of the window's 8 slices counts nothing. Deposits only ever add money, so
//! a deposit is a compare-and-swap on its own stripe's cell, and a granter
//! that reads a deposit late only under-counts (it may refuse, never
//! over-grant).
//!
//! Grants are where over-granting could happen, so every grant and every
//! slice change is a compare-and-swap on `head`:
//!
//! * grant: read `head` (unsealed, slice `h`), read the ring's slices
//!   `h-7 .. h-1`, check `reserve + ratio × deposits ≥ cost × (grants + 1)`,
//!   then compare-and-swap `head` from what was read to one more grant;
//! * slice change, when the clock has passed `h`: seal `head`
//!   (compare-and-swap), publish slice `h`'s final count into its ring cell
//!   (a compare-and-swap that never overwrites a newer slice, so a late
//!   helper is harmless), then compare-and-swap `head` to the new slice with
//!   no grants. Any thread that finds `head` sealed helps finish the change;
//! * refund (of a grant counted in slice `s`): if the unsealed `head` is at
//!   `s`, compare-and-swap it one grant lower; once `head` has moved past
//!   `s`, compare-and-swap `s`'s ring cell one lower if the cell still
//!   holds `s` (it was published before `head` moved, and a late helper
//!   never republishes a cell that already holds its slice). A count only
//!   goes down to its true value, and a grant that read the higher count
//!   was checked against more grants than there are: it may refuse, never
//!   over-grant.
//!
//! The ring cells of the slices before `h` are written before `head` moves
//! to `h` (release) and are read after `head` is read (acquire); none of
//! them changes while `head` stays at `h`. So a grant's compare-and-swap
//! succeeds only if nothing changed since it read: every grant is checked
//! against the window's exact grant count and a lower bound of its
//! deposits, and the balance never goes below zero. Refusals while a deposit
//! raced are the only inexactness, and they err on the safe side.
//!
//! A grant first checks the thread's own stripe; only if that cannot pay
//! does it need the other stripes, and there it may use the sum its stripe
//! took at most 1 ms (and 64 refusals) ago for the same head slice: a lower
//! bound, since deposits only grow while the head stays put, so it can
//! cause a refusal but never an over-grant. This keeps a budget that is
//! spent (every withdrawal refused) from reading other threads' hot lines
//! on every call.
//!
//! Every retry of the loop is caused by another thread's successful
//! compare-and-swap or by one of ours (a seal or a slice change), so the
//! protocol is lock-free. Tags wrap after 2³² slices (at least 17 years with
//! the smallest `ttl`).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use super::error::ConfigError;
use crate::sync::{AtomicU64, CachePadded, Ordering};
use crate::time::{Clock, Nanos};

/// The next budget's id (see [`Withdrawal`]). Not protocol state: the
/// core's atomic even under loom.
static NEXT_BUDGET_ID: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Units one retry costs.
pub const SCALE: u64 = 1_000_000;
/// Slices per window.
const SLICES: usize = 8;
const SEALED: u64 = 1 << 31;
const GRANT_COUNT: u64 = SEALED - 1;
const DEPOSIT_COUNT: u64 = u32::MAX as u64;

#[inline]
fn tag_of(cell: u64) -> u32 {
    (cell >> 32) as u32
}

#[inline]
fn with_tag(tag: u32, low: u64) -> u64 {
    (u64::from(tag) << 32) | low
}

/// Is `tag` one of the 8 slices of the window ending at `target`?
#[inline]
fn is_live(target: u32, tag: u32) -> bool {
    target.wrapping_sub(tag) < SLICES as u32
}

/// The sum of the counts (`mask`) of the cells live in the window ending at
/// `target`; branch-free so the compiler can vectorise it.
#[inline]
fn live_sum(cells: &[u64; SLICES], target: u32, mask: u64) -> u64 {
    cells
        .iter()
        .map(|&c| (c & mask) * u64::from(is_live(target, tag_of(c))))
        .sum()
}

/// A small number fixed per thread, for picking a stripe
/// ([`crate::sync::thread_index`]).
#[inline]
fn thread_number() -> usize {
    crate::sync::thread_index()
}

/// Is `tag` a later slice than `than` (modulo 2³²)?
#[inline]
fn is_newer(tag: u32, than: u32) -> bool {
    let d = tag.wrapping_sub(than);
    d != 0 && d < 1 << 31
}

/// One ring of cells, one per slice, on its own cache line(s).
type Ring = CachePadded<[AtomicU64; SLICES]>;

fn ring(initial: u64) -> Ring {
    CachePadded::new(core::array::from_fn(|_| AtomicU64::new(initial)))
}

/// A deposit stripe: its ring of deposit cells, and what its threads last
/// summed of the *other* stripes (see [`RetryBudget::others`]). Written by
/// the stripe's own threads; other threads read only `cells`.
struct Stripe {
    cells: [AtomicU64; SLICES],
    /// `[target slice: 32 | deposits: 32]`: the other stripes' live
    /// deposits in the window ending at that slice, when last summed.
    others: AtomicU64,
    /// The clock's `recent()` reading when `others` was summed.
    others_at: AtomicU64,
    /// Refusals decided on `others` since it was summed.
    others_uses: AtomicU64,
}

impl Stripe {
    fn new(expired: u32) -> Self {
        Stripe {
            cells: core::array::from_fn(|_| AtomicU64::new(with_tag(expired, 0))),
            others: AtomicU64::new(with_tag(expired, 0)),
            others_at: AtomicU64::new(0),
            others_uses: AtomicU64::new(0),
        }
    }

    fn live(&self, target: u32) -> u64 {
        let cells: [u64; SLICES] = core::array::from_fn(|i| self.cells[i].load(Ordering::Acquire));
        live_sum(&cells, target, DEPOSIT_COUNT)
    }
}

/// A refusal may rest on a sum of the other stripes at most this old...
const OTHERS_MAX_AGE: Nanos = Nanos::new(1_000_000);
/// ...and at most this many refusals old.
const OTHERS_MAX_USES: u64 = 64;

/// Shares retries out as a fraction of recent first attempts, plus a floor.
///
/// Share one budget (in an `Arc`) between every call to one dependency.
/// Every first attempt [`deposit`](RetryBudget::deposit)s; every retry must
/// [`try_withdraw`](RetryBudget::try_withdraw). This is Finagle's
/// `RetryBudget`: within the window of the last `ttl` (8 slices of
/// `ttl / 8`: the current slice and the 7 before it), a retry is granted
/// only if the window's grants, this one included, stay within
///
/// ```text
/// ratio × deposits in the window + min_retries_per_sec × ttl
/// ```
///
/// Deposits and grants expire together when they leave the window, so after
/// an outage the budget refills as traffic comes back.
///
/// # Exactness
///
/// Money is counted in integer units: a retry costs [`SCALE`] (10⁶) units
/// and a deposit earns `round(ratio × 10⁶)`, so a ratio of 0.1 means exactly
/// one retry per ten first attempts: no float rounds a fraction up into an
/// extra retry (the over-allocation of tower's `TpsBudget`, tower#857). The
/// ratio is kept to six decimals. Under concurrency a grant may miss a
/// deposit that is landing at the same instant (and refuse); it never
/// over-grants. The lock-free protocol is documented in the source
/// (`core/src/retry/budget.rs`) and model-checked by loom.
///
/// # Thread safety
///
/// `deposit` and `try_withdraw` take `&self`, never block and never
/// allocate. Deposits go to the thread's own cache-line-padded stripe;
/// grants (retries) share one ring.
///
/// # Clone
///
/// Not `Clone`: the budget is shared state; share it with `Arc`.
///
/// ```
/// use brace::retry::RetryBudget;
/// use brace::time::ManualClock;
/// use core::time::Duration;
///
/// let clock = ManualClock::new();
/// let budget = RetryBudget::builder()
///     .ratio(0.1)
///     .min_retries_per_sec(0)
///     .ttl(Duration::from_secs(10))
///     .build(clock.clone())
///     .unwrap();
/// for _ in 0..20 {
///     budget.deposit(); // 20 first attempts...
/// }
/// assert!(budget.try_withdraw()); // ...pay for exactly 2 retries
/// assert!(budget.try_withdraw());
/// assert!(!budget.try_withdraw());
///
/// clock.advance(Duration::from_secs(11)); // the window moves on
/// budget.deposit();
/// assert!(!budget.try_withdraw());
/// ```
pub struct RetryBudget<C> {
    clock: C,
    /// Unique among the process's budgets: tells its withdrawals apart.
    id: u64,
    slice_nanos: u64,
    /// `u64::MAX / slice_nanos`: turns the division by the slice length into
    /// a multiplication.
    slice_reciprocal: u64,
    /// Bit `i` set once stripe `i` has held a deposit; withdrawals read only
    /// those stripes.
    used: CachePadded<AtomicU64>,
    earn: u64,
    reserve: u64,
    ratio: f64,
    min_retries_per_sec: u32,
    ttl: Duration,
    deposits: Box<[CachePadded<Stripe>]>,
    /// Grants of the slices before the head's, one cell per slice.
    finished: Ring,
    /// The current slice's grants (see the module docs).
    head: CachePadded<AtomicU64>,
}

/// One retry paid for by [`RetryBudget::try_withdrawal`]: give it to
/// [`RetryBudget::refund`] if the retry does not run. It names the slice of
/// the budget's window the retry was counted in.
///
/// ```
/// use brace::retry::RetryBudget;
/// use brace::time::ManualClock;
///
/// let budget = RetryBudget::builder().ratio(1.0).min_retries_per_sec(0)
///     .build(ManualClock::new()).unwrap();
/// budget.deposit();
/// let paid = budget.try_withdrawal().expect("one deposit pays one retry");
/// // The caller gave up before the retry was sent:
/// budget.refund(paid);
/// assert_eq!(budget.available(), 1);
/// // A receipt from another budget is ignored.
/// let other = RetryBudget::builder().ratio(1.0).min_retries_per_sec(0)
///     .build(ManualClock::new()).unwrap();
/// other.deposit();
/// let foreign = other.try_withdrawal().unwrap();
/// budget.refund(foreign);
/// assert_eq!(budget.available(), 1);
/// ```
#[derive(Debug, PartialEq, Eq)]
#[must_use = "dropping a withdrawal keeps the retry spent; refund it if the retry did not run"]
pub struct Withdrawal {
    slice: u32,
    /// The id of the budget that granted it: another budget ignores it.
    budget: u64,
}

/// Collects a [`RetryBudget`]'s settings; [`build`](RetryBudgetBuilder::build)
/// validates them.
///
/// Defaults (Finagle's): `ratio` 0.2, `min_retries_per_sec` 10, `ttl` 10 s,
/// 8 stripes.
///
/// ```
/// use brace::retry::RetryBudget;
/// use brace::time::ManualClock;
///
/// let err = RetryBudget::builder().ratio(-1.0).build(ManualClock::new()).unwrap_err();
/// assert_eq!(err.field(), "ratio");
/// ```
#[derive(Debug, Clone, Copy)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct RetryBudgetBuilder {
    ratio: f64,
    min_retries_per_sec: u32,
    ttl: Duration,
    stripes: usize,
}

impl RetryBudget<()> {
    /// Starts a budget with Finagle's defaults.
    pub fn builder() -> RetryBudgetBuilder {
        RetryBudgetBuilder {
            ratio: 0.2,
            min_retries_per_sec: 10,
            ttl: Duration::from_secs(10),
            stripes: 8,
        }
    }
}

impl RetryBudgetBuilder {
    /// Retries allowed per first attempt in the window (0 to 1000; kept to
    /// six decimals).
    pub fn ratio(mut self, ratio: f64) -> Self {
        self.ratio = ratio;
        self
    }

    /// Retries allowed per second regardless of traffic (the floor that
    /// lets low-traffic callers retry at all).
    pub fn min_retries_per_sec(mut self, retries: u32) -> Self {
        self.min_retries_per_sec = retries;
        self
    }

    /// How long deposits and grants count (1 s to 60 s).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How many cache-line-padded stripes spread the deposit counters (1 to
    /// 64). More stripes mean less contention between depositing threads,
    /// a little more memory (128 bytes each) and a little more reading per
    /// retry.
    pub fn stripes(mut self, stripes: usize) -> Self {
        self.stripes = stripes;
        self
    }

    /// Validates the settings and builds a budget reading time from `clock`.
    ///
    /// # Errors
    ///
    /// * `ratio`: negative, above 1000 or NaN.
    /// * `ttl`: outside 1 s to 60 s.
    /// * `stripes`: outside 1 to 64.
    pub fn build<C: Clock>(self, clock: C) -> Result<RetryBudget<C>, ConfigError> {
        if !(0.0..=1000.0).contains(&self.ratio) {
            return Err(ConfigError::new("ratio", "must be a number from 0 to 1000"));
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&self.ttl) {
            return Err(ConfigError::new("ttl", "must be from 1 s to 60 s"));
        }
        if !(1..=64).contains(&self.stripes) {
            return Err(ConfigError::new("stripes", "must be from 1 to 64"));
        }
        let ttl_nanos = Nanos::from_duration(self.ttl).as_u64();
        let slice_nanos = ttl_nanos / SLICES as u64;
        // Rounds to the nearest millionth: 0.1 means 100_000 units, exactly.
        let earn = (self.ratio * SCALE as f64 + 0.5) as u64;
        let reserve =
            (u128::from(self.min_retries_per_sec) * u128::from(ttl_nanos) * u128::from(SCALE)
                / 1_000_000_000) as u64;
        let now = clock.now().as_u64() / slice_nanos;
        let expired = (now as u32).wrapping_sub(2 * SLICES as u32);
        let deposits: Vec<CachePadded<Stripe>> = (0..self.stripes)
            .map(|_| CachePadded::new(Stripe::new(expired)))
            .collect();
        Ok(RetryBudget {
            clock,
            id: NEXT_BUDGET_ID.fetch_add(1, core::sync::atomic::Ordering::Relaxed),
            slice_nanos,
            slice_reciprocal: u64::MAX / slice_nanos,
            used: CachePadded::new(AtomicU64::new(0)),
            earn,
            reserve,
            ratio: self.ratio,
            min_retries_per_sec: self.min_retries_per_sec,
            ttl: self.ttl,
            deposits: deposits.into_boxed_slice(),
            finished: ring(with_tag(expired, 0)),
            head: CachePadded::new(AtomicU64::new(with_tag(now as u32, 0))),
        })
    }
}

impl<C: Clock> RetryBudget<C> {
    /// The current slice number (its low 32 bits).
    #[inline]
    fn epoch(&self) -> u32 {
        self.slice_of(self.clock.recent())
    }

    /// The slice number of the instant `now`.
    #[inline]
    fn slice_of(&self, now: Nanos) -> u32 {
        let now = now.as_u64();
        // The reciprocal is at most one short of 2^64 / slice, so the
        // product's high half is the quotient or one less.
        let q = ((u128::from(now) * u128::from(self.slice_reciprocal)) >> 64) as u64;
        let q = if now - q * self.slice_nanos >= self.slice_nanos {
            q + 1
        } else {
            q
        };
        q as u32
    }

    /// This thread's stripe.
    #[inline]
    fn home(&self) -> usize {
        thread_number() % self.deposits.len()
    }

    /// Records a first attempt: it earns `ratio` of a retry for the next
    /// `ttl`.
    pub fn deposit(&self) {
        let e = self.epoch();
        let home = self.home();
        let cell = &self.deposits[home].cells[e as usize % SLICES];
        let mut cur = cell.load(Ordering::Relaxed);
        loop {
            let tag = tag_of(cur);
            let next = if tag == e || is_newer(tag, e) {
                // Our clock reading is already behind this cell's slice:
                // count the deposit there, as if it happened a moment later.
                if cur & DEPOSIT_COUNT == DEPOSIT_COUNT {
                    return; // saturated: under-counting only ever refuses
                }
                cur + 1
            } else {
                with_tag(e, 1)
            };
            match cell.compare_exchange_weak(cur, next, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => {
                    if next == with_tag(e, 1) {
                        // First deposit of a slice in this stripe (rare):
                        // make sure withdrawals read this stripe.
                        let bit = 1u64 << home;
                        if self.used.load(Ordering::Relaxed) & bit == 0 {
                            self.used.fetch_or(bit, Ordering::Release);
                        }
                    }
                    return;
                }
                Err(seen) => cur = seen,
            }
        }
    }

    /// Whether the window ending at `target` has at least `cost` units: the
    /// reserve plus what the window's deposits earned (later slices
    /// excluded). Reads this thread's stripe, then, only if that is not
    /// enough, the other stripes' sum (see [`others`](Self::others)).
    fn can_pay(&self, target: u32, cost: u128, now: Nanos) -> bool {
        let Some(short) = cost
            .checked_sub(u128::from(self.reserve))
            .filter(|&s| s > 0)
        else {
            return true;
        };
        let earn = u128::from(self.earn);
        let home_index = self.home();
        let home = &self.deposits[home_index];
        let mine = u128::from(home.live(target));
        if mine * earn >= short {
            return true;
        }
        let (others, cached) = self.others(home_index, target, now);
        let enough = (mine + u128::from(others)) * earn >= short;
        if !enough && cached {
            // Not a read-modify-write: a count lost to a racing thread of
            // the same stripe only delays the next refresh a little.
            let uses = home.others_uses.load(Ordering::Relaxed);
            home.others_uses.store(uses + 1, Ordering::Relaxed);
        }
        enough
    }

    /// The other stripes' live deposits in the window ending at `target`.
    ///
    /// Summing them reads cache lines other threads keep writing, which is
    /// what a contended budget would spend its time on. So a stripe keeps
    /// its last sum: deposits only grow while the window's head stays at
    /// `target`, so a sum taken for `target` is a lower bound of the true
    /// one for as long as the head stays there, and deciding on a lower
    /// bound can only refuse, never over-grant. The sum is used while it is
    /// for `target`, younger than [`OTHERS_MAX_AGE`] and has decided fewer
    /// than [`OTHERS_MAX_USES`] refusals; otherwise the stripes are summed
    /// afresh. A refusal may thus miss deposits other threads made within
    /// the last millisecond (or 64 refusals); a thread always reads its own
    /// stripe's deposits fresh. Also returns whether the sum was the kept
    /// one (the caller counts the refusals decided on it).
    fn others(&self, home_index: usize, target: u32, now: Nanos) -> (u64, bool) {
        let home = &self.deposits[home_index];
        let cached = home.others.load(Ordering::Relaxed);
        let age = now.saturating_sub(Nanos::new(home.others_at.load(Ordering::Relaxed)));
        if tag_of(cached) == target
            && age < OTHERS_MAX_AGE
            && home.others_uses.load(Ordering::Relaxed) < OTHERS_MAX_USES
        {
            return (cached & DEPOSIT_COUNT, true);
        }
        let mut pending = self.used.load(Ordering::Acquire) & !(1 << home_index);
        let mut sum: u64 = 0;
        while pending != 0 {
            let bit = pending.trailing_zeros() as usize;
            pending &= pending - 1;
            sum = sum.saturating_add(self.deposits[bit % 64].live(target));
        }
        let sum = sum.min(DEPOSIT_COUNT);
        home.others.store(with_tag(target, sum), Ordering::Relaxed);
        home.others_at.store(now.as_u64(), Ordering::Relaxed);
        home.others_uses.store(0, Ordering::Relaxed);
        (sum, false)
    }

    /// Grants in the window ending at the head's slice, head included.
    fn granted(&self, head: u64) -> u64 {
        let h = tag_of(head);
        let cells: [u64; SLICES] =
            core::array::from_fn(|i| self.finished[i].load(Ordering::Acquire));
        // The head's own slot holds slice h-8 (expired), never slice h.
        live_sum(&cells, h, DEPOSIT_COUNT) + (head & GRANT_COUNT)
    }

    /// Records slice `tag`'s final grant count in its ring cell, unless a
    /// newer slice already took the cell.
    fn publish(&self, tag: u32, grants: u64) {
        let cell = &self.finished[tag as usize % SLICES];
        let mut cur = cell.load(Ordering::Acquire);
        while tag_of(cur) != tag && !is_newer(tag_of(cur), tag) {
            match cell.compare_exchange(
                cur,
                with_tag(tag, grants),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(seen) => cur = seen,
            }
        }
    }

    /// The head for the clock's slice `e`: moves `head` on (helping any
    /// change in progress) until it is unsealed and not older than `e`.
    fn current_head(&self, e: u32) -> u64 {
        let mut head = self.head.load(Ordering::Acquire);
        loop {
            let h = tag_of(head);
            let next = if head & SEALED != 0 {
                self.publish(h, head & GRANT_COUNT);
                let to = if is_newer(e, h) { e } else { h.wrapping_add(1) };
                with_tag(to, 0)
            } else if is_newer(e, h) {
                head | SEALED
            } else {
                return head;
            };
            head = match self
                .head
                .compare_exchange(head, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => next,
                Err(seen) => seen,
            };
        }
    }

    /// How many retries the budget could grant now (a snapshot; concurrent
    /// calls may change it at once).
    pub fn available(&self) -> u64 {
        let head = self.current_head(self.epoch());
        let spent = u128::from(self.granted(head)) * u128::from(SCALE);
        let money = u128::from(self.reserve)
            + self
                .deposits
                .iter()
                .map(|stripe| u128::from(stripe.live(tag_of(head))))
                .sum::<u128>()
                * u128::from(self.earn);
        (money.saturating_sub(spent) / u128::from(SCALE)) as u64
    }

    /// Takes one retry's worth out of the budget; `false` (and nothing
    /// taken) when it cannot pay. See the module docs for the protocol.
    ///
    /// To give the retry back when it does not run after all, use
    /// [`try_withdrawal`](Self::try_withdrawal).
    pub fn try_withdraw(&self) -> bool {
        self.try_withdrawal().is_some()
    }

    /// Like [`try_withdraw`](Self::try_withdraw), but returns a receipt
    /// that [`refund`](Self::refund) takes back: for a retry that was paid
    /// for before it could start (before its backoff, say) and then did
    /// not run, because the caller gave up during the wait or an open
    /// breaker refused it. Dropping the receipt keeps the retry spent.
    ///
    /// ```
    /// use brace::retry::RetryBudget;
    /// use brace::time::ManualClock;
    ///
    /// let budget = RetryBudget::builder()
    ///     .ratio(0.0)
    ///     .min_retries_per_sec(1)
    ///     .ttl(std::time::Duration::from_secs(1))
    ///     .build(ManualClock::new())
    ///     .unwrap();
    /// let paid = budget.try_withdrawal().expect("the floor pays one retry");
    /// assert!(budget.try_withdrawal().is_none());
    /// budget.refund(paid); // the retry did not run
    /// assert!(budget.try_withdraw());
    /// ```
    pub fn try_withdrawal(&self) -> Option<Withdrawal> {
        let now = self.clock.recent();
        let e = self.slice_of(now);
        loop {
            let head = self.current_head(e);
            let cost = u128::from(self.granted(head) + 1) * u128::from(SCALE);
            if head & GRANT_COUNT == GRANT_COUNT || !self.can_pay(tag_of(head), cost, now) {
                return None;
            }
            if self
                .head
                .compare_exchange(head, head + 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Some(Withdrawal {
                    slice: tag_of(head),
                    budget: self.id,
                });
            }
        }
    }

    /// Gives back a retry that was withdrawn and did not run: it stops
    /// counting against the window, so another retry may take its place.
    /// A withdrawal older than the window has expired already; refunding it
    /// changes nothing.
    ///
    /// The grant is taken off the slice it was counted in (the head, or the
    /// slice's cell in the ring once the head has moved on), by a
    /// compare-and-swap that never lowers a count below zero. Lowering a
    /// count can only make a concurrent grant's check conservative (it read
    /// the higher count and may refuse), never let it over-grant.
    ///
    /// A withdrawal from another budget is ignored.
    pub fn refund(&self, withdrawal: Withdrawal) {
        if withdrawal.budget != self.id {
            return;
        }
        let slice = withdrawal.slice;
        loop {
            let head = self.current_head(self.epoch());
            if tag_of(head) != slice {
                // The head has moved past the slice, whose final count is
                // in the ring (published before the head moved).
                return self.refund_finished(slice);
            }
            if head & GRANT_COUNT == 0 {
                return;
            }
            if self
                .head
                .compare_exchange(head, head - 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return;
            }
        }
    }

    /// Takes one grant off finished slice `slice`'s ring cell, if the cell
    /// still holds that slice.
    fn refund_finished(&self, slice: u32) {
        let cell = &self.finished[slice as usize % SLICES];
        let mut cur = cell.load(Ordering::Acquire);
        while tag_of(cur) == slice && cur & DEPOSIT_COUNT > 0 {
            match cell.compare_exchange(cur, cur - 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return,
                Err(seen) => cur = seen,
            }
        }
    }

    /// The configured ratio.
    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    /// The configured floor.
    pub fn min_retries_per_sec(&self) -> u32 {
        self.min_retries_per_sec
    }

    /// The configured window.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

impl<C> fmt::Debug for RetryBudget<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("ratio", &self.ratio)
            .field("min_retries_per_sec", &self.min_retries_per_sec)
            .field("ttl", &self.ttl)
            .field("stripes", &self.deposits.len())
            .finish_non_exhaustive()
    }
}
