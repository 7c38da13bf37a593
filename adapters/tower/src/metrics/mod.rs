//! A tower middleware that records every call in a brace RED window:
//! request rate, error rate and latency quantiles over a sliding window.

mod future;
mod layer;

use core::task::{Context, Poll};
use std::sync::Arc;

use brace::metrics::Red;
use brace::time::Clock;
use tower_service::Service;

pub use future::ResponseFuture;
pub use layer::MetricsLayer;

use crate::{Classify, ErrorsAreFailures};

/// A service that records each call's latency and outcome; made by
/// [`MetricsLayer`].
///
/// Latency runs from `call` to the response future's completion, read from
/// the recorder's own clock. With an SLO tracker, each call is recorded
/// there too, at the same instant. The classifier decides errors:
/// [`Outcome::Failure`](crate::Outcome::Failure) records an error,
/// `Success` and `Ignored` record a success.
///
/// # Cancellation
///
/// A response future dropped before it completes (the client went away, an
/// outer timeout fired) is recorded as an error with the latency until the
/// drop: it is a request the caller did not get an answer to.
///
/// # Clone
///
/// Clones record into the same window. A clone starts unreadied.
///
/// ```
/// use brace::metrics::{Red, WindowConfig};
/// use brace_tokio::TokioClock;
/// use brace_tower::MetricsLayer;
/// use brace_tower::metrics::Metrics;
/// use std::sync::Arc;
/// use tower::{Layer, Service, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let red = Arc::new(Red::new(WindowConfig::default(), TokioClock::new()));
/// let echo = tower::service_fn(|x: u32| async move { Ok::<_, std::io::Error>(x) });
/// let mut svc: Metrics<_, TokioClock> = MetricsLayer::new(red.clone()).layer(echo);
/// let mut other = svc.clone(); // records into the same window
/// svc.ready().await.unwrap().call(1).await.unwrap();
/// other.ready().await.unwrap().call(2).await.unwrap();
/// assert_eq!(red.snapshot().count(), 2);
/// # }
/// ```
#[derive(Debug)]
pub struct Metrics<S, Clk, Cls = ErrorsAreFailures> {
    inner: S,
    config: MetricsLayer<Clk, Cls>,
}

/// Written by hand, as the layer's is: a derived `Clone` would ask the
/// clock to be `Clone`, which the recorder it shares never needs.
impl<S: Clone, Clk, Cls: Clone> Clone for Metrics<S, Clk, Cls> {
    fn clone(&self) -> Self {
        Metrics {
            inner: self.inner.clone(),
            config: self.config.clone(),
        }
    }
}

impl<S, Clk, Cls> Metrics<S, Clk, Cls> {
    /// The recorder, to read snapshots.
    pub fn recorder(&self) -> &Arc<Red<Clk>> {
        &self.config.red
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, Req, Clk, Cls> Service<Req> for Metrics<S, Clk, Cls>
where
    S: Service<Req>,
    Clk: Clock,
    Cls: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, Clk, Cls>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let started = self.config.red.clock().start_timer();
        ResponseFuture::new(
            self.inner.call(request),
            Arc::clone(&self.config.red),
            self.config.slo.clone(),
            started,
            self.config.classifier.clone(),
        )
    }
}
