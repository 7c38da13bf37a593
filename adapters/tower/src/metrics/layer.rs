//! [`MetricsLayer`]: the shared recorder and a classifier.

use std::sync::Arc;

use brace::metrics::{Red, SloTracker};
use tower_layer::Layer;

use super::Metrics;
use crate::ErrorsAreFailures;

/// Wraps services in [`Metrics`], recording into one shared [`Red`]
/// recorder.
///
/// # Clone
///
/// The recorder is an `Arc`: the layer, its clones and every service they
/// make record into the same window. Keep a clone (or call
/// [`recorder`](Self::recorder)) to read snapshots.
///
/// ```
/// use brace::metrics::{Red, WindowConfig};
/// use brace_tokio::TokioClock;
/// use brace_tower::MetricsLayer;
/// use std::sync::Arc;
/// use tower::{Service, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let red = Arc::new(Red::new(WindowConfig::default(), TokioClock::new()));
/// let mut svc = tower::ServiceBuilder::new()
///     .layer(MetricsLayer::new(red.clone()))
///     .service_fn(|ms: u64| async move {
///         tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
///         if ms < 100 { Ok(ms) } else { Err("too slow") }
///     });
/// for ms in [10, 20, 500] {
///     let _ = svc.ready().await.unwrap().call(ms).await;
/// }
/// let s = red.snapshot();
/// assert_eq!((s.count(), s.errors()), (3, 1));
/// # }
/// ```
#[derive(Debug)]
pub struct MetricsLayer<Clk, Cls = ErrorsAreFailures> {
    pub(super) red: Arc<Red<Clk>>,
    pub(super) slo: Option<Arc<SloTracker<Clk>>>,
    pub(super) classifier: Cls,
}

impl<Clk> MetricsLayer<Clk> {
    /// Records into `red`; `Err` counts as an error.
    pub fn new(red: Arc<Red<Clk>>) -> Self {
        MetricsLayer {
            red,
            slo: None,
            classifier: ErrorsAreFailures,
        }
    }
}

impl<Clk, Cls> MetricsLayer<Clk, Cls> {
    /// Replaces the classifier deciding what is an error (for example
    /// [`ServerErrorsAreFailures`](crate::circuit_breaker::ServerErrorsAreFailures)
    /// to count 5xx responses).
    pub fn classify<Cls2>(self, classifier: Cls2) -> MetricsLayer<Clk, Cls2> {
        MetricsLayer {
            red: self.red,
            slo: self.slo,
            classifier,
        }
    }

    /// Also records every call into `slo`, an SLO tracker on the same clock
    /// (shared like the recorder).
    ///
    /// ```
    /// use brace::metrics::{Red, SloConfig, SloTracker, WindowConfig};
    /// use brace_tokio::TokioClock;
    /// use brace_tower::MetricsLayer;
    /// use std::sync::Arc;
    ///
    /// let clock = TokioClock::new();
    /// let slo = Arc::new(SloTracker::new(SloConfig::builder().target(0.999).build()?, clock));
    /// let layer = MetricsLayer::new(Arc::new(Red::new(WindowConfig::default(), clock)))
    ///     .slo(slo.clone());
    /// assert!(layer.slo_tracker().is_some());
    /// # Ok::<(), brace::metrics::ConfigError>(())
    /// ```
    pub fn slo(mut self, slo: Arc<SloTracker<Clk>>) -> Self {
        self.slo = Some(slo);
        self
    }

    /// The shared SLO tracker, if one was given.
    pub fn slo_tracker(&self) -> Option<&Arc<SloTracker<Clk>>> {
        self.slo.as_ref()
    }

    /// The shared recorder, to read snapshots.
    pub fn recorder(&self) -> &Arc<Red<Clk>> {
        &self.red
    }
}

impl<Clk, Cls: Clone> Clone for MetricsLayer<Clk, Cls> {
    fn clone(&self) -> Self {
        MetricsLayer {
            red: Arc::clone(&self.red),
            slo: self.slo.clone(),
            classifier: self.classifier.clone(),
        }
    }
}

impl<S, Clk, Cls: Clone> Layer<S> for MetricsLayer<Clk, Cls> {
    type Service = Metrics<S, Clk, Cls>;

    fn layer(&self, inner: S) -> Self::Service {
        Metrics {
            inner,
            config: self.clone(),
        }
    }
}
