//! The response future of [`CircuitBreaker`](super::CircuitBreaker).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::{CircuitOpen, OnOpen, RecordOutcome};
use crate::Classify;

pin_project! {
    /// The response future of [`CircuitBreaker`](super::CircuitBreaker):
    /// either the inner call, holding its permit until it completes, or an
    /// immediate rejection.
    ///
    /// # Cancellation
    ///
    /// Dropping it before it completes drops the permit without an outcome:
    /// the breaker frees the slot (a half-open probe slot too) and counts
    /// nothing.
    #[derive(Debug)]
    ///
    /// ```
    /// use brace::breaker::{CircuitBreaker, Config};
    /// use brace_tokio::TokioClock;
    /// use brace_tower::{BoxError, CircuitBreakerLayer, CircuitOpen};
    /// use std::sync::Arc;
    /// use tower::{Layer, Service, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let breaker = Arc::new(CircuitBreaker::new(Config::default(), TokioClock::new()));
    /// let echo = tower::service_fn(|x: u32| async move { Ok::<_, std::io::Error>(x) });
    /// let mut svc = CircuitBreakerLayer::new(breaker.clone()).layer(echo);
    /// let called = svc.ready().await.unwrap().call(1); // holds its permit
    /// assert_eq!(called.await.unwrap(), 1);
    /// breaker.force_open();
    /// let refused = svc.ready().await.unwrap().call(2); // ready at once
    /// let err: BoxError = refused.await.unwrap_err();
    /// assert!(err.is::<CircuitOpen>());
    /// # }
    /// ```
    pub struct ResponseFuture<F, P, C, O> {
        #[pin]
        kind: Kind<F, P, C>,
        on_open: O,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<F, P, C> {
        Called {
            #[pin]
            future: F,
            permit: Option<P>,
            classifier: C,
        },
        Rejected {
            open: CircuitOpen,
        },
    }
}

impl<F, P, C, O> ResponseFuture<F, P, C, O> {
    pub(super) fn called(future: F, permit: P, classifier: C, on_open: O) -> Self {
        ResponseFuture {
            kind: Kind::Called {
                future,
                permit: Some(permit),
                classifier,
            },
            on_open,
        }
    }

    pub(super) fn rejected(open: CircuitOpen, on_open: O) -> Self {
        ResponseFuture {
            kind: Kind::Rejected { open },
            on_open,
        }
    }
}

impl<F, P, C, O, Res, E> Future for ResponseFuture<F, P, C, O>
where
    F: Future<Output = Result<Res, E>>,
    P: RecordOutcome,
    C: Classify<Res, E>,
    O: OnOpen<Res, E>,
{
    type Output = Result<Res, O::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.kind.project() {
            KindProj::Called {
                future,
                permit,
                classifier,
            } => {
                let result = ready!(future.poll(cx));
                if let Some(permit) = permit.take() {
                    permit.record(classifier.classify(&result));
                }
                Poll::Ready(result.map_err(|e| this.on_open.inner_error(e)))
            }
            KindProj::Rejected { open } => Poll::Ready(this.on_open.open(*open)),
        }
    }
}
