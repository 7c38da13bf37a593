//! `compare loader`: the N+1 workload through brace's `BatchLoader` and its
//! peers on a 2-worker tokio runtime.
//!
//! A request loads 100 posts, then the author of each post (1,000 authors,
//! Zipf-skewed, so authors repeat within a request). Requests run in a
//! closed loop at 1, 16 and 64 at a time, with the loads of a level either
//! awaited together (`join_all` in the request's task) or spawned one task
//! per item. Two backends: zero latency, and 200 µs + 1 µs per key.
//!
//! The 200 µs backend waits on a timer thread rather than `tokio::time::sleep`,
//! whose 1 ms granularity would turn 200 µs into a millisecond; every
//! contender waits on the same timer.
//!
//! Each contender shares one loader (posts) and one loader (authors) across
//! all requests, cache off, `max_batch_size` 1000. The `by-hand` row uses no
//! loader: each request makes one call per level with its own keys, which
//! shows what the backend itself allows when no request waits for another.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Zipf};

use crate::harness::{Options, median_sorted, print_ratio};

const POSTS_PER_REQUEST: u32 = 100;
const POSTS: u32 = 10_000;
const AUTHORS: u32 = 1_000;
const ZIPF_EXPONENT: f64 = 1.0;
const MAX_BATCH: usize = 1000;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Waits out deadlines on one thread with sub-millisecond precision.
struct LatencyTimer {
    requests: mpsc::Sender<(Instant, tokio::sync::oneshot::Sender<()>)>,
}

