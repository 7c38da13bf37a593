//! Configuration in effect: `max_batch_size` splits, `max_wait` bounds the
//! wait, `yields(0)` sends at once, `hold_stragglers`, the cache, the
//! stats, refused configs.

mod common;

use std::time::Duration;

use brace::loader::{BatchLoader, ConfigError, size_bucket_range};
use brace::time::{Clock, ManualClock};
use common::{Backend, poll_once};
use futures_executor::block_on;
use futures_util::future::join_all;

#[test]
fn max_batch_size_splits_a_wave() {
    let backend = Backend::new();
    let loader = BatchLoader::builder(backend.clone())
        .max_batch_size(10)
        .build()
        .unwrap();
    let results = block_on(join_all((100..125).map(|k| loader.load(k))));
    assert!(results.iter().all(|r| r.is_ok()));
    let sizes: Vec<usize> = backend.calls().iter().map(Vec::len).collect();
    assert_eq!(sizes, [10, 10, 5]);
    let stats = loader.stats();
    assert_eq!((stats.batches_sent, stats.keys_sent), (3, 25));
    let ten = (0..).find(|&i| size_bucket_range(i).1 >= 10).unwrap();
    assert_eq!(stats.size_histogram[ten], 2);
    assert_eq!((loader.pending_keys(), loader.in_flight_batches()), (0, 0));
}

#[test]
fn load_many_dedups_and_keeps_order() {
    let backend = Backend::new();
    let loader = BatchLoader::new(backend.clone());
    let results = block_on(loader.load_many([3, 1, 3, 2, 1]));
    let values: Vec<_> = results.into_iter().map(|r| r.unwrap().unwrap()).collect();
    assert_eq!(values, [30, 10, 30, 20, 10]);
    assert_eq!(backend.calls(), vec![vec![1, 2, 3]]);
}

#[test]
fn max_wait_sends_when_yielding_never_ends() {
    let backend = Backend::new();
    let loader = BatchLoader::builder(backend.clone())
        .yield_with(std::future::pending::<()>)
        .max_wait(Duration::from_millis(5), |d| tokio::time::sleep(d))
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let waited = runtime.block_on(async {
        let start = tokio::time::Instant::now();
        let results = join_all([1, 2].map(|k| loader.load(k))).await;
        assert!(results.iter().all(|r| r.is_ok()));
        start.elapsed()
    });
    assert_eq!(waited, Duration::from_millis(5));
    assert_eq!(backend.calls(), vec![vec![1, 2]]);
}

#[test]
fn max_wait_on_a_manual_clock_sends_at_the_first_poll() {
    let backend = Backend::new();
    let clock = ManualClock::new();
    let loader = BatchLoader::builder(backend.clone())
        .max_wait(Duration::from_millis(1), clock.clone())
        .build()
        .unwrap();
    // The manual clock's sleep is over at once, so each load goes alone.
    let results = block_on(join_all([1, 2].map(|k| loader.load(k))));
    assert!(results.iter().all(|r| r.is_ok()));
    assert_eq!(backend.call_count(), 2);
    assert_eq!(clock.now().as_duration(), Duration::from_millis(2));
}

#[test]
fn zero_yields_send_at_the_first_poll() {
    let backend = Backend::new();
    let loader = BatchLoader::builder(backend.clone())
        .yields(0)
        .build()
        .unwrap();
    block_on(join_all([1, 2].map(|k| loader.load(k))));
    assert_eq!(backend.calls(), vec![vec![1], vec![2]]);
    // load_many enqueues all its keys before anyone leads: one batch.
    block_on(loader.load_many([3, 4]));
    assert_eq!(backend.calls()[2], [3, 4]);
}

