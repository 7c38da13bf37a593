//! The leader's work: wait for the end of the tick, call the batch function
//! (catching panics), publish the results.
//!
//! "End of tick" is decided by yielding to the executor: the leader wakes
//! itself and returns `Pending`, so every other ready task (on this worker,
//! and, while it yields, on the others) runs and may add keys. The leader
//! sends once `yields` yields in a row added no key, or at once when the
//! batch fills up, or when `max_wait` elapses, whichever comes first.
//!
//! The quiet stretch adapts to how keys arrive: if a new key once took `g`
//! yields to show up (tasks trickling in from another worker), the leader
//! waits for `2 g` quiet yields (at most 64) rather than `yields`. After the
//! tick, a batch still waits for an earlier partial batch's call to return
//! (see `Table::wait_for_partial`), unless the loader was built with
//! `hold_stragglers(false)` or a batch call awaits one of its keys (a
//! batch function that loads: the earlier call may be the one waiting for
//! this batch; see `InsideBatchCall`).

use core::cell::Cell;
use core::future::{Future, poll_fn};
use core::hash::Hash;
use core::pin::{Pin, pin};
use core::task::{Context, Poll};
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::Inner;
use super::batch::Phase;
use super::batch_fn::BatchFn;
use super::config::{BoxedWait, RecordCall};
use super::table::{BatchId, CallOutcome};
use crate::metrics::Outcome;
use alloc::sync::Arc;

/// Drives batch `id` to `Done`, as its leader.
///
/// # Cancellation
///
/// Dropping this future drops the running call; the caller's `Load` then
/// hands the batch to another waiter, who calls the batch function again.
pub(crate) async fn lead<K, F>(inner: &Inner<K, F>, id: BatchId)
where
    K: Hash + Eq + Clone + Send + Sync,
    F: BatchFn<K>,
{
    let partial = EndOfTick::new(inner, id).await;
    let (keys, restart) = inner.table.lock().begin_call(id, partial);
    inner.counters.record_sent(keys.len(), restart);
    let calls = inner.settings.calls.as_deref();
    let started = calls.map(RecordCall::start);
    let outcome = call_catching_panics(&inner.batch_fn, &keys).await;
    if matches!(outcome, CallOutcome::Panicked) {
        inner.counters.record_panicked();
    }
    if let (Some(calls), Some(started)) = (calls, started) {
        calls.finish(
            started,
            match &outcome {
                CallOutcome::Returned(result) => Outcome::of(result),
                CallOutcome::Panicked => Outcome::Error,
            },
        );
    }
    let wakers = inner.table.lock().finish_call(id, outcome);
    crate::wake::wake_all(wakers);
}

/// Calls `batch_fn`, polls its future and drops it once it has an answer;
/// a panic in any of the three becomes [`CallOutcome::Panicked`] (a future
/// whose drop panics after it returned is a batch function that panicked)
/// and the future is not polled again.
async fn call_catching_panics<K, F: BatchFn<K>>(
    batch_fn: &F,
    keys: &[K],
) -> CallOutcome<F::Output, F::Error> {
    let Ok(call) = catch_unwind(AssertUnwindSafe(|| batch_fn.load(keys))) else {
        return CallOutcome::Panicked;
    };
    let mut call = pin!(Some(call));
    poll_fn(|cx| {
        let polled = catch_unwind(AssertUnwindSafe(|| {
            let _inside = InsideBatchCall::enter();
            call.as_mut()
                .as_pin_mut()
                .expect("not polled after it answered")
                .poll(cx)
        }));
        if matches!(polled, Ok(Poll::Pending)) {
            return Poll::Pending;
        }
        // Done (answered or panicked): dropped here, where a panic in its
        // drop is caught, not later in the leader's unwinding future.
        let dropped = catch_unwind(AssertUnwindSafe(|| call.set(None)));
        Poll::Ready(match (polled, dropped) {
            (Ok(Poll::Ready(result)), Ok(())) => CallOutcome::Returned(result.map_err(Arc::new)),
            _ => CallOutcome::Panicked,
        })
    })
    .await
}

#[cfg(not(loom))]
std::thread_local! {
    /// How many batch calls this thread is polling right now, one inside
    /// another: a batch function that loads (from its own loader or
    /// another) polls the inner load inside its own poll.
    static BATCH_CALLS_POLLING: Cell<u32> = const { Cell::new(0) };
}

// Loom runs every model thread on one OS thread: its own thread-locals.
#[cfg(loom)]
loom::thread_local! {
    static BATCH_CALLS_POLLING: Cell<u32> = Cell::new(0);
}

/// Marks this thread as polling a batch call until dropped (also when the
/// poll panics).
pub(crate) struct InsideBatchCall;

impl InsideBatchCall {
    fn enter() -> Self {
        BATCH_CALLS_POLLING.with(|n| n.set(n.get() + 1));
        InsideBatchCall
    }

