//! `loader_floor [brace|null] [requests]`: the N+1 loop of `compare loader`
//! (100 posts per request with `join_all`, then each post's author), on a
//! current-thread runtime with zero-latency backends, run either through
//! brace's `BatchLoader`s or through a *null loader*: each load yields once
//! and computes its value, with no loader at all. Meant for instruction
//! counts, which the shared machine does not disturb:
//!
//! ```text
//! cargo build --release -p brace-benches --bin loader_floor
//! valgrind --tool=callgrind target/release/loader_floor brace 200
//! valgrind --tool=callgrind target/release/loader_floor null 200
//! ```
//!
//! The null run is what the benchmark's own futures, `join_all` and runtime
//! cost: a floor no loader can go under.

use std::collections::HashMap;
use std::convert::Infallible;

use brace::loader::{BatchFn, BatchLoader};
use futures_util::future::join_all;

/// A post's author, from its id.
fn author_of(post: u32) -> u32 {
    (post.wrapping_mul(2_654_435_761) >> 22) % 1_000
}

struct Posts;

impl BatchFn<u32> for Posts {
    type Value = u32;
    type Error = Infallible;
    type Output = HashMap<u32, u32>;

    async fn load(&self, keys: &[u32]) -> Result<Self::Output, Infallible> {
        Ok(keys.iter().map(|&k| (k, author_of(k))).collect())
    }
}

struct Authors;

impl BatchFn<u32> for Authors {
    type Value = u64;
    type Error = Infallible;
    type Output = HashMap<u32, u64>;

    async fn load(&self, keys: &[u32]) -> Result<Self::Output, Infallible> {
        Ok(keys.iter().map(|&k| (k, u64::from(k) * 3)).collect())
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let who = args.next().unwrap_or_else(|| "brace".to_owned());
    let requests: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(200);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let total = match who.as_str() {
        "brace" => {
            let posts = BatchLoader::builder(Posts)
                .yield_with(tokio::task::yield_now)
                .yields(16)
                .build()
                .expect("valid loader config");
            let authors = BatchLoader::builder(Authors)
                .yield_with(tokio::task::yield_now)
                .yields(16)
                .build()
                .expect("valid loader config");
            runtime.block_on(async {
                let mut total = 0u64;
                for r in 0..requests {
                    let ids = r * 100..r * 100 + 100;
                    let found = join_all(ids.map(|id| {
                        let posts = &posts;
                        async move { posts.load(id).await.expect("infallible").expect("found") }
                    }))
                    .await;
                    let names =
                        join_all(
                            found.into_iter().map(|id| {
                                let authors = &authors;
                                async move {
                                    authors.load(id).await.expect("infallible").expect("found")
                                }
                            }),
                        )
                        .await;
                    total += names.iter().sum::<u64>();
                }
                total
            })
        }
        "null" => runtime.block_on(async {
            let mut total = 0u64;
            for r in 0..requests {
                let ids = r * 100..r * 100 + 100;
                let found = join_all(ids.map(|id| async move {
                    tokio::task::yield_now().await;
                    author_of(id)
                }))
                .await;
                let names = join_all(found.into_iter().map(|id| async move {
                    tokio::task::yield_now().await;
                    u64::from(id) * 3
                }))
                .await;
                total += names.iter().sum::<u64>();
            }
            total
        }),
        other => {
            eprintln!("usage: loader_floor [brace|null] [requests] (got {other:?})");
            std::process::exit(2);
        }
    };
    println!("{who}: {requests} requests, checksum {total}");
}
