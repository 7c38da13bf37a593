//! A lock-free circuit breaker.
//!
//! A [`CircuitBreaker`] sits in front of a dependency. While the dependency
//! is healthy it is *closed*: calls pass and their outcomes are counted.
//! When a trip policy fires it *opens*: calls are rejected at once with a
//! [`Rejected`] that says when to come back. After the open duration it is
//! *half-open*: a few probe calls pass; enough successes close it, a failure
//! opens it again (for longer, if growth is configured).
//!
//! Trip policies ([`Config`]): N consecutive failures; a failure rate over a
//! count or time window; a slow-call rate; each rate only once the window
//! holds a minimum number of calls.
//!
//! The whole state machine is one atomic word (see [`State`] and the layout
//! in `state.rs`); the closed-state path is a load of that word plus one
//! relaxed `fetch_add` on a thread-striped counter: no lock, no allocation.
//!
//! ```
//! use brace::breaker::{CircuitBreaker, Config, State};
//! use brace::time::ManualClock;
//! use core::time::Duration;
//!
//! let clock = ManualClock::new();
//! let config = Config::builder()
//!     .consecutive_failures(2)
//!     .open_duration(Duration::from_secs(10))
//!     .permitted_calls_in_half_open(1)
//!     .build()?;
//! let breaker = CircuitBreaker::new(config, clock.clone());
//!
//! for _ in 0..2 {
//!     breaker.try_acquire().unwrap().record_failure();
//! }
//! assert_eq!(breaker.state(), State::Open);
//! assert!(breaker.try_acquire().is_err());
//!
//! clock.advance(Duration::from_secs(10));
//! let probe = breaker.try_acquire().unwrap();
//! assert_eq!(breaker.state(), State::HalfOpen);
//! probe.record_success();
//! assert_eq!(breaker.state(), State::Closed);
//! # Ok::<(), brace::breaker::ConfigError>(())
//! ```

mod config;
mod error;
mod listener;
mod machine;
#[cfg(feature = "std")]
mod open_wait;
mod permit;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod registry;
mod state;
mod window;

use alloc::sync::Arc;
use core::fmt;
use core::future::Future;

pub use config::{Config, ConfigBuilder, ConfigError, WindowKind};
pub use error::Rejected;
pub use listener::{Snapshot, Transition};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use open_wait::OpenWait;
pub use permit::{Outcome, OwnedPermit, Permit};
pub use state::State;

use crate::sync::{AtomicBool, AtomicU32, AtomicU64, CachePadded};
use crate::time::{Clock, Nanos};
use state::Word;
use window::Window;

/// A circuit breaker over the clock `C`.
///
/// # Thread safety
///
/// `Send + Sync`; share it by reference or in an [`Arc`]. Every method takes
/// `&self`. [`try_acquire`](Self::try_acquire) and the permit reports are
/// lock-free; the manual controls may spin for the few instructions another
/// thread needs to finish publishing a transition.
///
/// ```
/// use brace::breaker::{CircuitBreaker, Config};
/// use brace::time::SystemClock;
/// use std::sync::Arc;
///
/// let breaker = Arc::new(CircuitBreaker::new(Config::default(), SystemClock::new()));
/// let worker = Arc::clone(&breaker);
/// std::thread::spawn(move || worker.try_acquire().unwrap().record_success())
///     .join()
///     .unwrap();
/// assert_eq!(breaker.snapshot().calls, 1);
/// ```
pub struct CircuitBreaker<C: Clock> {
    /// The state word (`state.rs`) and, beside it, the deadline of the
    /// current state: when open, the instant a probe is admitted; when
    /// half-open, the instant unfinished probes are given up on. Only the
    /// thread that set BUSY writes `deadline`, before clearing BUSY.
    core: CachePadded<Core>,
    /// Failures in a row; written on failures and on the first success after
    /// one, only read otherwise.
    consecutive: CachePadded<AtomicU32>,
    window: Option<Window>,
    config: Config,
    clock: C,
    /// Tasks to wake when the breaker opens; made by the first
    /// [`open_wait`](Self::open_wait), so a breaker nobody waits on never
    /// allocates or locks for it.
    #[cfg(feature = "std")]
    open_waiters: std::sync::OnceLock<Arc<open_wait::OpenWaiters>>,
}

struct Core {
    word: AtomicU64,
    deadline: AtomicU64,
    /// A rate evaluation found failures or slow calls but fewer calls than
    /// `minimum_calls`: successes evaluate too until one finds enough
    /// calls, since the success that reaches the minimum can be the one
    /// that makes a rate count (a failure alone evaluates otherwise).
    short_of_minimum: AtomicBool,
}

impl<C: Clock> CircuitBreaker<C> {
    /// A closed breaker.
    pub fn new(config: Config, clock: C) -> Self {
        let window = config.has_window().then(|| Window::new(config.window));
        if let Some(w) = &window {
            w.reset(clock.now());
        }
        CircuitBreaker {
            core: CachePadded::new(Core {
                word: AtomicU64::new(Word::new(0, State::Closed, 0).0),
                deadline: AtomicU64::new(0),
                short_of_minimum: AtomicBool::new(false),
            }),
            consecutive: CachePadded::new(AtomicU32::new(0)),
            window,
            config,
            clock,
            #[cfg(feature = "std")]
            open_waiters: std::sync::OnceLock::new(),
        }
    }

    /// Asks to make one call.
    ///
    /// # Errors
    ///
    /// [`Rejected`] when open (with the time a probe will be admitted),
    /// forced open, or half-open with every probe slot taken.
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_, C>, Rejected> {
        let ticket = self.admit()?;
        Ok(Permit {
            breaker: self,
            ticket,
            reported: false,
        })
    }

