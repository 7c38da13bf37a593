//! BreakerMiddleware against real HTTP servers on 127.0.0.1, on tokio's
//! paused clock.

mod support;

use std::time::Duration;

use brace::breaker::{Config, State};
use brace_reqwest::{BreakerMiddleware, CircuitOpen};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use support::{Reply, Server, reqwest_client, resetting_server};

const OPEN_FOR: Duration = Duration::from_secs(5);

fn breakers() -> BreakerMiddleware {
    BreakerMiddleware::new(
        Config::builder()
            .consecutive_failures(3)
            .open_duration(OPEN_FOR)
            .permitted_calls_in_half_open(1)
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn client(breakers: BreakerMiddleware) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest_client()).with(breakers).build()
}

#[tokio::test(start_paused = true)]
async fn an_error_burst_trips_the_host_breaker_and_it_recovers() {
    let server = Server::start([Reply::Status(500), Reply::Status(503), Reply::Status(502)]).await;
    let breakers = breakers();
    let registry = breakers.registry().clone();
    let client = client(breakers);
    let host = server.host();

    for _ in 0..3 {
        let response = client.get(server.url("/")).send().await.unwrap();
        assert!(response.status().is_server_error());
    }
    assert_eq!(registry.state(host.as_str()), Some(State::Open));

    // Fails fast with the wait until a probe, without reaching the server.
    let err = client.get(server.url("/")).send().await.unwrap_err();
    let open = CircuitOpen::find(&err).expect("a CircuitOpen");
    assert_eq!(open.host, host);
    assert_eq!(open.retry_after, Some(OPEN_FOR));
    assert_eq!(server.hits(), 3);

    tokio::time::advance(Duration::from_secs(2)).await;
    let err = client.get(server.url("/")).send().await.unwrap_err();
    assert_eq!(
        CircuitOpen::find(&err).unwrap().retry_after,
        Some(Duration::from_secs(3))
    );

    // After the open duration one probe goes through; its success closes it.
    tokio::time::advance(Duration::from_secs(3)).await;
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(registry.state(host.as_str()), Some(State::Closed));
    assert_eq!(server.hits(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_opens_it_again() {
    let server = Server::start([]).await;
    server.otherwise(Reply::Status(503));
    let breakers = breakers();
    let registry = breakers.registry().clone();
    let client = client(breakers);
    for _ in 0..3 {
        client.get(server.url("/")).send().await.unwrap();
    }
    tokio::time::advance(OPEN_FOR).await;
    let probe = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(probe.status(), 503);
    assert_eq!(registry.state(server.host().as_str()), Some(State::Open));
    assert!(client.get(server.url("/")).send().await.is_err());
    assert_eq!(server.hits(), 4);
}

#[tokio::test(start_paused = true)]
async fn hosts_have_separate_breakers() {
    let down = Server::start([]).await;
    down.otherwise(Reply::Status(500));
    let up = Server::start([]).await;
    let client = client(breakers());
    for _ in 0..3 {
        client.get(down.url("/")).send().await.unwrap();
    }
    assert!(client.get(down.url("/")).send().await.is_err());
    assert_eq!(client.get(up.url("/")).send().await.unwrap().status(), 200);
}

#[tokio::test(start_paused = true)]
async fn client_errors_do_not_trip_it() {
    let server = Server::start([]).await;
    server.otherwise(Reply::Status(404));
    let breakers = breakers();
    let registry = breakers.registry().clone();
    let client = client(breakers);
    for _ in 0..10 {
        assert_eq!(
            client.get(server.url("/")).send().await.unwrap().status(),
            404
        );
    }
    assert_eq!(registry.state(server.host().as_str()), Some(State::Closed));
}

#[tokio::test(start_paused = true)]
async fn connection_resets_count_as_failures() {
    let (addr, _) = resetting_server().await;
    let breakers = breakers();
    let registry = breakers.registry().clone();
    let client = client(breakers);
    for _ in 0..3 {
        let err = client
            .get(format!("http://{addr}/"))
            .send()
            .await
            .unwrap_err();
        assert!(CircuitOpen::find(&err).is_none());
    }
    assert_eq!(registry.state(addr.to_string().as_str()), Some(State::Open));
}

#[tokio::test(start_paused = true)]
async fn slow_calls_trip_a_slow_call_rate_policy() {
    let server = Server::start([]).await;
    server.otherwise(Reply::Slow(Duration::from_secs(2)));
    let breakers = BreakerMiddleware::new(
        Config::builder()
            .slow_call_rate(0.5, Duration::from_secs(1))
            .count_window(4)
            .minimum_calls(4)
            .build()
            .unwrap(),
    )
    .unwrap();
    let registry = breakers.registry().clone();
    let client = client(breakers);
    for _ in 0..4 {
        assert_eq!(
            client.get(server.url("/")).send().await.unwrap().status(),
            200
        );
    }
    assert_eq!(registry.state(server.host().as_str()), Some(State::Open));
}
