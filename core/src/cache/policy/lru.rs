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

/// Bits of a node index; the two above them in `Node::prev` hold the queue.
const INDEX_BITS: u32 = 30;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;

/// "No node": the end of a list or of the free chain.
pub(super) const NIL: u32 = INDEX_MASK;

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

impl Queue {
    fn from_bits(bits: u32) -> Queue {
        match bits {
            0 => Queue::Window,
            1 => Queue::Probation,
            _ => Queue::Protected,
        }
    }
}

/// One resident entry: 16 bytes, one per cache entry, so it is packed. The
/// queue rides in the top two bits of `prev`; the weight lives apart (see
/// [`LruLists`]).
#[derive(Clone, Debug)]
struct Node {
    /// The key hash the cache knows the entry by.
    hash: u64,
    /// `queue << INDEX_BITS | previous node`.
    prev: u32,
    next: u32,
}

impl Node {
    fn prev(&self) -> u32 {
        self.prev & INDEX_MASK
    }

    fn queue(&self) -> Queue {
        Queue::from_bits(self.prev >> INDEX_BITS)
    }

    fn set_prev(&mut self, prev: u32) {
        self.prev = (self.prev & !INDEX_MASK) | prev;
    }
}

/// Three doubly linked lists over one slab.
///
/// Weights are kept in `node_weights`, beside the slab, only once some
/// entry weighs other than 1: a cache that counts entries (no weigher)
/// never allocates it.
#[derive(Debug)]
pub(super) struct LruLists {
    nodes: Vec<Node>,
    node_weights: Vec<u32>,
    /// Most nodes live at once (a policy's capacity plus the one being
    /// inserted): the slab doubles as it fills, but never past this, so a
    /// full cache of a million entries holds a million nodes, not 2^20.
    limit: usize,
    free: Option<u32>,
    /// Nodes in use (pushed and not removed).
    live: usize,
    heads: [u32; 3],
    tails: [u32; 3],
    weights: [u64; 3],
}

impl LruLists {
    /// Empty lists with no growth limit.
    #[cfg(test)]
    pub(super) fn new() -> Self {
        Self::with_limit(u64::MAX)
    }

    /// Empty lists for a policy of `capacity` entries (or weight: an entry
    /// weighs at least 1).
    pub(super) fn with_limit(capacity: u64) -> Self {
        LruLists {
            nodes: Vec::new(),
            node_weights: Vec::new(),
            limit: usize::try_from(capacity.saturating_add(1)).unwrap_or(usize::MAX),
            free: None,
            live: 0,
            heads: [NIL; 3],
            tails: [NIL; 3],
            weights: [0; 3],
        }
    }

    /// The key hash of the node at `index`.
    pub(super) fn hash(&self, index: u32) -> u64 {
        self.nodes[index as usize].hash
    }

    /// The queue of the node at `index`.
    pub(super) fn queue(&self, index: u32) -> Queue {
        self.nodes[index as usize].queue()
    }

    /// The weight of the node at `index`.
    pub(super) fn node_weight(&self, index: u32) -> u32 {
        self.node_weights.get(index as usize).copied().unwrap_or(1)
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
        for neighbour in [node.prev(), node.next] {
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
                let index = u32::try_from(self.nodes.len()).unwrap_or(NIL);
                assert!(index < NIL, "fewer than 2^30 - 1 entries");
                self.grow_for_one();
                self.nodes.push(node);
                index
            }
        };
        self.store_weight(index, weight);
        self.link_back(index, queue);
        self.live += 1;
        index
    }

    /// Nodes in use.
    pub(super) fn len(&self) -> usize {
        self.live
    }

    /// Makes room for one more node: double, but not past `limit`.
    fn grow_for_one(&mut self) {
        let len = self.nodes.len();
        if len < self.nodes.capacity() {
            return;
        }
        let doubled = len.max(4);
        let room = self.limit.saturating_sub(len);
        self.nodes.reserve_exact(if room == 0 {
            doubled
        } else {
            doubled.min(room)
        });
    }

    /// Records the weight of the node at `index` (a new one, or one not
    /// linked into a queue), materialising `node_weights` at the first
    /// weight other than 1.
    fn store_weight(&mut self, index: u32, weight: u32) {
        if self.node_weights.is_empty() {
            if weight == 1 {
                return;
            }
            self.node_weights.resize(self.nodes.len(), 1);
        }
        // Once materialised the weights keep pace with the slab, so `index`
        // is either a slot they cover or the node just pushed.
        match self.node_weights.get_mut(index as usize) {
            Some(stored) => *stored = weight,
            None => self.node_weights.push(weight),
        }
    }

    /// Unlinks the node at `index` and frees its slot; returns its hash.
    pub(super) fn remove(&mut self, index: u32) -> u64 {
        self.unlink(index);
        self.live -= 1;
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
        let queue = self.queue(index) as usize;
        let old = self.node_weight(index);
        self.weights[queue] = self.weights[queue] - u64::from(old) + u64::from(weight);
        self.store_weight(index, weight);
    }

    fn link_back(&mut self, index: u32, queue: Queue) {
        let q = queue as usize;
        let tail = self.tails[q];
        self.weights[q] += u64::from(self.node_weight(index));
        let node = &mut self.nodes[index as usize];
        node.prev = (q as u32) << INDEX_BITS | tail;
        node.next = NIL;
        if tail == NIL {
            self.heads[q] = index;
        } else {
            self.nodes[tail as usize].next = index;
        }
        self.tails[q] = index;
    }

    fn unlink(&mut self, index: u32) {
        let node = &self.nodes[index as usize];
        let (prev, next, q) = (node.prev(), node.next, node.queue() as usize);
        self.weights[q] -= u64::from(self.node_weight(index));
        if prev == NIL {
            self.heads[q] = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            self.tails[q] = prev;
        } else {
            self.nodes[next as usize].set_prev(prev);
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
            out.push(lists.hash(index));
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
    fn a_node_is_sixteen_bytes_and_unit_weights_take_no_memory() {
        assert_eq!(core::mem::size_of::<Node>(), 16);
        let mut lists = LruLists::new();
        for h in 0..100 {
            lists.push(h, 1, Queue::Window);
        }
        assert_eq!(lists.node_weights.capacity(), 0);
        // The first other weight materialises them, ones for the rest.
        let heavy = lists.push(100, 7, Queue::Protected);
        assert_eq!(lists.node_weight(heavy), 7);
        assert_eq!(lists.node_weight(0), 1);
        assert_eq!(lists.weight(Queue::Window), 100);
        assert_eq!(lists.weight(Queue::Protected), 7);
        lists.set_weight(3, 4);
        assert_eq!(lists.weight(Queue::Window), 103);
        lists.move_to_back(3, Queue::Probation);
        assert_eq!(lists.weight(Queue::Probation), 4);
        assert_eq!(lists.queue(3), Queue::Probation);
        assert_eq!(lists.queue(heavy), Queue::Protected);
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
