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

use brace::cache::Cache;
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