impl LatencyTimer {
    fn start() -> Self {
        let (tx, rx) = mpsc::channel::<(Instant, tokio::sync::oneshot::Sender<()>)>();
        std::thread::spawn(move || {
            let mut heap = BinaryHeap::new();
            let mut waiting: HashMap<u64, tokio::sync::oneshot::Sender<()>> = HashMap::new();
            let mut seq = 0u64;
            loop {
                let next = heap
                    .peek()
                    .map(|Reverse((at, _)): &Reverse<(Instant, u64)>| *at);
                let received = match next {
                    Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
                    None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                };
                match received {
                    Ok((at, done)) => {
                        seq += 1;
                        heap.push(Reverse((at, seq)));
                        waiting.insert(seq, done);
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
                let now = Instant::now();
                while let Some(Reverse((at, id))) = heap.peek().copied() {
                    if at > now {
                        break;
                    }
                    heap.pop();
                    if let Some(done) = waiting.remove(&id) {
                        let _ = done.send(());
                    }
                }
            }
        });
        LatencyTimer { requests: tx }
    }

    async fn sleep(&self, d: Duration) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.requests.send((Instant::now() + d, tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// The database: posts (id -> author id) and authors (id -> a value).
struct Db {
    author_of: Vec<u32>,
    latency: Option<Arc<LatencyTimer>>,
    calls: AtomicU64,
    keys: AtomicU64,
}

impl Db {
    fn new(latency: Option<Arc<LatencyTimer>>) -> Self {
        let mut rng = StdRng::seed_from_u64(42);
        let zipf = Zipf::new(AUTHORS as f64, ZIPF_EXPONENT).expect("valid zipf");
        let author_of = (0..POSTS)
            .map(|_| zipf.sample(&mut rng) as u32 - 1)
            .collect();
        Db {
            author_of,
            latency,
            calls: AtomicU64::new(0),
            keys: AtomicU64::new(0),
        }
    }

    async fn query(&self, keys: usize) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.keys.fetch_add(keys as u64, Ordering::Relaxed);
        if let Some(timer) = &self.latency {
            timer.sleep(Duration::from_micros(200 + keys as u64)).await;
        }
    }

    async fn posts(&self, ids: &[u32]) -> HashMap<u32, u32> {
        self.query(ids.len()).await;
        ids.iter()
            .map(|&id| (id, self.author_of[id as usize]))
            .collect()
    }

    async fn authors(&self, ids: &[u32]) -> HashMap<u32, u64> {
        self.query(ids.len()).await;
        ids.iter().map(|&id| (id, u64::from(id) * 7)).collect()
    }
}

/// One contender: how it loads a post's author id and an author.
trait Loaders: Send + Sync + 'static {
    fn post(&self, id: u32) -> BoxFuture<'_, u32>;
    fn author(&self, id: u32) -> BoxFuture<'_, u64>;
    /// The database, for the reference that loads each level itself.
    fn by_hand(&self) -> Option<&Db> {
        None
    }
}

mod brace_side {
    use super::*;
    use brace::loader::{BatchFn, BatchLoader};

    pub(super) struct Posts(pub(super) Arc<Db>);
    pub(super) struct Authors(pub(super) Arc<Db>);

    impl BatchFn<u32> for Posts {
        type Value = u32;
        type Error = Infallible;
        type Output = HashMap<u32, u32>;
        async fn load(&self, keys: &[u32]) -> Result<Self::Output, Infallible> {
            Ok(self.0.posts(keys).await)
        }
    }

    impl BatchFn<u32> for Authors {
        type Value = u64;
        type Error = Infallible;
        type Output = HashMap<u32, u64>;
        async fn load(&self, keys: &[u32]) -> Result<Self::Output, Infallible> {
            Ok(self.0.authors(keys).await)
        }
    }

    pub(super) struct Brace {
        pub(super) posts: BatchLoader<u32, Posts>,
        pub(super) authors: BatchLoader<u32, Authors>,
    }

    impl Brace {
        /// `hold_stragglers` as given (the default is on).
        pub(super) fn new(db: &Arc<Db>, hold_stragglers: bool) -> Self {
            Brace {
                posts: BatchLoader::builder(Posts(Arc::clone(db)))
                    .max_batch_size(MAX_BATCH)
                    .yield_with(tokio::task::yield_now)
                    .yields(16)
                    .hold_stragglers(hold_stragglers)
                    .build()
                    .expect("valid configuration"),
                authors: BatchLoader::builder(Authors(Arc::clone(db)))
                    .max_batch_size(MAX_BATCH)
                    .yield_with(tokio::task::yield_now)
                    .yields(16)
                    .hold_stragglers(hold_stragglers)
                    .build()
                    .expect("valid configuration"),
            }
        }
    }

    impl Loaders for Brace {
        fn post(&self, id: u32) -> BoxFuture<'_, u32> {
            Box::pin(async move { self.posts.load(id).await.unwrap().unwrap() })
        }
        fn author(&self, id: u32) -> BoxFuture<'_, u64> {
            Box::pin(async move { self.authors.load(id).await.unwrap().unwrap() })
        }
    }
}

mod graphql_side {
    use super::*;
    use async_graphql::dataloader::{DataLoader, Loader};

    pub(super) struct Posts(pub(super) Arc<Db>);
    pub(super) struct Authors(pub(super) Arc<Db>);

    impl Loader<u32> for Posts {
        type Value = u32;
        type Error = Infallible;
        async fn load(&self, keys: &[u32]) -> Result<HashMap<u32, u32>, Infallible> {
            Ok(self.0.posts(keys).await)
        }
    }

    impl Loader<u32> for Authors {
        type Value = u64;
        type Error = Infallible;
        async fn load(&self, keys: &[u32]) -> Result<HashMap<u32, u64>, Infallible> {
            Ok(self.0.authors(keys).await)
        }
    }

    pub(super) struct AsyncGraphql {
        posts: DataLoader<Posts>,
        authors: DataLoader<Authors>,
    }

    impl AsyncGraphql {
        pub(super) fn new(db: &Arc<Db>, delay: Duration) -> Self {
            AsyncGraphql {
                posts: DataLoader::new(Posts(Arc::clone(db)), tokio::spawn)
                    .delay(delay)
                    .max_batch_size(MAX_BATCH),
                authors: DataLoader::new(Authors(Arc::clone(db)), tokio::spawn)
                    .delay(delay)
                    .max_batch_size(MAX_BATCH),
            }
        }
    }