    /// Like [`try_acquire`](Self::try_acquire), but the permit holds an
    /// `Arc` of the breaker and so can be moved into a `'static` future.
    ///
    /// # Errors
    ///
    /// As for [`try_acquire`](Self::try_acquire).
    #[inline]
    pub fn try_acquire_owned(self: &Arc<Self>) -> Result<OwnedPermit<C>, Rejected> {
        let ticket = self.admit()?;
        Ok(OwnedPermit {
            breaker: Arc::clone(self),
            ticket,
            reported: false,
        })
    }

    /// Runs `call` under a permit and reports what `classify` makes of its
    /// output; the call's duration is measured on the breaker's clock (for
    /// the slow-call rate).
    ///
    /// # Errors
    ///
    /// [`Rejected`] if no permit was given; `call` is then dropped unpolled.
    ///
    /// # Cancellation
    ///
    /// Dropping the returned future before `call` finishes drops the permit
    /// unreported: its probe slot is freed and nothing is counted.
    ///
    /// ```
    /// use brace::breaker::{CircuitBreaker, Config, Outcome};
    /// use brace::time::ManualClock;
    ///
    /// let breaker = CircuitBreaker::new(Config::default(), ManualClock::new());
    /// let fetch = async { Err::<u32, &str>("connection reset") };
    /// let out = futures_executor_block_on(breaker.call(fetch, |r| match r {
    ///     Ok(_) => Outcome::Success,
    ///     Err(_) => Outcome::Failure,
    /// }));
    /// assert_eq!(out, Ok(Err("connection reset")));
    /// assert_eq!(breaker.snapshot().failures, 1);
    /// # fn futures_executor_block_on<F: core::future::Future>(f: F) -> F::Output {
    /// #     let waker = std::task::Waker::noop();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop {
    /// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
    /// #     }
    /// # }
    /// ```
    pub async fn call<F, T>(
        &self,
        call: F,
        classify: impl FnOnce(&T) -> Outcome,
    ) -> Result<T, Rejected>
    where
        F: Future<Output = T>,
    {
        let permit = self.try_acquire()?;
        let timer = self.clock.start_timer();
        let output = call.await;
        let elapsed = self.clock.elapsed(timer);
        permit.record(classify(&output), Some(elapsed.as_duration()));
        Ok(output)
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.load().state()
    }

    /// What a call now would be refused with, without taking a permit:
    /// `Some` when the breaker is forced open, or open with its deadline
    /// still ahead (the deadline read together with the state: a breaker
    /// that turns half-open meanwhile gives `None`, not the half-open
    /// state's give-up time as an open deadline). `None` in every other
    /// state, including half-open with every probe slot taken. Reads the
    /// clock's cached [`recent`](Clock::recent) time.
    ///
    /// ```
    /// use brace::breaker::{CircuitBreaker, Config, Rejected};
    /// use brace::time::ManualClock;
    ///
    /// let breaker = CircuitBreaker::new(Config::default(), ManualClock::new());
    /// assert_eq!(breaker.refusal(), None);
    /// breaker.force_open();
    /// assert_eq!(breaker.refusal(), Some(Rejected::ForcedOpen));
    /// ```
    pub fn refusal(&self) -> Option<Rejected> {
        self.open_refusal()
    }

    /// Opens the breaker until [`reset`](Self::reset) (or
    /// [`disable`](Self::disable)); no trip policy or timer closes it.
    /// Outcomes of permits issued before are dropped.
    pub fn force_open(&self) {
        self.set_by_hand(State::ForcedOpen);
    }

    /// Lets every call pass and counts nothing until
    /// [`reset`](Self::reset) (or [`force_open`](Self::force_open)).
    pub fn disable(&self) {
        self.set_by_hand(State::Disabled);
    }

    /// Closes the breaker with an empty window and no trip history, whatever
    /// its state. Outcomes of permits issued before are dropped.
    pub fn reset(&self) {
        self.set_by_hand(State::Closed);
    }

    /// A place among the tasks woken when this breaker opens (trips, or is
    /// forced open): for a caller that waits on something else and wants to
    /// learn at once that calls are now refused. See [`OpenWait`].
    ///
    /// Costs nothing until it is [registered](OpenWait::register); the
    /// breaker's `try_acquire` and outcome recording never look at it.
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn open_wait(&self) -> OpenWait {
        OpenWait::new(Arc::clone(self.open_waiters.get_or_init(Arc::default)))
    }

    /// The configuration the breaker was built with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The breaker's clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// A view of the state and counts, for observability.
    pub fn snapshot(&self) -> Snapshot {
        let word = self.load();
        let counts = self
            .window
            .as_ref()
            .map(|w| w.totals(|| self.clock.now()))
            .unwrap_or_default();
        let deadline = matches!(word.state(), State::Open | State::HalfOpen)
            .then(|| Nanos::new(self.core.deadline.load(crate::sync::Ordering::Acquire)));
        Snapshot {
            state: word.state(),
            generation: word.generation(),
            trips: word.trips(),
            calls: counts.calls,
            failures: counts.failures,
            slow_calls: counts.slow,
            consecutive_failures: self.consecutive.load(crate::sync::Ordering::Relaxed),
            probes_in_flight: word.in_flight(),
            probes_passed: word.passes(),
            deadline,
        }
    }
}

impl<C: Clock> fmt::Debug for CircuitBreaker<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("snapshot", &self.snapshot())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
