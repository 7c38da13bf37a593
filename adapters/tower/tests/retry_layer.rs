//! RetryLayer with tower-test's mock and tokio's paused time.

mod common;

use std::sync::Arc;
use std::time::Duration;

use brace::breaker::Rejected;
use brace::retry::{Backoff, Decision, Jitter, RetryBudget, RetryPolicy};
use brace_tokio::TokioClock;
use brace_tower::{BoxError, CircuitBreakerLayer, CircuitOpen, RetryLayer, ServiceBuilderExt};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};
use tower_test::mock;

/// No request is queued (the service may be gone: then the queue is closed).
fn no_request_waiting(handle: &mut mock::Handle<u32, u32>) -> bool {
    !matches!(handle.poll_request(), std::task::Poll::Ready(Some(_)))
}

/// A constant backoff of `delay_ms`, no jitter, at most `attempts`
/// attempts.
fn every(delay_ms: u64, attempts: u32) -> brace::retry::RetryPolicyBuilder {
    let backoff = Backoff::constant(Duration::from_millis(delay_ms))
        .jitter(Jitter::None)
        .build()
        .unwrap();
    RetryPolicy::builder(backoff).max_attempts(attempts)
}

fn constant(delay_ms: u64, attempts: u32) -> RetryPolicy {
    every(delay_ms, attempts)
        .max_retry_after(Duration::from_secs(1))
        .build()
        .unwrap()
}

/// As [`constant`], within `max_elapsed`.
fn limited(delay_ms: u64, attempts: u32, max_elapsed: Duration) -> RetryPolicy {
    every(delay_ms, attempts)
        .max_elapsed(max_elapsed)
        .build()
        .unwrap()
}

fn budget(ratio: f64, floor: u32) -> Arc<RetryBudget<TokioClock>> {
    Arc::new(
        RetryBudget::builder()
            .ratio(ratio)
            .min_retries_per_sec(floor)
            .build(TokioClock::new())
            .unwrap(),
    )
}