    impl Loaders for AsyncGraphql {
        fn post(&self, id: u32) -> BoxFuture<'_, u32> {
            Box::pin(async move { self.posts.load_one(id).await.unwrap().unwrap() })
        }
        fn author(&self, id: u32) -> BoxFuture<'_, u64> {
            Box::pin(async move { self.authors.load_one(id).await.unwrap().unwrap() })
        }
    }
}

mod cksac_side {
    use super::*;
    use dataloader::BatchFn;
    use dataloader::non_cached::Loader;

    pub(super) struct Posts(pub(super) Arc<Db>);
    pub(super) struct Authors(pub(super) Arc<Db>);

    impl BatchFn<u32, u32> for Posts {
        async fn load(&mut self, keys: &[u32]) -> HashMap<u32, u32> {
            self.0.posts(keys).await
        }
    }

    impl BatchFn<u32, u64> for Authors {
        async fn load(&mut self, keys: &[u32]) -> HashMap<u32, u64> {
            self.0.authors(keys).await
        }
    }

    pub(super) struct Cksac {
        posts: Loader<u32, u32, Posts>,
        authors: Loader<u32, u64, Authors>,
    }

    impl Cksac {
        pub(super) fn new(db: &Arc<Db>) -> Self {
            Cksac {
                posts: Loader::new(Posts(Arc::clone(db)))
                    .with_yield_count(10)
                    .with_max_batch_size(MAX_BATCH),
                authors: Loader::new(Authors(Arc::clone(db)))
                    .with_yield_count(10)
                    .with_max_batch_size(MAX_BATCH),
            }
        }
    }

    impl Loaders for Cksac {
        fn post(&self, id: u32) -> BoxFuture<'_, u32> {
            Box::pin(self.posts.load(id))
        }
        fn author(&self, id: u32) -> BoxFuture<'_, u64> {
            Box::pin(self.authors.load(id))
        }
    }
}

/// No loader. Per load, one backend call of its own (`unbatched`); or, with
/// `by_level`, one call per level of a request with that request's distinct
/// keys, as resolvers rewritten by hand would make (`by-hand`): a reference
/// for what the backend allows when no request waits for another's keys,
/// not a peer.
struct Unbatched {
    db: Arc<Db>,
    by_level: bool,
}

impl Loaders for Unbatched {
    fn post(&self, id: u32) -> BoxFuture<'_, u32> {
        Box::pin(async move { self.db.posts(&[id]).await[&id] })
    }
    fn author(&self, id: u32) -> BoxFuture<'_, u64> {
        Box::pin(async move { self.db.authors(&[id]).await[&id] })
    }
    fn by_hand(&self) -> Option<&Db> {
        self.by_level.then_some(&*self.db)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    JoinAll,
    Spawn,
}

impl Pattern {
    fn name(self) -> &'static str {
        match self {
            Pattern::JoinAll => "joinall",
            Pattern::Spawn => "spawn",
        }
    }
}

