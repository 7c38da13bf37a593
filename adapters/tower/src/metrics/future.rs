//! The response future of [`Metrics`](super::Metrics).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::sync::Arc;

use brace::metrics::{Outcome as RedOutcome, Red, SloTracker};
use brace::time::{Clock, Timer};
use pin_project_lite::pin_project;

use crate::{Classify, Outcome};

pin_project! {
    /// The response future of [`Metrics`](super::Metrics).
    ///
    /// # Cancellation
    ///
    /// Dropped before completion, it records an error with the latency
    /// until the drop.
    #[derive(Debug)]
    pub struct ResponseFuture<F, Clk: Clock, Cls> {
        #[pin]
        future: F,
        pending: PendingSample<Clk>,
        classifier: Cls,
    }
}

/// A sample not yet recorded; recorded as an error if dropped unrecorded.
#[derive(Debug)]
struct PendingSample<Clk: Clock> {
    red: Option<Arc<Red<Clk>>>,
    slo: Option<Arc<SloTracker<Clk>>>,
    started: Timer,
}

impl<Clk: Clock> PendingSample<Clk> {
    fn record(&mut self, outcome: RedOutcome) {
        if let Some(red) = self.red.take() {
            let clock = red.clock();
            let latency = clock.elapsed(self.started);
            // The slot a sample lands in needs no finer grain than `recent`.
            let now = clock.recent();
            red.record_nanos_at(now, latency.as_u64(), outcome);
            if let Some(slo) = self.slo.take() {
                slo.record_at(now, latency.as_duration(), outcome);
            }
        }
    }
}

impl<Clk: Clock> Drop for PendingSample<Clk> {
    fn drop(&mut self) {
        self.record(RedOutcome::Error);
    }
}

impl<F, Clk: Clock, Cls> ResponseFuture<F, Clk, Cls> {
    pub(super) fn new(
        future: F,
        red: Arc<Red<Clk>>,
        slo: Option<Arc<SloTracker<Clk>>>,
        started: Timer,
        classifier: Cls,
    ) -> Self {
        ResponseFuture {
            future,
            pending: PendingSample {
                red: Some(red),
                slo,
                started,
            },
            classifier,
        }
    }
}

impl<F, Clk, Cls, Res, E> Future for ResponseFuture<F, Clk, Cls>
where
    F: Future<Output = Result<Res, E>>,
    Clk: Clock,
    Cls: Classify<Res, E>,
{
    type Output = Result<Res, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.future.poll(cx));
        let outcome = match this.classifier.classify(&result) {
            Outcome::Failure => RedOutcome::Error,
            Outcome::Success | Outcome::Ignored => RedOutcome::Success,
        };
        this.pending.record(outcome);
        Poll::Ready(result)
    }
}
