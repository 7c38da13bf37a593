//! An axum server on 127.0.0.1 (ephemeral port) behind brace's metrics and
//! HTTP-flavoured breaker layers, exercised over real TCP.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use brace::breaker::{CircuitBreaker, Config, State};
use brace::metrics::{Red, WindowConfig};
use brace_tokio::TokioClock;
use brace_tower::circuit_breaker::ServerErrorsAreFailures;
use brace_tower::{CircuitBreakerLayer, MetricsLayer, ServiceBuilderExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceBuilder;

struct Reply {
    status: u16,
    retry_after: Option<String>,
    body: String,
}

/// One HTTP/1.1 GET over a fresh connection, bounded by a 5 s timeout.
async fn get_once(addr: std::net::SocketAddr, path: &str) -> Reply {
    tokio::time::timeout(Duration::from_secs(5), async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await.unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let retry_after = head.lines().find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("retry-after: ")
                .map(str::to_owned)
        });
        Reply {
            status,
            retry_after,
            body: body.to_owned(),
        }
    })
    .await
    .expect("server answered within 5 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_server_fails_fast_with_503_and_records_red_metrics() {
    let dependency_up = Arc::new(AtomicBool::new(true));
    let handler_calls = Arc::new(AtomicU32::new(0));
    let clock = TokioClock::new();
    let breaker = Arc::new(CircuitBreaker::new(
        Config::builder()
            .consecutive_failures(2)
            .open_duration(Duration::from_secs(30))
            .build()
            .unwrap(),
        clock,
    ));
    let red = Arc::new(Red::new(WindowConfig::default(), clock));

    let (up, calls) = (dependency_up.clone(), handler_calls.clone());
    let app = Router::new()
        .route(
            "/data",
            get(move || {
                let (up, calls) = (up.clone(), calls.clone());
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    if up.load(Ordering::SeqCst) {
                        (StatusCode::OK, "fresh data")
                    } else {
                        (StatusCode::INTERNAL_SERVER_ERROR, "database down")
                    }
                }
            }),
        )
        .layer(
            ServiceBuilder::new()
                .red_metrics(MetricsLayer::new(red.clone()).classify(ServerErrorsAreFailures))
                .circuit_breaker(CircuitBreakerLayer::new(breaker.clone()).http()),
        );

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let r = get_once(addr, "/data").await;
    assert_eq!((r.status, r.body.as_str()), (200, "fresh data"));

    dependency_up.store(false, Ordering::SeqCst);
    assert_eq!(get_once(addr, "/data").await.status, 500);
    assert_eq!(get_once(addr, "/data").await.status, 500);
    assert_eq!(breaker.state(), State::Open);

    // Open: answered at once with 503 + Retry-After; the handler is spared.
    let before = handler_calls.load(Ordering::SeqCst);
    for _ in 0..5 {
        let r = get_once(addr, "/data").await;
        assert_eq!(r.status, 503);
        let secs: u64 = r.retry_after.expect("Retry-After header").parse().unwrap();
        assert!((1..=30).contains(&secs), "{secs}");
    }
    assert_eq!(handler_calls.load(Ordering::SeqCst), before);

    // The operator resets the breaker through the handle kept outside.
    dependency_up.store(true, Ordering::SeqCst);
    breaker.reset();
    assert_eq!(get_once(addr, "/data").await.status, 200);

    let s = red.snapshot();
    assert_eq!(s.count(), 9, "every request recorded");
    assert_eq!(
        s.errors(),
        7,
        "two 500s and five 503s are errors for the caller"
    );
    server.abort();
}
