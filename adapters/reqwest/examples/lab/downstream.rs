//! The flaky downstream service: an axum app on 127.0.0.1 whose behaviour
//! follows the phases, with seeded randomness.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header::RETRY_AFTER};
use axum::response::{IntoResponse, Response};
use brace::retry::{RandomSource, SplitMix64};
use tokio::time::Instant;

/// The phases, in order, each a quarter of the run.
pub const PHASES: [&str; 4] = ["healthy", "outage", "slow", "recovery"];

struct Shared {
    seed: u64,
    start: Instant,
    phase_len: Duration,
    requests: AtomicU64,
    calls: [AtomicU64; PHASES.len()],
}

/// A running downstream.
pub struct Downstream {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Downstream {
    pub async fn start(seed: u64, phase_len: Duration) -> std::io::Result<Downstream> {
        let shared = Arc::new(Shared {
            seed,
            start: Instant::now(),
            phase_len,
            requests: AtomicU64::new(0),
            calls: Default::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .fallback(serve)
            .with_state(Arc::clone(&shared));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Downstream { addr, shared })
    }

    /// Requests that reached the service during phase `p`.
    pub fn calls(&self, p: usize) -> u64 {
        self.shared
            .calls
            .get(p)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

async fn serve(State(shared): State<Arc<Shared>>) -> Response {
    let phase = (shared.start.elapsed().as_secs_f64() / shared.phase_len.as_secs_f64()) as usize;
    let phase = phase.min(PHASES.len() - 1);
    shared.calls[phase].fetch_add(1, Ordering::Relaxed);
    let n = shared.requests.fetch_add(1, Ordering::Relaxed);
    let mut rng = SplitMix64::new(shared.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let roll = (rng.next_u64() % 10_000) as f64 / 10_000.0; // [0, 1)
    let jitter = (rng.next_u64() % 1_000) as f64 / 1_000.0;
    let (latency_ms, fail, retry_after) = match PHASES[phase] {
        // 2-6 ms, 1% errors.
        "healthy" | "recovery" => (2.0 + 4.0 * jitter, roll < 0.01, false),
        // Fast 503s, a quarter of them with Retry-After: 1; 5% still pass.
        "outage" => (1.0, roll < 0.95, roll < 0.25),
        // 60-400 ms: about 40% exceed the 250 ms attempt timeout; 5% errors.
        _ => (60.0 + 340.0 * jitter, roll < 0.05, false),
    };
    tokio::time::sleep(Duration::from_secs_f64(latency_ms / 1e3)).await;
    if !fail {
        return (StatusCode::OK, "item").into_response();
    }
    let mut response = StatusCode::SERVICE_UNAVAILABLE.into_response();
    if retry_after {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}
