//! A caller parked on the inner service's readiness is woken when the
//! breaker opens, and fails fast instead of waiting for the inner service.

mod common;

use std::future::{Future, pending};
use std::pin::Pin;
use std::time::Duration;

use brace::breaker::{Rejected, State};
use brace_tower::{BoxError, CircuitBreakerLayer, CircuitOpen};
use common::{ContractProbe, breaker};
use tokio::task::JoinHandle;
use tower::limit::ConcurrencyLimitLayer;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

/// Generous: with paused time the watchdog fires only if the runtime goes
/// idle with the caller still parked, that is, if it was never woken.
const WATCHDOG: Duration = Duration::from_secs(2);

type Reply = Pin<Box<dyn Future<Output = Result<u32, &'static str>> + Send>>;

/// A service whose one concurrency slot the call for `0` holds forever.
fn one_slot()
-> impl Service<u32, Response = u32, Error = &'static str, Future: Send> + Clone + Send + 'static {
    ConcurrencyLimitLayer::new(1).layer(tower::service_fn(|x: u32| -> Reply {
        Box::pin(async move {
            if x == 0 {
                pending::<()>().await;
            }
            Ok(x)
        })
    }))
}

/// Takes the one slot for good, then spawns a caller that waits for
/// readiness and calls; returns once that caller is parked.
async fn park_a_caller<S>(svc: &S) -> (JoinHandle<Result<u32, String>>, JoinHandle<()>)
where
    S: Service<u32, Response = u32, Error = BoxError, Future: Send + 'static>
        + Clone
        + Send
        + 'static,
{
    let mut holder = svc.clone();
    let held = holder.ready().await.unwrap().call(0);
    let held = tokio::spawn(async move {
        let _ = held.await;
    });
    let mut waiter = svc.clone();
    let parked = tokio::spawn(async move {
        let answer = match waiter.ready().await {
            Ok(ready) => ready.call(1).await,
            Err(e) => Err(e),
        };
        answer.map_err(|e| match e.downcast_ref::<CircuitOpen>() {
            Some(open) => format!("open: {:?}", open.rejected()),
            None => e.to_string(),
        })
    });
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(!parked.is_finished(), "the caller waits for the slot");
    (parked, held)
}

#[tokio::test(start_paused = true)]
async fn a_caller_parked_on_inner_readiness_is_woken_by_force_open() {
    let b = breaker(5, Duration::from_secs(10), 1);
    let svc = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(b.clone()))
        .service(one_slot());
    let (parked, held) = park_a_caller(&svc).await;

    b.force_open();
    let answer = tokio::time::timeout(WATCHDOG, parked)
        .await
        .expect("the parked caller was not woken when the breaker opened")
        .unwrap();
    assert_eq!(answer, Err(format!("open: {:?}", Rejected::ForcedOpen)));
    held.abort();
}

#[tokio::test(start_paused = true)]
async fn a_caller_parked_on_inner_readiness_is_woken_when_other_calls_trip_the_breaker() {
    let b = breaker(1, Duration::from_secs(10), 1);
    let svc = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(b.clone()))
        .service(one_slot());
    let (parked, held) = park_a_caller(&svc).await;

    // Another route to the same dependency fails and trips the breaker.
    let mut other = CircuitBreakerLayer::new(b.clone()).layer(ContractProbe::new(|_| Err("down")));
    let _ = other.ready().await.unwrap().call(0).await;
    assert_eq!(b.state(), State::Open);

    let answer = tokio::time::timeout(WATCHDOG, parked)
        .await
        .expect("the parked caller was not woken when the breaker tripped")
        .unwrap();
    let open = answer.unwrap_err();
    assert!(open.starts_with("open: OpenUntil"), "{open}");
    held.abort();
}
