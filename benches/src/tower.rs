//! `compare tower`: what each request pays for a resilience stack in front
//! of a trivial service.
//!
//! Three stacks over the same service (its future is ready at once, its
//! answer is the request), driven by a hand-written poll loop with a no-op
//! waker, so neither a runtime nor a real dependency is measured:
//!
//! * `bare`: the service alone;
//! * `brace`: brace-tower's metrics → retry (with a shared budget) →
//!   breaker stack;
//! * `tower-resilience`: its retry (with a token-bucket budget) → circuit
//!   breaker, configured as its docs show.
//!
//! The figure that matters is the *added* overhead, stack minus bare. Each
//! thread drives its own clone of the stack (a connection), sharing the
//! breaker, budget and metrics window as a server's connections do. Ends
//! with `ratio tower <T>t brace/tower-resilience = <x>`, x = brace's added
//! overhead over tower-resilience's.

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::hint::black_box;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use ::tower::{Service, ServiceBuilder};
use brace::breaker::{CircuitBreaker, Config};
use brace::metrics::{Red, WindowConfig};
use brace::retry::{Backoff, RetryBudget, RetryPolicy};
use brace::time::SystemClock;
use brace_tokio::TokioSleeper;
use brace_tower::{CircuitBreakerLayer, MetricsLayer, RetryLayer, ServiceBuilderExt};

use crate::harness::{Contender, Options, measure, median_of, print_ratio, print_table};

/// The trivial service: ready at once, answers with the request.
#[derive(Debug, Clone, Copy)]
struct Echo;

impl Service<u64> for Echo {
    type Response = u64;
    type Error = Infallible;
    type Future = Ready<Result<u64, Infallible>>;

    #[inline]
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    #[inline]
    fn call(&mut self, request: u64) -> Self::Future {
        ready(Ok(request))
    }
}

/// Sends `n` requests through `svc`: ready, call, poll the response until
/// it is ready. The stacks never wait on time or I/O here; a `Pending`
/// comes only from a lock another thread holds (tower-resilience's breaker
/// mutex at 2 threads), so the loop polls again at once.
///
/// # Panics
///
/// If the stack fails (the stacks are built so that it never does).
fn drive<S>(svc: &mut S, n: u64)
where
    S: Service<u64, Response = u64>,
{
    let mut cx = Context::from_waker(Waker::noop());
    for i in 0..n {
        loop {
            match svc.poll_ready(&mut cx) {
                Poll::Ready(Ok(())) => break,
                Poll::Ready(Err(_)) => panic!("stack failed in poll_ready"),
                Poll::Pending => std::hint::spin_loop(),
            }
        }
        let mut response = pin!(svc.call(black_box(i)));
        loop {
            match response.as_mut().poll(&mut cx) {
                Poll::Ready(Ok(v)) => {
                    black_box(v);
                    break;
                }
                Poll::Ready(Err(_)) => panic!("stack failed"),
                Poll::Pending => std::hint::spin_loop(),
            }
        }
    }
}

/// A contender whose threads each drive a clone of `template`.
fn contender<S>(name: &str, config: &str, template: S) -> Contender
where
    S: Service<u64, Response = u64> + Clone + Send + 'static,
{
    let template = Mutex::new(template);
    Contender::new(name, config, move |n| {
        let mut svc = template.lock().expect("template lock").clone();
        drive(&mut svc, n);
    })
}

fn brace_stack() -> impl Service<u64, Response = u64> + Clone + Send + 'static {
    // std's Instant, what TokioClock reads outside tokio's test-util (which
    // this crate's other areas switch on).
    let clock = SystemClock::new();
    let breaker = Config::builder()
        .failure_rate(0.5)
        .count_window(100)
        .build()
        .expect("breaker config");
    let backoff = Backoff::exponential(Duration::from_millis(10), 2.0)
        .build()
        .expect("backoff");
    let policy = RetryPolicy::builder(backoff)
        .max_attempts(3)
        .build()
        .expect("policy");
    let budget = RetryBudget::builder().build(clock).expect("budget");
    ServiceBuilder::new()
        .brace_stack(
            MetricsLayer::new(Arc::new(Red::new(WindowConfig::default(), clock))),
            RetryLayer::new(policy)
                .time(clock, TokioSleeper)
                .budget(Arc::new(budget)),
            CircuitBreakerLayer::new(Arc::new(CircuitBreaker::new(breaker, clock))),
        )
        .service(Echo)
}

