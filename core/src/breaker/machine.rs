//! The transitions: admission, outcome recording and manual control.
//!
//! ```text
//!            trip policy fires              deadline passed, first acquire
//!   Closed ------------------------> Open ------------------------------> HalfOpen
//!     ^                              ^  ^                                    |  |
//!     |                              |  +---- a probe fails (or is slow) ----+  |
//!     |                              +------- probes stuck past max wait -------+
//!     +------------------ permitted_calls_in_half_open probes passed -----------+
//!
//!   any state --force_open--> ForcedOpen   any --disable--> Disabled   any --reset--> Closed
//! ```
//!
//! Every arrow is one compare-and-swap on the state word that bumps the
//! generation and sets BUSY; the winner then publishes the new deadline,
//! resets the window when closing, clears BUSY and calls the listener.
//! Automatic transitions start only from a settled word of the generation
//! their evidence belongs to; losing the CAS means someone else moved the
//! state first and the evidence is dropped.

use super::permit::{Outcome, Role, Ticket};
use super::state::{BUSY_BIT, State, Word};
use super::{CircuitBreaker, Rejected, Transition};
use crate::sync::{Ordering, spin_loop};
use crate::time::{Clock, Nanos};

impl<C: Clock> CircuitBreaker<C> {
    #[inline]
    pub(crate) fn load(&self) -> Word {
        Word(self.core.word.load(Ordering::Acquire))
    }

    /// The deadline of the word read last, if the word is read again
    /// after it and found unchanged: a transition rewrites the deadline
    /// only after changing the word (and publishes it with `Release`), so
    /// a deadline read with `Acquire` and followed by the same word is that
    /// word's (an open deadline, not the give-up time of a half-open state
    /// that began in between).
    fn deadline(&self) -> Nanos {
        Nanos::new(self.core.deadline.load(Ordering::Acquire))
    }

    /// Decides whether one call may pass.
    #[inline]
    pub(crate) fn admit(&self) -> Result<Ticket, Rejected> {
        let word = self.load();
        match word.state() {
            State::Closed => Ok(Ticket {
                generation: word.generation(),
                role: Role::Closed,
            }),
            // The open state's common case: a settled word whose deadline
            // the clock's cached reading has not reached. No clock read, no
            // write: a rejection costs about what a closed-state call does.
            State::Open if !word.is_busy() => {
                let until = self.deadline();
                let seen = self.clock.recent();
                if seen < until {
                    let again = self.load();
                    if again != word {
                        return self.admit_slow(again);
                    }
                    return Err(open_until(until, seen));
                }
                self.admit_slow(word)
            }
            _ => self.admit_slow(word),
        }
    }

    /// See [`CircuitBreaker::refusal`].
    pub(crate) fn open_refusal(&self) -> Option<Rejected> {
        let mut word = self.load();
        loop {
            match word.state() {
                State::ForcedOpen => return Some(Rejected::ForcedOpen),
                State::Open if word.is_busy() => {
                    return Some(self.opening(word, self.clock.recent()));
                }
                State::Open => {
                    let until = self.deadline();
                    let again = self.load();
                    if again != word {
                        word = again;
                        continue;
                    }
                    let now = self.clock.recent();
                    return (now < until).then(|| open_until(until, now));
                }
                _ => return None,
            }
        }
    }

    /// The refusal for an open `word` whose deadline is still being
    /// published: about a full open duration away.
    fn opening(&self, word: Word, now: Nanos) -> Rejected {
        let wait = self.config.open_duration_for(word.trips(), 0);
        open_until(now.saturating_add(wait), now)
    }

    #[cold]
    fn admit_slow(&self, mut word: Word) -> Result<Ticket, Rejected> {
        loop {
            let ticket = |w: Word, role| Ticket {
                generation: w.generation(),
                role,
            };
            match word.state() {
                State::Closed => return Ok(ticket(word, Role::Closed)),
                State::Disabled => return Ok(ticket(word, Role::Disabled)),
                State::ForcedOpen => return Err(Rejected::ForcedOpen),
                State::Open => {
                    let now = self.clock.now();
                    if word.is_busy() {
                        return Err(self.opening(word, now));
                    }
                    let until = self.deadline();
                    if now < until {
                        let again = self.load();
                        if again != word {
                            word = again;
                            continue;
                        }
                        return Err(open_until(until, now));
                    }
                    let next = word.next(State::HalfOpen, word.trips(), 1);
                    match self.swap_word(word, next) {
                        Ok(()) => {
                            let probe = ticket(next, Role::Probe);
                            // The slot just taken is this caller's: if the
                            // listener panics before the caller holds its
                            // permit, the unwind gives it back, as a dropped
                            // permit would.
                            let give_back = ProbeOnUnwind {
                                breaker: self,
                                ticket: probe,
                            };
                            self.settle(next, State::Open, now);
                            core::mem::forget(give_back);
                            return Ok(probe);
                        }
                        Err(seen) => word = seen,
                    }
                }
                State::HalfOpen => {
                    let taken = word.passes() + word.in_flight();
                    if taken < self.config.permitted_in_half_open {
                        match self.swap_word(word, word.with_probe_taken()) {
                            Ok(()) => return Ok(ticket(word, Role::Probe)),
                            Err(seen) => word = seen,
                        }
                        continue;
                    }
                    let seen = self.clock.recent();
                    let wait = if word.is_busy() {
                        self.config.max_wait_in_half_open
                    } else {
                        let give_up = self.deadline();
                        let again = self.load();
                        if again != word {
                            word = again;
                            continue;
                        }
                        give_up.saturating_sub(seen)
                    };
                    if wait > Nanos::ZERO {
                        return Err(Rejected::ProbesInFlight {
                            retry_after: wait.as_duration(),
                        });
                    }
                    // The probes are stuck past the max wait: open again.
                    let now = self.clock.now();
                    let next = word.next(State::Open, word.trips() + 1, 0);
                    match self.swap_word(word, next) {
                        Ok(()) => {
                            self.settle(next, State::HalfOpen, now);
                            return Err(open_until(self.deadline(), now));
                        }
                        Err(seen) => word = seen,
                    }
                }
            }
        }
    }

