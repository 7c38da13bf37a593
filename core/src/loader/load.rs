//! The future of one [`BatchLoader::load`](super::BatchLoader::load): a small
//! hand-written state machine rather than an `async fn`.
//!
//! Callers box and move one of these per key (`join_all`, a spawned task,
//! a GraphQL resolver's boxed future), so its size is paid on every load.
//! The `async fn` it replaces kept the enqueue result, a ticket, the poll
//! closure's state and the leader's box side by side: 168 to 184 bytes for
//! `u32` or `u64` keys (with the value type), above the 120-byte limit of
//! glibc's lock-free "fast" bins. Freed on the other worker thread, such
//! blocks take the allocating arena's lock and contended on it (scratch N+1
//! loop, 2 tokio workers, 64 requests, zero-latency backend: 8.8k
//! requests/s; the same loop with mimalloc, which has no such lock, 14.8k).
//! This one is a key or a batch position, or the leader's box: 48 bytes
//! for `u32` or `u64` keys.
//!
//! # States
//!
//! ```text
//! Unqueued(key) --first poll--> Waiting --leader's turn--> Leading --call done--> Waiting
//!      |                           |                                              |
//!      '--cached--> Finished <-----'--result (Role::Done)-------------------------'
//! ```
//!
//! Dropped in `Waiting` or `Leading`, it leaves its batch (dropping a running
//! call first), which promotes another waiter or cancels the batch. A panic
//! while the leader's work is polled (a user's yield or sleep future, a
//! waker) leaves the batch the same way during the unwind, as does a panic
//! while a running call is dropped: a [`Leave`] guard does it, so a batch
//! never keeps a leader that can no longer drive it.

use alloc::boxed::Box;
use core::fmt;
use core::future::Future;
use core::hash::Hash;
use core::mem;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::table::{BatchId, Enqueued, Role};
use super::{BatchFn, Inner, LoadResult, dispatch};

/// The leader's work on a batch (`dispatch::lead`), boxed: only a leader
/// needs it, and boxing keeps it out of every other load's future.
type LeadFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// The future returned by [`BatchLoader::load`](super::BatchLoader::load).
///
/// The key joins a batch on the first poll, not when `load` is called, so a
/// future that is never polled never holds a batch back.
///
/// # Cancellation
///
/// Safe to drop at any point: see the [module docs](super#cancellation).
///
/// # Panics
///
/// If polled again after it returned its result.
///
/// ```
/// use brace::loader::{BatchFn, BatchLoader, Load};
/// use std::collections::HashMap;
///
/// struct Squares;
/// impl BatchFn<u32> for Squares {
///     type Value = u64;
///     type Error = std::convert::Infallible;
///     type Output = HashMap<u32, u64>;
///     async fn load(&self, keys: &[u32]) -> Result<Self::Output, Self::Error> {
///         Ok(keys.iter().map(|&k| (k, u64::from(k) * u64::from(k))).collect())
///     }
/// }
///
/// let loader = BatchLoader::new(Squares);
/// // A named type: it can be stored in a struct or a `Vec` without boxing.
/// let loads: Vec<Load<'_, u32, Squares>> = (1..=3).map(|k| loader.load(k)).collect();
/// let squares = futures_executor::block_on(futures_util::future::join_all(loads));
/// assert_eq!(squares.into_iter().map(|r| r.unwrap()).collect::<Vec<_>>(), [Some(1), Some(4), Some(9)]);
/// assert_eq!(loader.stats().batches_sent, 1);
/// ```
#[must_use = "a load does nothing unless polled"]
pub struct Load<'a, K, F>
where
    K: Hash + Eq + Clone + Send + Sync,
    F: BatchFn<K>,
{
    inner: &'a Inner<K, F>,
    state: State<'a, K>,
}

enum State<'a, K> {
    /// Not polled yet.
    Unqueued(K),
    /// Slot `slot` of batch `id`, waiting for the result or its turn to lead.
    Waiting { id: BatchId, slot: usize },
    /// Leading batch `id`: this future drives the batch call.
    Leading {
        id: BatchId,
        slot: usize,
        lead: LeadFuture<'a>,
    },
    /// The result was returned.
    Finished,
}

// The key is moved out on the first poll and never pinned; nothing else is
// address-sensitive (the leader's future is boxed).
impl<K, F> Unpin for Load<'_, K, F>
where
    K: Hash + Eq + Clone + Send + Sync,
    F: BatchFn<K>,
{
}

impl<'a, K, F> Load<'a, K, F>
where
    K: Hash + Eq + Clone + Send + Sync,
    F: BatchFn<K>,
{
    pub(super) fn new(inner: &'a Inner<K, F>, key: K) -> Self {
        Load {
            inner,
            state: State::Unqueued(key),
        }
    }

    /// A load whose key `load_many` already put in slot `slot` of batch `id`.
    pub(super) fn enqueued(inner: &'a Inner<K, F>, id: BatchId, slot: usize) -> Self {
        Load {
            inner,
            state: State::Waiting { id, slot },
        }
    }
}

