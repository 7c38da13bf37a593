//! Counters of a [`Group`](super::Group).

use crate::sync::{AtomicU64, Ordering};

/// A snapshot of a group's counters, each counted since the group was made.
///
/// Counters are read one by one, so a snapshot taken while calls run may mix
/// moments; each counter on its own only grows.
///
/// ```
/// use brace::singleflight::Group;
///
/// let group: Group<u8, u8, ()> = Group::new();
/// let stats = group.stats();
/// assert_eq!(stats.executions, 0);
/// assert_eq!(stats.coalesced, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Times a closure was called to make the work: one per fresh execution
    /// plus one per hand-off.
    pub executions: u64,
    /// Callers that joined work already in flight instead of running their
    /// own.
    pub coalesced: u64,
    /// Times a follower took over because the caller driving the work was
    /// dropped (also counted in `executions`).
    pub handoffs: u64,
    /// Executions that panicked.
    pub panics: u64,
    /// Callers that gave up at their own deadline.
    pub deadlines_exceeded: u64,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    executions: AtomicU64,
    coalesced: AtomicU64,
    handoffs: AtomicU64,
    panics: AtomicU64,
    deadlines_exceeded: AtomicU64,
}

impl Counters {
    pub(super) fn executed(&self) {
        self.executions.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn coalesced(&self) {
        self.coalesced.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn handed_off(&self) {
        self.handoffs.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn panicked(&self) {
        self.panics.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn deadline_exceeded(&self) {
        self.deadlines_exceeded.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> Stats {
        Stats {
            executions: self.executions.load(Ordering::Relaxed),
            coalesced: self.coalesced.load(Ordering::Relaxed),
            handoffs: self.handoffs.load(Ordering::Relaxed),
            panics: self.panics.load(Ordering::Relaxed),
            deadlines_exceeded: self.deadlines_exceeded.load(Ordering::Relaxed),
        }
    }
}
