//! The front service: axum → brace-tower metrics → brace cache (with its
//! single-flight) → brace batch loader → a "database" that counts queries.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use brace::cache::Cache;
use brace::loader::{BatchFn, BatchLoader};
use brace::metrics::{Red, WindowConfig};
use brace_tokio::TokioClock;
use brace_tower::MetricsLayer;
use tokio::net::TcpListener;
use tower::util::BoxCloneSyncService;
use tower::{ServiceBuilder, ServiceExt};

/// The "database": one query per batch, 5 ms each.
#[derive(Debug, Default)]
pub(crate) struct Database {
    queries: AtomicU64,
}

impl Database {
    /// Queries the database answered.
    pub(crate) fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }
}

/// The batch function: `SELECT name FROM users WHERE id IN (ids)`.
#[derive(Debug)]
pub(crate) struct UsersById(pub(crate) Arc<Database>);

impl BatchFn<u64> for UsersById {
    type Value = Arc<str>;
    type Error = std::io::Error;
    type Output = HashMap<u64, Arc<str>>;

    async fn load(&self, ids: &[u64]) -> Result<Self::Output, Self::Error> {
        self.0.queries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(5)).await;
        Ok(ids
            .iter()
            .map(|&id| (id, Arc::from(format!("user {id}"))))
            .collect())
    }
}

/// Everything the front service shares, kept for the report.
#[derive(Debug)]
pub(crate) struct Front {
    /// The cache in front of the loader.
    pub(crate) cache: Cache<u64, Arc<str>>,
    /// The batch loader in front of the database.
    pub(crate) loader: Arc<BatchLoader<u64, UsersById>>,
    /// The database.
    pub(crate) db: Arc<Database>,
    /// The RED window the tower metrics layer records into.
    pub(crate) red: Arc<Red<TokioClock>>,
}

type UserService = BoxCloneSyncService<u64, Arc<str>, String>;

async fn handle(State(svc): State<UserService>, Path(id): Path<u64>) -> (StatusCode, String) {
    match svc.oneshot(id).await {
        Ok(name) => (StatusCode::OK, name.to_string()),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// Starts the front service on `127.0.0.1:0`; returns its parts and base URL.
///
/// # Errors
///
/// When the port cannot be bound or the cache refuses its configuration.
pub(crate) async fn start(
    ttl: Duration,
) -> Result<(Arc<Front>, String), Box<dyn std::error::Error>> {
    let db = Arc::new(Database::default());
    let loader = Arc::new(BatchLoader::new(UsersById(db.clone())));
    let cache = Cache::<u64, Arc<str>>::builder()
        .max_capacity(1_000)
        .time_to_live(ttl)
        .build()?;
    let red = Arc::new(Red::new(WindowConfig::default(), TokioClock::new()));
    let front = Arc::new(Front {
        cache: cache.clone(),
        loader: loader.clone(),
        db,
        red: red.clone(),
    });

    let svc = ServiceBuilder::new()
        .layer(MetricsLayer::new(red))
        .service_fn(move |id: u64| {
            let cache = cache.clone();
            let loader = loader.clone();
            async move {
                cache
                    .get_or_load(id, move || async move {
                        match loader.load(id).await {
                            Ok(Some(name)) => Ok(name),
                            Ok(None) => Err(format!("user {id} not found")),
                            Err(e) => Err(e.to_string()),
                        }
                    })
                    .await
                    .map_err(|e| e.to_string())
            }
        });
    let app = Router::new()
        .route("/user/{id}", get(handle))
        .with_state(BoxCloneSyncService::new(svc));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((front, url))
}