impl<K, F> Future for Load<'_, K, F>
where
    K: Hash + Eq + Clone + Send + Sync,
    F: BatchFn<K>,
{
    type Output = LoadResult<F::Value, F::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let inner = this.inner;
        loop {
            match &mut this.state {
                State::Unqueued(_) => {
                    let State::Unqueued(key) = mem::replace(&mut this.state, State::Finished)
                    else {
                        unreachable!("matched just above");
                    };
                    // One lock for joining and, unless this load leads,
                    // registering its waker: most loads then return
                    // `Pending` without taking the lock a second time.
                    // The slot is recorded in `state` as soon as it exists,
                    // before the waker is cloned or any waker runs, so a
                    // panicking waker still leaves it on drop.
                    let (wake, leads) = {
                        let mut table = inner.table.lock();
                        let (enqueued, wake) = table.enqueue(key, inner.settings.max_batch_size);
                        match enqueued {
                            // A cached answer joins no batch: nothing to wake.
                            Enqueued::Cached(value) => return Poll::Ready(Ok(Some(value))),
                            Enqueued::Waiting(id, slot) => {
                                this.state = State::Waiting { id, slot };
                                (wake, table.register_or_lead(id, slot, cx.waker()))
                            }
                        }
                    };
                    if let Some(leader) = wake {
                        leader.wake();
                    }
                    if !leads {
                        return Poll::Pending;
                    }
                }
                &mut State::Waiting { id, slot } => {
                    let role = inner.table.lock().poll_role(id, slot, cx.waker());
                    match role {
                        None => return Poll::Pending,
                        Some(Role::Done(result)) => {
                            this.state = State::Finished;
                            return Poll::Ready(result);
                        }
                        Some(Role::Lead) => {
                            this.state = State::Leading {
                                id,
                                slot,
                                lead: Box::pin(dispatch::lead(inner, id)),
                            };
                        }
                    }
                }
                State::Leading { .. } => {
                    let State::Leading { id, slot, lead } =
                        mem::replace(&mut this.state, State::Finished)
                    else {
                        unreachable!("matched just above");
                    };
                    // Declared before `lead`, so an unwind out of the poll
                    // drops the call first, then leaves the batch.
                    let leave = Leave { inner, id, slot };
                    let mut lead = lead;
                    let polled = lead.as_mut().poll(cx);
                    mem::forget(leave);
                    match polled {
                        Poll::Pending => {
                            this.state = State::Leading { id, slot, lead };
                            return Poll::Pending;
                        }
                        // The batch is done: collect the result like any
                        // other waiter.
                        Poll::Ready(()) => this.state = State::Waiting { id, slot },
                    }
                }
                State::Finished => panic!("`Load` polled after it returned its result"),
            }
        }
    }
}

impl<K, F> Drop for Load<'_, K, F>
where
    K: Hash + Eq + Clone + Send + Sync,
    F: BatchFn<K>,
{
    fn drop(&mut self) {
        match mem::replace(&mut self.state, State::Finished) {
            State::Waiting { id, slot } => drop(Leave {
                inner: self.inner,
                id,
                slot,
            }),
            State::Leading { id, slot, lead } => {
                // The running call dies first (even if dropping it panics,
                // the guard still leaves); whoever takes over re-sends.
                let _leave = Leave {
                    inner: self.inner,
                    id,
                    slot,
                };
                drop(lead);
            }
            State::Unqueued(_) | State::Finished => {}
        }
    }
}

/// Takes slot `slot` out of batch `id` when dropped: promotes another
/// waiter to leader (waking it) or cancels the batch if nobody is left.
/// Used by `Load`'s drop, and around the leader's poll so that an unwind
/// out of it leaves too.
struct Leave<'a, K, F>
where
    K: Hash + Eq + Clone + Send + Sync,
    F: BatchFn<K>,
{
    inner: &'a Inner<K, F>,
    id: BatchId,
    slot: usize,
}

impl<K, F> Drop for Leave<'_, K, F>
where
    K: Hash + Eq + Clone + Send + Sync,
    F: BatchFn<K>,
{
    fn drop(&mut self) {
        let (wakers, cancelled) = self.inner.table.lock().leave(self.id, self.slot);
        if cancelled {
            self.inner.counters.record_cancelled();
        }
        crate::wake::wake_all(wakers);
    }
}

impl<K, F> fmt::Debug for Load<'_, K, F>
where
    K: Hash + Eq + Clone + Send + Sync,
    F: BatchFn<K>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Unqueued(_) => "unqueued",
            State::Waiting { .. } => "waiting",
            State::Leading { .. } => "leading",
            State::Finished => "finished",
        };
        f.debug_struct("Load").field("state", &state).finish()
    }
}