    /// Whether a batch call is being polled on this thread. A key loaded
    /// from inside one marks its batch as awaited by a call (see
    /// `Table::enqueue`): that batch must not hold for an earlier partial
    /// call, which may be the very call waiting for it (a loader that
    /// recurses into itself, a tree of posts whose replies are posts),
    /// whoever leads it.
    pub(crate) fn active() -> bool {
        BATCH_CALLS_POLLING.with(|n| n.get() > 0)
    }
}

impl Drop for InsideBatchCall {
    fn drop(&mut self) {
        BATCH_CALLS_POLLING.with(|n| n.set(n.get() - 1));
    }
}

impl<K, F> EndOfTick<'_, K, F>
where
    K: Hash + Eq + Clone + Send + Sync,
    F: BatchFn<K>,
{
    /// The tick is over: send, unless an earlier batch that went out before
    /// it was full is still loading; then keep collecting until it is done.
    /// So a wave of loads split by the scheduler (a worker preempted while
    /// spawning) makes at most one more batch, not one per fragment.
    fn ready_unless_partial_running(&self, cx: &mut Context<'_>) -> Poll<bool> {
        if self
            .inner
            .table
            .lock()
            .wait_for_partial(self.id, cx.waker())
        {
            Poll::Pending
        } else {
            Poll::Ready(true)
        }
    }
}

/// The adaptive wait never asks for more quiet yields than this.
const MAX_QUIET_YIELDS: u32 = 64;

/// Where the leader is in its current yield.
enum Tick {
    /// Not yielding: the next poll looks at the batch and starts a yield.
    Idle,
    /// Woke itself and returned `Pending`; the next poll ends the yield.
    SelfWoken,
    /// Awaiting the user's yield future (`yield_with`).
    Custom(BoxedWait),
}

/// Completes when batch `id` should be sent (see the module docs).
struct EndOfTick<'a, K, F: BatchFn<K>> {
    inner: &'a Inner<K, F>,
    id: BatchId,
    tick: Tick,
    /// Keys in the batch when the current yield began (`None` before the
    /// first look).
    keys_before: Option<usize>,
    quiet_yields: u32,
    /// The tick is over; waiting for an earlier partial batch's call.
    after_partial: bool,
    /// The most yields it took for a new key to arrive.
    longest_gap: u32,
    deadline: Option<BoxedWait>,
}

impl<'a, K, F: BatchFn<K>> EndOfTick<'a, K, F> {
    fn new(inner: &'a Inner<K, F>, id: BatchId) -> Self {
        let deadline = inner.settings.max_wait.as_ref().map(|w| w.start());
        EndOfTick {
            inner,
            id,
            tick: Tick::Idle,
            keys_before: None,
            quiet_yields: 0,
            after_partial: false,
            longest_gap: 0,
            deadline,
        }
    }
}

impl<K, F> Future for EndOfTick<'_, K, F>
where
    K: Hash + Eq + Clone + Send + Sync,
    F: BatchFn<K>,
{
    /// `true` when the batch goes out before it is full and later batches
    /// hold for its call (`hold_stragglers`).
    type Output = bool;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let this = self.get_mut();
        let (phase, keys) = this.inner.table.lock().progress(this.id, cx.waker());
        if phase != Phase::Filling {
            return Poll::Ready(false);
        }
        if let Some(deadline) = &mut this.deadline {
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(true);
            }
        }
        if this.after_partial {
            return this.ready_unless_partial_running(cx);
        }
        match &mut this.tick {
            Tick::Idle => {}
            Tick::SelfWoken => this.tick = Tick::Idle,
            Tick::Custom(wait) => match wait.as_mut().poll(cx) {
                Poll::Ready(()) => this.tick = Tick::Idle,
                Poll::Pending => return Poll::Pending,
            },
        }
        // A yield just ended (or none began): did it bring new keys?
        if let Some(before) = this.keys_before {
            if keys > before {
                this.longest_gap = this.longest_gap.max(this.quiet_yields + 1);
                this.quiet_yields = 0;
            } else {
                this.quiet_yields += 1;
            }
        }
        this.keys_before = Some(keys);
        let settings = &this.inner.settings;
        let needed = settings
            .yields
            .max(this.longest_gap.saturating_mul(2))
            .min(MAX_QUIET_YIELDS.max(settings.yields));
        if this.quiet_yields >= needed {
            if !settings.hold_stragglers {
                return Poll::Ready(false);
            }
            this.after_partial = true;
            return this.ready_unless_partial_running(cx);
        }
        match &settings.yield_with {
            Some(make) => {
                let mut wait = make();
                if wait.as_mut().poll(cx).is_ready() {
                    // Finished at once: count it on the next poll.
                    cx.waker().wake_by_ref();
                    this.tick = Tick::SelfWoken;
                } else {
                    this.tick = Tick::Custom(wait);
                }
            }
            None => {
                cx.waker().wake_by_ref();
                this.tick = Tick::SelfWoken;
            }
        }
        Poll::Pending
    }
}
