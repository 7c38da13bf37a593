//! MetricsMiddleware against a real HTTP server on 127.0.0.1, on tokio's
//! paused clock.

mod support;

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use brace::metrics::{Outcome, WindowConfig};
use brace::retry::{Backoff, RetryPolicy};
use brace_reqwest::{HostMetrics, MetricsMiddleware, RetryMiddleware};
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

#[tokio::test(start_paused = true)]
async fn a_full_set_of_hosts_drops_the_least_recently_used() {
    let config = WindowConfig::default();
    let figures = Arc::new(HostMetrics::with_capacity(
        config,
        NonZeroUsize::new(2).unwrap(),
    ));
    let (a, b, c) = (
        Server::start([]).await,
        Server::start([]).await,
        Server::start([]).await,
    );
    let client = ClientBuilder::new(reqwest_client())
        .with(MetricsMiddleware::with_metrics(Arc::clone(&figures)))
        .build();
    for server in [&a, &b, &a] {
        client.get(server.url("/")).send().await.unwrap();
    }
    client.get(c.url("/")).send().await.unwrap();

    let mut kept = vec![a.host(), c.host()];
    kept.sort();
    assert_eq!(figures.hosts(), kept, "b was used least recently");
    assert_eq!(figures.snapshot(&a.host()).unwrap().count(), 2);
    assert!(figures.snapshot(&b.host()).is_none());
    // b comes back with an empty window, and now a is the oldest.
    client.get(b.url("/")).send().await.unwrap();
    assert_eq!(figures.snapshot(&b.host()).unwrap().count(), 1);
    assert!(figures.snapshot(&a.host()).is_none());
    assert_eq!(figures.len(), 2);
}

#[test]
fn many_hosts_stay_within_the_capacity() {
    let figures = HostMetrics::new(WindowConfig::default());
    assert_eq!(figures.capacity(), 1024);
    for i in 0..5_000 {
        figures
            .recorder(&format!("tenant-{i}.example:443"))
            .record(Duration::from_millis(1), Outcome::Success);
    }
    assert_eq!(figures.len(), 1024);
    // The newest hosts are the ones kept.
    assert!(figures.snapshot("tenant-4999.example:443").is_some());
    assert!(figures.snapshot("tenant-0.example:443").is_none());
    assert!(figures.remove("tenant-4999.example:443"));
    assert!(!figures.remove("tenant-4999.example:443"));
    assert_eq!(figures.len(), 1023);
}
