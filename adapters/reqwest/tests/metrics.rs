//! MetricsMiddleware against a real HTTP server on 127.0.0.1, on tokio's
//! paused clock.

mod support;

use std::time::Duration;

use brace::metrics::{Outcome, WindowConfig};
use brace::retry::{Backoff, RetryPolicy};
use brace_reqwest::{MetricsMiddleware, RetryMiddleware};
use reqwest_middleware::ClientBuilder;
use support::{Reply, Server, reqwest_client};

#[tokio::test(start_paused = true)]
async fn records_rate_errors_and_latency_per_host() {
    let server = Server::start([
        Reply::Status(500),
        Reply::Status(503),
        Reply::Slow(Duration::from_millis(800)),
    ])
    .await;
    let other = Server::start([]).await;
    let metrics = MetricsMiddleware::new(WindowConfig::default());
    let figures = metrics.metrics().clone();
    let client = ClientBuilder::new(reqwest_client()).with(metrics).build();
    for _ in 0..10 {
        client.get(server.url("/")).send().await.unwrap();
    }
    client.get(other.url("/")).send().await.unwrap();

    let s = figures.snapshot(&server.host()).unwrap();
    assert_eq!((s.count(), s.errors()), (10, 2));
    let max = s.max().unwrap();
    assert!(
        max >= Duration::from_millis(800) && max < Duration::from_millis(820),
        "{max:?}"
    );
    assert!(s.p50().unwrap() < Duration::from_millis(10));
    assert_eq!(figures.snapshot(&other.host()).unwrap().count(), 1);
    let mut hosts = vec![server.host(), other.host()];
    hosts.sort();
    assert_eq!(figures.hosts(), hosts);
}

#[tokio::test(start_paused = true)]
async fn inside_the_retry_middleware_it_counts_attempts() {
    let server = Server::start([Reply::Status(503), Reply::Status(503)]).await;
    let outer = MetricsMiddleware::new(WindowConfig::default());
    let inner = MetricsMiddleware::new(WindowConfig::default());
    let (requests, attempts) = (outer.metrics().clone(), inner.metrics().clone());
    let policy = RetryPolicy::builder(Backoff::none())
        .max_attempts(3)
        .build()
        .unwrap();
    let client = ClientBuilder::new(reqwest_client())
        .with(outer)
        .with(RetryMiddleware::builder(policy).build().unwrap())
        .with(inner)
        .build();
    assert_eq!(
        client.get(server.url("/")).send().await.unwrap().status(),
        200
    );
    let host = server.host();
    assert_eq!(requests.snapshot(&host).unwrap().count(), 1);
    let a = attempts.snapshot(&host).unwrap();
    assert_eq!((a.count(), a.errors()), (3, 2));
}

#[tokio::test(start_paused = true)]
async fn a_custom_classifier_counts_client_errors() {
    let server = Server::start([Reply::Status(404)]).await;
    let metrics = MetricsMiddleware::new(WindowConfig::default()).classify(|r| match r {
        Ok(response) if response.status().is_success() => Outcome::Success,
        _ => Outcome::Error,
    });
    let figures = metrics.metrics().clone();
    let client = ClientBuilder::new(reqwest_client()).with(metrics).build();
    client.get(server.url("/")).send().await.unwrap();
    assert_eq!(figures.snapshot(&server.host()).unwrap().errors(), 1);
}
