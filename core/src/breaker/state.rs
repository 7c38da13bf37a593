//! The breaker's state machine in one atomic word.
//!
//! ```text
//! bit  63 ........ 32 | 31   | 30..28 | 27..22 | 21 ....... 11 | 10 ........ 0
//!      generation     | BUSY | state  | trips  | probe passes  | probes in flight
//!      (32, wrapping) |      | (3)    | (6)    | (11, half-open only)
//! ```
//!
//! * **generation** grows by one on every change of state. A [`Permit`]
//!   remembers the generation it was issued in; an outcome whose generation
//!   is no longer current is dropped, so a late answer from an earlier state
//!   is never counted against the new one.
//! * **BUSY** is set by the compare-and-swap that changes the generation and
//!   cleared by the same thread once it has published the new state's
//!   deadline (`Inner::deadline`) and reset the window. While it is set, only
//!   that thread changes the generation: automatic transitions observed
//!   against a busy word are dropped (their evidence belongs to an old
//!   generation anyway) and manual controls spin until it clears.
//! * **state** is a [`State`].
//! * **trips** counts consecutive trips to open (saturating at 63); it grows
//!   the open duration and is cleared when the breaker closes.
//! * **probe passes** / **probes in flight** are the half-open probe slots:
//!   `passes + in_flight <= permitted_calls_in_half_open` is kept by every
//!   CAS that takes a slot. A success moves a slot from in-flight to passes;
//!   a dropped or ignored probe frees it; any failure reopens.
//!
//! Who changes what: any thread may CAS a probe slot in or out while the
//! word is half-open and not busy; only the winner of a generation-changing
//! CAS writes the deadline, the window reset and then clears BUSY.
//!
//! [`Permit`]: super::Permit

/// The states a [`CircuitBreaker`](super::CircuitBreaker) can be in.
///
/// ```
/// use brace::breaker::{CircuitBreaker, Config, State};
/// use brace::time::ManualClock;
///
/// let breaker = CircuitBreaker::new(Config::default(), ManualClock::new());
/// assert_eq!(breaker.state(), State::Closed);
/// breaker.force_open();
/// assert_eq!(breaker.state(), State::ForcedOpen);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Calls pass and their outcomes are counted; a trip policy may open it.
    Closed,
    /// Calls are rejected until the open duration has passed.
    Open,
    /// A limited number of probe calls pass; their outcomes decide between
    /// closed and open.
    HalfOpen,
    /// Opened by hand ([`force_open`](super::CircuitBreaker::force_open));
    /// stays open until [`reset`](super::CircuitBreaker::reset).
    ForcedOpen,
    /// Switched off by hand ([`disable`](super::CircuitBreaker::disable)):
    /// every call passes and nothing is counted.
    Disabled,
}

impl State {
    const fn to_bits(self) -> u64 {
        match self {
            State::Closed => 0,
            State::Open => 1,
            State::HalfOpen => 2,
            State::ForcedOpen => 3,
            State::Disabled => 4,
        }
    }

    const fn from_bits(bits: u64) -> State {
        match bits {
            0 => State::Closed,
            1 => State::Open,
            2 => State::HalfOpen,
            3 => State::ForcedOpen,
            _ => State::Disabled,
        }
    }
}

impl core::fmt::Display for State {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half-open",
            State::ForcedOpen => "forced open",
            State::Disabled => "disabled",
        })
    }
}

const GEN_SHIFT: u32 = 32;
const BUSY: u64 = 1 << 31;
const STATE_SHIFT: u32 = 28;
const STATE_MASK: u64 = 0b111;
const TRIPS_SHIFT: u32 = 22;
const TRIPS_MASK: u64 = 0b11_1111;
const PASSES_SHIFT: u32 = 11;
const SLOT_MASK: u64 = (1 << 11) - 1;

