//! The loader when a key's `Hash` or `Clone` panics (the table must stay
//! whole: no lost flight, no open batch that is gone, no key left in
//! flight, no empty batch), and a batch function that loads from its own
//! loader (whoever leads the batch its load joins). Each test failed
//! before its fix (a review's findings).

mod common;

use std::cell::Cell;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::Poll;
use std::time::Duration;

use brace::loader::{BatchFn, BatchLoader, BatchOutput};
use common::poll_once;

// ---------------------------------------------------------------------------
// A key whose `Hash` / `Clone` can be told to panic once (per test thread).

thread_local! {
    /// `(key, n)`: the `n`-th hash of `key` from now panics (once).
    static HASH_BOMB: Cell<Option<(u64, u32)>> = const { Cell::new(None) };
    /// The next clone of this key panics (once).
    static CLONE_BOMB: Cell<Option<u64>> = const { Cell::new(None) };
}

fn arm_hash(key: u64, nth: u32) {
    HASH_BOMB.with(|b| b.set(Some((key, nth))));
}

fn arm_clone(key: u64) {
    CLONE_BOMB.with(|b| b.set(Some(key)));
}

fn disarm() {
    HASH_BOMB.with(|b| b.set(None));
    CLONE_BOMB.with(|b| b.set(None));
}

#[derive(Debug, PartialEq, Eq)]
struct Key(u64);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        HASH_BOMB.with(|b| {
            if let Some((k, n)) = b.get() {
                if k == self.0 {
                    if n <= 1 {
                        b.set(None);
                        panic!("Hash of key {k} panicked on purpose");
                    }
                    b.set(Some((k, n - 1)));
                }
            }
        });
        self.0.hash(state);
    }
}

impl Clone for Key {
    fn clone(&self) -> Self {
        CLONE_BOMB.with(|b| {
            if b.get() == Some(self.0) {
                b.set(None);
                panic!("Clone of key {} panicked on purpose", self.0);
            }
        });
        Key(self.0)
    }
}

/// Results by linear search: the output itself never hashes a key.
struct Out(Vec<(u64, u64)>);

impl BatchOutput<Key, u64, ()> for Out {
    fn take(&mut self, key: &Key) -> Option<Result<u64, ()>> {
        let i = self.0.iter().position(|(k, _)| *k == key.0)?;
        Some(Ok(self.0.remove(i).1))
    }
}

/// `k -> 10 k`, recording each call's keys in call order.
#[derive(Clone, Default)]
struct TimesTen {
    calls: Arc<Mutex<Vec<Vec<u64>>>>,
}

impl BatchFn<Key> for TimesTen {
    type Value = u64;
    type Error = ();
    type Output = Out;
    async fn load(&self, keys: &[Key]) -> Result<Out, ()> {
        self.calls
            .lock()
            .unwrap()
            .push(keys.iter().map(|k| k.0).collect());
        Ok(Out(keys.iter().map(|k| (k.0, k.0 * 10)).collect()))
    }
}

/// Polls with a no-op waker until ready (at most 1,000 polls).
fn drive<F: Future + Unpin>(f: &mut F) -> Option<F::Output> {
    (0..1000).find_map(|_| match poll_once(f) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    })
}

/// Polls until ready or until a poll panics; `true` if one panicked.
fn drive_catching<F: Future + Unpin>(f: &mut F) -> bool {
    for _ in 0..1000 {
        match catch_unwind(AssertUnwindSafe(|| poll_once(f))) {
            Err(_) => return true,
            Ok(Poll::Ready(_)) => return false,
            Ok(Poll::Pending) => {}
        }
    }
    panic!("neither finished nor panicked");
}

// ---------------------------------------------------------------------------
// Publishing a batch while another batch holds the same key's flight.

