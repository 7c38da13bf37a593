//! Slab-backed intrusive LRU lists: the window, probation and protected
//! queues of the policy share one slab of nodes.
//!
//! Nodes live in one `Vec` and link to each other by `u32` index, so moving
//! an entry between or within queues is a few index writes and allocates
//! nothing; freed slots are chained into a free list and reused. Each queue
//! runs from its least recently used entry (the front, evicted first) to its
//! most recently used one (the back), and keeps the total weight of its
//! entries.

use alloc::vec::Vec;

/// "No node": the end of a list or of the free chain.
pub(super) const NIL: u32 = u32::MAX;

/// Which of the three queues a node belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Queue {
    /// The admission window: new entries, plain LRU.
    Window = 0,
    /// Main space, entries seen once since admission; victims come from here.
    Probation = 1,
    /// Main space, entries hit while on probation.
    Protected = 2,
}

/// One resident entry.
#[derive(Clone, Debug)]
pub(super) struct Node {
    /// The key hash the cache knows the entry by.
    pub(super) hash: u64,
    /// The entry's weight (1 when the cache counts entries).
    pub(super) weight: u32,
    /// The queue the node is linked into.
    pub(super) queue: Queue,
    prev: u32,
    next: u32,
}

/// Three doubly linked lists over one slab.
#[derive(Debug, Default)]
pub(super) struct LruLists {
    nodes: Vec<Node>,
    free: Option<u32>,
    heads: [u32; 3],
    tails: [u32; 3],
    weights: [u64; 3],
}

impl LruLists {
    /// Empty lists.
    pub(super) fn new() -> Self {
        LruLists {
            nodes: Vec::new(),
            free: None,
            heads: [NIL; 3],
            tails: [NIL; 3],
            weights: [0; 3],
        }
    }

    /// The node at `index`.
    pub(super) fn node(&self, index: u32) -> &Node {
        &self.nodes[index as usize]
    }

    /// Total weight of the entries in `queue`.
    pub(super) fn weight(&self, queue: Queue) -> u64 {
        self.weights[queue as usize]
    }

    /// The least recently used node of `queue`.
    pub(super) fn front(&self, queue: Queue) -> Option<u32> {
        some(self.heads[queue as usize])
    }

    /// Loads the nodes before and after `index` (for a move soon after).
    pub(super) fn warm_neighbours(&self, index: u32) {
        let node = &self.nodes[index as usize];
        for neighbour in [node.prev, node.next] {
            if neighbour != NIL {
                core::hint::black_box(self.nodes[neighbour as usize].prev);
            }
        }
    }

    /// The most recently used node of `queue`.
    pub(super) fn back(&self, queue: Queue) -> Option<u32> {
        some(self.tails[queue as usize])
    }

    /// The node after `index` in its queue (one step towards the most
    /// recently used end).
    pub(super) fn next(&self, index: u32) -> Option<u32> {
        some(self.nodes[index as usize].next)
    }

    /// Stores a new entry at the back of `queue` and returns its index.
    pub(super) fn push(&mut self, hash: u64, weight: u32, queue: Queue) -> u32 {
        let node = Node {
            hash,
            weight,
            queue,
            prev: NIL,
            next: NIL,
        };
        let index = match self.free {
            Some(index) => {
                self.free = some(self.nodes[index as usize].next);
                self.nodes[index as usize] = node;
                index
            }
            None => {
                let index = u32::try_from(self.nodes.len()).expect("fewer than 2^32 - 1 entries");
                assert!(index != NIL, "fewer than 2^32 - 1 entries");
                self.nodes.push(node);
                index
            }
        };
        self.link_back(index, queue);
        index
    }

    /// Unlinks the node at `index` and frees its slot; returns its hash.
    pub(super) fn remove(&mut self, index: u32) -> u64 {
        self.unlink(index);
        let node = &mut self.nodes[index as usize];
        node.next = self.free.unwrap_or(NIL);
        self.free = Some(index);
        node.hash
    }

    /// Moves the node at `index` to the back of `queue` (which may be the
    /// queue it is in: that marks it most recently used).
    pub(super) fn move_to_back(&mut self, index: u32, queue: Queue) {
        self.unlink(index);
        self.link_back(index, queue);
    }

    /// Changes the weight of the node at `index`.
    pub(super) fn set_weight(&mut self, index: u32, weight: u32) {
        let node = &mut self.nodes[index as usize];
        let queue = node.queue as usize;
        self.weights[queue] = self.weights[queue] - u64::from(node.weight) + u64::from(weight);
        node.weight = weight;
    }

    fn link_back(&mut self, index: u32, queue: Queue) {
        let q = queue as usize;
        let tail = self.tails[q];
        let node = &mut self.nodes[index as usize];
        node.queue = queue;
        node.prev = tail;
        node.next = NIL;
        self.weights[q] += u64::from(node.weight);
        if tail == NIL {
            self.heads[q] = index;
        } else {
            self.nodes[tail as usize].next = index;
        }
        self.tails[q] = index;
    }

    fn unlink(&mut self, index: u32) {
        let Node {
            prev,
            next,
            queue,
            weight,
            ..
        } = self.nodes[index as usize];
        let q = queue as usize;
        self.weights[q] -= u64::from(weight);
        if prev == NIL {
            self.heads[q] = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            self.tails[q] = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
    }
}

fn some(index: u32) -> Option<u32> {
    (index != NIL).then_some(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(lists: &LruLists, queue: Queue) -> Vec<u64> {
        let mut out = Vec::new();
        let mut at = lists.front(queue);
        while let Some(index) = at {
            out.push(lists.node(index).hash);
            at = lists.next(index);
        }
        out
    }

    #[test]
    fn push_appends_most_recent_last_and_tracks_weight() {
        let mut lists = LruLists::new();
        lists.push(1, 2, Queue::Window);
        lists.push(2, 3, Queue::Window);
        lists.push(3, 1, Queue::Probation);
        assert_eq!(hashes(&lists, Queue::Window), [1, 2]);
        assert_eq!(hashes(&lists, Queue::Probation), [3]);
        assert_eq!(lists.weight(Queue::Window), 5);
        assert_eq!(lists.weight(Queue::Probation), 1);
        assert_eq!(lists.weight(Queue::Protected), 0);
    }

    #[test]
    fn move_to_back_reorders_and_moves_weight_between_queues() {
        let mut lists = LruLists::new();
        let a = lists.push(1, 1, Queue::Window);
        lists.push(2, 1, Queue::Window);
        let c = lists.push(3, 4, Queue::Window);
        lists.move_to_back(a, Queue::Window);
        assert_eq!(hashes(&lists, Queue::Window), [2, 3, 1]);
        lists.move_to_back(c, Queue::Protected);
        assert_eq!(hashes(&lists, Queue::Window), [2, 1]);
        assert_eq!(hashes(&lists, Queue::Protected), [3]);
        assert_eq!(lists.weight(Queue::Window), 2);
        assert_eq!(lists.weight(Queue::Protected), 4);
    }

    #[test]
    fn removed_slots_are_reused() {
        let mut lists = LruLists::new();
        let a = lists.push(1, 1, Queue::Window);
        lists.push(2, 1, Queue::Window);
        assert_eq!(lists.remove(a), 1);
        let b = lists.push(7, 5, Queue::Probation);
        assert_eq!(b, a, "the freed slot is reused");
        assert_eq!(hashes(&lists, Queue::Window), [2]);
        assert_eq!(hashes(&lists, Queue::Probation), [7]);
        lists.set_weight(b, 2);
        assert_eq!(lists.weight(Queue::Probation), 2);
    }
}
