//! The retry layer's time limit while the inner service applies
//! backpressure, and what the retry budget earns when a breaker refuses.

mod common;

use std::sync::Arc;
use std::time::Duration;

use brace::retry::{Backoff, Jitter, RetryBudget, RetryPolicy};
use brace_tokio::TokioClock;
use brace_tower::{CircuitBreakerLayer, CircuitOpen, RetryLayer, ServiceBuilderExt};
use common::breaker;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};
use tower_test::mock;

fn constant(delay_ms: u64, attempts: u32) -> RetryPolicy {
    let backoff = Backoff::constant(Duration::from_millis(delay_ms))
        .jitter(Jitter::None)
        .build()
        .unwrap();
    RetryPolicy::builder(backoff)
        .max_attempts(attempts)
        .build()
        .unwrap()
}

fn budget(ratio: f64) -> Arc<RetryBudget<TokioClock>> {
    Arc::new(
        RetryBudget::builder()
            .ratio(ratio)
            .min_retries_per_sec(0)
            .build(TokioClock::new())
            .unwrap(),
    )
}

#[tokio::test(start_paused = true)]
async fn no_retry_starts_past_max_elapsed_after_waiting_for_readiness() {
    let backoff = Backoff::constant(Duration::from_millis(10))
        .jitter(Jitter::None)
        .build()
        .unwrap();
    let policy = RetryPolicy::builder(backoff)
        .max_attempts(5)
        .max_elapsed(Duration::from_secs(1))
        .build()
        .unwrap();
    let (svc, mut handle) = mock::pair::<u32, u32>();
    let mut svc = RetryLayer::new(policy).layer(svc);
    handle.allow(1);
    let call = tokio::spawn(async move { svc.ready().await.unwrap().call(1).await });
    handle
        .next_request()
        .await
        .unwrap()
        .1
        .send_error("first failure");
    // The retry is planned (10 ms backoff), then the service stays not
    // ready for 5 s, far past the 1 s limit.
    tokio::time::sleep(Duration::from_secs(5)).await;
    handle.allow(1);
    let error = tokio::time::timeout(Duration::from_millis(100), call)
        .await
        .expect("the call ends once the service is ready")
        .unwrap()
        .unwrap_err();
    assert_eq!(error.to_string(), "first failure");
    // The service is dropped with the call: the handle sees no request.
    assert!(
        !matches!(
            tokio::time::timeout(Duration::from_millis(100), handle.next_request()).await,
            Ok(Some(_))
        ),
        "no second attempt went out"
    );
}

#[tokio::test(start_paused = true)]
async fn within_max_elapsed_a_late_readiness_still_retries() {
    let backoff = Backoff::constant(Duration::from_millis(10))
        .jitter(Jitter::None)
        .build()
        .unwrap();
    let policy = RetryPolicy::builder(backoff)
        .max_attempts(5)
        .max_elapsed(Duration::from_secs(1))
        .build()
        .unwrap();
    let (svc, mut handle) = mock::pair::<u32, u32>();
    let mut svc = RetryLayer::new(policy).layer(svc);
    handle.allow(1);
    let call = tokio::spawn(async move { svc.ready().await.unwrap().call(1).await });
    handle.next_request().await.unwrap().1.send_error("down");
    tokio::time::sleep(Duration::from_millis(500)).await;
    handle.allow(1);
    let (request, reply) = handle.next_request().await.unwrap();
    assert_eq!(request, 1);
    reply.send_response(7);
    assert_eq!(call.await.unwrap().unwrap(), 7);
}

#[tokio::test(start_paused = true)]
async fn requests_refused_by_an_open_breaker_earn_no_retries() {
    let b = budget(0.5);
    let brk = breaker(1, Duration::from_secs(60), 1);
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