#[test]
fn cache_answers_repeats_and_obeys_prime_and_clear() {
    let backend = Backend::new();
    let loader = BatchLoader::builder(backend.clone())
        .cache(true)
        .build()
        .unwrap();
    assert!(loader.caches());
    assert_eq!(block_on(loader.load(1)).unwrap(), Some(10));
    assert_eq!(block_on(loader.load(1)).unwrap(), Some(10));
    assert_eq!(backend.call_count(), 1);
    assert!(loader.prime(5, 55));
    assert!(!loader.prime(5, 56), "prime keeps the first value");
    assert_eq!(block_on(loader.load(5)).unwrap(), Some(55));
    assert_eq!(backend.call_count(), 1);
    assert!(loader.clear(&1));
    assert_eq!(block_on(loader.load(1)).unwrap(), Some(10));
    assert_eq!(backend.call_count(), 2);
    loader.clear_all();
    assert_eq!(loader.cached_len(), 0);
    block_on(loader.load_many([1, 5]));
    assert_eq!(backend.calls()[2], [1, 5]);
}

#[test]
fn without_cache_every_tick_loads_again() {
    let backend = Backend::new();
    let loader = BatchLoader::new(backend.clone());
    assert!(!loader.caches());
    assert!(!loader.prime(1, 11));
    block_on(loader.load(1)).unwrap();
    block_on(loader.load(1)).unwrap();
    assert_eq!(backend.call_count(), 2);
}

#[test]
fn invalid_configs_are_refused_naming_the_field() {
    let zero_size = BatchLoader::builder(Backend::new())
        .max_batch_size(0)
        .build();
    assert_eq!(zero_size.unwrap_err(), ConfigError::MaxBatchSizeZero);
    let zero_wait = BatchLoader::builder(Backend::new())
        .max_wait(Duration::ZERO, ManualClock::new())
        .build();
    let err = zero_wait.unwrap_err();
    assert_eq!((err, err.field()), (ConfigError::MaxWaitZero, "max_wait"));
    assert!(
        err.to_string()
            .starts_with("max_wait must be greater than zero")
    );
    // u32::MAX quiet yields would stall a leader for minutes (noted by review).
    let endless = BatchLoader::builder(Backend::new())
        .yields(u32::MAX)
        .build()
        .unwrap_err();
    assert_eq!(
        (endless, endless.field()),
        (ConfigError::TooManyYields, "yields")
    );
    assert!(
        BatchLoader::builder(Backend::new())
            .yields(brace::loader::MAX_YIELDS)
            .build()
            .is_ok()
    );
}

/// Polls `load` (which must stay pending) up to 100 times, until the
/// backend has started `calls` calls.
fn poll_until_started<F>(load: &mut F, backend: &Backend, calls: usize)
where
    F: std::future::Future + Unpin,
{
    for _ in 0..100 {
        if backend.started() == calls {
            return;
        }
        assert!(common::poll_once(load).is_pending());
    }
}

#[test]
fn a_batch_keeps_collecting_while_an_earlier_partial_batch_loads() {
    let (backend, gate) = Backend::gated();
    let loader = BatchLoader::new(backend.clone());
    let mut first = Box::pin(loader.load(1));
    poll_until_started(&mut first, &backend, 1);
    assert_eq!(backend.started(), 1, "the first batch is loading");
    let mut second = Box::pin(loader.load(2));
    poll_until_started(&mut second, &backend, 2);
    // The second batch's tick is long over, but it waits for the first call.
    assert_eq!(backend.started(), 1);
    let mut third = Box::pin(loader.load(3));
    assert!(common::poll_once(&mut third).is_pending());
    gate.add_permits(2);
    assert_eq!(block_on(first).unwrap(), Some(10));
    let (b, c) = block_on(futures_util::future::join(second, third));
    assert_eq!((b.unwrap(), c.unwrap()), (Some(20), Some(30)));
    assert_eq!(backend.calls(), vec![vec![1], vec![2, 3]]);
    assert_eq!((loader.pending_keys(), loader.in_flight_batches()), (0, 0));
}

#[test]
fn without_holding_stragglers_a_batch_goes_out_while_an_earlier_one_loads() {
    let (backend, gate) = Backend::gated();
    let loader = BatchLoader::builder(backend.clone())
        .hold_stragglers(false)
        .build()
        .unwrap();
    let mut first = Box::pin(loader.load(1));
    poll_until_started(&mut first, &backend, 1);
    assert_eq!(backend.started(), 1, "the first batch is loading");
    let mut second = Box::pin(loader.load(2));
    poll_until_started(&mut second, &backend, 2);
    // The second batch went out at the end of its own tick.
    assert_eq!(backend.started(), 2, "the second batch must not wait");
    gate.add_permits(2);
    assert_eq!(block_on(first).unwrap(), Some(10));
    assert_eq!(block_on(second).unwrap(), Some(20));
    assert_eq!(backend.calls(), vec![vec![1], vec![2]]);
    assert_eq!((loader.pending_keys(), loader.in_flight_batches()), (0, 0));
}

