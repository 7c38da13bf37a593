//! brace's primitives driven by tokio's paused time through TokioClock and
//! TokioSleeper: no wall-clock waits, exact virtual durations.

use std::time::Duration;

use brace::breaker::{CircuitBreaker, Config, State};
use brace::metrics::{Outcome, Red, WindowConfig};
use brace::retry::{Backoff, Jitter, Retry, RetryPolicy, StopReason};
use brace::time::Clock;
use brace_tokio::{TokioClock, TokioSleeper};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn breaker_open_duration_is_tokio_time() {
    let config = Config::builder()
        .consecutive_failures(2)
        .open_duration(Duration::from_secs(30))
        .permitted_calls_in_half_open(1)
        .build()
        .unwrap();
    let breaker = CircuitBreaker::new(config, TokioClock::new());
    breaker.try_acquire().unwrap().record_failure();
    breaker.try_acquire().unwrap().record_failure();
    assert_eq!(breaker.state(), State::Open);

    tokio::time::advance(Duration::from_secs(12)).await;
    let rejected = breaker.try_acquire().unwrap_err();
    assert_eq!(rejected.retry_after(), Some(Duration::from_secs(18)));

    // Sleeping exactly the advertised wait lands on the probe.
    tokio::time::sleep(rejected.retry_after().unwrap()).await;
    let probe = breaker.try_acquire().expect("probe admitted after 30 s");
    assert_eq!(breaker.state(), State::HalfOpen);
    probe.record_success();
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn retry_backoff_sleeps_on_tokio_time() {
    let backoff = Backoff::exponential(Duration::from_millis(250), 2.0)
        .jitter(Jitter::None)
        .build()
        .unwrap();
    let policy = RetryPolicy::builder(backoff)
        .max_attempts(4)
        .build()
        .unwrap();
    let clock = TokioClock::new();
    let start = Instant::now();
    let mut attempts_at = Vec::new();
    let out: Result<(), _> = Retry::new(&policy, &clock, &TokioSleeper)
        .run(|_attempt| {
            attempts_at.push(start.elapsed().as_millis());
            async { Err::<(), _>("unavailable") }
        })
        .await;
    let err = out.unwrap_err();
    assert_eq!(err.reason(), StopReason::AttemptsExhausted);
    assert_eq!(err.attempts(), 4);
    // Waits of 250, 500 and 1000 ms between the four attempts.
    assert_eq!(attempts_at, [0, 250, 750, 1750]);
}

#[tokio::test(start_paused = true)]
async fn retry_with_jitter_stays_within_the_cap_on_virtual_time() {
    let backoff = Backoff::exponential(Duration::from_millis(100), 2.0)
        .max_delay(Duration::from_millis(400))
        .jitter(Jitter::Full)
        .build()
        .unwrap();
    let policy = RetryPolicy::builder(backoff)
        .max_attempts(6)
        .build()
        .unwrap();
    let clock = TokioClock::new();
    let start = clock.now();
    let _ = Retry::new(&policy, &clock, &TokioSleeper)
        .run(|_| async { Err::<(), _>("down") })
        .await;
    // Five waits, each at most 400 ms: the whole run is virtual and bounded.
    assert!(clock.now().saturating_sub(start).as_duration() <= Duration::from_millis(2_000));
}

#[tokio::test(start_paused = true)]
async fn metrics_window_slides_with_tokio_time() {
    let config = WindowConfig::builder()
        .span(Duration::from_secs(60))
        .slots(12)
        .build()
        .unwrap();
    let red = Red::new(config, TokioClock::new());
    for _ in 0..10 {
        red.record(Duration::from_millis(5), Outcome::Success);
    }
    red.record(Duration::from_millis(5), Outcome::Error);
    assert_eq!(red.snapshot().count(), 11);
    tokio::time::advance(Duration::from_secs(120)).await;
    assert_eq!(red.snapshot().count(), 0, "everything left the 60 s window");
}

#[tokio::test(start_paused = true)]
async fn cache_ttl_and_background_refresh_run_on_tokio_time() {
    use brace::cache::Cache;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    let cache = Cache::<&str, u32>::builder()
        .max_capacity(100)
        .time_to_live(Duration::from_secs(10))
        .refresh_after(Duration::from_secs(5))
        .spawn_hook(brace_tokio::spawn_hook())
        .clock(TokioClock::new())
        .build()
        .unwrap();
    let loads = Arc::new(AtomicU32::new(0));
    let get = |cache: &Cache<&'static str, u32, TokioClock>| {
        let loads = Arc::clone(&loads);
        let cache = cache.clone();
        async move {
            cache
                .get_or_load("k", move || async move {
                    Ok::<_, std::io::Error>(loads.fetch_add(1, Ordering::SeqCst) + 1)
                })
                .await
                .unwrap()
        }
    };

    assert_eq!(get(&cache).await, 1, "a cold key loads");
    tokio::time::advance(Duration::from_secs(4)).await;
    assert_eq!(get(&cache).await, 1, "fresh at 4 s: served, no load");
    assert_eq!(loads.load(Ordering::SeqCst), 1);

    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(get(&cache).await, 1, "stale at 6 s: the old value at once");
    // The refresh runs as a spawned task; let it finish.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(loads.load(Ordering::SeqCst), 2, "one background refresh");
    assert_eq!(cache.get(&"k"), Some(2), "the refreshed value is served");

    // Written again at 6 s: expires at 16 s, whatever the wall clock says.
    tokio::time::advance(Duration::from_millis(9_999)).await;
    assert_eq!(cache.get(&"k"), Some(2), "still live just before 16 s");
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(cache.get(&"k"), None, "expired at 16 s");
}