/// The largest number of half-open probes the word can count.
pub(crate) const MAX_PROBES: u32 = SLOT_MASK as u32;
/// The largest trip count kept (further trips saturate).
pub(crate) const MAX_TRIPS: u32 = TRIPS_MASK as u32;

/// A decoded copy of the state word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word(pub(crate) u64);

impl Word {
    /// A fresh, settled (not busy) word.
    pub(crate) const fn new(generation: u32, state: State, trips: u32) -> Word {
        Word(
            ((generation as u64) << GEN_SHIFT)
                | (state.to_bits() << STATE_SHIFT)
                | ((trips as u64 & TRIPS_MASK) << TRIPS_SHIFT),
        )
    }

    pub(crate) const fn generation(self) -> u32 {
        (self.0 >> GEN_SHIFT) as u32
    }

    pub(crate) const fn state(self) -> State {
        State::from_bits((self.0 >> STATE_SHIFT) & STATE_MASK)
    }

    pub(crate) const fn is_busy(self) -> bool {
        self.0 & BUSY != 0
    }

    pub(crate) const fn trips(self) -> u32 {
        ((self.0 >> TRIPS_SHIFT) & TRIPS_MASK) as u32
    }

    pub(crate) const fn passes(self) -> u32 {
        ((self.0 >> PASSES_SHIFT) & SLOT_MASK) as u32
    }

    pub(crate) const fn in_flight(self) -> u32 {
        (self.0 & SLOT_MASK) as u32
    }

    /// The busy word that starts the next generation in `state`, with
    /// `in_flight` probe slots already taken by the transitioning thread.
    pub(crate) const fn next(self, state: State, trips: u32, in_flight: u32) -> Word {
        let trips = if trips > MAX_TRIPS { MAX_TRIPS } else { trips };
        let w = Word::new(self.generation().wrapping_add(1), state, trips);
        Word(w.0 | BUSY | (in_flight as u64 & SLOT_MASK))
    }

    /// Takes one probe slot (the caller checked there is room).
    pub(crate) const fn with_probe_taken(self) -> Word {
        Word(self.0 + 1)
    }

    /// Frees one in-flight probe slot (dropped or ignored probe).
    pub(crate) const fn with_probe_freed(self) -> Word {
        Word(self.0 - 1)
    }

    /// Moves one in-flight probe to the passed count.
    pub(crate) const fn with_probe_passed(self) -> Word {
        Word(self.0 - 1 + (1 << PASSES_SHIFT))
    }
}

/// The busy bit, for `fetch_and` when a transition settles.
pub(crate) const BUSY_BIT: u64 = BUSY;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let w = Word::new(7, State::HalfOpen, 3);
        assert_eq!(w.generation(), 7);
        assert_eq!(w.state(), State::HalfOpen);
        assert_eq!(w.trips(), 3);
        assert!(!w.is_busy());
        let w = w.with_probe_taken().with_probe_taken().with_probe_passed();
        assert_eq!((w.passes(), w.in_flight()), (1, 1));
        assert_eq!(w.with_probe_freed().in_flight(), 0);
    }

    #[test]
    fn next_bumps_generation_sets_busy_and_clears_probes() {
        let w = Word::new(u32::MAX, State::HalfOpen, 1).with_probe_taken();
        let n = w.next(State::Open, 2, 0);
        assert_eq!(n.generation(), 0, "generation wraps");
        assert!(n.is_busy());
        assert_eq!((n.state(), n.trips(), n.in_flight()), (State::Open, 2, 0));
        assert!(!Word(n.0 & !BUSY_BIT).is_busy());
        assert_eq!(w.next(State::Open, 1000, 0).trips(), MAX_TRIPS);
    }

    #[test]
    fn every_state_round_trips() {
        for s in [
            State::Closed,
            State::Open,
            State::HalfOpen,
            State::ForcedOpen,
            State::Disabled,
        ] {
            assert_eq!(Word::new(1, s, 0).state(), s);
        }
    }
}
