//! Panics in code the loader calls but does not own (a caller's key
//! iterator, a waker, a batch output's `take`) must not leave a batch
//! without a leader, a waiter without its wake-up, or the in-flight map
//! pointing at the wrong batch. Each test failed before its fix.

mod common;

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Wake, Waker};

use brace::loader::BatchLoader;
use common::{Backend, poll_once};

fn assert_idle<F: brace::loader::BatchFn<u64>>(loader: &BatchLoader<u64, F>) {
    assert_eq!(loader.pending_keys(), 0, "keys left in flight");
    assert_eq!(loader.in_flight_batches(), 0, "batches left in flight");
}

fn poll_with<F: Future + Unpin>(f: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(waker))
}

/// Polls `f` with a no-op waker until it is ready (at most 1,000 polls).
fn drive<F: Future + Unpin>(f: &mut F) -> Option<F::Output> {
    (0..1000).find_map(|_| match poll_once(f) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    })
}

/// Polls the leader until it finishes or a panic comes out of it.
fn drive_until_panic<F: Future + Unpin>(f: &mut F) -> bool {
    for _ in 0..100 {
        match catch_unwind(AssertUnwindSafe(|| poll_once(f))) {
            Err(_) => return true,
            Ok(Poll::Ready(_)) => return false,
            Ok(Poll::Pending) => {}
        }
    }
    false
}

/// Records a wake-up; panics on it if `panics`.
struct Flag {
    woken: AtomicBool,
    panics: bool,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        assert!(!self.panics, "waker panicked on purpose");
    }
}

#[test]
fn a_key_iterator_that_panics_in_load_many_leaves_no_batch_behind() {
    let loader = BatchLoader::new(Backend::new());
    let keys = (1..=3u64).inspect(|&k| assert!(k != 3, "key iterator panicked on purpose"));
    let mut many = Box::pin(loader.load_many(keys));
    assert!(catch_unwind(AssertUnwindSafe(|| poll_once(&mut many))).is_err());
    drop(many);
    assert_idle(&loader);
    // A later load is not stuck in a batch whose leader is gone.
    let mut later = Box::pin(loader.load(4));
    assert_eq!(drive(&mut later).expect("completes").unwrap(), Some(40));
    drop(later);
    assert_idle(&loader);
}

#[test]
fn a_waker_that_panics_at_the_results_does_not_keep_the_others_asleep() {
    let loader = BatchLoader::new(Backend::new());
    let mut leader = Box::pin(loader.load(1));
    let mut bad = Box::pin(loader.load(2));
    let mut good = Box::pin(loader.load(3));
    let bad_waker = Arc::new(Flag {
        woken: AtomicBool::new(false),
        panics: true,
    });
    let good_waker = Arc::new(Flag {
        woken: AtomicBool::new(false),
        panics: false,
    });
    assert!(poll_once(&mut leader).is_pending());
    assert!(poll_with(&mut bad, &Waker::from(Arc::clone(&bad_waker))).is_pending());
    assert!(poll_with(&mut good, &Waker::from(Arc::clone(&good_waker))).is_pending());
    assert!(
        drive_until_panic(&mut leader),
        "the bad waker's panic comes out of the leader's poll"
    );
    assert!(bad_waker.woken.load(Ordering::SeqCst));
    assert!(
        good_waker.woken.load(Ordering::SeqCst),
        "the waiter after the panicking waker was woken"
    );
    assert_eq!(drive(&mut good).expect("completes").unwrap(), Some(30));
}

static CLONES: AtomicUsize = AtomicUsize::new(0);

fn panicking_clone(_: *const ()) -> RawWaker {
    CLONES.fetch_add(1, Ordering::SeqCst);
    panic!("waker clone panicked on purpose")
}

fn no_op(_: *const ()) {}

static PANICKING_CLONE: RawWakerVTable = RawWakerVTable::new(panicking_clone, no_op, no_op, no_op);

#[test]
fn a_waker_whose_clone_panics_on_the_first_poll_still_leaves_its_batch() {
    let loader = BatchLoader::new(Backend::new());
    let mut leader = Box::pin(loader.load(1));
    let mut bad = Box::pin(loader.load(2));
    let mut good = Box::pin(loader.load(3));
    assert!(poll_once(&mut leader).is_pending());
    // SAFETY: every vtable function ignores the data pointer, so a null
    // pointer meets the `RawWaker` contract.
    #[allow(unsafe_code)]
    let waker = unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &PANICKING_CLONE)) };
    assert!(catch_unwind(AssertUnwindSafe(|| poll_with(&mut bad, &waker))).is_err());
    assert_eq!(CLONES.load(Ordering::SeqCst), 1);
    drop(bad);
    assert!(poll_once(&mut good).is_pending());
    // The leader goes before the call: the batch passes to `good`, not to
    // the slot whose poll panicked.
    drop(leader);
    assert_eq!(drive(&mut good).expect("completes").unwrap(), Some(30));
    drop(good);
    assert_idle(&loader);
}

