//! The blocking counterparts of [`Cache::get_or_load`]: [`Cache::get_with`],
//! [`Cache::try_get_with`] and [`Cache::try_get_with_optional`], for code
//! that runs on plain threads (as moka's `sync::Cache::get_with` and
//! quick_cache's `get_or_insert_with` serve it).
//!
//! # How
//!
//! They go through the same single-flight group as `get_or_load`, driven
//! to completion on the calling thread by [`block_on`]: the thread polls
//! the caller's part of the flight, and between polls it parks until the
//! flight's waker unparks it. So a caller that leads runs its `init` right
//! there (the group polls the work under `catch_unwind`), and a caller
//! that follows sleeps until the leader, on whichever thread or task it
//! runs, publishes the outcome. Blocking and async callers of one key
//! share a flight when their value and error types match (one group per
//! `(value, error)` type pair, as for `get_or_load`; `get_with`'s error
//! type is [`Infallible`]).
//!
//! # Panics in `init`
//!
//! The group turns a panic in the work into
//! [`SingleFlightError::LeaderPanicked`] for every caller of that flight,
//! the leader included. `try_get_with` returns that, as `get_or_load` does.
//! `get_with` has no error to return, so:
//!
//! * the caller whose `init` panicked gets the panic back: `init` runs
//!   under its own `catch_unwind`, the payload is kept, the group is handed
//!   a marker panic (by `resume_unwind`, which skips the panic hook, so the
//!   hook reports the panic once), and once the flight has ended the
//!   original payload is resumed on the caller's thread;
//! * a follower, whose own `init` never ran, tries again: it finds the
//!   value cached by then, joins a newer flight, or leads one with its own
//!   `init`. Each caller's `init` runs at most once.

use core::any::Any;
use core::cell::RefCell;
use core::convert::Infallible;
use core::future::Future;
use core::hash::Hash;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use std::boxed::Box;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::task::Wake;
use std::thread::{self, Thread};

use super::Cache;
use super::load::{optional, plain};
use crate::singleflight::SingleFlightError;
use crate::time::Clock;

impl<K, V, C> Cache<K, V, C>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    C: Clock + 'static,
{
    /// The cached value of `key`, or the value `init` makes, stored with
    /// the cache's TTLs: the blocking form of
    /// [`get_or_load`](Self::get_or_load) for an infallible loader, with
    /// the same coalescing, stale-while-revalidate and racing-write rules.
    ///
    /// * **Coalesced.** Threads that miss on one key at once share one run
    ///   of `init`, the first caller's; the others wait for its value.
    /// * **Stale-while-revalidate.** Past the soft TTL the first caller
    ///   runs `init` to refresh and gets the fresh value; callers meanwhile
    ///   get the stale one at once. The spawn hook is not used: `init` is
    ///   blocking code and runs on the thread that called.
    ///
    /// # Blocking
    ///
    /// Blocks the calling thread while `init` runs, here or in another
    /// caller of the same key. Do not call it on an async runtime's worker
    /// threads (await [`get_or_load`](Self::get_or_load) there), and do not
    /// call it for the same key from inside its own `init`: that caller
    /// would wait for itself forever, as with moka's `get_with`.
    ///
    /// # Panics
    ///
    /// If `init` panics, the panic resumes here once the other callers of
    /// the key have been told; they do not hang: each runs its own `init`
    /// (or finds a value another one stored). The key is not poisoned.
    /// Panics too if the load panicked after `init` returned (a panicking
    /// weigher or removal listener). Both hold for a refresh past the soft
    /// TTL as well: stale-if-error does not answer the stale value in place
    /// of this caller's panic.
    ///
    /// ```
    /// use brace::cache::Cache;
    ///
    /// let cache = Cache::<u32, String>::builder().max_capacity(100).build()?;
    /// assert_eq!(cache.get_with(1, || "one".to_owned()), "one");
    /// // Now cached: `init` is not called again.
    /// assert_eq!(cache.get_with(1, || unreachable!()), "one");
    /// assert_eq!(cache.stats().loads, 1);
    /// # Ok::<(), brace::cache::ConfigError>(())
    /// ```
    pub fn get_with(&self, key: K, init: impl FnOnce() -> V) -> V {
        let init = RefCell::new(Some(init));
        let payload: RefCell<Option<Box<dyn Any + Send>>> = RefCell::new(None);
        loop {
            let outcome = self.load_blocking(
                &key,
                || {
                    let init = init
                        .borrow_mut()
                        .take()
                        .expect("a caller's init runs at most once");
                    match catch_unwind(AssertUnwindSafe(init)) {
                        Ok(value) => Ok::<V, Infallible>(value),
                        Err(panic) => {
                            *payload.borrow_mut() = Some(panic);
                            resume_unwind(Box::new(InitPanicked))
                        }
                    }
                },
                plain(),
                // A refresh that failed answers the stale value only to a
                // caller whose `init` did not run: once it ran, its panic
                // (or the load's after it) is this caller's to get.
                || init.borrow().is_some(),
            );
            match outcome {
                Ok(value) => return value,
                Err(SingleFlightError::Failed(never)) => match *never {},
                Err(_) if payload.borrow().is_some() => {
                    let panic = payload.borrow_mut().take();
                    resume_unwind(panic.expect("checked just above"))
                }
                // Another caller's `init` panicked; ours is unused: go again.
                Err(SingleFlightError::LeaderPanicked) if init.borrow().is_some() => {}
                Err(SingleFlightError::LeaderPanicked) => {
                    panic!("Cache::get_with: the load panicked after init returned")
                }
                Err(SingleFlightError::DeadlineExceeded) => {
                    unreachable!("get_with sets no deadline")
                }
            }
        }
    }

