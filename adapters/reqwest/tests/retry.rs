//! RetryMiddleware against a real HTTP server on 127.0.0.1, on tokio's
//! paused clock (waits are exact and instant).

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use brace::breaker::Config;
use brace::breaker::registry::BreakerRegistry;
use brace::retry::{Backoff, Decision, Jitter, RetryBudget, RetryPolicy};
use brace_reqwest::{
    BreakerMiddleware, CircuitOpen, GaveUp, RetryFailed, RetryMiddleware, RetryMiddlewareBuilder,
    RetryOutcome,
};
use brace_tokio::TokioClock;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use support::{Reply, Server, closed_port, reqwest_client, resetting_server};
use tokio::time::Instant;

const BACKOFF: Duration = Duration::from_millis(100);

fn policy(attempts: u32) -> RetryPolicy {
    RetryPolicy::builder(
        Backoff::constant(BACKOFF)
            .jitter(Jitter::None)
            .build()
            .unwrap(),
    )
    .max_attempts(attempts)
    .max_retry_after(Duration::from_secs(5))
    .build()
    .unwrap()
}

fn client(retry: RetryMiddlewareBuilder) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest_client())
        .with(retry.build().unwrap())
        .build()
}

fn outcome(response: &reqwest::Response) -> RetryOutcome {
    *RetryOutcome::of(response).expect("the retry middleware tags every response")
}

#[tokio::test(start_paused = true)]
async fn retries_503_until_success() {
    let server = Server::start([Reply::Status(503), Reply::Status(503)]).await;
    let client = client(RetryMiddleware::builder(policy(3)));
    let started = Instant::now();
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        outcome(&response),
        RetryOutcome {
            attempts: 3,
            gave_up: None
        }
    );
    assert_eq!(server.hits(), 3);
    assert_eq!(started.elapsed(), 2 * BACKOFF);
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_max_attempts_with_the_last_response() {
    let server = Server::start([]).await;
    server.otherwise(Reply::Status(502));
    let client = client(RetryMiddleware::builder(policy(4)));
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(
        outcome(&response),
        RetryOutcome {
            attempts: 4,
            gave_up: Some(GaveUp::AttemptsExhausted)
        }
    );
    assert_eq!(server.hits(), 4);
}

#[tokio::test(start_paused = true)]
async fn permanent_statuses_are_not_retried() {
    let server = Server::start([Reply::Status(500), Reply::Status(404)]).await;
    let client = client(RetryMiddleware::builder(policy(3)));
    for expected in [500, 404] {
        let response = client.get(server.url("/")).send().await.unwrap();
        assert_eq!(response.status(), expected);
        assert_eq!(outcome(&response).attempts, 1);
    }
    assert_eq!(server.hits(), 2);
}

#[tokio::test(start_paused = true)]
async fn retry_after_seconds_is_obeyed() {
    let server = Server::start([Reply::RetryAfter(503, "2")]).await;
    let client = client(RetryMiddleware::builder(policy(3)));
    let started = Instant::now();
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(outcome(&response).attempts, 2);
    assert_eq!(started.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn retry_after_on_429_is_capped_at_the_policy_maximum() {
    let server = Server::start([Reply::RetryAfter(429, "3600")]).await;
    let client = client(RetryMiddleware::builder(policy(3)));
    let started = Instant::now();
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(5),
        "capped at max_retry_after"
    );
}

#[tokio::test(start_paused = true)]
async fn far_future_retry_after_values_are_capped() {
    let server = Server::start([
        Reply::RetryAfter(503, "99999999999999999999999"),
        Reply::RetryAfter(503, "Fri, 31 Dec 9999 23:59:59 GMT"),
    ])
    .await;
    let client = client(RetryMiddleware::builder(policy(3)));
    let started = Instant::now();
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(started.elapsed(), Duration::from_secs(10));
}

fn fixed_wall_clock() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_445_412_000) // 2015-10-21 07:20:00 UTC
}

