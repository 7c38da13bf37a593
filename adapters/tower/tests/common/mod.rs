//! Shared test helpers: a contract probe service and small builders.
#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use brace::breaker::{CircuitBreaker, Config};
use brace_tokio::TokioClock;
use tower::Service;

/// A service that enforces tower's contract on its callers: `call` panics
/// unless *this instance* returned `Ready` from `poll_ready` since its last
/// call. Clones start unreadied, and a clone's `poll_ready` stays `Pending`
/// for its first `pending_polls` polls — so a layer that calls (or waits on)
/// a clone instead of the service it readied is caught.
#[derive(Debug)]
pub struct ContractProbe {
    readied: bool,
    pending_left: usize,
    pending_polls: usize,
    pub calls: Arc<AtomicUsize>,
    pub readies: Arc<AtomicUsize>,
    outcome: fn(u32) -> Result<u32, &'static str>,
}

impl ContractProbe {
    pub fn new(outcome: fn(u32) -> Result<u32, &'static str>) -> Self {
        ContractProbe {
            readied: false,
            pending_left: 0,
            pending_polls: usize::MAX,
            calls: Arc::default(),
            readies: Arc::default(),
            outcome,
        }
    }

    /// Clones become ready after this many `Pending` polls.
    pub fn clones_ready_after(mut self, polls: usize) -> Self {
        self.pending_polls = polls;
        self
    }
}

impl Clone for ContractProbe {
    fn clone(&self) -> Self {
        ContractProbe {
            readied: false,
            pending_left: self.pending_polls,
            pending_polls: self.pending_polls,
            calls: Arc::clone(&self.calls),
            readies: Arc::clone(&self.readies),
            outcome: self.outcome,
        }
    }
}

impl Service<u32> for ContractProbe {
    type Response = u32;
    type Error = &'static str;
    type Future = Ready<Result<u32, &'static str>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.pending_left > 0 {
            self.pending_left -= 1;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if !self.readied {
            self.readies.fetch_add(1, Ordering::SeqCst);
        }
        self.readied = true;
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: u32) -> Self::Future {
        assert!(
            self.readied,
            "contract broken: call on a service that was not readied"
        );
        self.readied = false;
        self.calls.fetch_add(1, Ordering::SeqCst);
        ready((self.outcome)(req))
    }
}

/// An infallible echo service.
#[derive(Debug, Clone, Default)]
pub struct Echo;

impl Service<u32> for Echo {
    type Response = u32;
    type Error = Infallible;
    type Future = Ready<Result<u32, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: u32) -> Self::Future {
        ready(Ok(req))
    }
}

/// A breaker on tokio time: trips after `failures` consecutive failures,
/// stays open `open`, admits `probes` probes when half-open.
pub fn breaker(failures: u32, open: Duration, probes: u32) -> Arc<CircuitBreaker<TokioClock>> {
    let config = Config::builder()
        .consecutive_failures(failures)
        .open_duration(open)
        .permitted_calls_in_half_open(probes)
        .build()
        .unwrap();
    Arc::new(CircuitBreaker::new(config, TokioClock::new()))
}
