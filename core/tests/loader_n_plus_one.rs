//! The N+1 workload: 100 posts, each loading its author, resolved with
//! `join_all` in one task: exactly one batch call per level.
//! (`loader_spawn.rs` has the task-per-item variant.)

mod common;

use brace::loader::BatchLoader;
use common::Backend;
use futures_util::future::join_all;

const PARENTS: u64 = 100;

/// Post ids (clear of the backend's magic keys).
fn post_ids() -> impl Iterator<Item = u64> {
    100..100 + PARENTS
}

/// Post `p` is written by author `1000 + p % 37` (so authors repeat).
fn author_of(post: u64) -> u64 {
    1000 + post % 37
}

#[test]
fn join_all_makes_one_batch_per_level() {
    for runtime in [common::current_thread(), multi_thread()] {
        let posts = Backend::new();
        let authors = Backend::new();
        let post_loader = BatchLoader::new(posts.clone());
        let author_loader = BatchLoader::new(authors.clone());
        runtime.block_on(async {
            let loaded = join_all(post_ids().map(|p| post_loader.load(p))).await;
            assert!(loaded.iter().all(|r| matches!(r, Ok(Some(_)))));
            let ids = (0..PARENTS).map(author_of);
            let loaded = join_all(ids.map(|a| author_loader.load(a))).await;
            for (p, r) in loaded.into_iter().enumerate() {
                assert_eq!(r.unwrap(), Some(author_of(p as u64) * 10));
            }
        });
        assert_eq!(posts.call_count(), 1, "posts: {:?}", posts.calls());
        assert_eq!(authors.call_count(), 1, "authors: {:?}", authors.calls());
        assert_eq!(posts.calls()[0], post_ids().collect::<Vec<_>>());
        assert_eq!(authors.calls()[0].len(), 37, "each author once");
        for loader in [&post_loader, &author_loader] {
            assert_eq!((loader.pending_keys(), loader.in_flight_batches()), (0, 0));
        }
    }
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}
