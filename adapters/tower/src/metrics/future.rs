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
    ///
    /// ```
    /// use brace::metrics::{Red, WindowConfig};
    /// use brace_tokio::TokioClock;
    /// use brace_tower::MetricsLayer;
    /// use std::sync::Arc;
    /// use tower::{Layer, Service, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let red = Arc::new(Red::new(WindowConfig::default(), TokioClock::new()));
    /// let never = tower::service_fn(|_: u32| std::future::pending::<Result<u32, std::io::Error>>());
    /// let mut svc = MetricsLayer::new(red.clone()).layer(never);
    /// let abandoned = svc.ready().await.unwrap().call(1);
    /// drop(abandoned); // the caller went away: an error
    /// let s = red.snapshot();
    /// assert_eq!((s.count(), s.errors()), (1, 1));
    /// # }
    /// ```
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
