//! MetricsLayer with tower-test's mock and tokio's paused time.

use std::sync::Arc;
use std::time::Duration;

use brace::metrics::{AlertLevel, Red, SloConfig, SloTracker, WindowConfig};
use brace_tokio::TokioClock;
use brace_tower::MetricsLayer;
use brace_tower::circuit_breaker::ServerErrorsAreFailures;
use tower::{Layer, Service, ServiceExt};
use tower_test::mock;

fn red() -> Arc<Red<TokioClock>> {
    Arc::new(Red::new(WindowConfig::default(), TokioClock::new()))
}

#[tokio::test(start_paused = true)]
async fn records_latency_and_errors_of_every_call() {
    let red = red();
    let (svc, mut handle) = mock::pair::<u32, u32>();
    let mut svc = MetricsLayer::new(red.clone()).layer(svc);
    handle.allow(100);

    for (ms, fail) in [(10u64, false), (20, false), (40, true), (80, false)] {
        let call = svc.ready().await.unwrap().call(1);
        let (_, send) = handle.next_request().await.unwrap();
        tokio::time::advance(Duration::from_millis(ms)).await;
        if fail {
            send.send_error("boom");
        } else {
            send.send_response(1);
        }
        let _ = call.await;
    }
    let s = red.snapshot();
    assert_eq!(s.count(), 4);
    assert_eq!(s.errors(), 1);
    let max = s.max().unwrap();
    assert!(
        max >= Duration::from_millis(79) && max <= Duration::from_millis(81),
        "{max:?}"
    );
    let p50 = s.p50().unwrap();
    assert!(
        p50 >= Duration::from_millis(19) && p50 <= Duration::from_millis(41),
        "{p50:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_call_is_recorded_as_an_error_with_its_latency() {
    let red = red();
    let (svc, mut handle) = mock::pair::<u32, u32>();
    let mut svc = MetricsLayer::new(red.clone()).layer(svc);
    handle.allow(1);
    let call = svc.ready().await.unwrap().call(1);
    tokio::time::advance(Duration::from_millis(250)).await;
    drop(call);
    let s = red.snapshot();
    assert_eq!((s.count(), s.errors()), (1, 1));
    let max = s.max().unwrap();
    assert!(max >= Duration::from_millis(248) && max <= Duration::from_millis(252));
}

#[tokio::test(start_paused = true)]
async fn classifier_counts_5xx_responses_as_errors() {
    let red = red();
    let inner = tower::service_fn(|status: u16| async move {
        Ok::<_, std::convert::Infallible>(
            http::Response::builder().status(status).body(()).unwrap(),
        )
    });
    let mut svc = MetricsLayer::new(red.clone())
        .classify(ServerErrorsAreFailures)
        .layer(inner);
    for status in [200, 404, 500, 503] {
        svc.ready().await.unwrap().call(status).await.unwrap();
    }
    let s = red.snapshot();
    assert_eq!((s.count(), s.errors()), (4, 2));
}

#[tokio::test(start_paused = true)]
async fn clones_and_the_layer_share_one_window() {
    let red = red();
    let layer = MetricsLayer::new(red.clone());
    let echo = tower::service_fn(|x: u32| async move { Ok::<_, std::io::Error>(x) });
    let mut a = layer.layer(echo);
    let mut b = a.clone();
    a.ready().await.unwrap().call(1).await.unwrap();
    b.ready().await.unwrap().call(2).await.unwrap();
    assert_eq!(layer.recorder().snapshot().count(), 2);
    assert!(Arc::ptr_eq(a.recorder(), &red));
}

#[tokio::test(start_paused = true)]
async fn feeds_the_slo_tracker_too() {
    let clock = TokioClock::new();
    let red = Arc::new(Red::new(WindowConfig::default(), clock));
    let slo = Arc::new(SloTracker::new(
        SloConfig::builder().target(0.999).build().unwrap(),
        clock,
    ));
    let inner = tower::service_fn(|x: u32| async move {
        if x % 50 == 0 { Err("down") } else { Ok(x) } // 2% errors: burn 20x
    });
    let mut svc = MetricsLayer::new(red).slo(slo.clone()).layer(inner);
    for i in 0..6_000u32 {
        if i % 10 == 0 {
            tokio::time::advance(Duration::from_millis(600)).await; // ~1 h in total
        }
        let _ = svc.ready().await.unwrap().call(i).await;
    }
    let status = slo.evaluate();
    assert_eq!(status.total(), 6_000);
    assert_eq!(status.bad(), 120);
    assert_eq!(status.level(), AlertLevel::Critical);
}
