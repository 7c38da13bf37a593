//! How many quiet yields the leader waits, as `LoaderBuilder::yields`
//! documents: exactly `yields` when every key came before the first yield,
//! twice the longest gap after a key arrived late. (The public docs once
//! said only the first; a review helper's test showed the second.)
mod common;

use brace::loader::BatchLoader;
use common::{Backend, poll_once};

/// Polls `leader` until the backend starts; returns how many polls it took.
fn polls_until_sent(leader: &mut (impl std::future::Future + Unpin), backend: &Backend) -> usize {
    for n in 1..=200 {
        let _ = poll_once(leader);
        if backend.started() > 0 {
            return n;
        }
    }
    panic!("never sent");
}

#[test]
fn with_no_late_key_the_leader_waits_exactly_yields() {
    for yields in [1, 2, 5] {
        let backend = Backend::new();
        let loader = BatchLoader::builder(backend.clone())
            .yields(yields)
            .hold_stragglers(false)
            .build()
            .unwrap();
        // Both keys join at the leader's first poll.
        let mut leader = Box::pin(loader.load_many(vec![1, 2]));
        // Poll 1 looks and yields; each later poll ends one quiet yield.
        assert_eq!(polls_until_sent(&mut leader, &backend), yields as usize + 1);
    }
}

#[test]
fn a_key_arriving_during_the_first_yield_doubles_the_wait_to_two() {
    let backend = Backend::new();
    let loader = BatchLoader::builder(backend.clone())
        .yields(1)
        .hold_stragglers(false)
        .build()
        .unwrap();
    let mut leader = Box::pin(loader.load(1));
    let mut late = Box::pin(loader.load(2));
    assert!(poll_once(&mut leader).is_pending(), "poll 1: looks, yields");
    assert!(
        poll_once(&mut late).is_pending(),
        "a key arrives during that yield"
    );
    // Poll 2 sees the key (gap 1: wait for 2 quiet yields), polls 3 and 4
    // end them: sent at the leader's 4th poll, the 3rd counted here.
    assert_eq!(polls_until_sent(&mut leader, &backend), 3);
}