#[tokio::test(start_paused = true)]
async fn retry_after_http_date_is_measured_from_the_wall_clock() {
    let server = Server::start([Reply::RetryAfter(503, "Wed, 21 Oct 2015 07:20:03 GMT")]).await;
    let client = client(RetryMiddleware::builder(policy(3)).wall_clock(fixed_wall_clock));
    let started = Instant::now();
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(started.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn garbage_negative_and_past_retry_after_fall_back_safely() {
    let server = Server::start([
        Reply::RetryAfter(503, "soon"),
        Reply::RetryAfter(503, "-5"),
        Reply::RetryAfter(503, "Thu, 01 Jan 1970 00:00:00 GMT"),
    ])
    .await;
    let client = client(RetryMiddleware::builder(policy(4)));
    let started = Instant::now();
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(outcome(&response).attempts, 4);
    // Two backoff delays for the unparsable values, no wait for the past date.
    assert_eq!(started.elapsed(), 2 * BACKOFF);
}

#[tokio::test(start_paused = true)]
async fn retry_after_can_be_ignored() {
    let server = Server::start([Reply::RetryAfter(503, "30")]).await;
    let client = client(RetryMiddleware::builder(policy(3)).honour_retry_after(false));
    let started = Instant::now();
    client.get(server.url("/")).send().await.unwrap();
    assert_eq!(started.elapsed(), BACKOFF);
}

#[tokio::test(start_paused = true)]
async fn post_is_not_retried_by_default() {
    let server = Server::start([Reply::Status(503)]).await;
    let client = client(RetryMiddleware::builder(policy(3)));
    let response = client
        .post(server.url("/orders"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(
        outcome(&response),
        RetryOutcome {
            attempts: 1,
            gave_up: Some(GaveUp::MethodNotRetried)
        }
    );
    assert_eq!(server.hits(), 1);
}

#[tokio::test(start_paused = true)]
async fn post_is_retried_when_opted_in() {
    let server = Server::start([Reply::Status(503)]).await;
    let client = client(RetryMiddleware::builder(policy(3)).retry_post());
    let response = client
        .post(server.url("/orders"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(outcome(&response).attempts, 2);
    assert_eq!(server.hits(), 2);
}

#[tokio::test(start_paused = true)]
async fn connection_resets_are_retried() {
    let (addr, accepted) = resetting_server().await;
    let client = client(RetryMiddleware::builder(policy(3)));
    let err = client
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap_err();
    let failed = RetryFailed::find(&err).expect("a RetryFailed");
    assert_eq!(failed.attempts(), 3);
    assert_eq!(failed.reason(), GaveUp::AttemptsExhausted);
    assert!(matches!(
        failed.last_error(),
        reqwest_middleware::Error::Reqwest(_)
    ));
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn connect_errors_are_retried() {
    let addr = closed_port();
    let client = client(RetryMiddleware::builder(policy(2)));
    let err = client
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap_err();
    let failed = RetryFailed::find(&err).unwrap();
    assert_eq!(failed.attempts(), 2);
    match failed.last_error() {
        reqwest_middleware::Error::Reqwest(e) => assert!(e.is_connect(), "{e}"),
        other => panic!("expected a connect error, got {other}"),
    }
    assert!(
        err.to_string().starts_with("gave up after 2 attempts"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_attempt_times_out_and_is_retried() {
    let server = Server::start([Reply::Slow(Duration::from_secs(30))]).await;
    let client =
        client(RetryMiddleware::builder(policy(3)).attempt_timeout(Duration::from_secs(1)));
    let started = Instant::now();
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
    assert_eq!(started.elapsed(), Duration::from_secs(1) + BACKOFF);
    assert_eq!(server.hits(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_slow_body_is_read_once_and_not_retried() {
    // The attempt timeout covers the wait for the response head; a body
    // that trickles in afterwards belongs to the caller, so it is neither
    // cut off nor retried.
    let server = Server::start([Reply::SlowBody(Duration::from_secs(3))]).await;
    let client =
        client(RetryMiddleware::builder(policy(3)).attempt_timeout(Duration::from_secs(1)));
    let started = Instant::now();
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(outcome(&response).attempts, 1);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(response.text().await.unwrap(), "slow body");
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    assert_eq!(server.hits(), 1);
}

#[tokio::test(start_paused = true)]
async fn every_attempt_timing_out_reports_the_timeout() {
    let server = Server::start([]).await;
    server.otherwise(Reply::Slow(Duration::from_secs(30)));
    let client =
        client(RetryMiddleware::builder(policy(2)).attempt_timeout(Duration::from_millis(500)));
    let err = client.get(server.url("/")).send().await.unwrap_err();
    let failed = RetryFailed::find(&err).unwrap();
    assert_eq!(
        (failed.attempts(), failed.reason()),
        (2, GaveUp::AttemptsExhausted)
    );
    assert!(
        failed
            .last_error()
            .to_string()
            .contains("timed out after 500ms")
    );
}

#[tokio::test(start_paused = true)]
async fn a_streamed_body_is_sent_once_and_says_why() {
    let server = Server::start([Reply::Status(503)]).await;
    let client = client(RetryMiddleware::builder(policy(3)));
    let chunks: Vec<Result<&'static str, std::io::Error>> = vec![Ok("a"), Ok("b")];
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let response = client
        .put(server.url("/blob"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(
        outcome(&response),
        RetryOutcome {
            attempts: 1,
            gave_up: Some(GaveUp::BodyNotCloneable)
        }
    );
    assert_eq!(server.hits(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_budget_stops_retry_storms() {
    let server = Server::start([]).await;
    server.otherwise(Reply::Status(503));
    // No earning from traffic; a floor of 1 retry/s over a 2 s window: 2 retries.
    let budget = Arc::new(
        RetryBudget::builder()
            .ratio(0.0)
            .min_retries_per_sec(1)
            .ttl(Duration::from_secs(2))
            .build(TokioClock::new())
            .unwrap(),
    );
    let client = client(RetryMiddleware::builder(policy(3)).budget(Arc::clone(&budget)));
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        outcomes.push(outcome(&client.get(server.url("/")).send().await.unwrap()));
    }
    assert_eq!(
        outcomes[0],
        RetryOutcome {
            attempts: 3,
            gave_up: Some(GaveUp::AttemptsExhausted)
        }
    );
    for later in &outcomes[1..] {
        assert_eq!(
            *later,
            RetryOutcome {
                attempts: 1,
                gave_up: Some(GaveUp::BudgetExhausted)
            }
        );
    }
    assert_eq!(server.hits(), 4 + 2);
}

#[tokio::test(start_paused = true)]
async fn a_custom_classifier_decides() {
    let server = Server::start([Reply::Status(500)]).await;
    let retry = RetryMiddleware::builder(policy(3)).classify(|r| match r {
        Ok(response) if response.status().is_server_error() => {
            Decision::RetryAfter(Duration::from_secs(1))
        }
        _ => Decision::DoNotRetry,
    });
    let started = Instant::now();
    let response = client(retry).get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(started.elapsed(), Duration::from_secs(1));
}

/// A client whose `retry` middleware sits in front of a breaker per host
/// that opens for 30 s after `failures` failures in a row.
fn retry_over_breaker(
    retry: RetryMiddlewareBuilder,
    failures: u32,
) -> (
    ClientWithMiddleware,
    Arc<BreakerRegistry<String, TokioClock>>,
) {
    let breakers = BreakerMiddleware::new(
        Config::builder()
            .consecutive_failures(failures)
            .open_duration(Duration::from_secs(30))
            .build()
            .unwrap(),
    )
    .unwrap();
    let registry = Arc::clone(breakers.registry());
    let client = ClientBuilder::new(reqwest_client())
        .with(retry.build().unwrap())
        .with(breakers)
        .build();
    (client, registry)
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_is_never_retried() {
    let server = Server::start([]).await;
    server.otherwise(Reply::Status(503));
    let budget = Arc::new(RetryBudget::builder().build(TokioClock::new()).unwrap());
    let (client, registry) = retry_over_breaker(
        RetryMiddleware::builder(policy(5)).budget(Arc::clone(&budget)),
        2,
    );

    // Two 503s trip the breaker; the third attempt is refused and ends the loop.
    let err = client.get(server.url("/")).send().await.unwrap_err();
    let failed = RetryFailed::find(&err).unwrap();
    assert_eq!(
        (failed.attempts(), failed.reason()),
        (3, GaveUp::CircuitOpen)
    );
    let open = CircuitOpen::find(&err).expect("CircuitOpen inside");
    assert_eq!(open.host, server.host());
    assert_eq!(server.hits(), 2);

    // While open: refused at once, one attempt, nothing sent, no budget touched.
    let available = budget.available();
    let started = Instant::now();
    let err = client.get(server.url("/")).send().await.unwrap_err();
    assert_eq!(RetryFailed::find(&err).unwrap().attempts(), 1);
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(server.hits(), 2);
    assert_eq!(budget.available(), available);
    assert!(registry.state(server.host().as_str()).is_some());
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_is_not_retried_whatever_the_classifier_says() {
    let server = Server::start([]).await;
    server.otherwise(Reply::Status(503));
    let budget = Arc::new(RetryBudget::builder().build(TokioClock::new()).unwrap());
    // Retries every error, the breaker's refusal included, if asked.
    let every_error = |r: &reqwest_middleware::Result<reqwest::Response>| match r {
        Err(_) => Decision::Retry,
        Ok(response) if response.status().is_server_error() => Decision::Retry,
        Ok(_) => Decision::DoNotRetry,
    };
    let (client, _) = retry_over_breaker(
        RetryMiddleware::builder(policy(5))
            .classify(every_error)
            .budget(Arc::clone(&budget)),
        1,
    );
    // One 503 trips the breaker; the next attempt is refused and ends it.
    let err = client.get(server.url("/")).send().await.unwrap_err();
    let failed = RetryFailed::find(&err).unwrap();
    assert_eq!(
        (failed.attempts(), failed.reason()),
        (2, GaveUp::CircuitOpen)
    );
    assert_eq!(server.hits(), 1);
    // While open: one attempt, no waiting, no budget touched.
    let available = budget.available();
    let started = Instant::now();
    let err = client.get(server.url("/")).send().await.unwrap_err();
    assert_eq!(RetryFailed::find(&err).unwrap().attempts(), 1);
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(budget.available(), available);
}

#[test]
fn a_zero_attempt_timeout_is_refused() {
    let err = RetryMiddleware::builder(policy(3))
        .attempt_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "attempt_timeout");
}

/// A budget with no floor: one retry per first attempt.
fn one_for_one() -> Arc<RetryBudget<TokioClock>> {
    Arc::new(
        RetryBudget::builder()
            .ratio(1.0)
            .min_retries_per_sec(0)
            .build(TokioClock::new())
            .unwrap(),
    )
}

#[tokio::test(start_paused = true)]
async fn a_retry_refused_by_the_breaker_gets_its_budget_back() {
    let server = Server::start([]).await;
    server.otherwise(Reply::Status(503));
    let budget = one_for_one();
    let (client, _) = retry_over_breaker(
        RetryMiddleware::builder(policy(5)).budget(Arc::clone(&budget)),
        1,
    );
    // One 503 (a deposit) trips the breaker; the retry it paid for is
    // refused, never sent: refunded.
    let err = client.get(server.url("/")).send().await.unwrap_err();
    assert_eq!(
        RetryFailed::find(&err).unwrap().reason(),
        GaveUp::CircuitOpen
    );
    assert_eq!(server.hits(), 1);
    assert_eq!(budget.available(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_retry_dropped_during_its_wait_gets_its_budget_back() {
    let server = Server::start([]).await;
    server.otherwise(Reply::Status(503));
    let budget = one_for_one();
    let client = client(RetryMiddleware::builder(policy(5)).budget(Arc::clone(&budget)));
    let url = server.url("/");
    let request = tokio::spawn(async move { client.get(url).send().await });
    // Let the first attempt fail and the retry start its 100 ms wait.
    let started = Instant::now();
    while (server.hits() == 0 || budget.available() != 0) && started.elapsed() < BACKOFF / 2 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(
        budget.available(),
        0,
        "the retry is paid for before its wait"
    );
    request.abort();
    let _ = request.await;
    assert_eq!(server.hits(), 1);
    assert_eq!(budget.available(), 1, "the retry was never sent: refunded");
}