#[test]
fn a_hash_panic_while_publishing_keeps_another_batchs_flight() {
    let backend = TimesTen::default();
    let loader = BatchLoader::new(backend.clone());
    let mut l = Box::pin(loader.load(Key(1)));
    let mut f = Box::pin(loader.load(Key(2)));
    let mut g = Box::pin(loader.load(Key(3)));
    for x in [&mut l, &mut f, &mut g] {
        assert!(poll_once(x).is_pending());
    }
    // Batch A = [1, 2, 3]: while its results are published, hashing key 3
    // panics, after key 2 was taken off the map. A is re-sent by `f`.
    arm_hash(3, 1);
    assert!(drive_catching(&mut l), "publishing batch A panicked");
    drop(l);
    // Key 2 is off the map: a new load of it opens batch B.
    let mut s = Box::pin(loader.load(Key(2)));
    assert!(poll_once(&mut s).is_pending());
    // `f` re-sends A; finishing it calls remove_flight(2, A), which finds
    // B's flight, removes it and re-inserts it: that second hash panics.
    arm_hash(2, 2);
    let _ = drive_catching(&mut f);
    disarm();
    drop(f);
    // A third load of key 2 must join B's flight.
    let mut t = Box::pin(loader.load(Key(2)));
    assert!(poll_once(&mut t).is_pending());
    // `g` finishes A (B holds for A, the earlier partial call), then `s`
    // sends B.
    assert_eq!(drive(&mut g).expect("g completes").ok(), Some(Some(30)));
    assert_eq!(drive(&mut s).expect("s completes").ok(), Some(Some(20)));
    let t_result = drive(&mut t).expect("t completes").ok();
    let calls = backend.calls.lock().unwrap().clone();
    assert_eq!(
        t_result,
        Some(Some(20)),
        "a present key read as missing; calls {calls:?}"
    );
    for keys in &calls {
        let mut distinct = keys.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            keys.len(),
            "duplicate key in one batch call: {calls:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Cancelling a batch whose key's `Hash` panics: the keys leave the map by a
// walk that hashes nothing (it once left `open` naming a removed batch, and
// every later load of a new key panicked).

#[test]
fn a_hash_panic_while_cancelling_a_batch_leaves_the_loader_working() {
    let loader = BatchLoader::new(TimesTen::default());
    let mut only = Box::pin(loader.load(Key(1)));
    assert!(poll_once(&mut only).is_pending());
    arm_hash(1, 1);
    assert!(
        catch_unwind(AssertUnwindSafe(|| drop(only))).is_ok(),
        "cancelling the batch hashed key 1"
    );
    disarm();
    assert_eq!((loader.pending_keys(), loader.in_flight_batches()), (0, 0));
    // A later, unrelated load.
    let later = catch_unwind(AssertUnwindSafe(|| {
        let mut other = Box::pin(loader.load(Key(5)));
        drive(&mut other)
    }));
    assert!(
        matches!(later, Ok(Some(Ok(Some(50))))),
        "a later load of another key panicked: the loader is unusable"
    );
}

// ---------------------------------------------------------------------------
// Sending a batch that drops a key nobody waits for, whose `Hash` panics.

#[test]
fn a_hash_panic_while_sending_leaves_no_key_in_flight() {
    let loader = BatchLoader::new(TimesTen::default());
    let mut leader = Box::pin(loader.load(Key(1)));
    let mut gone = Box::pin(loader.load(Key(2)));
    assert!(poll_once(&mut leader).is_pending());
    assert!(poll_once(&mut gone).is_pending());
    drop(gone); // key 2 now has no waiter: begin_call drops it
    arm_hash(2, 1);
    assert!(drive_catching(&mut leader), "begin_call panicked");
    disarm();
    drop(leader);
    let pending = loader.pending_keys();
    let later = catch_unwind(AssertUnwindSafe(|| {
        let mut again = Box::pin(loader.load(Key(2)));
        drive(&mut again)
    }));
    assert!(
        matches!(later, Ok(Some(Ok(Some(20))))),
        "a later load of key 2 panicked (pending_keys = {pending})"
    );
    assert_eq!(pending, 0, "key left in flight");
}

// ---------------------------------------------------------------------------
// Opening a batch for a key whose `Clone` panics.

#[test]
fn a_clone_panic_when_opening_a_batch_leaves_no_batch() {
    let loader = BatchLoader::new(TimesTen::default());
    arm_clone(1);
    let mut load = Box::pin(loader.load(Key(1)));
    assert!(catch_unwind(AssertUnwindSafe(|| poll_once(&mut load))).is_err());
    disarm();
    drop(load);
    assert_eq!(loader.pending_keys(), 0);
    assert_eq!(loader.in_flight_batches(), 0, "an empty batch left behind");
}

// ---------------------------------------------------------------------------
// A batch function that loads from its own loader (a tree: a node's value
// is its parent's plus one): with `hold_stragglers` on, the inner batch
// must not hold for the outer call, which is waiting for it.

/// A tree whose node `k` is its parent's value plus one (the root, 0, is
/// 0), loaded through its own loader; nodes from `roots_from` on are roots
/// of their own (value `k`). With `yield_first`, a node yields once before
/// loading its parent (any await: a lock, a first query).
struct Tree {
    me: Arc<OnceLock<BatchLoader<u64, Tree>>>,
    yield_first: bool,
    roots_from: u64,
}

impl BatchFn<u64> for Tree {
    type Value = u64;
    type Error = ();
    type Output = std::collections::HashMap<u64, u64>;
    async fn load(&self, keys: &[u64]) -> Result<Self::Output, ()> {
        let mut out = std::collections::HashMap::new();
        for &k in keys {
            let v = if k == 0 || k >= self.roots_from {
                k
            } else {
                if self.yield_first {
                    let mut yielded = false;
                    std::future::poll_fn(|cx| {
                        if yielded {
                            Poll::Ready(())
                        } else {
                            yielded = true;
                            cx.waker().wake_by_ref();
                            Poll::Pending
                        }
                    })
                    .await;
                }
                let loader = self.me.get().expect("set");
                loader.load(k - 1).await.unwrap().unwrap() + 1
            };
            out.insert(k, v);
        }
        Ok(out)
    }
}

/// A loader of a [`Tree`], built with its own handle.
fn tree(yield_first: bool, roots_from: u64) -> BatchLoader<u64, Tree> {
    let me = Arc::new(OnceLock::new());
    let loader = BatchLoader::new(Tree {
        me: Arc::clone(&me),
        yield_first,
        roots_from,
    });
    assert!(me.set(loader.clone()).is_ok(), "set once");
    loader
}

#[test]
fn a_batch_function_may_load_from_its_own_loader() {
    let loader = tree(false, u64::MAX);
    let rt = common::current_thread();
    let result =
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(2), loader.load(2)).await });
    assert_eq!(
        result
            .map(|r| r.ok())
            .map_err(|_| "timed out: the loader waited for itself"),
        Ok(Some(Some(2)))
    );
}

