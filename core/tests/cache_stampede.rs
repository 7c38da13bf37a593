//! Stampedes on a real multi-threaded tokio runtime (2 workers): however many
//! callers miss on one key, loads stay at one (or few when leaders are
//! dropped), and nobody hangs. Pass/fail is decided by counts, never by
//! elapsed wall time; the 2 s watchdogs only turn a hang into a failure.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use brace::cache::Cache;
use brace::singleflight::SingleFlightError;
use brace::time::{Clock, Nanos};

const WATCHDOG: Duration = Duration::from_secs(2);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn cache() -> Cache<u32, u64> {
    Cache::builder().max_capacity(1_000).build().unwrap()
}

/// A loader that counts its runs and answers 42 after `time`, or never
/// (`None`).
fn counting_loader(
    runs: &Arc<AtomicU32>,
    time: Option<Duration>,
) -> impl FnOnce() -> std::pin::Pin<Box<dyn Future<Output = Result<u64, String>> + Send>> + use<> {
    let runs = runs.clone();
    move || {
        Box::pin(async move {
            runs.fetch_add(1, Ordering::SeqCst);
            match time {
                Some(time) => tokio::time::sleep(time).await,
                None => std::future::pending().await,
            }
            Ok(42)
        })
    }
}

/// A loader that takes 20 ms and counts its runs.
fn slow_loader(
    runs: &Arc<AtomicU32>,
) -> impl FnOnce() -> std::pin::Pin<Box<dyn Future<Output = Result<u64, String>> + Send>> + use<> {
    counting_loader(runs, Some(Duration::from_millis(20)))
}

/// A loader that counts its run and never finishes: whoever runs it is
/// certain to be cut off by its own timeout, however late the scheduler
/// gets to the timer (a 20 ms loader could finish first on a stalled
/// machine, and tokio's `timeout` polls the inner future first).
fn hanging_loader(
    runs: &Arc<AtomicU32>,
) -> impl FnOnce() -> std::pin::Pin<Box<dyn Future<Output = Result<u64, String>> + Send>> + use<> {
    counting_loader(runs, None)
}

async fn wait_until(cond: impl Fn() -> bool) {
    while !cond() {
        tokio::task::yield_now().await;
    }
}

#[test]
fn cold_key_with_256_callers_loads_once() {
    runtime().block_on(async {
        let cache = cache();
        let runs = Arc::new(AtomicU32::new(0));
        let tasks: Vec<_> = (0..256)
            .map(|_| {
                let (cache, load) = (cache.clone(), slow_loader(&runs));
                tokio::spawn(async move { cache.get_or_load(7, load).await })
            })
            .collect();
        let all = async {
            for t in tasks {
                assert_eq!(t.await.unwrap(), Ok(42));
            }
        };
        tokio::time::timeout(WATCHDOG, all)
            .await
            .expect("a caller hung");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(cache.stats().loads, 1);
    });
}

#[test]
fn leader_dropped_by_a_5ms_timeout_hangs_nobody() {
    runtime().block_on(async {
        let cache = cache();
        let runs = Arc::new(AtomicU32::new(0));
        let leader = {
            let (cache, load) = (cache.clone(), hanging_loader(&runs));
            tokio::spawn(async move {
                tokio::time::timeout(Duration::from_millis(5), cache.get_or_load(7, load)).await
            })
        };
        wait_until(|| runs.load(Ordering::SeqCst) == 1).await;
        let followers: Vec<_> = (0..255)
            .map(|_| {
                let (cache, load) = (cache.clone(), slow_loader(&runs));
                tokio::spawn(async move { cache.get_or_load(7, load).await })
            })
            .collect();
        let all = async {
            assert!(leader.await.unwrap().is_err(), "the leader timed out");
            for t in followers {
                assert_eq!(t.await.unwrap(), Ok(42));
            }
        };
        tokio::time::timeout(WATCHDOG, all)
            .await
            .expect("a caller hung");
        let loads = runs.load(Ordering::SeqCst);
        assert!((1..=3).contains(&loads), "{loads} loads");
    });
}