#[tokio::test(start_paused = true)]
async fn retries_after_the_backoff_delay_until_success() {
    let (svc, mut handle) = mock::pair::<u32, u32>();
    let mut svc = RetryLayer::new(constant(100, 3)).layer(svc);
    handle.allow(10);
    let start = Instant::now();
    let call = tokio::spawn(async move { svc.ready().await.unwrap().call(5).await });

    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!((req, start.elapsed()), (5, Duration::ZERO));
    send.send_error("reset");
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!((req, start.elapsed()), (5, Duration::from_millis(100)));
    send.send_error("reset");
    let (_, send) = handle.next_request().await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(200));
    send.send_response(50);
    assert_eq!(call.await.unwrap().unwrap(), 50);
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_runs_on_paused_tokio_time() {
    let backoff = Backoff::exponential(Duration::from_millis(100), 2.0)
        .jitter(Jitter::None)
        .build()
        .unwrap();
    let policy = RetryPolicy::builder(backoff)
        .max_attempts(4)
        .build()
        .unwrap();
    let (svc, mut handle) = mock::pair::<u32, u32>();
    let mut svc = RetryLayer::new(policy).layer(svc);
    handle.allow(10);
    let start = Instant::now();
    let call = tokio::spawn(async move { svc.ready().await.unwrap().call(1).await });
    let mut seen = Vec::new();
    for _ in 0..4 {
        let (_, send) = handle.next_request().await.unwrap();
        seen.push(start.elapsed().as_millis());
        send.send_error("down");
    }
    assert_eq!(seen, [0, 100, 300, 700]);
    assert_eq!(call.await.unwrap().unwrap_err().to_string(), "down");
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_max_attempts_with_the_last_error() {
    let (svc, mut handle) = mock::pair::<u32, u32>();
    let mut svc = RetryLayer::new(constant(10, 2)).layer(svc);
    handle.allow(10);
    let call = tokio::spawn(async move { svc.ready().await.unwrap().call(1).await });
    handle.next_request().await.unwrap().1.send_error("first");
    handle.next_request().await.unwrap().1.send_error("second");
    assert_eq!(call.await.unwrap().unwrap_err().to_string(), "second");
    assert!(no_request_waiting(&mut handle));
}

#[tokio::test(start_paused = true)]
async fn circuit_open_is_never_retried_and_spends_no_budget() {
    let b = budget(1.0, 0);
    let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let seen = calls.clone();
    let inner = tower::service_fn(move |_: u32| {
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async {
            let open = CircuitOpen::new(Rejected::ProbesInFlight {
                retry_after: Duration::from_secs(1),
            });
            Err::<u32, BoxError>(Box::new(open))
        }
    });
    // Even a classifier that says "retry everything" cannot retry it.
    let mut svc = RetryLayer::new(constant(10, 5))
        .budget(b.clone())
        .decide(|_: &Result<u32, BoxError>| Decision::Retry)
        .layer(inner);
    let available = b.available();
    let err = svc.ready().await.unwrap().call(1).await.unwrap_err();
    assert!(err.is::<CircuitOpen>());
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Refused by the breaker: no deposit, no withdrawal.
    assert_eq!(b.available(), available);
}

#[tokio::test(start_paused = true)]
async fn retry_after_from_the_classifier_is_honoured_and_capped() {
    let (svc, mut handle) = mock::pair::<u32, u32>();
    let decide = |r: &Result<u32, BoxError>| match r {
        Ok(429) => Decision::RetryAfter(Duration::from_millis(300)),
        Ok(503) => Decision::RetryAfter(Duration::from_secs(30)),
        Ok(_) => Decision::DoNotRetry,
        Err(_) => Decision::Retry,
    };
    let mut svc = RetryLayer::new(constant(10, 5)).decide(decide).layer(svc);
    handle.allow(10);
    let start = Instant::now();
    let call = tokio::spawn(async move { svc.ready().await.unwrap().call(1).await });
    handle.next_request().await.unwrap().1.send_response(429);
    handle.next_request().await.unwrap().1.send_response(503);
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(300),
        "server wait honoured"
    );
    handle.next_request().await.unwrap().1.send_response(200);
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(1_300),
        "30 s capped at 1 s"
    );
    assert_eq!(call.await.unwrap().unwrap(), 200);
}