// A batch function that loads from its own loader, while an outside task
// leads the open batch its inner load joins: that batch must not hold for
// the call awaiting it either.

#[test]
fn a_nested_load_that_joins_an_outside_leaders_batch_does_not_wait_for_itself() {
    // Key 2 loads key 1 after a yield; key 10 is a root.
    let loader = tree(true, 10);
    // Task A loads key 2: its batch goes out partial; the call yields.
    let mut a = Box::pin(loader.load(2));
    for _ in 0..100 {
        assert!(poll_once(&mut a).is_pending());
        if loader.stats().batches_sent > 0 {
            break;
        }
    }
    assert_eq!(loader.stats().batches_sent, 1);
    // Task B, an unrelated request, loads key 10: it leads a new batch,
    // and after its tick holds for A's partial call (it is not inside a
    // batch call).
    let mut b = Box::pin(loader.load(10));
    for _ in 0..100 {
        assert!(poll_once(&mut b).is_pending());
    }
    // A's batch function now loads key 1 from inside its call: the key
    // joins B's open batch, whose leader holds for A's call.
    let (mut ra, mut rb) = (None, None);
    for _ in 0..10_000 {
        if ra.is_none() {
            if let Poll::Ready(v) = poll_once(&mut a) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = poll_once(&mut b) {
                rb = Some(v);
            }
        }
    }
    assert_eq!(
        (ra.map(|r| r.ok()), rb.map(|r| r.ok())),
        (Some(Some(Some(2))), Some(Some(Some(10)))),
        "deadlock: sent {}, pending keys {}",
        loader.stats().batches_sent,
        loader.pending_keys()
    );
}