/// A batch function whose call keeps a large buffer across an await, as a
/// database driver's query future may.
struct BigCall;

impl brace::loader::BatchFn<u64> for BigCall {
    type Value = u64;
    type Error = std::convert::Infallible;
    type Output = std::collections::HashMap<u64, u64>;
    async fn load(&self, keys: &[u64]) -> Result<Self::Output, Self::Error> {
        let buffer = [7u8; 8192];
        futures_util::future::ready(()).await;
        Ok(keys
            .iter()
            .map(|&k| (k, k + u64::from(buffer[k as usize % 8192])))
            .collect())
    }
}

#[test]
fn a_load_future_does_not_carry_the_batch_call() {
    // Only the leader runs the call, so its state is boxed there: every
    // other `load` future (moved into `join_all` once per key) stays small:
    // the loader, and the key or its place in a batch. Callers box these, and
    // a block of at most 120 bytes stays in glibc's lock-free fast bins when
    // another thread frees it.
    let loader = BatchLoader::new(BigCall);
    let load = loader.load(1);
    let size = std::mem::size_of_val(&load);
    assert!(size <= 48, "a load future is {size} bytes");
    assert_eq!(block_on(load).unwrap(), Some(8));
    let many = block_on(join_all((0..100).map(|k| loader.load(k))));
    assert_eq!(many[5].as_ref().unwrap(), &Some(12));
}

/// Counts wakes.
struct WakeCount(std::sync::atomic::AtomicUsize);

impl std::task::Wake for WakeCount {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn a_load_that_fills_the_batch_wakes_a_leader_parked_in_its_yield() {
    use std::future::Future;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll, Waker};

    // The leader's yield never ends by itself: only the full batch can get
    // it going again, by waking it.
    let backend = Backend::new();
    let loader = BatchLoader::builder(backend.clone())
        .max_batch_size(2)
        .yield_with(std::future::pending::<()>)
        .build()
        .unwrap();
    let wakes = Arc::new(WakeCount(AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&wakes));
    let mut cx = Context::from_waker(&waker);
    let mut leader = Box::pin(loader.load(1));
    assert!(leader.as_mut().poll(&mut cx).is_pending());
    let follower = loader.load(2);
    let mut follower = Box::pin(follower);
    assert!(
        common::poll_once(&mut follower).is_pending(),
        "fills the batch"
    );
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "the leader was woken");
    match leader.as_mut().poll(&mut cx) {
        Poll::Ready(result) => assert_eq!(result.unwrap(), Some(10)),
        Poll::Pending => panic!("the full batch went out at the leader's next poll"),
    }
    assert_eq!(block_on(follower).unwrap(), Some(20));
    assert_eq!(backend.calls(), vec![vec![1, 2]]);
    assert_eq!((loader.pending_keys(), loader.in_flight_batches()), (0, 0));
}

/// Advances the test's clock by 2 ms per call, then loads like `Backend`
/// (so `POISON` fails the whole batch and `PANIC` panics).
struct TimedBackend {
    clock: ManualClock,
    inner: Backend,
}

impl brace::loader::BatchFn<u64> for TimedBackend {
    type Value = u64;
    type Error = common::BackendError;
    type Output = std::collections::HashMap<u64, Result<u64, common::BackendError>>;
    async fn load(&self, keys: &[u64]) -> Result<Self::Output, Self::Error> {
        self.clock.advance(Duration::from_millis(2));
        self.inner.load(keys).await
    }
}

