//! A test backend for the loader tests: records every batch call, and has
//! magic keys for the failure paths; and a waker that raises a flag, for
//! the seeded executor models.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use brace::loader::BatchFn;
use tokio::sync::Semaphore;

/// Not returned by the backend: `load` answers `Ok(None)`.
pub const MISSING: u64 = 7;
/// Fails alone: a per-key error.
pub const BAD_KEY: u64 = 13;
/// Fails its whole batch.
pub const POISON: u64 = 666;
/// Makes the batch function panic.
pub const PANIC: u64 = 999;

#[derive(Debug, PartialEq, Eq)]
pub struct BackendError(pub &'static str);

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for BackendError {}

/// Loads `key -> key * 10`, recording each call's keys (sorted).
#[derive(Clone, Default)]
pub struct Backend {
    pub calls: Arc<Mutex<Vec<Vec<u64>>>>,
    /// When set, each call first takes a permit (tests release them).
    pub gate: Option<Arc<Semaphore>>,
    /// When set, the first call never finishes.
    pub hang_first: bool,
    /// When set, each call takes this long (tokio time), like a database.
    pub latency: Option<std::time::Duration>,
    started: Arc<AtomicUsize>,
}

impl Backend {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn gated() -> (Self, Arc<Semaphore>) {
        let gate = Arc::new(Semaphore::new(0));
        let backend = Backend {
            gate: Some(Arc::clone(&gate)),
            ..Self::default()
        };
        (backend, gate)
    }

    pub fn hanging_first() -> Self {
        Backend {
            hang_first: true,
            ..Self::default()
        }
    }

    /// A backend whose calls take `latency` (needs a tokio runtime with time).
    pub fn with_latency(latency: std::time::Duration) -> Self {
        Backend {
            latency: Some(latency),
            ..Self::default()
        }
    }

    pub fn calls(&self) -> Vec<Vec<u64>> {
        self.calls.lock().unwrap().clone()
    }

    pub fn call_count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    pub fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }
}

impl BatchFn<u64> for Backend {
    type Value = u64;
    type Error = BackendError;
    type Output = HashMap<u64, Result<u64, BackendError>>;

    async fn load(&self, keys: &[u64]) -> Result<Self::Output, Self::Error> {
        let mut sorted = keys.to_vec();
        sorted.sort_unstable();
        self.calls.lock().unwrap().push(sorted);
        let nth = self.started.fetch_add(1, Ordering::SeqCst);
        if self.hang_first && nth == 0 {
            std::future::pending::<()>().await;
        }
        if let Some(latency) = self.latency {
            tokio::time::sleep(latency).await;
        }
        if let Some(gate) = &self.gate {
            gate.acquire().await.expect("gate open").forget();
        }
        if keys.contains(&PANIC) {
            panic!("batch function panicked on purpose");
        }
        if keys.contains(&POISON) {
            return Err(BackendError("poisoned batch"));
        }
        Ok(keys
            .iter()
            .filter(|&&k| k != MISSING)
            .map(|&k| {
                let result = if k == BAD_KEY {
                    Err(BackendError("bad key"))
                } else {
                    Ok(k * 10)
                };
                (k, result)
            })
            .collect())
    }
}

/// Polls `fut` once with a waker that does nothing.
pub fn poll_once<F: std::future::Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    std::pin::Pin::new(fut).poll(&mut cx)
}

/// A current-thread tokio runtime.
pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A waker that raises its flag when woken: a model's executor polls a
/// future only once its flag is up.
pub struct Flag(pub AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}
