//! The clock, sleeper and spawn hook under tokio's paused time.

use brace::time::{Clock, Nanos, Sleeper};
use brace_tokio::{TokioClock, TokioSleeper, spawn_hook, spawn_hook_on};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

#[tokio::test(start_paused = true)]
async fn clock_stands_still_while_paused() {
    let clock = TokioClock::new();
    let a = clock.now();
    tokio::task::yield_now().await;
    assert_eq!(clock.now(), a);
}

#[tokio::test(start_paused = true)]
async fn clock_moves_exactly_by_advance() {
    let clock = TokioClock::new();
    let start = clock.now();
    tokio::time::advance(Duration::from_millis(250)).await;
    assert_eq!(clock.now().saturating_sub(start), Nanos::new(250_000_000));
    tokio::time::advance(Duration::from_nanos(1_000)).await;
    assert_eq!(clock.now().saturating_sub(start), Nanos::new(250_001_000));
}

#[tokio::test(start_paused = true)]
async fn clones_share_origin() {
    let clock = TokioClock::new();
    tokio::time::advance(Duration::from_secs(3)).await;
    let copy = clock;
    assert_eq!(copy.now(), clock.now());
    assert_eq!(clock.now().as_duration(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn instant_at_inverts_now() {
    let clock = TokioClock::new();
    tokio::time::advance(Duration::from_millis(40)).await;
    let reading = clock.now();
    assert_eq!(clock.instant_at(reading), tokio::time::Instant::now());
}

#[tokio::test(start_paused = true)]
async fn sleep_completes_only_when_time_reaches_deadline() {
    let clock = TokioClock::new();
    let sleep = TokioSleeper.sleep(Duration::from_secs(10));
    tokio::pin!(sleep);
    // Not done before the deadline, even after a big advance short of it.
    tokio::time::advance(Duration::from_millis(9_999)).await;
    assert!(futures_poll_once(sleep.as_mut()).await.is_none());
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(futures_poll_once(sleep.as_mut()).await.is_some());
    assert_eq!(clock.now().as_duration(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn sleep_auto_advances_when_idle() {
    let clock = TokioClock::new();
    TokioSleeper.sleep(Duration::from_secs(3600)).await;
    assert_eq!(clock.now().as_duration(), Duration::from_secs(3600));
}

#[tokio::test(start_paused = true)]
async fn zero_sleep_is_ready() {
    let clock = TokioClock::new();
    TokioSleeper.sleep(Duration::ZERO).await;
    assert_eq!(clock.now(), Nanos::ZERO);
}

#[tokio::test(start_paused = true)]
async fn clock_works_through_a_trait_object() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::new());
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(clock.now().as_duration(), Duration::from_secs(1));
}

#[tokio::test]
async fn spawn_hook_runs_every_task() {
    let spawn = spawn_hook();
    let done = Arc::new(AtomicU32::new(0));
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    for _ in 0..10 {
        let done = Arc::clone(&done);
        let tx = tx.clone();
        let spawn = spawn.clone();
        spawn(Box::pin(async move {
            done.fetch_add(1, Ordering::SeqCst);
            tx.send(()).await.unwrap();
        }));
    }
    drop(tx);
    let mut seen = 0;
    while rx.recv().await.is_some() {
        seen += 1;
    }
    assert_eq!(seen, 10);
    assert_eq!(done.load(Ordering::SeqCst), 10);
}

#[test]
fn spawn_hook_works_from_a_thread_outside_the_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let spawn = spawn_hook_on(rt.handle().clone());
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || spawn(Box::pin(async move { tx.send(7).unwrap() })))
        .join()
        .unwrap();
    assert_eq!(rx.blocking_recv().unwrap(), 7);
}

#[test]
#[should_panic]
fn spawn_hook_outside_a_runtime_panics() {
    let _ = spawn_hook();
}

/// Polls a future once; `Some` if it completed.
async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
    let mut f = f;
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        })
    })
    .await
}