#[tokio::test(start_paused = true)]
async fn an_empty_budget_stops_retrying_and_clones_share_it() {
    // ratio 0.5, no floor: two requests pay for one retry between them.
    let b = budget(0.5, 0);
    let (svc, mut handle) = mock::pair::<u32, u32>();
    let layer = RetryLayer::new(constant(10, 3)).budget(b.clone());
    let mut a = layer.layer(svc.clone());
    let mut c = layer.layer(svc);
    handle.allow(100);

    // Two first attempts deposit 2 x 0.5 = 1 retry.
    let first = tokio::spawn(async move { a.ready().await.unwrap().call(1).await });
    handle.next_request().await.unwrap().1.send_response(1);
    assert_eq!(first.await.unwrap().unwrap(), 1);
    let second = tokio::spawn(async move { c.ready().await.unwrap().call(2).await });
    handle.next_request().await.unwrap().1.send_error("down");
    // ...which this retry spends.
    handle
        .next_request()
        .await
        .unwrap()
        .1
        .send_error("down again");
    // No budget for a third attempt, although the policy allows it.
    assert_eq!(second.await.unwrap().unwrap_err().to_string(), "down again");
    assert!(no_request_waiting(&mut handle));
    assert_eq!(b.available(), 0);
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_stops_before_sleeping_past_it() {
    let policy = limited(400, 10, Duration::from_secs(1));
    let (svc, mut handle) = mock::pair::<u32, u32>();
    let mut svc = RetryLayer::new(policy).layer(svc);
    handle.allow(100);
    let start = Instant::now();
    let call = tokio::spawn(async move { svc.ready().await.unwrap().call(1).await });
    for _ in 0..3 {
        handle.next_request().await.unwrap().1.send_error("down");
    }
    // Attempts at 0, 400, 800 ms; the next would start at 1200 ms > 1 s.
    assert!(call.await.unwrap().is_err());
    assert_eq!(start.elapsed(), Duration::from_millis(800));
    assert!(no_request_waiting(&mut handle));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_future_stops_retrying() {
    let (svc, mut handle) = mock::pair::<u32, u32>();
    let mut svc = RetryLayer::new(constant(100, 5)).layer(svc);
    handle.allow(100);
    let call = tokio::spawn(async move { svc.ready().await.unwrap().call(1).await });
    handle.next_request().await.unwrap().1.send_error("down");
    tokio::task::yield_now().await;
    call.abort();
    let _ = call.await;
    tokio::time::advance(Duration::from_secs(10)).await;
    assert!(
        no_request_waiting(&mut handle),
        "no attempt after cancellation"
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_planned_in_time_waits_for_a_late_readiness() {
    let (svc, mut handle) = mock::pair::<u32, u32>();
    let mut svc = RetryLayer::new(limited(10, 5, Duration::from_secs(1))).layer(svc);
    handle.allow(1);
    let call = tokio::spawn(async move { svc.ready().await.unwrap().call(1).await });
    handle.next_request().await.unwrap().1.send_error("down");
    // The retry is planned (10 ms backoff), then the service stays not
    // ready past the 1 s limit: the planned retry is still made.
    tokio::time::sleep(Duration::from_secs(5)).await;
    handle.allow(1);
    let (request, reply) = handle.next_request().await.unwrap();
    assert_eq!(request, 1);
    reply.send_response(7);
    assert_eq!(call.await.unwrap().unwrap(), 7);
}

/// A service with one pool slot, taken in `poll_ready` and held by the
/// response it gives; its first answer is a 503.
struct PoolOfOne {
    pool: Arc<tokio::sync::Semaphore>,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    calls: Arc<std::sync::atomic::AtomicU32>,
}

/// A clone shares the pool, not a slot readied for the original.
impl Clone for PoolOfOne {
    fn clone(&self) -> Self {
        PoolOfOne {
            pool: Arc::clone(&self.pool),
            permit: None,
            calls: Arc::clone(&self.calls),
        }
    }
}

/// A response that holds its pool slot until dropped.
struct Pooled {
    status: u16,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl Service<u32> for PoolOfOne {
    type Response = Pooled;
    type Error = BoxError;
    type Future = std::future::Ready<Result<Pooled, BoxError>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        if self.permit.is_none() {
            match Arc::clone(&self.pool).try_acquire_owned() {
                Ok(permit) => self.permit = Some(permit),
                // Woken by the test's clock advance, not by the release.
                Err(_) => return std::task::Poll::Pending,
            }
        }
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: u32) -> Self::Future {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let slot = self.permit.take().expect("readied");
        std::future::ready(Ok(Pooled {
            status: if n == 0 { 503 } else { 200 },
            _slot: slot,
        }))
    }
}

#[tokio::test(start_paused = true)]
async fn a_retried_response_is_dropped_before_waiting_for_readiness() {
    // The 503 holds the only pool slot: kept across the wait, the service
    // could never become ready again (it hung with max_elapsed set).
    let inner = PoolOfOne {
        pool: Arc::new(tokio::sync::Semaphore::new(1)),
        permit: None,
        calls: Arc::default(),
    };
    let decide = |r: &Result<Pooled, BoxError>| match r {
        Ok(r) if r.status == 503 => Decision::Retry,
        _ => Decision::DoNotRetry,
    };
    let mut svc = RetryLayer::new(limited(10, 3, Duration::from_secs(1)))
        .decide(decide)
        .layer(inner);
    let mut call = Box::pin(async move { svc.ready().await.unwrap().call(1).await });
    let mut result = None;
    for _ in 0..1000 {
        tokio::select! {
            r = &mut call => { result = Some(r); break; }
            () = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
    }
    let result = result.expect("the retry got the pool slot back within 5 s");
    assert_eq!(result.unwrap().status, 200);
}

#[tokio::test(start_paused = true)]
async fn requests_refused_by_an_open_breaker_earn_no_retries() {
    let b = budget(0.5, 0);
    let brk = common::breaker(1, Duration::from_secs(60), 1);
    brk.force_open();
    let mut svc = ServiceBuilder::new()
        .retry_with(RetryLayer::new(constant(10, 3)).budget(b.clone()))
        .circuit_breaker(CircuitBreakerLayer::new(brk.clone()))
        .service_fn(|x: u32| async move { Ok::<u32, &'static str>(x) });
    for i in 0..100 {
        let err = svc.ready().await.unwrap().call(i).await.unwrap_err();
        assert!(err.is::<CircuitOpen>());
    }
    assert_eq!(b.available(), 0, "refused requests deposited");
    // Once the breaker lets calls through, requests earn again.
    brk.reset();
    for i in 0..10 {
        assert_eq!(svc.ready().await.unwrap().call(i).await.unwrap(), i);
    }
    assert_eq!(b.available(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_retry_dropped_before_it_is_sent_gets_its_budget_back() {
    let b = budget(1.0, 0);
    let (svc, mut handle) = mock::pair::<u32, u32>();
    let mut svc = RetryLayer::new(constant(100, 5))
        .budget(b.clone())
        .layer(svc);
    handle.allow(100);
    let call = tokio::spawn(async move { svc.ready().await.unwrap().call(1).await });
    handle.next_request().await.unwrap().1.send_error("down");
    tokio::task::yield_now().await;
    // One deposit, spent on the retry now waiting out its backoff.
    assert_eq!(b.available(), 0);
    call.abort();
    let _ = call.await;
    assert_eq!(b.available(), 1, "the retry was never sent: refunded");
}

#[tokio::test(start_paused = true)]
async fn a_retry_refused_by_the_breaker_gets_its_budget_back() {
    let b = budget(1.0, 0);
    let brk = common::breaker(1, Duration::from_secs(60), 1);
    let opener = brk.clone();
    let mut svc = ServiceBuilder::new()
        .retry_with(RetryLayer::new(constant(10, 3)).budget(b.clone()))
        .circuit_breaker(CircuitBreakerLayer::new(brk.clone()))
        .service_fn(move |_: u32| {
            // The dependency fails, and the breaker is forced open before
            // the retry: the retry is refused.
            opener.force_open();
            async { Err::<u32, &'static str>("down") }
        });
    let err = svc.ready().await.unwrap().call(1).await.unwrap_err();
    assert!(err.is::<CircuitOpen>());
    assert_eq!(b.available(), 1, "the refused retry was refunded");
}

#[tokio::test(start_paused = true)]
async fn a_decider_that_rejects_marked_responses_keeps_them_out_of_the_budget() {
    let b = budget(1.0, 0);
    let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let seen = calls.clone();
    // 0 stands for "a refusal a breaker answered with a response".
    let inner = tower::service_fn(move |_: u32| {
        let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move { Ok::<u32, BoxError>(if n == 0 { 500 } else { 0 }) }
    });
    let mut svc = RetryLayer::new(constant(10, 3))
        .budget(b.clone())
        .decide(|r: &Result<u32, BoxError>| match r {
            Ok(0) => Decision::Rejected(None),
            Ok(500) => Decision::Retry,
            _ => Decision::DoNotRetry,
        })
        .layer(inner);
    // First attempt 500 (deposit, retry paid), retry refused: refunded.
    assert_eq!(svc.ready().await.unwrap().call(1).await.unwrap(), 0);
    assert_eq!(b.available(), 1);
    // A request refused on its first attempt deposits nothing.
    assert_eq!(svc.ready().await.unwrap().call(1).await.unwrap(), 0);
    assert_eq!(b.available(), 1);
}
