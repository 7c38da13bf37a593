//! Nothing reserved in `poll_ready` is held when `call` never comes, and a
//! cancelled call frees its half-open slot.

mod common;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use brace::breaker::State;
use brace_tower::CircuitBreakerLayer;
use common::{ContractProbe, breaker};
use tower::limit::ConcurrencyLimitLayer;
use tower::{Layer, Service, ServiceExt};

fn cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

#[tokio::test(start_paused = true)]
async fn readied_then_dropped_services_hold_no_half_open_slot() {
    let b = breaker(1, Duration::from_secs(5), 1);
    let svc = CircuitBreakerLayer::new(b.clone())
        .layer(ContractProbe::new(|_| Err("down")).clones_ready_after(0));
    let mut first = svc.clone();
    let _ = first.ready().await.unwrap().call(0).await;
    assert_eq!(b.state(), State::Open);
    tokio::time::advance(Duration::from_secs(5)).await;

    // 10,000 connections ready the service and go away without a request.
    let template =
        CircuitBreakerLayer::new(b.clone()).layer(ContractProbe::new(Ok).clones_ready_after(0));
    for _ in 0..10_000 {
        let mut idle = template.clone();
        let _ = idle.ready().await.unwrap();
        drop(idle);
    }
    assert_eq!(b.snapshot().probes_in_flight, 0);

    // The one probe slot is still free: a real request gets it and closes
    // the breaker.
    let mut svc = template.clone();
    assert_eq!(svc.ready().await.unwrap().call(7).await.unwrap(), 7);
    assert_eq!(b.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn readied_services_kept_idle_hold_no_slot_either() {
    let b = breaker(1, Duration::from_secs(5), 1);
    let template = CircuitBreakerLayer::new(b.clone()).layer(
        ContractProbe::new(|x| if x == 0 { Err("down") } else { Ok(x) }).clones_ready_after(0),
    );
    let _ = template.clone().ready().await.unwrap().call(0).await;
    tokio::time::advance(Duration::from_secs(5)).await;

    // Idle keep-alive connections: readied, kept, never called.
    let mut idle = Vec::new();
    for _ in 0..1_000 {
        let mut s = template.clone();
        let _ = s.ready().await.unwrap();
        idle.push(s);
    }
    assert_eq!(b.snapshot().probes_in_flight, 0);
    let mut active = template.clone();
    assert_eq!(active.ready().await.unwrap().call(3).await.unwrap(), 3);
    assert_eq!(b.state(), State::Closed);
    drop(idle);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_probe_frees_its_slot_and_counts_nothing() {
    let b = breaker(1, Duration::from_secs(5), 1);
    let (svc, mut handle) = tower_test::mock::pair::<u32, u32>();
    let mut svc = CircuitBreakerLayer::new(b.clone()).layer(svc);
    handle.allow(10_000);
    let call = svc.ready().await.unwrap().call(0);
    handle.next_request().await.unwrap().1.send_error("down");
    assert!(call.await.is_err());
    tokio::time::advance(Duration::from_secs(5)).await;

    for _ in 0..1_000 {
        // The probe is admitted, then the caller gives up before an answer.
        let probe = svc.ready().await.unwrap().call(1);
        assert_eq!(b.snapshot().probes_in_flight, 1);
        drop(probe);
        let _ = handle.next_request().await.unwrap();
        assert_eq!(b.snapshot().probes_in_flight, 0);
        assert_eq!(
            b.state(),
            State::HalfOpen,
            "cancellation is neither success nor failure"
        );
    }
    let probe = svc.ready().await.unwrap().call(2);
    handle.next_request().await.unwrap().1.send_response(2);
    assert_eq!(probe.await.unwrap(), 2);
    assert_eq!(b.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_does_not_take_inner_concurrency_in_poll_ready() {
    // breaker → concurrency limit (1) → service. While the breaker is open,
    // readying the stack must not take the limit's only permit.
    let b = breaker(1, Duration::from_secs(60), 1);
    let inner = ConcurrencyLimitLayer::new(1).layer(tower::service_fn(|x: u32| async move {
        if x == 0 {
            Err::<u32, &str>("down")
        } else {
            Ok(x)
        }
    }));
    let template = CircuitBreakerLayer::new(b.clone()).layer(inner);
    let _ = template.clone().ready().await.unwrap().call(0).await;
    assert_eq!(b.state(), State::Open);

    let mut idle = Vec::new();
    for _ in 0..100 {
        let mut s = template.clone();
        assert!(matches!(s.poll_ready(&mut cx()), Poll::Ready(Ok(()))));
        idle.push(s);
    }
    b.reset();
    // Had any idle service reserved the permit, this would never be ready.
    let mut active = template.clone();
    let mut ready = pin!(active.ready());
    assert!(matches!(ready.as_mut().poll(&mut cx()), Poll::Ready(Ok(_))));
    drop(idle);
}
