//! What the stale-while-revalidate and load-race tests share: a cache with
//! a 10 s soft and a 30 s hard TTL on a manual clock, futures driven by
//! hand, and loaders held until a gate opens.
#![allow(dead_code)]

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use std::sync::Mutex;

use brace::cache::{Cache, RemovalCause};
use brace::time::ManualClock;

pub const SOFT: Duration = Duration::from_secs(10);
pub const HARD: Duration = Duration::from_secs(30);

/// 100 entries, soft TTL [`SOFT`], hard TTL [`HARD`], on `clock`.
pub fn swr_cache(clock: &ManualClock) -> Cache<u32, u32, ManualClock> {
    Cache::builder()
        .max_capacity(100)
        .refresh_after(SOFT)
        .time_to_live(HARD)
        .clock(clock.clone())
        .build()
        .unwrap()
}

/// Polls `f` with a no-op waker until it is ready.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// One poll with a no-op waker.
pub fn poll_once<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

/// A loader's result in these tests.
pub type Loaded<T> = Result<T, &'static str>;

/// A loader whose future answers `out` once `gate` is open.
pub fn gated<T: Clone + Send + 'static>(
    gate: &Arc<AtomicBool>,
    out: Loaded<T>,
) -> impl FnOnce() -> Pin<Box<dyn Future<Output = Loaded<T>> + Send>> + Send + 'static {
    let gate = Arc::clone(gate);
    move || {
        Box::pin(std::future::poll_fn(move |_| {
            if gate.load(Ordering::SeqCst) {
                Poll::Ready(out.clone())
            } else {
                Poll::Pending
            }
        }))
    }
}

/// What a cache's removal listener heard: key, value, cause.
pub type RemovalLog = Arc<Mutex<Vec<(u32, u32, RemovalCause)>>>;

/// Loads key 1 (the loader reads 10) in a 100-entry cache and runs `write`
/// while the load is pending; returns the cache and what its removal
/// listener heard, once the load has answered 10.
pub fn write_during_a_load(write: impl FnOnce(&Cache<u32, u32>)) -> (Cache<u32, u32>, RemovalLog) {
    let log: RemovalLog = Arc::default();
    let sink = Arc::clone(&log);
    let cache = Cache::<u32, u32>::builder()
        .max_capacity(100)
        .removal_listener(move |k: &u32, v: &u32, cause| sink.lock().unwrap().push((*k, *v, cause)))
        .build()
        .unwrap();
    {
        let gate = Arc::new(AtomicBool::new(false));
        let mut load = pin!(cache.get_or_load(1, gated(&gate, Ok(10))));
        assert!(poll_once(load.as_mut()).is_pending());
        write(&cache);
        gate.store(true, Ordering::SeqCst);
        assert_eq!(poll_once(load.as_mut()), Poll::Ready(Ok(10)));
    }
    (cache, log)
}