/// Loads every id of one level, as `pattern` says.
async fn level<T, F>(loaders: &Arc<dyn Loaders>, ids: Vec<u32>, pattern: Pattern, load: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(&dyn Loaders, u32) -> BoxFuture<'_, T> + Copy + Send + Sync + 'static,
{
    match pattern {
        Pattern::JoinAll => join_all(ids.into_iter().map(|id| load(&**loaders, id))).await,
        Pattern::Spawn => {
            let tasks: Vec<_> = ids
                .into_iter()
                .map(|id| {
                    let loaders = Arc::clone(loaders);
                    tokio::spawn(async move { load(&*loaders, id).await })
                })
                .collect();
            let mut out = Vec::with_capacity(tasks.len());
            for t in tasks {
                out.push(t.await.expect("load task panicked"));
            }
            out
        }
    }
}

/// One request: 100 posts, then each post's author.
async fn request(loaders: &Arc<dyn Loaders>, first_post: u32, pattern: Pattern) -> u64 {
    let posts: Vec<u32> = (first_post..first_post + POSTS_PER_REQUEST)
        .map(|p| p % POSTS)
        .collect();
    if let Some(db) = loaders.by_hand() {
        let author_of = db.posts(&posts).await;
        let mut authors: Vec<u32> = posts.iter().map(|p| author_of[p]).collect();
        authors.sort_unstable();
        authors.dedup();
        let values = db.authors(&authors).await;
        return std::hint::black_box(values.values().sum());
    }
    let authors = level(loaders, posts, pattern, |l, id| l.post(id)).await;
    let values = level(loaders, authors, pattern, |l, id| l.author(id)).await;
    std::hint::black_box(values.iter().sum())
}

/// One timed run: `concurrency` clients in a closed loop for about `span`.
struct Run {
    requests: u64,
    wall: Duration,
    latencies: Vec<Duration>,
    calls: u64,
    keys: u64,
}

fn run_once(
    rt: &tokio::runtime::Runtime,
    loaders: &Arc<dyn Loaders>,
    db: &Db,
    pattern: Pattern,
    concurrency: usize,
    span: Duration,
) -> Run {
    let (calls0, keys0) = (
        db.calls.load(Ordering::Relaxed),
        db.keys.load(Ordering::Relaxed),
    );
    let start = Instant::now();
    let deadline = start + span;
    let latencies: Vec<Vec<Duration>> = rt.block_on(async {
        let clients: Vec<_> = (0..concurrency)
            .map(|c| {
                let loaders = Arc::clone(loaders);
                tokio::spawn(async move {
                    let mut lat = Vec::new();
                    let mut next_post = (c as u32 * 7919) % POSTS;
                    loop {
                        let t = Instant::now();
                        request(&loaders, next_post, pattern).await;
                        lat.push(t.elapsed());
                        next_post = (next_post + POSTS_PER_REQUEST) % POSTS;
                        if Instant::now() >= deadline {
                            return lat;
                        }
                    }
                })
            })
            .collect();
        let mut all = Vec::new();
        for c in clients {
            all.push(c.await.expect("client panicked"));
        }
        all
    });
    let wall = start.elapsed();
    let latencies: Vec<Duration> = latencies.into_iter().flatten().collect();
    Run {
        requests: latencies.len() as u64,
        wall,
        latencies,
        calls: db.calls.load(Ordering::Relaxed) - calls0,
        keys: db.keys.load(Ordering::Relaxed) - keys0,
    }
}

struct Contender {
    name: &'static str,
    config: &'static str,
    loaders: Arc<dyn Loaders>,
    db: Arc<Db>,
}

fn contenders(latency: Option<&Arc<LatencyTimer>>) -> Vec<Contender> {
    let db = || Arc::new(Db::new(latency.cloned()));
    let (d1, d2, d3, d4, d5, d6, d7) = (db(), db(), db(), db(), db(), db(), db());
    vec![
        Contender {
            name: "brace",
            config: "BatchLoader, yield_with(tokio::task::yield_now), yields 16, max_batch_size 1000",
            loaders: Arc::new(brace_side::Brace::new(&d1, true)),
            db: d1,
        },
        Contender {
            name: "brace-unheld",
            config: "brace as above with hold_stragglers(false): no batch waits for an earlier not-full batch's call",
            loaders: Arc::new(brace_side::Brace::new(&d6, false)),
            db: d6,
        },
        Contender {
            name: "async-graphql-1ms",
            config: "async-graphql 7 DataLoader::new(_, tokio::spawn), delay 1 ms (its default), max_batch_size 1000",
            loaders: Arc::new(graphql_side::AsyncGraphql::new(
                &d2,
                Duration::from_millis(1),
            )),
            db: d2,
        },
        Contender {
            name: "async-graphql-0ms",
            config: "async-graphql 7 DataLoader, delay 0, max_batch_size 1000",
            loaders: Arc::new(graphql_side::AsyncGraphql::new(&d3, Duration::ZERO)),
            db: d3,
        },
        Contender {
            name: "dataloader",
            config: "dataloader 0.18 (cksac) non_cached::Loader, with_yield_count(10), max_batch_size 1000",
            loaders: Arc::new(cksac_side::Cksac::new(&d4)),
            db: d4,
        },
        Contender {
            name: "unbatched",
            config: "one backend call per load",
            loaders: Arc::new(Unbatched {
                db: Arc::clone(&d5),
                by_level: false,
            }),
            db: d5,
        },
        Contender {
            name: "by-hand",
            config: "no loader: each request makes one backend call per level with its own distinct keys (a reference, not a peer: no request waits for another's keys)",
            loaders: Arc::new(Unbatched {
                db: Arc::clone(&d7),
                by_level: true,
            }),
            db: d7,
        },
    ]
}

/// Per contender, over all rounds.
#[derive(Default)]
struct Tally {
    ns_per_request: Vec<f64>,
    latencies: Vec<Duration>,
    requests: u64,
    calls: u64,
    keys: u64,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// Runs the loader comparison and prints its tables and ratio lines.
pub fn run(opts: &Options) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let timer = Arc::new(LatencyTimer::start());
    let (rounds, span) = if opts.quick {
        (3, Duration::from_millis(50))
    } else {
        (opts.rounds.min(5), Duration::from_millis(150))
    };
    println!(
        "\n## loader: N+1 (100 posts, then each post's author; 1,000 Zipf authors), tokio 2 workers"
    );
    println!(
        "{rounds} interleaved rounds of ~{} ms per contender and case; figures are medians (latency: over all requests)",
        span.as_millis()
    );
    let mut notes_printed = false;
    for (backend, latency) in [("zero latency", None), ("200 µs + 1 µs/key", Some(&timer))] {
        let contenders = contenders(latency);
        for pattern in [Pattern::JoinAll, Pattern::Spawn] {
            println!("\n### {backend}, {}\n", pattern.name());
            println!(
                "| concurrency | contender | requests/s | batch calls/request | mean batch size | p50 ms | p99 ms | brace/contender |"
            );
            println!("|---:|---|---:|---:|---:|---:|---:|---:|");
            for concurrency in [1usize, 16, 64] {
                let mut tallies: Vec<Tally> = contenders.iter().map(|_| Tally::default()).collect();
                for round in 0..rounds {
                    for k in 0..contenders.len() {
                        let i = (round + k) % contenders.len();
                        let c = &contenders[i];
                        let r = run_once(&rt, &c.loaders, &c.db, pattern, concurrency, span);
                        let t = &mut tallies[i];
                        t.ns_per_request
                            .push(r.wall.as_nanos() as f64 / r.requests.max(1) as f64);
                        t.latencies.extend(r.latencies);
                        t.requests += r.requests;
                        t.calls += r.calls;
                        t.keys += r.keys;
                    }
                }
                let medians: Vec<f64> = tallies
                    .iter_mut()
                    .map(|t| {
                        t.ns_per_request.sort_by(f64::total_cmp);
                        t.latencies.sort();
                        median_sorted(&t.ns_per_request)
                    })
                    .collect();
                for (c, (t, &ns)) in contenders.iter().zip(tallies.iter().zip(&medians)) {
                    println!(
                        "| {concurrency} | {} | {:.0} | {:.2} | {:.1} | {:.3} | {:.3} | {:.3} |",
                        c.name,
                        1e9 / ns,
                        t.calls as f64 / t.requests.max(1) as f64,
                        t.keys as f64 / t.calls.max(1) as f64,
                        percentile(&t.latencies, 0.50),
                        percentile(&t.latencies, 0.99),
                        medians[0] / ns,
                    );
                }
                if latency.is_some() {
                    // Ratio lines name peers only, not brace's own variant
                    // nor the by-hand reference.
                    for (c, &ns) in contenders.iter().zip(&medians).skip(1) {
                        if c.name.starts_with("brace") || c.name == "by-hand" {
                            continue;
                        }
                        let case = format!("{} {concurrency}", pattern.name());
                        print_ratio("loader", &case, c.name, medians[0] / ns);
                    }
                }
            }
        }
        if !notes_printed {
            println!();
            for c in &contenders {
                println!("- `{}`: {}", c.name, c.config);
            }
            notes_printed = true;
        }
    }
}
