//! [`CircuitBreakerLayer`]: configuration only, cheap to clone.

use std::sync::Arc;

use brace::breaker::registry::BreakerRegistry;
use brace::time::Clock;
use tower_layer::Layer;

use super::{CircuitBreaker, FailFast, KeyedBreakers, SharedBreaker};
use crate::ErrorsAreFailures;

/// Wraps services in a [`CircuitBreaker`].
///
/// The layer holds the breaker source (an `Arc` inside), the classifier and
/// the rejection policy; every service it makes shares the same breakers.
///
/// # Clone
///
/// Cloning the layer, or a service it made, shares the breaker (or the
/// registry): state, counts and manual controls are the same for all clones.
///
/// ```
/// use brace::breaker::{CircuitBreaker, Config, State};
/// use brace_tokio::TokioClock;
/// use brace_tower::{BoxError, CircuitBreakerLayer, CircuitOpen};
/// use std::sync::Arc;
/// use tower::{Service, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let breaker = Arc::new(CircuitBreaker::new(Config::default(), TokioClock::new()));
/// let mut svc = tower::ServiceBuilder::new()
///     .layer(CircuitBreakerLayer::new(breaker.clone())) // keep `breaker` to watch or steer it
///     .service_fn(|x: u32| async move { Ok::<_, std::io::Error>(x) });
///
/// assert_eq!(svc.ready().await.unwrap().call(1).await.unwrap(), 1);
/// breaker.force_open();
/// let err: BoxError = svc.ready().await.unwrap().call(2).await.unwrap_err();
/// assert!(err.is::<CircuitOpen>());
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CircuitBreakerLayer<B, C = ErrorsAreFailures, O = FailFast> {
    breakers: B,
    classifier: C,
    on_open: O,
}

impl<C: Clock> CircuitBreakerLayer<SharedBreaker<C>> {
    /// Every request through one shared `breaker`; `Ok` counts as success,
    /// `Err` as failure; refusals fail fast with a boxed [`CircuitOpen`].
    ///
    /// [`CircuitOpen`]: super::CircuitOpen
    pub fn new(breaker: Arc<brace::breaker::CircuitBreaker<C>>) -> Self {
        Self::with_source(SharedBreaker::new(breaker))
    }
}

impl<K, F, C: Clock> CircuitBreakerLayer<KeyedBreakers<K, F, C>> {
    /// Each request through the breaker of its key, `key_of(&request)`,
    /// taken from `registry`.
    ///
    /// ```
    /// use brace::breaker::registry::BreakerRegistry;
    /// use brace::breaker::Config;
    /// use brace_tokio::TokioClock;
    /// use brace_tower::CircuitBreakerLayer;
    /// use std::sync::Arc;
    ///
    /// let registry = Arc::new(
    ///     BreakerRegistry::builder(Config::default())
    ///         .capacity(1_000)
    ///         .build::<String, _>(TokioClock::new())?,
    /// );
    /// // One breaker per host of an `http::Request`.
    /// let layer = CircuitBreakerLayer::keyed(registry.clone(), |req: &http::Request<()>| {
    ///     req.uri().host().unwrap_or("").to_owned()
    /// });
    /// # let _ = layer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keyed(registry: Arc<BreakerRegistry<K, C>>, key_of: F) -> Self {
        Self::with_source(KeyedBreakers::new(registry, key_of))
    }
}

impl<B> CircuitBreakerLayer<B> {
    /// Breakers chosen by any [`SelectBreaker`](super::SelectBreaker).
    pub fn with_source(breakers: B) -> Self {
        CircuitBreakerLayer {
            breakers,
            classifier: ErrorsAreFailures,
            on_open: FailFast,
        }
    }
}

impl<B, C, O> CircuitBreakerLayer<B, C, O> {
    /// Replaces the classifier that decides success, failure or ignored.
    pub fn classify<C2>(self, classifier: C2) -> CircuitBreakerLayer<B, C2, O> {
        CircuitBreakerLayer {
            breakers: self.breakers,
            classifier,
            on_open: self.on_open,
        }
    }

    /// Replaces what an open breaker answers (default [`FailFast`]).
    pub fn on_open<O2>(self, on_open: O2) -> CircuitBreakerLayer<B, C, O2> {
        CircuitBreakerLayer {
            breakers: self.breakers,
            classifier: self.classifier,
            on_open,
        }
    }

    /// The breaker source, to read state or use manual controls.
    pub fn breakers(&self) -> &B {
        &self.breakers
    }

    /// HTTP flavour: an open breaker answers `503 Service Unavailable` with
    /// `Retry-After` instead of an error, and 5xx responses count as
    /// failures. The error type stays the inner one, so an axum handler's
    /// `Infallible` stays `Infallible`.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use brace::breaker::{CircuitBreaker, Config};
    /// use brace_tokio::TokioClock;
    /// use brace_tower::CircuitBreakerLayer;
    /// use std::sync::Arc;
    ///
    /// let breaker = Arc::new(CircuitBreaker::new(Config::default(), TokioClock::new()));
    /// let app: Router = Router::new()
    ///     .route("/", get(|| async { "hello" }))
    ///     .layer(CircuitBreakerLayer::new(breaker).http());
    /// ```
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub fn http(
        self,
    ) -> CircuitBreakerLayer<B, super::ServerErrorsAreFailures, super::ServiceUnavailable> {
        CircuitBreakerLayer {
            breakers: self.breakers,
            classifier: super::ServerErrorsAreFailures,
            on_open: super::ServiceUnavailable,
        }
    }
}

impl<S, B: Clone, C: Clone, O: Clone> Layer<S> for CircuitBreakerLayer<B, C, O> {
    type Service = CircuitBreaker<S, B, C, O>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreaker::from_parts(
            inner,
            self.breakers.clone(),
            self.classifier.clone(),
            self.on_open.clone(),
        )
    }
}
