//! CircuitBreakerLayer with tower-test's mock and tokio's paused time.

mod common;

use std::convert::Infallible;
use std::task::Poll;
use std::time::Duration;

use brace::breaker::registry::BreakerRegistry;
use brace::breaker::{Config, Outcome, State};
use brace_tokio::TokioClock;
use brace_tower::circuit_breaker::ServiceUnavailable;
use brace_tower::{BoxError, CircuitBreakerLayer, CircuitOpen};
use common::{ContractProbe, breaker};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tower::{Layer, Service, ServiceExt};
use tower_test::mock;

fn is_ready<E: std::fmt::Debug>(p: Poll<Result<(), E>>) -> bool {
    matches!(p, Poll::Ready(Ok(())))
}

fn open_error(err: &BoxError) -> CircuitOpen {
    *err.downcast_ref::<CircuitOpen>()
        .unwrap_or_else(|| panic!("expected CircuitOpen, got {err}"))
}

#[tokio::test(start_paused = true)]
async fn closed_breaker_passes_calls_and_counts_outcomes() {
    let b = breaker(3, Duration::from_secs(10), 1);
    let (mut svc, mut handle) =
        mock::spawn_layer::<u32, u32, _>(CircuitBreakerLayer::new(b.clone()));
    handle.allow(2);

    assert!(is_ready(svc.poll_ready()));
    let ok = svc.call(1);
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req, 1);
    send.send_response(10);
    assert_eq!(ok.await.unwrap(), 10);

    assert!(is_ready(svc.poll_ready()));
    let failed = svc.call(2);
    let (_, send) = handle.next_request().await.unwrap();
    send.send_error("boom");
    assert_eq!(failed.await.unwrap_err().to_string(), "boom");
    assert_eq!(b.snapshot().consecutive_failures, 1);
    assert_eq!(b.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn open_breaker_fails_fast_without_calling_the_service() {
    let b = breaker(1, Duration::from_secs(10), 1);
    let (mut svc, mut handle) =
        mock::spawn_layer::<u32, u32, _>(CircuitBreakerLayer::new(b.clone()));
    handle.allow(1);
    assert!(is_ready(svc.poll_ready()));
    let call = svc.call(1);
    handle.next_request().await.unwrap().1.send_error("down");
    assert!(call.await.is_err());
    assert_eq!(b.state(), State::Open);

    // The inner service has no capacity left (allow(1) was spent), yet the
    // open breaker says ready and fails fast: never an Err from poll_ready,
    // never a wait on the dead dependency.
    tokio::time::advance(Duration::from_secs(4)).await;
    for _ in 0..5 {
        assert!(is_ready(svc.poll_ready()));
        let err = svc.call(2).await.unwrap_err();
        let open = open_error(&err);
        assert_eq!(open.retry_after(), Some(Duration::from_secs(6)));
        assert_eq!(
            err.to_string(),
            "circuit breaker is open; a probe is admitted in 6s"
        );
    }
    assert!(
        handle.poll_request().is_pending(),
        "no request reached the service"
    );
}

#[tokio::test(start_paused = true)]
async fn open_duration_follows_tokio_time_then_a_probe_closes_it() {
    let b = breaker(1, Duration::from_secs(10), 1);
    let (mut svc, mut handle) =
        mock::spawn_layer::<u32, u32, _>(CircuitBreakerLayer::new(b.clone()));
    handle.allow(10);
    assert!(is_ready(svc.poll_ready()));
    let call = svc.call(1);
    handle.next_request().await.unwrap().1.send_error("down");
    let _ = call.await;

    tokio::time::advance(Duration::from_millis(9_999)).await;
    assert!(is_ready(svc.poll_ready()));
    assert!(
        open_error(&svc.call(2).await.unwrap_err()).retry_after() <= Some(Duration::from_millis(1))
    );

    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(is_ready(svc.poll_ready()));
    let probe = svc.call(3);
    assert_eq!(b.state(), State::HalfOpen);
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req, 3);
    send.send_response(3);
    assert_eq!(probe.await.unwrap(), 3);
    assert_eq!(b.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn forced_open_is_visible_through_the_kept_handle_and_says_no_time() {
    let b = breaker(5, Duration::from_secs(10), 1);
    let mut svc = CircuitBreakerLayer::new(b.clone()).layer(common::Echo);
    b.force_open();
    let err = svc.ready().await.unwrap().call(1).await.unwrap_err();
    assert_eq!(open_error(&err).retry_after(), None);
    b.reset();
    assert_eq!(svc.ready().await.unwrap().call(1).await.unwrap(), 1);
}

#[tokio::test(start_paused = true)]
async fn classifier_decides_success_failure_ignored() {
    let b = breaker(2, Duration::from_secs(10), 1);
    let layer = CircuitBreakerLayer::new(b.clone()).classify(|r: &Result<u32, BoxError>| match r {
        Ok(0) => Outcome::Failure, // a sentinel "empty" answer counts as failure
        Ok(_) => Outcome::Success,
        Err(e) if e.to_string() == "not found" => Outcome::Ignored,
        Err(_) => Outcome::Failure,
    });
    let (mut svc, mut handle) = mock::spawn_layer::<u32, u32, _>(layer);
    handle.allow(10);

    for _ in 0..5 {
        assert!(is_ready(svc.poll_ready()));
        let call = svc.call(1);
        handle
            .next_request()
            .await
            .unwrap()
            .1
            .send_error("not found");
        assert!(call.await.is_err());
    }
    assert_eq!(b.state(), State::Closed, "ignored errors never trip");
    assert_eq!(b.snapshot().consecutive_failures, 0);

    for _ in 0..2 {
        assert!(is_ready(svc.poll_ready()));
        let call = svc.call(1);
        handle.next_request().await.unwrap().1.send_response(0);
        assert_eq!(call.await.unwrap(), 0);
    }
    assert_eq!(b.state(), State::Open, "two 'empty' answers trip it");
}

#[tokio::test(start_paused = true)]
async fn keyed_breakers_trip_per_key() {
    let config = Config::builder().consecutive_failures(1).build().unwrap();
    let registry = Arc::new(
        BreakerRegistry::builder(config)
            .capacity(100)
            .build::<u32, _>(TokioClock::new())
            .unwrap(),
    );
    // Requests are u32; the key is the tens digit ("host").
    let layer = CircuitBreakerLayer::keyed(registry.clone(), |req: &u32| req / 10);
    let (mut svc, mut handle) = mock::spawn_layer::<u32, u32, _>(layer);
    handle.allow(10);

    assert!(is_ready(svc.poll_ready()));
    let call = svc.call(11);
    handle
        .next_request()
        .await
        .unwrap()
        .1
        .send_error("host 1 down");
    assert!(call.await.is_err());
    assert_eq!(registry.state(&1), Some(State::Open));

    assert!(is_ready(svc.poll_ready()));
    let err = svc.call(12).await.unwrap_err();
    open_error(&err);

    assert!(is_ready(svc.poll_ready()));
    let call = svc.call(21);
    handle.next_request().await.unwrap().1.send_response(21);
    assert_eq!(call.await.unwrap(), 21);

    registry.reset(&1);
    assert!(is_ready(svc.poll_ready()));
    let call = svc.call(13);
    handle.next_request().await.unwrap().1.send_response(13);
    assert_eq!(call.await.unwrap(), 13);
}

#[tokio::test(start_paused = true)]
async fn clone_starts_unreadied_even_in_fail_fast_state() {
    let b = breaker(1, Duration::from_secs(10), 1);
    let probe = ContractProbe::new(|_| Err("down")).clones_ready_after(2);
    let calls = probe.calls.clone();
    let mut svc = CircuitBreakerLayer::new(b.clone()).layer(probe);
    let _ = svc.ready().await.unwrap().call(1).await;
    assert_eq!(b.state(), State::Open);

    // Readied for a fail-fast answer...
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    assert!(is_ready(svc.poll_ready(&mut cx)));
    // ...the breaker closes, and a clone is made: it must ready the inner
    // service itself before calling it.
    b.reset();
    let mut clone = svc.clone();
    assert_eq!(
        clone
            .ready()
            .await
            .unwrap()
            .call(2)
            .await
            .unwrap_err()
            .to_string(),
        "down"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // The original still answers its granted fail-fast call without touching
    // its unreadied inner service.
    open_error(&svc.call(3).await.unwrap_err());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn inner_readiness_error_is_passed_on_boxed() {
    let b = breaker(1, Duration::from_secs(10), 1);
    let (mut svc, mut handle) = mock::spawn_layer::<u32, u32, _>(CircuitBreakerLayer::new(b));
    handle.send_error("pool closed");
    match svc.poll_ready() {
        Poll::Ready(Err(e)) => assert_eq!(e.to_string(), "pool closed"),
        other => panic!("expected the inner error, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn http_flavour_answers_503_with_retry_after() {
    let b = breaker(1, Duration::from_millis(2_500), 1);
    let inner = tower::service_fn(|status: u16| async move {
        Ok::<_, Infallible>(
            http::Response::builder()
                .status(status)
                .body(String::from("from service"))
                .unwrap(),
        )
    });
    let mut svc = CircuitBreakerLayer::new(b.clone()).http().layer(inner);

    let r = svc.ready().await.unwrap().call(404).await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        b.state(),
        State::Closed,
        "4xx is not the dependency's fault"
    );
    let r = svc.ready().await.unwrap().call(502).await.unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(b.state(), State::Open, "5xx counts as a failure");

    let r: http::Response<String> = svc.ready().await.unwrap().call(200).await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "3");
    assert_eq!(r.body(), "");
    assert!(r.extensions().get::<CircuitOpen>().is_some());

    b.force_open();
    let r = svc.ready().await.unwrap().call(200).await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(
        r.headers().get("retry-after").is_none(),
        "no promise while forced open"
    );
}

#[tokio::test(start_paused = true)]
async fn on_open_can_be_chosen_separately() {
    let b = breaker(1, Duration::from_secs(1), 1);
    b.force_open();
    let inner = tower::service_fn(|_: ()| async { Ok::<_, Infallible>(http::Response::new(())) });
    let mut svc = CircuitBreakerLayer::new(b)
        .on_open(ServiceUnavailable)
        .layer(inner);
    let r = svc.ready().await.unwrap().call(()).await.unwrap();
    assert_eq!(r.status(), 503);
}

#[tokio::test(start_paused = true)]
async fn readiness_asked_again_after_the_breaker_closed_does_not_refuse() {
    let b = breaker(1, Duration::from_secs(10), 1);
    let probe = ContractProbe::new(|x| if x == 0 { Err("down") } else { Ok(x) });
    let calls = probe.calls.clone();
    let mut svc = CircuitBreakerLayer::new(b.clone()).layer(probe);
    let _ = svc.ready().await.unwrap().call(0).await;
    assert_eq!(b.state(), State::Open);

    // Readied while open ("ready: the call will fail fast"), then left.
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(is_ready(svc.poll_ready(&mut cx)));
    b.reset();

    // Readiness asked again before the next request sees the reset.
    assert_eq!(svc.ready().await.unwrap().call(7).await.unwrap(), 7);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_service_readied_while_open_probes_once_the_open_time_is_over() {
    let b = breaker(1, Duration::from_secs(10), 1);
    let probe = ContractProbe::new(|x| if x == 0 { Err("down") } else { Ok(x) });
    let mut svc = CircuitBreakerLayer::new(b.clone()).layer(probe);
    let _ = svc.ready().await.unwrap().call(0).await;
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(is_ready(svc.poll_ready(&mut cx)));

    tokio::time::advance(Duration::from_secs(60)).await;
    // The next request is the half-open probe, and it closes the breaker.
    assert_eq!(svc.ready().await.unwrap().call(7).await.unwrap(), 7);
    assert_eq!(b.state(), State::Closed);
}