    /// Applies the outcome of a permit's call (or of its drop, as
    /// [`Outcome::Ignored`]).
    #[inline(always)]
    pub(crate) fn on_outcome(&self, ticket: Ticket, outcome: Outcome, elapsed: Option<Nanos>) {
        match ticket.role {
            Role::Closed => self.record_closed(ticket.generation, outcome, elapsed),
            Role::Probe => self.record_probe(ticket.generation, outcome, elapsed),
            Role::Disabled => {}
        }
    }

    /// The closed-state hot path: a generation check, one striped
    /// `fetch_add`, and (only if something may trip) the policy checks.
    #[inline(always)]
    fn record_closed(&self, generation: u32, outcome: Outcome, elapsed: Option<Nanos>) {
        // A busy word of this generation is a transition into Closed whose
        // window is still being reset: an outcome now would be wiped by the
        // reset, or, worse, evaluated against the old window's failures and
        // trip the breaker it just closed (a loom model found it). It is
        // dropped, as the reset would have.
        let word = self.load();
        if outcome == Outcome::Ignored || word.generation() != generation || word.is_busy() {
            return;
        }
        let failed = outcome == Outcome::Failure;
        let slow = self.config.is_slow(elapsed);
        let rolled = self
            .window
            .as_ref()
            .is_some_and(|w| w.record(failed, slow, || self.clock.recent()));
        let consecutive_live = self.config.consecutive_failures.is_some()
            && (failed || self.consecutive.load(Ordering::Relaxed) != 0);
        let short = self.core.short_of_minimum.load(Ordering::Relaxed);
        if failed || slow || rolled || consecutive_live || short {
            self.after_closed_record(generation, failed, slow, rolled || short);
        }
    }

    /// The rare part of a closed-state record: consecutive-failure counting
    /// and rate evaluation.
    #[cold]
    #[inline(never)]
    fn after_closed_record(&self, generation: u32, failed: bool, slow: bool, evaluate: bool) {
        if let Some(limit) = self.config.consecutive_failures {
            if failed {
                if self.consecutive.fetch_add(1, Ordering::Relaxed) + 1 >= limit {
                    return self.trip(generation);
                }
            } else if self.consecutive.load(Ordering::Relaxed) != 0 {
                self.consecutive.store(0, Ordering::Relaxed);
            }
        }
        // A rate can only cross its threshold on a failure, a slow call,
        // when a block rolls (old successes age out), or on the call that
        // brings the window up to `minimum_calls` (`evaluate` then carries
        // `short_of_minimum`). Evaluating after every roll also catches a
        // failure that a concurrent roll was harvesting while its own
        // evaluation summed the window.
        if (failed || slow || evaluate) && self.rate_exceeded() {
            self.trip(generation);
        }
    }

    fn rate_exceeded(&self) -> bool {
        let Some(window) = &self.window else {
            return false;
        };
        let counts = window.totals(|| self.clock.recent());
        let short = &self.core.short_of_minimum;
        if counts.calls < u64::from(self.config.minimum_calls) {
            if (counts.failures > 0 || counts.slow > 0) && !short.load(Ordering::Relaxed) {
                short.store(true, Ordering::Relaxed);
            }
            return false;
        }
        if short.load(Ordering::Relaxed) {
            short.store(false, Ordering::Relaxed);
        }
        // As a ratio, not `n >= r * calls`: `0.55 * 100.0` rounds to
        // 55.000000000000007, so 55 failures in 100 calls would not reach
        // a rate of 0.55, while `55.0 / 100.0` is the same double as `0.55`.
        // A rate of 0 trips on the first failure (or slow call) once the
        // window holds `minimum_calls`: without `n > 0` it held for every
        // window and tripped on whichever outcome happened to evaluate.
        let calls = counts.calls as f64;
        let over = |rate: Option<f64>, n: u64| rate.is_some_and(|r| n > 0 && n as f64 / calls >= r);
        over(self.config.failure_rate, counts.failures)
            || over(self.config.slow_call_rate, counts.slow)
    }