#[test]
fn record_calls_times_every_batch_call_and_counts_failed_ones() {
    use brace::metrics::{Red, WindowConfig};
    use std::sync::Arc;

    let clock = ManualClock::new();
    let calls = Arc::new(Red::new(WindowConfig::default(), clock.clone()));
    let loader = BatchLoader::builder(TimedBackend {
        clock: clock.clone(),
        inner: Backend::new(),
    })
    .record_calls(Arc::clone(&calls))
    .build()
    .unwrap();
    // Three calls: one that succeeds (a per-key error is still a call that
    // answered), one that fails as a whole, one that panics.
    let ok = block_on(loader.load_many([1, 2, common::BAD_KEY]));
    assert_eq!(ok[0].as_ref().unwrap(), &Some(10));
    assert!(block_on(loader.load(common::POISON)).is_err());
    assert!(block_on(loader.load(common::PANIC)).is_err());
    let s = calls.snapshot();
    assert_eq!((s.count(), s.errors()), (3, 2));
    assert_eq!(s.max(), Some(Duration::from_millis(2)));
    assert_eq!(s.p50(), Some(Duration::from_millis(2)));
    assert_eq!(loader.stats().batches_sent, 3);
}

/// Starts a cached load of key 8 on a gated backend and waits until its
/// call has begun; returns the load, still waiting for the gate.
fn a_cached_load_in_flight<'a>(
    loader: &'a BatchLoader<u64, Backend>,
    backend: &Backend,
) -> brace::loader::Load<'a, u64, Backend> {
    let mut load = loader.load(8);
    for _ in 0..100 {
        assert!(poll_once(&mut load).is_pending());
        if backend.started() == 1 {
            return load;
        }
    }
    panic!("the call did not start");
}

#[test]
fn a_clear_during_a_call_keeps_its_result_out_of_the_cache() {
    for clear_all in [false, true] {
        let (backend, gate) = Backend::gated();
        let loader = BatchLoader::builder(backend.clone())
            .cache(true)
            .build()
            .unwrap();
        let mut load = a_cached_load_in_flight(&loader, &backend);
        // The row changed while the call read it.
        if clear_all {
            loader.clear_all();
        } else {
            loader.clear(&8);
        }
        gate.add_permits(2);
        assert_eq!(block_on(&mut load).unwrap(), Some(80));
        assert_eq!(loader.cached_len(), 0, "clear_all {clear_all}");
        assert_eq!(block_on(loader.load(8)).unwrap(), Some(80));
        assert_eq!(backend.call_count(), 2, "loaded again after the clear");
    }
}

#[test]
fn a_load_after_a_clear_does_not_join_the_call_running_before_it() {
    // Found by review: the later load joined the running call and got what
    // it read before the clear (the value the cache refused to keep).
    for (cache, clear_all) in [(true, false), (true, true), (false, false)] {
        let (backend, gate) = Backend::gated();
        let loader = BatchLoader::builder(backend.clone())
            .cache(cache)
            .build()
            .unwrap();
        let before = a_cached_load_in_flight(&loader, &backend);
        if clear_all {
            loader.clear_all();
        } else {
            loader.clear(&8);
        }
        let mut after = loader.load(8);
        assert!(poll_once(&mut after).is_pending());
        gate.add_permits(2);
        let (before, after) = block_on(futures_util::future::join(before, after));
        assert_eq!((before.unwrap(), after.unwrap()), (Some(80), Some(80)));
        assert_eq!(
            backend.calls(),
            [vec![8], vec![8]],
            "cache {cache}, clear_all {clear_all}: the later load reads again"
        );
        assert_eq!((loader.pending_keys(), loader.in_flight_batches()), (0, 0));
    }
}

#[test]
fn a_value_primed_during_a_call_is_kept() {
    let (backend, gate) = Backend::gated();
    let loader = BatchLoader::builder(backend.clone())
        .cache(true)
        .build()
        .unwrap();
    let mut load = a_cached_load_in_flight(&loader, &backend);
    assert!(loader.prime(8, 99));
    gate.add_permits(1);
    assert_eq!(
        block_on(&mut load).unwrap(),
        Some(80),
        "the call's own answer"
    );
    assert_eq!(block_on(loader.load(8)).unwrap(), Some(99), "prime holds");
    assert_eq!(backend.call_count(), 1);
}