mod output_that_panics_once {
    use brace::loader::{BatchFn, BatchOutput};
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    /// A batch output whose `take(&2)` panics the first time.
    pub struct Output(HashMap<u64, u64>, Arc<AtomicBool>);

    impl BatchOutput<u64, u64, ()> for Output {
        fn take(&mut self, key: &u64) -> Option<Result<u64, ()>> {
            if *key == 2 && self.1.swap(false, Ordering::SeqCst) {
                panic!("take panicked on purpose");
            }
            self.0.remove(key).map(Ok)
        }
    }

    /// Values `k * 10`; records each call's keys.
    pub struct TimesTen {
        pub panic_once: Arc<AtomicBool>,
        pub calls: Arc<Mutex<Vec<Vec<u64>>>>,
    }

    impl BatchFn<u64> for TimesTen {
        type Value = u64;
        type Error = ();
        type Output = Output;
        async fn load(&self, keys: &[u64]) -> Result<Output, ()> {
            self.calls.lock().unwrap().push(keys.to_vec());
            Ok(Output(
                keys.iter().map(|&k| (k, k * 10)).collect(),
                Arc::clone(&self.panic_once),
            ))
        }
    }
}

#[test]
fn a_panic_while_results_are_published_leaves_other_flights_of_the_key_alone() {
    let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
    let loader = BatchLoader::new(output_that_panics_once::TimesTen {
        panic_once: Arc::new(AtomicBool::new(true)),
        calls: Arc::clone(&calls),
    });
    let mut leader = Box::pin(loader.load(1));
    let mut follower = Box::pin(loader.load(2));
    assert!(poll_once(&mut leader).is_pending());
    assert!(poll_once(&mut follower).is_pending());
    assert!(drive_until_panic(&mut leader), "`take` panicked");
    drop(leader);
    // Key 2 may now be off the map while its batch is sent again: a new
    // load of it opens a second flight.
    let mut second = Box::pin(loader.load(2));
    assert!(poll_once(&mut second).is_pending());
    // The follower leads the first batch again and finishes it; that must
    // not take the second flight off the map.
    assert_eq!(drive(&mut follower).expect("completes").unwrap(), Some(20));
    let mut third = Box::pin(loader.load(2));
    assert!(poll_once(&mut third).is_pending());
    assert_eq!(drive(&mut second).expect("completes").unwrap(), Some(20));
    assert_eq!(
        drive(&mut third).expect("completes").unwrap(),
        Some(20),
        "a present key read as missing"
    );
    for keys in calls.lock().unwrap().iter() {
        let mut distinct = keys.clone();
        distinct.dedup();
        assert_eq!(&distinct, keys, "a key sent twice in one batch: {keys:?}");
    }
    drop((follower, second, third));
    assert_idle(&loader);
}

/// A batch function whose future answers, then panics when dropped.
struct PanicsOnDrop {
    calls: Arc<AtomicUsize>,
}

struct Answer(Option<std::collections::HashMap<u64, u64>>);

impl Future for Answer {
    type Output = Result<std::collections::HashMap<u64, u64>, std::convert::Infallible>;
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(Ok(self.0.take().expect("polled once")))
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("the batch call's future panics in its drop");
        }
    }
}

impl brace::loader::BatchFn<u64> for PanicsOnDrop {
    type Value = u64;
    type Error = std::convert::Infallible;
    type Output = std::collections::HashMap<u64, u64>;
    fn load(&self, keys: &[u64]) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Answer(Some(keys.iter().map(|&k| (k, k)).collect()))
    }
}

#[test]
fn a_batch_future_that_panics_in_its_drop_is_a_panicking_batch_function() {
    // Noted by review: the panic came out of the leader's poll (its caller
    // panicked instead of getting an error) and the batch was sent again.
    let calls = Arc::new(AtomicUsize::new(0));
    let loader = BatchLoader::builder(PanicsOnDrop {
        calls: Arc::clone(&calls),
    })
    .build()
    .unwrap();
    let mut leader = loader.load(1);
    let mut follower = loader.load(2);
    assert!(poll_once(&mut leader).is_pending());
    assert!(poll_once(&mut follower).is_pending());
    let led = catch_unwind(AssertUnwindSafe(|| drive(&mut leader)));
    let led = led.expect("the leader's caller does not panic");
    assert!(
        matches!(led, Some(Err(brace::loader::LoadError::Panicked))),
        "{led:?}"
    );
    assert!(matches!(
        drive(&mut follower),
        Some(Err(brace::loader::LoadError::Panicked))
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "not sent again");
    assert_idle(&loader);
}