    /// The cached value of `key`, or the value `init` makes, stored with
    /// the cache's TTLs: the blocking form of
    /// [`get_or_load`](Self::get_or_load), with the same coalescing,
    /// stale-while-revalidate, stale-if-error and racing-write rules, except
    /// that a refresh runs on the first caller's thread, never on the spawn
    /// hook (see [`get_with`](Self::get_with)).
    ///
    /// # Errors
    ///
    /// [`SingleFlightError::Failed`] with `init`'s error, shared by every
    /// caller of that load; [`SingleFlightError::LeaderPanicked`] if `init`
    /// panicked (for every caller of that load, this one included; the key
    /// is not poisoned: the next call loads afresh). Errors are not cached.
    ///
    /// # Blocking
    ///
    /// As [`get_with`](Self::get_with).
    ///
    /// ```
    /// use brace::cache::Cache;
    /// use brace::singleflight::SingleFlightError;
    ///
    /// let cache = Cache::<u32, String>::builder().max_capacity(100).build()?;
    /// let down = cache.try_get_with(1, || Err("database down"));
    /// assert_eq!(down.unwrap_err().failure(), Some(&"database down"));
    /// // Errors are not cached: the next call runs its own `init`.
    /// let up = cache.try_get_with(1, || Ok::<_, &str>("one".to_owned()));
    /// assert_eq!(up.as_deref(), Ok("one"));
    /// # Ok::<(), brace::cache::ConfigError>(())
    /// ```
    pub fn try_get_with<E>(
        &self,
        key: K,
        init: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, SingleFlightError<E>>
    where
        E: Send + Sync + 'static,
    {
        self.load_blocking(&key, init, plain(), || true)
    }

    /// Like [`try_get_with`](Self::try_get_with) for an `init` that may find
    /// nothing: the blocking form of
    /// [`get_or_load_optional`](Self::get_or_load_optional). `Ok(None)` is
    /// cached for [`negative_ttl`](super::CacheBuilder::negative_ttl) when
    /// one is set (otherwise not cached), so repeated lookups of a missing
    /// key do not each reach the backend.
    ///
    /// # Errors
    ///
    /// As [`try_get_with`](Self::try_get_with).
    ///
    /// # Blocking
    ///
    /// As [`get_with`](Self::get_with).
    ///
    /// ```
    /// use brace::cache::Cache;
    /// use core::time::Duration;
    /// use std::convert::Infallible;
    ///
    /// let cache = Cache::<u32, String>::builder()
    ///     .max_capacity(100)
    ///     .negative_ttl(Duration::from_secs(5))
    ///     .build()?;
    /// assert_eq!(cache.try_get_with_optional(9, || Ok::<_, Infallible>(None)), Ok(None));
    /// // The "not found" is cached: this init does not run.
    /// let again = cache.try_get_with_optional(9, || Ok::<_, Infallible>(Some("x".to_owned())));
    /// assert_eq!(again, Ok(None));
    /// assert_eq!(cache.stats().loads, 1);
    /// # Ok::<(), brace::cache::ConfigError>(())
    /// ```
    pub fn try_get_with_optional<E>(
        &self,
        key: K,
        init: impl FnOnce() -> Result<Option<V>, E>,
    ) -> Result<Option<V>, SingleFlightError<E>>
    where
        E: Send + Sync + 'static,
    {
        self.load_blocking(&key, init, optional(), || true)
    }
}

/// The panic `get_with` hands the group in place of its `init`'s, whose
/// payload it keeps to resume on its own thread.
struct InitPanicked;

/// Runs `future` to completion on the calling thread, parking the thread
/// while it is pending. The waker unparks this thread; a wake that comes
/// between a pending poll and the park leaves the thread's unpark token
/// set, so the park returns at once and nothing is missed (a spurious
/// unpark only costs one more poll).
pub(super) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unparker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}

/// A waker that unparks the thread blocked in [`block_on`].
struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}