    /// Closed → Open, if the breaker is still in `generation`.
    #[cold]
    fn trip(&self, generation: u32) {
        let word = self.load();
        if word.generation() != generation || word.state() != State::Closed || word.is_busy() {
            return;
        }
        let now = self.clock.now();
        let next = word.next(State::Open, word.trips() + 1, 0);
        if self.swap_word(word, next).is_ok() {
            self.settle(next, State::Closed, now);
        }
    }

    #[cold]
    #[inline(never)]
    fn record_probe(&self, generation: u32, outcome: Outcome, elapsed: Option<Nanos>) {
        let failed = outcome == Outcome::Failure
            || (outcome == Outcome::Success && self.config.is_slow(elapsed));
        let mut word = self.load();
        loop {
            if word.generation() != generation || word.state() != State::HalfOpen {
                return;
            }
            let next = match outcome {
                Outcome::Ignored => word.with_probe_freed(),
                _ if failed || word.passes() + 1 >= self.config.permitted_in_half_open => {
                    if word.is_busy() {
                        // Only the publisher may change the generation now.
                        spin_loop();
                        word = self.load();
                        continue;
                    }
                    let to = if failed { State::Open } else { State::Closed };
                    let trips = if failed { word.trips() + 1 } else { 0 };
                    let next = word.next(to, trips, 0);
                    let now = self.clock.now();
                    match self.swap_word(word, next) {
                        Ok(()) => return self.settle(next, State::HalfOpen, now),
                        Err(seen) => {
                            word = seen;
                            continue;
                        }
                    }
                }
                _ => word.with_probe_passed(),
            };
            match self.swap_word(word, next) {
                Ok(()) => return,
                Err(seen) => word = seen,
            }
        }
    }

    /// Moves to `to` from whatever state, waiting out a transition that is
    /// being published.
    pub(crate) fn set_by_hand(&self, to: State) {
        let mut word = self.load();
        loop {
            if word.is_busy() {
                spin_loop();
                word = self.load();
                continue;
            }
            if word.state() == to && to != State::Closed {
                return;
            }
            let now = self.clock.now();
            let next = word.next(to, 0, 0);
            match self.swap_word(word, next) {
                Ok(()) => return self.settle(next, word.state(), now),
                Err(seen) => word = seen,
            }
        }
    }

    fn swap_word(&self, current: Word, next: Word) -> Result<(), Word> {
        self.core
            .word
            .compare_exchange(current.0, next.0, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
            .map_err(Word)
    }

    /// Second half of a transition: publish what the new state needs, clear
    /// BUSY, tell the listener. Runs only on the thread whose CAS set `busy`.
    fn settle(&self, busy: Word, from: State, now: Nanos) {
        let to = busy.state();
        match to {
            State::Open => {
                let seed = u64::from(busy.generation()) ^ now.as_u64().rotate_left(17);
                let open = self.config.open_duration_for(busy.trips(), seed);
                self.core
                    .deadline
                    .store(now.saturating_add(open).as_u64(), Ordering::Release);
            }
            State::HalfOpen => {
                let give_up = now.saturating_add(self.config.max_wait_in_half_open);
                self.core
                    .deadline
                    .store(give_up.as_u64(), Ordering::Release);
            }
            State::Closed => {
                self.consecutive.store(0, Ordering::Relaxed);
                self.core.short_of_minimum.store(false, Ordering::Relaxed);
                if let Some(window) = &self.window {
                    window.reset(now);
                }
            }
            State::ForcedOpen | State::Disabled => {}
        }
        self.core.word.fetch_and(!BUSY_BIT, Ordering::Release);
        // After BUSY is cleared: a waiter that registers after this takes
        // the list's lock after us and then reads the settled open state.
        #[cfg(feature = "std")]
        if matches!(to, State::Open | State::ForcedOpen) {
            if let Some(waiters) = self.open_waiters.get() {
                waiters.wake_all();
            }
        }
        if let Some(listener) = &self.config.listener {
            listener(Transition {
                from,
                to,
                at: now,
                generation: busy.generation(),
            });
        }
    }
}

/// Gives back the probe slot of `ticket` if dropped, that is, if a
/// transition's listener panics between taking the slot and handing the
/// caller its permit (it is forgotten otherwise).
struct ProbeOnUnwind<'a, C: Clock> {
    breaker: &'a CircuitBreaker<C>,
    ticket: Ticket,
}

impl<C: Clock> Drop for ProbeOnUnwind<'_, C> {
    fn drop(&mut self) {
        self.breaker.on_outcome(self.ticket, Outcome::Ignored, None);
    }
}

fn open_until(until: Nanos, now: Nanos) -> Rejected {
    Rejected::OpenUntil {
        until,
        retry_after: until.saturating_sub(now).as_duration(),
    }
}
