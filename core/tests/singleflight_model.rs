//! `brace::singleflight` against a seeded model: one key, callers joining,
//! polled only when woken and dropped at random, with deadlines; at most one
//! work alive, no hang, nothing left in flight, counters that add up; and
//! the futures' `Send`/`Sync` bounds. From a review helper (3,000 seeds).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

mod common;

use brace::singleflight::{Group, SingleFlightError};
use common::Flag;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn assert_send<T: Send>(_: &T) {}
fn assert_sync<T: Sync>(_: &T) {}

#[test]
fn returned_futures_are_send_when_parts_are() {
    let group: Group<String, Vec<u8>, std::io::Error> = Group::new();
    assert_send(&group);
    assert_sync(&group);
    let w = group.work("k".to_string(), || async { Ok(vec![1u8]) });
    assert_send(&w);
    let d = group.work_with_deadline("k".to_string(), std::future::pending::<()>(), || async {
        Ok(vec![1u8])
    });
    assert_send(&d);
}

/// Work that is Pending `left` times (waking itself), then Ready. Tracks
/// how many instances are alive (made and not yet dropped).
struct Job {
    left: u32,
    alive: Rc<Cell<u32>>,
    id: u64,
}
thread_local!(static TOTAL: Cell<u64> = const { Cell::new(0) });
impl Job {
    fn new(left: u32, alive: &Rc<Cell<u32>>, max_alive: &Rc<Cell<u32>>, id: u64) -> Self {
        alive.set(alive.get() + 1);
        max_alive.set(max_alive.get().max(alive.get()));
        TOTAL.with(|t| t.set(t.get() + 1));
        Job {
            left,
            alive: alive.clone(),
            id,
        }
    }
}
impl Drop for Job {
    fn drop(&mut self) {
        self.alive.set(self.alive.get() - 1);
    }
}
impl Future for Job {
    type Output = Result<u64, String>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.left == 0 {
            Poll::Ready(Ok(self.id))
        } else {
            self.left -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

type Fut<'g> = Pin<Box<dyn Future<Output = Result<u64, SingleFlightError<String>>> + 'g>>;

/// Random model: callers join, are polled when woken, and are dropped at
/// random. Checks: at most one work alive at a time per key, nobody is left
/// pending with nothing woken (a hang), the map is empty at the end, and
/// the counters add up.
#[test]
fn random_drops_never_hang_or_run_twice() {
    for seed in 0..3000u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let group: Group<u8, u64, String> = Group::new();
        let alive = Rc::new(Cell::new(0u32));
        let max_alive = Rc::new(Cell::new(0u32));
        let mut callers: Vec<(Fut<'_>, Arc<Flag>, bool /*deadline*/)> = Vec::new();
        let mut made = 0u64;
        TOTAL.with(|t| t.set(0));
        let mut polled_once = 0u64;
        let mut joined = 0u64;
        let mut dropped_unpolled = 0u64;
        let mut deadlines = 0u64;
        let steps = rng.random_range(1..40);
        for step in 0..steps + 200 {
            let active_phase = step < steps;
            let choice = if active_phase {
                rng.random_range(0..4)
            } else {
                2
            };
            match choice {
                0 => {
                    let left = rng.random_range(0..4);
                    let id = made;
                    made += 1;
                    let a = alive.clone();
                    let m = max_alive.clone();
                    let use_deadline = rng.random_bool(0.2);
                    let fut: Fut<'_> =
                        if use_deadline {
                            // A deadline that fires after a random number of polls.
                            let mut n = rng.random_range(0..4u32);
                            let deadline = std::future::poll_fn(move |cx| {
                                if n == 0 {
                                    Poll::Ready(())
                                } else {
                                    n -= 1;
                                    cx.waker().wake_by_ref();
                                    Poll::Pending
                                }
                            });
                            Box::pin(group.work_with_deadline(0, deadline, move || {
                                Job::new(left, &a, &m, id)
                            }))
                        } else {
                            Box::pin(group.work(0, move || Job::new(left, &a, &m, id)))
                        };
                    let flag = Arc::new(Flag(AtomicBool::new(true)));
                    callers.push((fut, flag, false));
                    joined += 1;
                }
                1 if !callers.is_empty() => {
                    let i = rng.random_range(0..callers.len());
                    let (_f, _w, was_polled) = callers.swap_remove(i);
                    if !was_polled {
                        dropped_unpolled += 0;
                    }
                    dropped_unpolled += 1;
                }
                _ => {
                    let woken: Vec<usize> = (0..callers.len())
                        .filter(|&i| callers[i].1.0.load(Ordering::SeqCst))
                        .collect();
                    if woken.is_empty() {
                        if !callers.is_empty() && !active_phase {
                            panic!(
                                "seed {seed}: {} callers pending, none woken (hang); alive works {}",
                                callers.len(),
                                alive.get()
                            );
                        }
                        continue;
                    }
                    let i = woken[rng.random_range(0..woken.len())];
                    let (fut, flag, was_polled) = &mut callers[i];
                    if !*was_polled {
                        *was_polled = true;
                        polled_once += 1;
                    }
                    flag.0.store(false, Ordering::SeqCst);
                    let waker = Waker::from(flag.clone());
                    let mut cx = Context::from_waker(&waker);
                    if let Poll::Ready(r) = fut.as_mut().poll(&mut cx) {
                        match r {
                            Ok(_) => {}
                            Err(SingleFlightError::DeadlineExceeded) => deadlines += 1,
                            Err(e) => panic!("seed {seed}: unexpected {e:?}"),
                        }
                        let _ = callers.swap_remove(i);
                    }
                }
            }
            assert!(max_alive.get() <= 1, "seed {seed}: two works alive at once");
        }
        assert!(callers.is_empty(), "seed {seed}: leftover callers");
        assert_eq!(alive.get(), 0, "seed {seed}");
        assert_eq!(group.in_flight(), 0, "seed {seed}: map not empty");
        let s = group.stats();
        let _ = (joined, dropped_unpolled);
        assert_eq!(
            s.executions,
            TOTAL.with(|t| t.get()),
            "seed {seed}: executions vs closures called {s:?}"
        );
        assert_eq!(
            s.coalesced + s.executions - s.handoffs,
            polled_once,
            "seed {seed}: {s:?}"
        );
        assert_eq!(s.deadlines_exceeded, deadlines, "seed {seed}");
        assert_eq!(s.panics, 0);
    }
}
