//! [`ServiceBuilderExt`]: brace's layers as `ServiceBuilder` methods.

use tower::ServiceBuilder;
use tower_layer::Stack;

use crate::{CircuitBreakerLayer, MetricsLayer, RetryLayer};

/// brace's layers as [`ServiceBuilder`] methods.
///
/// Layers added first are outermost. [`brace_stack`](Self::brace_stack)
/// adds all three in the order the [crate docs](crate#order) recommend:
/// metrics, then retry, then the breaker; add a per-attempt `timeout` right
/// after it.
///
/// ```
/// use brace::breaker::{CircuitBreaker, Config};
/// use brace_tokio::TokioClock;
/// use brace_tower::{CircuitBreakerLayer, ServiceBuilderExt};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use tower::ServiceBuilder;
///
/// let breaker = Arc::new(CircuitBreaker::new(Config::default(), TokioClock::new()));
/// let svc = ServiceBuilder::new()
///     .circuit_breaker(CircuitBreakerLayer::new(breaker))
///     .timeout(Duration::from_secs(1))
///     .service_fn(|x: u64| async move { Ok::<_, std::io::Error>(x) });
/// # let _ = svc;
/// ```
pub trait ServiceBuilderExt<L>: Sized {
    /// Adds a [`CircuitBreakerLayer`].
    fn circuit_breaker<B, C, O>(
        self,
        layer: CircuitBreakerLayer<B, C, O>,
    ) -> ServiceBuilder<Stack<CircuitBreakerLayer<B, C, O>, L>>;

    /// Adds a [`RetryLayer`] (named so as not to clash with tower's own
    /// `ServiceBuilder::retry`).
    fn retry_with<D, Clk, Slp>(
        self,
        layer: RetryLayer<D, Clk, Slp>,
    ) -> ServiceBuilder<Stack<RetryLayer<D, Clk, Slp>, L>>;

    /// Adds a [`MetricsLayer`].
    fn red_metrics<Clk, Cls>(
        self,
        layer: MetricsLayer<Clk, Cls>,
    ) -> ServiceBuilder<Stack<MetricsLayer<Clk, Cls>, L>>;

    /// Adds metrics, retry and breaker, outermost first: the recommended
    /// order (see [Order](crate#order)).
    #[allow(clippy::type_complexity)]
    fn brace_stack<MClk, MCls, D, Clk, Slp, B, C, O>(
        self,
        metrics: MetricsLayer<MClk, MCls>,
        retry: RetryLayer<D, Clk, Slp>,
        breaker: CircuitBreakerLayer<B, C, O>,
    ) -> ServiceBuilder<
        Stack<
            CircuitBreakerLayer<B, C, O>,
            Stack<RetryLayer<D, Clk, Slp>, Stack<MetricsLayer<MClk, MCls>, L>>,
        >,
    > {
        self.red_metrics(metrics)
            .retry_with(retry)
            .circuit_breaker(breaker)
    }
}

impl<L> ServiceBuilderExt<L> for ServiceBuilder<L> {
    fn circuit_breaker<B, C, O>(
        self,
        layer: CircuitBreakerLayer<B, C, O>,
    ) -> ServiceBuilder<Stack<CircuitBreakerLayer<B, C, O>, L>> {
        self.layer(layer)
    }

    fn retry_with<D, Clk, Slp>(
        self,
        layer: RetryLayer<D, Clk, Slp>,
    ) -> ServiceBuilder<Stack<RetryLayer<D, Clk, Slp>, L>> {
        self.layer(layer)
    }

    fn red_metrics<Clk, Cls>(
        self,
        layer: MetricsLayer<Clk, Cls>,
    ) -> ServiceBuilder<Stack<MetricsLayer<Clk, Cls>, L>> {
        self.layer(layer)
    }
}