#[test]
fn a_loader_that_panics_once_hangs_nobody_and_the_next_call_succeeds() {
    runtime().block_on(async {
        let cache = cache();
        let panicked = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (cache, panicked) = (cache.clone(), panicked.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_load(7, move || async move {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            if !panicked.swap(true, Ordering::SeqCst) {
                                panic!("loader bug (expected by this test)");
                            }
                            Ok::<u64, String>(42)
                        })
                        .await
                })
            })
            .collect();
        let all = async {
            let mut panics = 0;
            for t in tasks {
                match t.await.unwrap() {
                    Ok(v) => assert_eq!(v, 42),
                    Err(SingleFlightError::LeaderPanicked) => panics += 1,
                    Err(other) => panic!("unexpected {other:?}"),
                }
            }
            panics
        };
        let panics = tokio::time::timeout(WATCHDOG, all)
            .await
            .expect("a caller hung");
        assert!(panics >= 1);
        let next = cache
            .get_or_load(7, || async { Ok::<u64, String>(43) })
            .await;
        assert!(matches!(next, Ok(42 | 43)), "{next:?}");
        assert_eq!(cache.stats().load_errors, 1);
    });
}

#[test]
fn a_failing_loader_gives_every_waiter_the_error_of_one_load() {
    runtime().block_on(async {
        let cache = cache();
        let runs = Arc::new(AtomicU32::new(0));
        let tasks: Vec<_> = (0..256)
            .map(|_| {
                let (cache, runs) = (cache.clone(), runs.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_load(7, move || async move {
                            runs.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Err::<u64, String>("db down".to_owned())
                        })
                        .await
                })
            })
            .collect();
        let all = async {
            let mut errors = Vec::new();
            for t in tasks {
                match t.await.unwrap() {
                    Err(SingleFlightError::Failed(e)) => errors.push(e),
                    other => panic!("unexpected {other:?}"),
                }
            }
            errors
        };
        let errors = tokio::time::timeout(WATCHDOG, all)
            .await
            .expect("a caller hung");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(errors.iter().all(|e| Arc::ptr_eq(e, &errors[0])));
        assert_eq!(*errors[0], "db down");
        assert_eq!(cache.stats().load_errors, 1);
    });
}

/// tokio's (pausable) time as the cache's clock.
#[derive(Clone)]
struct TokioClock(tokio::time::Instant);

impl Clock for TokioClock {
    fn now(&self) -> Nanos {
        Nanos::from_duration(self.0.elapsed())
    }
}

#[test]
fn hot_keys_refreshed_ahead_never_make_a_request_wait() {
    // Paused tokio time: the runtime jumps over idle periods, so "waited for
    // a load" is exact: the request's virtual time moved.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let clock = TokioClock(tokio::time::Instant::now());
        let cache: Cache<u32, u64, TokioClock> = Cache::builder()
            .max_capacity(1_000)
            .refresh_after(Duration::from_millis(100))
            .time_to_live(Duration::from_millis(200))
            .spawn_hook(|task| {
                tokio::spawn(task);
            })
            .clock(clock.clone())
            .build()
            .unwrap();
        let loader = |key: u32| {
            move || async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                Ok::<u64, String>(u64::from(key))
            }
        };
        // Warm-up: every key loaded once, concurrently.
        let warm: Vec<_> = (0..100)
            .map(|key| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.get_or_load(key, loader(key)).await })
            })
            .collect();
        for t in warm {
            assert!(t.await.unwrap().is_ok());
        }
        let misses_after_warm_up = cache.stats().misses;
        let start = tokio::time::Instant::now();
        let (mut requests, mut waited) = (0u64, 0u64);
        while start.elapsed() < Duration::from_secs(3) {
            for key in 0..100 {
                let before = tokio::time::Instant::now();
                let got = cache.get_or_load(key, loader(key)).await;
                assert_eq!(got, Ok(u64::from(key)));
                requests += 1;
                if before.elapsed() > Duration::ZERO {
                    waited += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let s = cache.stats();
        assert!(requests > 100_000, "{requests} requests");
        assert_eq!(
            waited, 0,
            "{waited} of {requests} requests waited for a load"
        );
        assert_eq!(
            s.misses, misses_after_warm_up,
            "a request missed after warm-up"
        );
        // Every key was refreshed about every 100 ms, in the background.
        assert!(s.loads >= 100 * 25, "{} loads", s.loads);
        assert!(s.stale_served > 0);
    });
}
