//! A scripted HTTP server on 127.0.0.1 for the middleware tests.
#![allow(dead_code)] // each test file uses part of it

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header::RETRY_AFTER};
use axum::response::{IntoResponse, Response};

/// What the server answers to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// This status, empty body.
    Status(u16),
    /// This status with a `Retry-After` header.
    RetryAfter(u16, &'static str),
    /// 200 after this long (on tokio's clock).
    Slow(Duration),
    /// 200 with its head at once and a body whose second half arrives
    /// after this long (on tokio's clock).
    SlowBody(Duration),
}

#[derive(Default)]
struct Script {
    replies: Mutex<VecDeque<Reply>>,
    /// Answer once the script has run out.
    otherwise: Mutex<Option<Reply>>,
    hits: AtomicU32,
}

/// A running scripted server.
#[derive(Clone)]
pub struct Server {
    pub addr: SocketAddr,
    script: Arc<Script>,
}

impl Server {
    /// Starts a server on an ephemeral port; it answers `replies` in order,
    /// then 200.
    pub async fn start(replies: impl IntoIterator<Item = Reply>) -> Server {
        let script = Arc::new(Script::default());
        script.replies.lock().unwrap().extend(replies);
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&script));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server { addr, script }
    }

    /// Answers `reply` to every request once the script has run out.
    pub fn otherwise(&self, reply: Reply) {
        *self.script.otherwise.lock().unwrap() = Some(reply);
    }

    /// Appends to the script.
    pub fn then(&self, replies: impl IntoIterator<Item = Reply>) {
        self.script.replies.lock().unwrap().extend(replies);
    }

    /// Requests received so far.
    pub fn hits(&self) -> u32 {
        self.script.hits.load(Ordering::SeqCst)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn host(&self) -> String {
        self.addr.to_string()
    }
}

async fn answer(State(script): State<Arc<Script>>) -> Response {
    script.hits.fetch_add(1, Ordering::SeqCst);
    let next = script.replies.lock().unwrap().pop_front();
    let reply = next.or_else(|| script.otherwise.lock().unwrap().clone());
    match reply {
        None => (StatusCode::OK, "ok").into_response(),
        Some(Reply::Status(code)) => StatusCode::from_u16(code).unwrap().into_response(),
        Some(Reply::RetryAfter(code, value)) => {
            let mut response = StatusCode::from_u16(code).unwrap().into_response();
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static(value));
            response
        }
        Some(Reply::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            (StatusCode::OK, "slow").into_response()
        }
        Some(Reply::SlowBody(delay)) => {
            let chunks = futures::stream::unfold(0u8, move |step| async move {
                match step {
                    0 => Some((Ok::<_, std::io::Error>("slow "), 1)),
                    1 => {
                        tokio::time::sleep(delay).await;
                        Some((Ok("body"), 2))
                    }
                    _ => None,
                }
            });
            (StatusCode::OK, axum::body::Body::from_stream(chunks)).into_response()
        }
    }
}

/// A listener that accepts connections and drops them at once (the client
/// sees the connection closed before a response); returns its address and
/// the count of connections accepted.
pub async fn resetting_server() -> (SocketAddr, Arc<AtomicU32>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicU32::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (addr, accepted)
}

/// An address nothing listens on (bound, then released).
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// A plain reqwest client without connection reuse surprises: no proxy
/// lookups from the environment.
pub fn reqwest_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}
