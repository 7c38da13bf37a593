//! The flaky downstream service: axum on an ephemeral 127.0.0.1 port whose
//! behaviour follows the current [`Phase`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::net::TcpListener;

use super::schedule::Phase;

/// The phase the downstream plays and how many calls reached it.
#[derive(Debug, Default)]
pub(crate) struct Downstream {
    phase: AtomicUsize,
    hits: AtomicU64,
}

impl Downstream {
    /// Switches the service to `phase`.
    pub(crate) fn set_phase(&self, phase: Phase) {
        self.phase.store(phase.index(), Ordering::Relaxed);
    }

    /// Calls that reached the service (every attempt, retries included).
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

/// The latency the slow phase adds to every call.
pub(crate) const SLOW_DELAY: Duration = Duration::from_millis(60);

async fn handle(State(ds): State<Arc<Downstream>>) -> (StatusCode, &'static str) {
    ds.hits.fetch_add(1, Ordering::Relaxed);
    match Phase::ALL[ds.phase.load(Ordering::Relaxed)] {
        Phase::Outage => (StatusCode::SERVICE_UNAVAILABLE, "down"),
        Phase::Slow => {
            tokio::time::sleep(SLOW_DELAY).await;
            (StatusCode::OK, "slow")
        }
        Phase::Healthy | Phase::Recovery => (StatusCode::OK, "ok"),
    }
}

/// Starts the service on `127.0.0.1:0`; returns its state and base URL.
///
/// # Errors
///
/// When the port cannot be bound.
pub(crate) async fn start() -> std::io::Result<(Arc<Downstream>, String)> {
    let state = Arc::new(Downstream::default());
    let app = Router::new()
        .route("/item", get(handle))
        .with_state(state.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((state, url))
}
