//! The Service-contract probe: the inner service's clones are never ready
//! (or only after a few polls), so a layer that calls anything but the
//! service it readied panics, and a layer that waits on a clone hangs.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use brace::breaker::Config;
use brace::breaker::registry::BreakerRegistry;
use brace::metrics::{Red, WindowConfig};
use brace::retry::{Backoff, Jitter, RetryPolicy};
use brace_tokio::TokioClock;
use brace_tower::{CircuitBreakerLayer, MetricsLayer, RetryLayer, ServiceBuilderExt};
use common::{ContractProbe, breaker};
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

fn policy(attempts: u32) -> RetryPolicy {
    let backoff = Backoff::constant(Duration::from_millis(10))
        .jitter(Jitter::None)
        .build()
        .unwrap();
    RetryPolicy::builder(backoff)
        .max_attempts(attempts)
        .build()
        .unwrap()
}

async fn drive<S>(mut svc: S, requests: u32) -> Vec<Result<u32, String>>
where
    S: Service<u32, Response = u32>,
    S::Error: std::fmt::Display,
{
    let mut out = Vec::new();
    for r in 0..requests {
        let ready = svc.ready().await.map_err(|e| e.to_string()).unwrap();
        out.push(ready.call(r).await.map_err(|e| e.to_string()));
    }
    out
}

#[tokio::test(start_paused = true)]
async fn breaker_calls_only_the_readied_service() {
    let probe = ContractProbe::new(Ok);
    let calls = probe.calls.clone();
    let svc = CircuitBreakerLayer::new(breaker(3, Duration::from_secs(1), 1)).layer(probe);
    let out = drive(svc, 100).await;
    assert!(out.iter().all(Result::is_ok));
    assert_eq!(calls.load(Ordering::SeqCst), 100);
}

#[tokio::test(start_paused = true)]
async fn keyed_breaker_calls_only_the_readied_service() {
    let reg = Arc::new(
        BreakerRegistry::builder(Config::default())
            .build::<u32, _>(TokioClock::new())
            .unwrap(),
    );
    let probe = ContractProbe::new(Ok);
    let calls = probe.calls.clone();
    let svc = CircuitBreakerLayer::keyed(reg, |r: &u32| r % 7).layer(probe);
    assert!(drive(svc, 100).await.iter().all(Result::is_ok));
    assert_eq!(calls.load(Ordering::SeqCst), 100);
}

#[tokio::test(start_paused = true)]
async fn metrics_calls_only_the_readied_service() {
    let probe = ContractProbe::new(Ok);
    let calls = probe.calls.clone();
    let red = Arc::new(Red::new(WindowConfig::default(), TokioClock::new()));
    let svc = MetricsLayer::new(red.clone()).layer(probe);
    assert!(drive(svc, 100).await.iter().all(Result::is_ok));
    assert_eq!(calls.load(Ordering::SeqCst), 100);
    assert_eq!(red.snapshot().count(), 100);
}

#[tokio::test(start_paused = true)]
async fn retry_first_attempt_uses_the_readied_service() {
    // The service readied is the one called first (the probe panics on a
    // call it did not ready); the unreadied clone left behind must be
    // readied (two pending polls here) before the next request.
    let probe = ContractProbe::new(Ok).clones_ready_after(2);
    let calls = probe.calls.clone();
    let svc = RetryLayer::new(policy(3)).layer(probe);
    assert!(drive(svc, 100).await.iter().all(Result::is_ok));
    assert_eq!(calls.load(Ordering::SeqCst), 100);
}

#[tokio::test(start_paused = true)]
async fn retry_readies_its_clone_before_each_retry() {
    // Clones become ready after 3 pending polls; the probe panics if a retry
    // calls a clone that `poll_ready` has not readied.
    let probe = ContractProbe::new(|_| Err("flaky")).clones_ready_after(3);
    let calls = probe.calls.clone();
    let readies = probe.readies.clone();
    let svc = RetryLayer::new(policy(3)).layer(probe);
    let out = drive(svc, 10).await;
    assert!(out.iter().all(|r| r == &Err("flaky".to_string())));
    assert_eq!(calls.load(Ordering::SeqCst), 30);
    assert_eq!(readies.load(Ordering::SeqCst), 30, "every call was readied");
}

#[tokio::test(start_paused = true)]
async fn the_whole_stack_calls_only_readied_services() {
    let probe =
        ContractProbe::new(|x| if x % 3 == 0 { Err("bad") } else { Ok(x) }).clones_ready_after(2);
    let calls = probe.calls.clone();
    let red = Arc::new(Red::new(WindowConfig::default(), TokioClock::new()));
    let svc = ServiceBuilder::new()
        .brace_stack(
            MetricsLayer::new(red.clone()),
            RetryLayer::new(policy(2)),
            CircuitBreakerLayer::new(breaker(1_000, Duration::from_secs(1), 1)),
        )
        .service(probe);
    let out = drive(svc, 30).await;
    assert_eq!(out.iter().filter(|r| r.is_err()).count(), 10);
    // 20 successes + 10 requests that failed twice.
    assert_eq!(calls.load(Ordering::SeqCst), 40);
    assert_eq!(red.snapshot().count(), 30);
    assert_eq!(red.snapshot().errors(), 10);
}