fn brace_without_metrics() -> impl Service<u64, Response = u64> + Clone + Send + 'static {
    // std's Instant, what TokioClock reads outside tokio's test-util (which
    // this crate's other areas switch on).
    let clock = SystemClock::new();
    let breaker = Config::builder()
        .failure_rate(0.5)
        .count_window(100)
        .build()
        .expect("breaker config");
    let backoff = Backoff::exponential(Duration::from_millis(10), 2.0)
        .build()
        .expect("backoff");
    let policy = RetryPolicy::builder(backoff)
        .max_attempts(3)
        .build()
        .expect("policy");
    let budget = RetryBudget::builder().build(clock).expect("budget");
    ServiceBuilder::new()
        .retry_with(
            RetryLayer::new(policy)
                .time(clock, TokioSleeper)
                .budget(Arc::new(budget)),
        )
        .circuit_breaker(CircuitBreakerLayer::new(Arc::new(CircuitBreaker::new(
            breaker, clock,
        ))))
        .service(Echo)
}

fn tower_resilience_stack() -> impl Service<u64, Response = u64> + Clone + Send + 'static {
    use tower_resilience::circuitbreaker::{CircuitBreakerError, CircuitBreakerLayer};
    use tower_resilience::retry::{RetryBudgetBuilder, RetryLayer};
    let budget = RetryBudgetBuilder::new()
        .token_bucket()
        .tokens_per_second(10.0)
        .max_tokens(100)
        .build()
        .expect("budget");
    let retry = RetryLayer::<u64, u64, CircuitBreakerError<Infallible>>::builder()
        .max_attempts(3)
        .exponential_backoff(Duration::from_millis(10))
        .budget(budget)
        .build();
    let breaker = CircuitBreakerLayer::builder()
        .failure_rate_threshold(0.5)
        .sliding_window_size(100)
        .build()
        .expect("breaker config");
    ServiceBuilder::new()
        .layer(retry)
        .layer(breaker)
        .service(Echo)
}

/// Runs the `tower` area.
pub fn run(opts: &Options) {
    let contenders = vec![
        contender("bare", "the trivial service alone", Echo),
        contender(
            "brace",
            "metrics (RED window, 60 s / 12 slots) → retry (3 attempts, exp. backoff, RetryBudget 0.2 + 10/s) → breaker (failure rate 0.5, count window 100); clock: std Instant (SystemClock)",
            brace_stack(),
        ),
        contender(
            "brace-no-metrics",
            "retry → breaker as above, without the metrics layer (like-for-like with tower-resilience's two layers)",
            brace_without_metrics(),
        ),
        contender(
            "tower-resilience",
            "0.13: retry (3 attempts, exp. backoff 10 ms, token-bucket budget 10/s, 100 max) → circuitbreaker (failure rate 0.5, sliding window 100)",
            tower_resilience_stack(),
        ),
    ];
    for threads in [1, 2] {
        let results = measure(&contenders, threads, opts);
        print_table(
            &format!("tower: per-request cost of a resilience stack, {threads} thread(s)"),
            &results,
            "brace",
        );
        let bare = median_of(&results, "bare");
        let brace = median_of(&results, "brace") - bare;
        let brace_lean = median_of(&results, "brace-no-metrics") - bare;
        let peer = median_of(&results, "tower-resilience") - bare;
        println!(
            "\nadded overhead per request: brace {brace:.1} ns, brace-no-metrics {brace_lean:.1} ns, tower-resilience {peer:.1} ns\n"
        );
        print_ratio(
            "tower",
            &format!("{threads}t"),
            "tower-resilience",
            brace / peer,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stack_answers_on_the_first_poll() {
        drive(&mut Echo, 10);
        drive(&mut brace_stack(), 10);
        drive(&mut brace_without_metrics(), 10);
        drive(&mut tower_resilience_stack(), 10);
    }
}
