//! The policy's nodes: one hash table that is at once the index from key
//! hash to node and the storage of the three LRU queues (window,
//! probation, protected) that link the nodes.
//!
//! # Why one table
//!
//! A node must hold its entry's 64-bit hash (eviction names the entry to
//! the cache by it) and its two links. Kept in a slab with a separate index
//! (a hash table of slab positions), a million entries cost 16 bytes of
//! node and about 6 of index each. Here a node lives in a bucket chosen by
//! its hash, so the bucket already says part of the hash: the node keeps
//! only the rest (see *Layout*), and there is no index. A million entries
//! take 12 bytes a node in a table 90% full: 13.3 bytes each.
//!
//! # Layout
//!
//! The table is `buckets` buckets of [`WAYS`] slots. A node's place is
//! decided by `mixed`, its hash put through a bijective mix ([`spread`]:
//! the cache's hashes are random, but the policy's tests and simulator feed
//! it small integers). Its *primary* bucket is
//! `(mixed >> 32) · buckets >> 32`; given it, `mixed >> 32` is one of at
//! most `⌈2^32 / buckets⌉` values, whose low `b` bits pin it down. A node
//! stores `mixed`'s low `32 + b` bits (the *remainder*), and its hash is
//! recovered exactly from the remainder and the primary bucket. Its
//! *secondary* bucket is `g − primary` (modulo `buckets`) for `g` a hash of
//! the remainder, so either bucket and the remainder give the other, and a
//! flag says which one the node is in (cuckoo hashing with two choices of
//! a bucket of four). Packed in three 32-bit words:
//!
//! | word | low bits | the rest |
//! |---|---|---|
//! | 0 | remainder's low 32 (`mixed`'s) | |
//! | 1 | previous node's slot (`P = ⌈log2 (slots + 1)⌉` bits) | extras, low part |
//! | 2 | next node's slot (`P` bits) | extras, next part |
//!
//! From 2^23 buckets (about 33.5 million slots) the extras no longer fit
//! there, and a
//! fourth word holds all of them (words 1 and 2 then hold only the links,
//! up to 31 bits).
//!
//! The extras are, low bits first: occupied (1), in its secondary bucket
//! (1), queue (2), the remainder's high `b` bits. A million entries:
//! 277,778 buckets, `P` = 21, `b` = 14: 18 bits of extras in the 22 that
//! words 1 and 2 leave. A lookup compares the first word of each record
//! with `mixed`'s low 32 bits and reads the rest only on a match; a link
//! is read or written as one word.
//!
//! # Protocol
//!
//! * **Lookup** reads the primary bucket, and the secondary one only if
//!   the key is not in the primary (four records each), and compares the
//!   remainders of the records flagged as being in that bucket.
//! * **Insert** takes a free slot of the emptier bucket (spreading nodes
//!   evenly leaves fewer pairs of full buckets). When both are full, a
//!   breadth-first search over the nodes' other buckets finds the shortest
//!   chain of nodes that can each move to their other bucket, ending at a
//!   free slot; the chain moves from its far end, so every node is always
//!   in one of its buckets. A moved node's neighbours (or its queue's head
//!   and tail) are pointed at its new slot.
//! * **Removal moves nothing**: a slot number stays valid until the next
//!   insert.
//! * **Growth.** A table starts with room for the nodes it expects (a
//!   cache that counts entries: its capacity, up to [`RESERVED_NODES`]).
//!   Past 90% full, or when the search finds no chain, it is rebuilt at
//!   twice the buckets: every record is carried over in slot order with its
//!   links, then the links are translated to the new slots (see
//!   [`Nodes::rebuilt`]). Doubling stops at the size for its capacity,
//!   unless weightless entries make more nodes than the capacity or no
//!   chain is found at that size. The rebuild holds the policy lock: about
//!   0.2 s for two million nodes on the benchmark machine, so a cache that
//!   counts up to about two million entries starts at its full size.

use alloc::vec;
use alloc::vec::Vec;

use super::sketch::{spread, unspread};

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
    #[cfg(test)]
    const ALL: [Queue; 3] = [Queue::Window, Queue::Probation, Queue::Protected];

    /// The queue of a record's two queue bits (3 is never stored).
    #[inline(always)]
    fn from_bits(bits: u64) -> Queue {
        [
            Queue::Window,
            Queue::Probation,
            Queue::Protected,
            Queue::Protected,
        ][(bits & 3) as usize]
    }
}

/// Slots per bucket.
const WAYS: usize = 4;
/// The table grows past 90 nodes in 100 slots.
const LOAD_PERCENT: usize = 90;
/// Fewest buckets a table has.
const MIN_BUCKETS: usize = 4;
/// Most slots: slot numbers and their "none" fit in 31 bits (at 90%,
/// 1.9 billion nodes; the slab this table replaced stopped at 2^30).
const MAX_SLOTS: usize = (1 << 31) - 1;
/// Widest slot number that leaves words 1 and 2 room for the occupied,
/// secondary and queue bits; past it, records take a fourth word.
const MAX_THREE_WORD_POSITION_BITS: u32 = 28;
/// Most nodes a table makes room for before it holds any: a cache that
/// counts entries reserves its capacity's nodes up to this many (up to
/// twice as many if that is all it needs; its shadows reserve at most
/// [`SHADOW_RESERVE`]). Filling a million-entry cache then never rebuilds
/// the table (growing from 16 buckets, the last of its rebuilds held the
/// policy lock for 0.25 s), and a larger capacity reserves at most about
/// 14 MB of table before it is used, as the frequency sketch stops at
/// 8 MiB. The memory is zeroed on allocation, so the system backs it
/// with pages as nodes land on them.
const RESERVED_NODES: u64 = 1 << 20;
/// Most nodes a shadow policy's table makes room for before it holds any
/// (shadows hold about 2,048 to 4,096 entries below 2^28 of capacity).
pub(super) const SHADOW_RESERVE: u64 = 1 << 13;
/// Most nodes the search for a chain of moves looks at.
const SEARCH_LIMIT: usize = 1024;
/// A search's buffer is kept for the next one up to this many entries.
const KEPT_SEARCH: usize = 128;

/// The extras' fields (see the module docs).
const OCCUPIED: u64 = 1;
const SECONDARY: u64 = 2;
const QUEUE_SHIFT: u32 = 2;
const HIGH_SHIFT: u32 = 4;

/// `bits` one bits (`bits` < 64).
const fn mask(bits: u32) -> u64 {
    (1 << bits) - 1
}

/// Field widths for a table of `buckets` buckets.
#[derive(Clone, Copy, Debug)]
struct Layout {
    buckets: usize,
    /// 32-bit words per record: 3 or 4.
    stride: usize,
    position_bits: u32,
    /// `⌊2^64 / buckets⌋` (saturated), to find a primary bucket's first
    /// `mixed` without dividing.
    reciprocal: u64,
    /// See [`Layout::flags`].
    flags_word: usize,
    flags_shift: u32,
    /// "No node": `P` one bits, also the links' mask.
    nil: u32,
    /// `b` one bits: the bits of `mixed >> 32` kept beside its low 32.
    high_mask: u64,
}

impl Layout {
    #[cfg(test)]
    fn for_buckets(buckets: usize) -> Layout {
        Self::with_stride_at_least(buckets, 3)
    }

    /// The layout for `buckets`, in four words if `stride` is 4 (for the
    /// tests of large tables' records).
    fn with_stride_at_least(buckets: usize, stride: usize) -> Layout {
        let slots = buckets * WAYS;
        debug_assert!(buckets >= 1 && slots <= MAX_SLOTS);
        let position_bits = usize::BITS - slots.leading_zeros(); // slots < 2^P: "none" fits
        let widest = (1u64 << 32).div_ceil(buckets as u64);
        let high_bits = u64::BITS - (widest - 1).leading_zeros();
        let extras = HIGH_SHIFT + high_bits;
        let stride = if stride == 3
            && position_bits <= MAX_THREE_WORD_POSITION_BITS
            && extras <= 2 * (32 - position_bits)
        {
            3
        } else {
            4
        };
        debug_assert!(
            stride == 3 || extras <= 32,
            "{buckets} buckets: too few for four-word records"
        );
        Layout {
            buckets,
            stride,
            position_bits,
            reciprocal: u64::try_from((1u128 << 64) / buckets as u128).unwrap_or(u64::MAX),
            flags_word: if stride == 3 { 1 } else { 3 },
            flags_shift: if stride == 3 { position_bits } else { 0 },
            nil: mask(position_bits) as u32,
            high_mask: mask(high_bits),
        }
    }

    fn slots(&self) -> usize {
        self.buckets * WAYS
    }

    /// "No node".
    fn nil(&self) -> u32 {
        self.nil
    }

    /// Bits of extras in each of words 1 and 2 (of a three-word record).
    fn gap(&self) -> u32 {
        32 - self.position_bits
    }

    /// The extras of `record`, a whole record of `S` words (see the module
    /// docs).
    #[inline(always)]
    fn extras_in<const S: usize>(&self, record: &[u32; S]) -> u64 {
        if S == 4 {
            return u64::from(record[S - 1]);
        }
        let p = self.position_bits;
        u64::from(record[1] >> p) | u64::from(record[2] >> p) << self.gap()
    }

    /// The word of a record and the bit in it where the extras start: the
    /// occupied, secondary and queue bits sit there.
    #[inline]
    fn flags(&self) -> (usize, u32) {
        (self.flags_word, self.flags_shift)
    }

    fn remainder(&self, mixed: u64) -> u64 {
        mixed & ((self.high_mask << 32) | 0xFFFF_FFFF)
    }

    fn primary(&self, mixed: u64) -> usize {
        (((mixed >> 32) * self.buckets as u64) >> 32) as usize
    }

    /// The other bucket of a node with `remainder` in `bucket`.
    fn other(&self, bucket: usize, remainder: u64) -> usize {
        let g = (((spread(remainder) >> 32) * self.buckets as u64) >> 32) as usize;
        if g >= bucket {
            g - bucket
        } else {
            g + self.buckets - bucket
        }
    }

    /// The `mixed` whose primary bucket is `primary` and remainder
    /// `remainder`.
    fn mixed(&self, primary: usize, remainder: u64) -> u64 {
        // The smallest `mixed >> 32` whose primary bucket is `primary`:
        // the reciprocal's estimate is at most two short.
        let mut lowest =
            (((u128::from(primary as u64) << 32) * u128::from(self.reciprocal)) >> 64) as u64;
        while self.primary(lowest << 32) < primary {
            lowest += 1;
        }
        let kept = remainder >> 32;
        let high = lowest + (kept.wrapping_sub(lowest) & self.high_mask);
        high << 32 | (remainder & 0xFFFF_FFFF)
    }
}

/// The policy's nodes: a hash-keyed table whose records link into three
/// LRU queues (front: least recently used, evicted first). Queues keep
/// their total weight. Weights are kept apart, per slot, only once some
/// entry weighs other than 1.
#[derive(Debug)]
pub(super) struct Nodes {
    words: Vec<u32>,
    layout: Layout,
    /// The bucket count for the capacity's nodes at 90%: growth doubles up
    /// to it, and past it only for weightless entries or when no chain of
    /// moves is found (see the module docs).
    full_buckets: usize,
    node_weights: Vec<u32>,
    len: usize,
    heads: [u32; 3],
    tails: [u32; 3],
    weights: [u64; 3],
    /// The search's frontier: (slot, index of the entry it came from).
    search: Vec<(u32, u32)>,
}

impl Nodes {
    /// Empty queues for a policy of `capacity` entries (or weight: an entry
    /// weighs at least 1, so at most `capacity + 1` nodes live at once
    /// unless some weigh 0), with room for `room + 1` nodes before the
    /// first growth: at most [`RESERVED_NODES`], at least 16 buckets, never
    /// more than the capacity needs, and all it needs if that is within
    /// twice the reserve (growing the last step would rebuild a table
    /// almost full for a few more buckets).
    pub(super) fn new(capacity: u64, room: u64) -> Self {
        let full_buckets = Self::buckets_for(capacity.saturating_add(1));
        let reserved = Self::buckets_for(room.saturating_add(1).min(RESERVED_NODES));
        let start = if reserved >= Self::buckets_for(RESERVED_NODES) && full_buckets <= 2 * reserved
        {
            full_buckets
        } else {
            reserved.max(full_buckets.min(16)).min(full_buckets)
        };
        Self::with_buckets(start, full_buckets, 3)
    }

    /// The buckets that hold `nodes` nodes at most 90% full.
    fn buckets_for(nodes: u64) -> usize {
        usize::try_from(nodes)
            .unwrap_or(usize::MAX)
            .saturating_mul(100)
            .div_ceil(LOAD_PERCENT * WAYS)
            .clamp(MIN_BUCKETS, MAX_SLOTS / WAYS)
    }

    /// Empty queues in records of four words, as tables past about 16
    /// million slots have.
    #[cfg(test)]
    fn in_four_words(capacity: u64) -> Self {
        let nodes = Self::new(capacity, capacity);
        Self::with_buckets(nodes.layout.buckets, nodes.full_buckets, 4)
    }

    fn with_buckets(buckets: usize, full_buckets: usize, stride: usize) -> Self {
        let layout = Layout::with_stride_at_least(buckets, stride);
        let nil = layout.nil();
        Nodes {
            words: vec![0; layout.slots() * layout.stride],
            layout,
            full_buckets,
            node_weights: Vec::new(),
            len: 0,
            heads: [nil; 3],
            tails: [nil; 3],
            weights: [0; 3],
            search: Vec::new(),
        }
    }

    /// The first word of `slot`'s record.
    #[inline(always)]
    fn at(&self, slot: usize) -> usize {
        slot * self.layout.stride
    }

    /// The first three words of `slot`'s record (a four-word record's
    /// fourth holds only extras): one bounds check for all three.
    #[inline(always)]
    fn record(&self, slot: usize) -> &[u32; 3] {
        let at = self.at(slot);
        self.words[at..]
            .first_chunk()
            .expect("a record has three words")
    }

    /// [`record`](Self::record), to write.
    #[inline(always)]
    fn record_mut(&mut self, slot: usize) -> &mut [u32; 3] {
        let at = self.at(slot);
        self.words[at..]
            .first_chunk_mut()
            .expect("a record has three words")
    }

    #[inline]
    fn prev_link(&self, slot: usize) -> u32 {
        self.words[self.at(slot) + 1] & self.layout.nil()
    }

    #[inline]
    fn next_link(&self, slot: usize) -> u32 {
        self.words[self.at(slot) + 2] & self.layout.nil()
    }

    #[inline(always)]
    fn set_prev(&mut self, slot: usize, prev: u32) {
        let (at, nil) = (self.at(slot), self.layout.nil());
        self.words[at + 1] = (self.words[at + 1] & !nil) | prev;
    }

    #[inline(always)]
    fn set_next(&mut self, slot: usize, next: u32) {
        let (at, nil) = (self.at(slot), self.layout.nil());
        self.words[at + 2] = (self.words[at + 2] & !nil) | next;
    }

    #[inline(always)]
    fn occupied(&self, slot: usize) -> bool {
        let (word, shift) = self.layout.flags();
        (self.words[self.at(slot) + word] >> shift) & 1 == 1
    }

    /// The extras of `slot`'s record (see the module docs).
    #[inline(always)]
    fn extras(&self, slot: usize) -> u64 {
        if self.layout.stride == 4 {
            return u64::from(self.words[self.at(slot) + 3]);
        }
        let (p, gap) = (self.layout.position_bits, self.layout.gap());
        let [_, low, high] = *self.record(slot);
        u64::from(low >> p) | u64::from(high >> p) << gap
    }

    fn set_extras(&mut self, slot: usize, extras: u64) {
        let (at, p, gap) = (self.at(slot), self.layout.position_bits, self.layout.gap());
        if self.layout.stride == 4 {
            self.words[at + 3] = extras as u32;
            return;
        }
        let low = mask(gap);
        let nil = self.layout.nil();
        self.words[at + 1] = (self.words[at + 1] & nil) | ((extras & low) as u32) << p;
        self.words[at + 2] = (self.words[at + 2] & nil) | (((extras >> gap) & low) as u32) << p;
    }

    /// The remainder `slot`'s node keeps, given its extras.
    #[inline(always)]
    fn remainder_with(&self, slot: usize, extras: u64) -> u64 {
        (extras >> HIGH_SHIFT) << 32 | u64::from(self.words[self.at(slot)])
    }

    /// Writes a record of `remainder` in a bucket as `flag` says, in no
    /// queue, at the free `slot`.
    fn put(&mut self, slot: usize, remainder: u64, flag: u64) {
        let at = self.at(slot);
        let nil = self.layout.nil();
        self.words[at] = remainder as u32;
        self.words[at + 1] = nil;
        self.words[at + 2] = nil;
        self.set_extras(slot, OCCUPIED | flag | (remainder >> 32) << HIGH_SHIFT);
    }

    fn clear(&mut self, slot: usize) {
        let at = self.at(slot);
        let stride = self.layout.stride;
        self.words[at..at + stride].fill(0);
    }

    fn some(&self, slot: u32) -> Option<u32> {
        (slot != self.layout.nil()).then_some(slot)
    }

    /// Nodes in use.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot of `hash`'s node, if it has one.
    #[inline(always)]
    pub(super) fn find(&self, hash: u64) -> Option<u32> {
        self.find_spread(spread(hash))
    }

    /// [`find`](Self::find) given the hash already put through [`spread`].
    #[inline(always)]
    pub(super) fn find_spread(&self, mixed: u64) -> Option<u32> {
        self.find_queued(mixed).map(|(slot, _)| slot)
    }

    /// The slot and queue of the node of `mixed` (a hash put through
    /// [`spread`]), if it has one: the queue comes with the record the
    /// lookup has read.
    #[inline(always)]
    pub(super) fn find_queued(&self, mixed: u64) -> Option<(u32, Queue)> {
        if self.layout.stride == 3 {
            self.find_strided::<3>(mixed)
        } else {
            self.find_strided::<4>(mixed)
        }
    }

    /// [`find_queued`](Self::find_queued) in records of `S` words, the
    /// table's stride: a constant, so the bucket is checked once and
    /// its records' words are read without further checks.
    #[inline(always)]
    fn find_strided<const S: usize>(&self, mixed: u64) -> Option<(u32, Queue)> {
        let layout = &self.layout;
        let remainder = layout.remainder(mixed);
        let primary = layout.primary(mixed);
        // The secondary bucket is worked out only if the primary lacks it.
        if let Some(found) = self.find_in::<S>(primary, 0, mixed, remainder) {
            return Some(found);
        }
        let secondary = layout.other(primary, remainder);
        self.find_in::<S>(secondary, SECONDARY, mixed, remainder)
    }

    /// The slot and queue of the node of `mixed` flagged `flag` in
    /// `bucket`, whose records have `S` words.
    #[inline(always)]
    fn find_in<const S: usize>(
        &self,
        bucket: usize,
        flag: u64,
        mixed: u64,
        remainder: u64,
    ) -> Option<(u32, Queue)> {
        let records = &self.words[bucket * WAYS * S..][..WAYS * S];
        for way in 0..WAYS {
            let record: &[u32; S] = records[way * S..].first_chunk().expect("a whole record");
            if record[0] != mixed as u32 {
                continue;
            }
            let extras = self.layout.extras_in(record);
            if extras & (OCCUPIED | SECONDARY) == OCCUPIED | flag
                && extras >> HIGH_SHIFT == remainder >> 32
            {
                let queue = Queue::from_bits(extras >> QUEUE_SHIFT);
                return Some(((bucket * WAYS + way) as u32, queue));
            }
        }
        None
    }

    /// The key hash of the node at `slot`.
    pub(super) fn hash(&self, slot: u32) -> u64 {
        unspread(self.mixed(slot))
    }

    /// The key hash of the node at `slot` put through [`spread`] (what the
    /// table and the frequency sketch index by).
    pub(super) fn mixed(&self, slot: u32) -> u64 {
        let slot = slot as usize;
        let extras = self.extras(slot);
        let remainder = self.remainder_with(slot, extras);
        let bucket = slot / WAYS;
        let primary = if extras & SECONDARY == 0 {
            bucket
        } else {
            self.layout.other(bucket, remainder)
        };
        self.layout.mixed(primary, remainder)
    }

    /// The queue of the node at `slot`.
    #[inline(always)]
    pub(super) fn queue(&self, slot: u32) -> Queue {
        let (word, shift) = self.layout.flags();
        let bits = self.words[self.at(slot as usize) + word] >> (shift + QUEUE_SHIFT);
        Queue::from_bits(u64::from(bits) & 3)
    }

    #[inline(always)]
    fn set_queue(&mut self, slot: usize, queue: Queue) {
        let (word, shift) = self.layout.flags();
        let (at, shift) = (self.at(slot) + word, shift + QUEUE_SHIFT);
        self.words[at] = (self.words[at] & !(3 << shift)) | (queue as u32) << shift;
    }

    /// The weight of the node at `slot`.
    pub(super) fn node_weight(&self, slot: u32) -> u32 {
        self.node_weights.get(slot as usize).copied().unwrap_or(1)
    }

    /// Total weight of the entries in `queue`.
    pub(super) fn weight(&self, queue: Queue) -> u64 {
        self.weights[queue as usize]
    }

    /// The least recently used node of `queue`.
    pub(super) fn front(&self, queue: Queue) -> Option<u32> {
        self.some(self.heads[queue as usize])
    }

    /// The most recently used node of `queue`.
    #[cfg(test)]
    pub(super) fn back(&self, queue: Queue) -> Option<u32> {
        self.some(self.tails[queue as usize])
    }

    /// The node after `slot` in its queue (one step towards the most
    /// recently used end).
    pub(super) fn next(&self, slot: u32) -> Option<u32> {
        self.some(self.next_link(slot as usize))
    }

    /// Loads the records before and after `slot` (for a move soon after).
    pub(super) fn warm_neighbours(&self, slot: u32) {
        let slot = slot as usize;
        for neighbour in [self.prev_link(slot), self.next_link(slot)] {
            if neighbour != self.layout.nil() {
                core::hint::black_box(self.words[self.at(neighbour as usize)]);
            }
        }
    }

    /// Adds the node of `hash`, which has none, at the back of `queue`;
    /// returns its slot. Other nodes may move (see the module docs).
    pub(super) fn push(&mut self, hash: u64, weight: u32, queue: Queue) -> u32 {
        if (self.len + 1) * 100 > self.layout.slots() * LOAD_PERCENT {
            self.grow();
        }
        let mixed = spread(hash);
        let slot = loop {
            match self.place(mixed) {
                Some(slot) => break slot,
                None => self.grow(),
            }
        };
        self.store_weight(slot, weight);
        self.link_back(slot, queue);
        self.len += 1;
        slot as u32
    }

    /// Rebuilds the table at twice the buckets (see the module docs).
    fn grow(&mut self) {
        let mut buckets = self.layout.buckets;
        loop {
            buckets = if buckets < self.full_buckets {
                (buckets * 2).min(self.full_buckets)
            } else {
                buckets * 2
            };
            assert!(buckets * WAYS <= MAX_SLOTS, "fewer than 2^31 policy slots");
            if let Some(rebuilt) = self.rebuilt(buckets) {
                *self = rebuilt;
                return;
            }
        }
    }

    /// The same queues in a table of `buckets` buckets, or `None` if some
    /// node finds no place there.
    ///
    /// Two passes, each in slot order rather than along the queues (a walk
    /// along a queue waits on one cache miss per node: 350 ns a node at
    /// four million nodes, where this takes about 140):
    /// 1. each old record is put in the new table, in its primary bucket if
    ///    that has room, with its links as they were (old slot numbers),
    ///    and `new_of` notes where it went;
    /// 2. each new record's links are translated through `new_of`.
    ///
    /// A chain of moves in pass 1 moves records without touching their
    /// neighbours (the links are not the new table's yet); a moved node's
    /// old slot is found from its old links and its `new_of` corrected.
    fn rebuilt(&self, buckets: usize) -> Option<Nodes> {
        let mut table = Nodes::with_buckets(buckets, self.full_buckets, self.layout.stride);
        let (old_nil, nil) = (self.layout.nil(), table.layout.nil());
        let mut new_of = vec![nil; self.layout.slots()];
        for slot in 0..self.layout.slots() {
            if !self.occupied(slot) {
                continue;
            }
            let mixed = self.mixed(slot as u32);
            let primary = table.layout.primary(mixed);
            let new = match table.free_slot(primary) {
                Some(free) => {
                    table.put(free, table.layout.remainder(mixed), 0);
                    free
                }
                None => table.place_with(mixed, |table, from, to| {
                    table.move_record(from, to);
                    new_of[self.old_slot(table.prev_link(to), table.queue(to as u32))] = to as u32;
                })?,
            };
            new_of[slot] = new as u32;
            table.set_queue(new, self.queue(slot as u32));
            table.set_prev(new, self.prev_link(slot));
            table.set_next(new, self.next_link(slot));
            table.store_weight(new, self.node_weight(slot as u32));
        }
        let translate = |old: u32| {
            if old == old_nil {
                nil
            } else {
                new_of[old as usize]
            }
        };
        for new in 0..table.layout.slots() {
            if table.occupied(new) {
                let (prev, next) = (table.prev_link(new), table.next_link(new));
                table.set_prev(new, translate(prev));
                table.set_next(new, translate(next));
            }
        }
        table.heads = self.heads.map(translate);
        table.tails = self.tails.map(translate);
        table.weights = self.weights;
        table.len = self.len;
        Some(table)
    }

    /// The slot of the node whose predecessor in `queue` is `prev` (nil for
    /// the queue's first node).
    fn old_slot(&self, prev: u32, queue: Queue) -> usize {
        if prev == self.layout.nil() {
            self.heads[queue as usize] as usize
        } else {
            self.next_link(prev as usize) as usize
        }
    }

    /// The first free slot of `bucket`.
    fn free_slot(&self, bucket: usize) -> Option<usize> {
        (bucket * WAYS..(bucket + 1) * WAYS).find(|&slot| !self.occupied(slot))
    }

    /// Puts an unlinked record for `mixed` in a free slot of one of its
    /// buckets, first moving a chain of other nodes to their other buckets
    /// if both are full; `None` (nothing moved) if no chain is found.
    fn place(&mut self, mixed: u64) -> Option<usize> {
        self.place_with(mixed, Nodes::move_node)
    }

    /// [`Nodes::place`], moving the chain's nodes with `move_node(self,
    /// from, to)`.
    #[inline(always)]
    fn place_with(
        &mut self,
        mixed: u64,
        mut move_node: impl FnMut(&mut Self, usize, usize),
    ) -> Option<usize> {
        let layout = self.layout;
        let remainder = layout.remainder(mixed);
        let primary = layout.primary(mixed);
        let secondary = layout.other(primary, remainder);
        // The emptier bucket (the primary on a tie): spreading the nodes
        // evenly leaves fewer pairs of full buckets, which need a search.
        let free_in = |bucket: usize| {
            (bucket * WAYS..(bucket + 1) * WAYS)
                .filter(|&slot| !self.occupied(slot))
                .count()
        };
        let (in_primary, in_secondary) = (free_in(primary), free_in(secondary));
        let chosen = if in_secondary > in_primary {
            Some((secondary, SECONDARY))
        } else {
            (in_primary > 0).then_some((primary, 0))
        };
        if let Some((bucket, flag)) = chosen {
            let slot = self.free_slot(bucket).expect("counted free");
            self.put(slot, remainder, flag);
            return Some(slot);
        }
        let (first, free) = self.find_chain(primary, secondary)?;
        // Move the chain from its far end: each node into the slot freed
        // by the one after it, the last into `free`.
        let mut into = free;
        let mut at = first;
        loop {
            let (slot, parent) = self.search[at];
            let slot = slot as usize;
            move_node(self, slot, into);
            into = slot;
            if parent == u32::MAX {
                break;
            }
            at = parent as usize;
        }
        let flag = if into / WAYS == primary { 0 } else { SECONDARY };
        self.put(into, remainder, flag);
        if self.search.capacity() > KEPT_SEARCH {
            // A rare deep search: do not keep its 8 KiB for the cache's
            // life (a cache has seven policies' tables).
            self.search = Vec::new();
        }
        Some(into)
    }

    /// Breadth-first search from the (full) buckets `primary` and
    /// `secondary` for a node whose other bucket has a free slot, through
    /// at most [`SEARCH_LIMIT`] nodes. Returns the search entry of the last
    /// node of the chain (its `parent`s lead back to a slot of the two
    /// buckets) and the free slot it moves to.
    fn find_chain(&mut self, primary: usize, secondary: usize) -> Option<(usize, usize)> {
        let mut search = core::mem::take(&mut self.search);
        search.clear();
        // Both buckets may be one: its slots are searched once.
        let buckets = if primary == secondary { 1 } else { 2 };
        for bucket in [primary, secondary].into_iter().take(buckets) {
            search.extend((bucket * WAYS..(bucket + 1) * WAYS).map(|slot| (slot as u32, u32::MAX)));
        }
        let mut found = None;
        let mut at = 0;
        while at < search.len() && found.is_none() {
            let (slot, _) = search[at];
            let slot = slot as usize;
            let other = self
                .layout
                .other(slot / WAYS, self.remainder_with(slot, self.extras(slot)));
            // A chain that comes back through a slot it already moves
            // would move that slot's node twice.
            let on_chain = |mut i: usize, bucket: usize| loop {
                if search[i].0 as usize / WAYS == bucket {
                    return true;
                }
                match search[i].1 {
                    u32::MAX => return false,
                    parent => i = parent as usize,
                }
            };
            if other != slot / WAYS && !on_chain(at, other) {
                if let Some(free) = self.free_slot(other) {
                    found = Some((at, free));
                } else if search.len() + WAYS <= SEARCH_LIMIT {
                    search
                        .extend((other * WAYS..(other + 1) * WAYS).map(|s| (s as u32, at as u32)));
                }
            }
            at += 1;
        }
        self.search = search;
        found
    }

    /// Moves the node at `from` to `to` (a free slot of its other bucket)
    /// and points its neighbours at it.
    fn move_node(&mut self, from: usize, to: usize) {
        self.move_record(from, to);
        let queue = self.queue(to as u32) as usize;
        let (prev, next) = (self.prev_link(to), self.next_link(to));
        if prev == self.layout.nil() {
            self.heads[queue] = to as u32;
        } else {
            self.set_next(prev as usize, to as u32);
        }
        if next == self.layout.nil() {
            self.tails[queue] = to as u32;
        } else {
            self.set_prev(next as usize, to as u32);
        }
    }

    /// Moves the record at `from` to `to` (a free slot of its other
    /// bucket), links and all, without touching its neighbours.
    fn move_record(&mut self, from: usize, to: usize) {
        let stride = self.layout.stride;
        let (source, target) = (self.at(from), self.at(to));
        self.words.copy_within(source..source + stride, target);
        self.clear(from);
        let (word, shift) = self.layout.flags();
        let flip = self.at(to) + word;
        self.words[flip] ^= (SECONDARY as u32) << shift;
        if !self.node_weights.is_empty() {
            self.node_weights[to] = self.node_weights[from];
            self.node_weights[from] = 1;
        }
    }

    /// Unlinks and removes the node at `slot`; returns its hash. Moves no
    /// other node.
    pub(super) fn remove(&mut self, slot: u32) -> u64 {
        let hash = self.hash(slot);
        self.unlink(slot);
        self.len -= 1;
        self.clear(slot as usize);
        if let Some(weight) = self.node_weights.get_mut(slot as usize) {
            *weight = 1;
        }
        hash
    }

    /// Moves the node at `slot` to the back of `queue` (which may be the
    /// queue it is in: that marks it most recently used). Moves no node.
    pub(super) fn move_to_back(&mut self, slot: u32, queue: Queue) {
        let from = self.queue(slot);
        self.move_from_to_back(slot, from, queue);
    }

    /// [`move_to_back`](Self::move_to_back) for a node the caller knows to
    /// be in `from` (a hit's move, inlined there).
    #[inline(always)]
    pub(super) fn move_from_to_back(&mut self, slot: u32, from: Queue, queue: Queue) {
        debug_assert_eq!(self.queue(slot), from);
        if from != queue {
            let weight = u64::from(self.node_weight(slot));
            self.weights[from as usize] -= weight;
            self.weights[queue as usize] += weight;
        }
        self.detach(slot as usize, from);
        self.attach_back(slot as usize, queue);
    }

    /// Moves the node at `slot`, which is in `queue`, to that queue's back
    /// (a hit in the window or protected queue); does nothing if it is
    /// there already. Its weight and queue bits stay as they are.
    #[inline(always)]
    pub(super) fn move_within_to_back(&mut self, slot: u32, queue: Queue) {
        debug_assert_eq!(self.queue(slot), queue);
        let (slot, q, nil) = (slot as usize, queue as usize, self.layout.nil());
        let [_, prev, next] = *self.record(slot);
        let (prev, next) = (prev & nil, next & nil);
        // Only the back node has no next: a hot key read again and again
        // costs no relinking.
        if next == nil {
            return;
        }
        if prev == nil {
            self.heads[q] = next;
        } else {
            self.set_next(prev as usize, next);
        }
        self.set_prev(next as usize, prev);
        // The queue holds `next`, so its back is some other node.
        let tail = self.tails[q];
        self.set_next(tail as usize, slot as u32);
        let record = self.record_mut(slot);
        record[1] = (record[1] & !nil) | tail;
        record[2] |= nil;
        self.tails[q] = slot as u32;
    }

    /// Changes the weight of the node at `slot`.
    pub(super) fn set_weight(&mut self, slot: u32, weight: u32) {
        let queue = self.queue(slot) as usize;
        let old = self.node_weight(slot);
        self.weights[queue] = self.weights[queue] - u64::from(old) + u64::from(weight);
        self.store_weight(slot as usize, weight);
    }

    /// Records the weight of the node at `slot`, materialising the weights
    /// (one per slot, 1 by default) at the first weight other than 1.
    fn store_weight(&mut self, slot: usize, weight: u32) {
        if self.node_weights.is_empty() {
            if weight == 1 {
                return;
            }
            self.node_weights = vec![1; self.layout.slots()];
        }
        self.node_weights[slot] = weight;
    }

    /// Links the node at `slot` at the back of `queue` and counts its
    /// weight there.
    fn link_back(&mut self, slot: usize, queue: Queue) {
        self.weights[queue as usize] += u64::from(self.node_weight(slot as u32));
        self.attach_back(slot, queue);
    }

    /// Unlinks the node at `slot` and takes its weight off its queue.
    fn unlink(&mut self, slot: u32) {
        let queue = self.queue(slot);
        self.weights[queue as usize] -= u64::from(self.node_weight(slot));
        self.detach(slot as usize, queue);
    }

    /// Links the node at `slot` at the back of `queue` (weights aside).
    #[inline(always)]
    fn attach_back(&mut self, slot: usize, queue: Queue) {
        let q = queue as usize;
        let tail = self.tails[q];
        let nil = self.layout.nil();
        self.set_queue(slot, queue);
        let record = self.record_mut(slot);
        record[1] = (record[1] & !nil) | tail;
        record[2] |= nil;
        if tail == nil {
            self.heads[q] = slot as u32;
        } else {
            self.set_next(tail as usize, slot as u32);
        }
        self.tails[q] = slot as u32;
    }

    /// Unlinks the node at `slot` from `queue`, its queue (weights aside).
    #[inline(always)]
    fn detach(&mut self, slot: usize, queue: Queue) {
        let q = queue as usize;
        let nil = self.layout.nil();
        let [_, prev, next] = *self.record(slot);
        let (prev, next) = (prev & nil, next & nil);
        if prev == nil {
            self.heads[q] = next;
        } else {
            self.set_next(prev as usize, next);
        }
        if next == nil {
            self.tails[q] = prev;
        } else {
            self.set_prev(next as usize, prev);
        }
    }

    /// Bytes of the table and weights (for the memory tests).
    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        self.words.capacity() * 4 + self.node_weights.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::VecDeque;

    /// A deterministic generator for the model tests.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn hashes(nodes: &Nodes, queue: Queue) -> Vec<u64> {
        let mut out = Vec::new();
        let mut at = nodes.front(queue);
        while let Some(slot) = at {
            out.push(nodes.hash(slot));
            assert!(out.len() <= nodes.len(), "{queue:?} loops");
            at = nodes.next(slot);
        }
        out
    }

    /// Three queues of (hash, weight), front first.
    struct Model {
        queues: [VecDeque<(u64, u32)>; 3],
    }

    impl Model {
        fn position(&self, hash: u64) -> Option<(usize, usize)> {
            (0..3).find_map(|q| {
                self.queues[q]
                    .iter()
                    .position(|&(h, _)| h == hash)
                    .map(|i| (q, i))
            })
        }

        fn residents(&self) -> Vec<u64> {
            self.queues.iter().flatten().map(|&(h, _)| h).collect()
        }
    }

    /// Moves `hash` to the back of `queue`, in the table and in the model.
    fn move_to_back(nodes: &mut Nodes, model: &mut Model, hash: u64, queue: Queue) {
        nodes.move_to_back(nodes.find(hash).unwrap(), queue);
        let (q, i) = model.position(hash).unwrap();
        let entry = model.queues[q].remove(i).unwrap();
        model.queues[queue as usize].push_back(entry);
    }

    fn check(nodes: &Nodes, model: &Model) {
        let mut len = 0;
        for queue in Queue::ALL {
            let expected: Vec<u64> = model.queues[queue as usize]
                .iter()
                .map(|&(h, _)| h)
                .collect();
            assert_eq!(hashes(nodes, queue), expected, "{queue:?} in order");
            let weight: u64 = model.queues[queue as usize]
                .iter()
                .map(|&(_, w)| u64::from(w))
                .sum();
            assert_eq!(nodes.weight(queue), weight, "{queue:?} weight");
            let back = model.queues[queue as usize].back().map(|&(h, _)| h);
            assert_eq!(nodes.back(queue).map(|s| nodes.hash(s)), back);
            for &(hash, w) in &model.queues[queue as usize] {
                let slot = nodes.find(hash).expect("a resident is found");
                assert_eq!(nodes.hash(slot), hash);
                assert_eq!(nodes.queue(slot), queue);
                assert_eq!(nodes.node_weight(slot), w);
            }
            len += expected.len();
        }
        assert_eq!(nodes.len(), len);
    }

    /// Random pushes, removals, moves and reweighs against the model, over
    /// `hash_of` (random, or clustered small integers), from a small table
    /// that must grow.
    fn run_against_model(seed: u64, steps: usize, hash_of: impl Fn(u64) -> u64, weighted: bool) {
        run_on(Nodes::new(400, 0), seed, steps, &hash_of, weighted);
        run_on(Nodes::in_four_words(400), seed, steps, &hash_of, weighted);
    }

    fn run_on(
        mut nodes: Nodes,
        seed: u64,
        steps: usize,
        hash_of: &impl Fn(u64) -> u64,
        weighted: bool,
    ) {
        assert!(nodes.is_empty());
        let stride = nodes.layout.stride;
        let mut rng = XorShift(seed);
        let mut model = Model {
            queues: [VecDeque::new(), VecDeque::new(), VecDeque::new()],
        };
        let mut next_key = 0u64;
        for step in 0..steps {
            let residents = model.residents();
            let op = rng.below(10);
            if residents.is_empty() || (op < 4 && residents.len() < 360) {
                let hash = hash_of(next_key);
                next_key += 1;
                assert_eq!(nodes.find(hash), None, "absent before its push");
                let weight = if weighted { rng.below(4) as u32 } else { 1 };
                let queue = Queue::ALL[rng.below(3)];
                nodes.push(hash, weight, queue);
                model.queues[queue as usize].push_back((hash, weight));
            } else if op < 7 {
                let hash = residents[rng.below(residents.len())];
                // Another resident's slot, carried across the removal.
                let other = residents[rng.below(residents.len())];
                let other_slot = nodes.find(other).unwrap();
                let slot = nodes.find(hash).unwrap();
                assert_eq!(nodes.remove(slot), hash);
                assert_eq!(nodes.find(hash), None, "gone after its removal");
                if other != hash {
                    assert_eq!(
                        nodes.hash(other_slot),
                        other,
                        "step {step}: a removal moves no node"
                    );
                }
                let (q, i) = model.position(hash).unwrap();
                model.queues[q].remove(i);
            } else if op < 9 {
                let hash = residents[rng.below(residents.len())];
                let queue = Queue::ALL[rng.below(3)];
                move_to_back(&mut nodes, &mut model, hash, queue);
            } else {
                let hash = residents[rng.below(residents.len())];
                let weight = if weighted { rng.below(5) as u32 } else { 1 };
                nodes.set_weight(nodes.find(hash).unwrap(), weight);
                let (q, i) = model.position(hash).unwrap();
                model.queues[q][i].1 = weight;
            }
            check(&nodes, &model);
        }
        assert_eq!(nodes.layout.stride, stride, "growth keeps the record width");
    }

    /// An entry-counting table starts at its full size up to twice the
    /// reserve and never grows while it fills; past that it starts at the
    /// reserve. Weighted policies and shadows start small.
    #[test]
    fn an_entry_counting_table_starts_at_its_full_size_and_never_grows_while_it_fills() {
        let mut rng = XorShift(17);
        for capacity in (0..=2_000u64).chain([65_535, 100_000]) {
            let mut nodes = Nodes::new(capacity, capacity);
            assert_eq!(
                nodes.layout.buckets, nodes.full_buckets,
                "capacity {capacity}"
            );
            for _ in 0..=capacity {
                nodes.push(rng.next(), 1, Queue::Window);
            }
            assert_eq!(
                nodes.layout.buckets, nodes.full_buckets,
                "capacity {capacity} grew"
            );
        }
        let reserve = Nodes::buckets_for(RESERVED_NODES);
        for capacity in [
            RESERVED_NODES - 1,
            RESERVED_NODES + 2_000,
            2 * RESERVED_NODES - 2,
        ] {
            let nodes = Nodes::new(capacity, capacity);
            assert_eq!(
                nodes.layout.buckets, nodes.full_buckets,
                "capacity {capacity}"
            );
        }
        let large = Nodes::new(4 * RESERVED_NODES, 4 * RESERVED_NODES);
        assert_eq!(large.layout.buckets, reserve);
        assert!(
            Nodes::new(1 << 40, 256).layout.buckets < 100,
            "a weighted policy"
        );
        assert!(
            Nodes::new(1 << 30, SHADOW_RESERVE).heap_bytes() < 200_000,
            "a shadow of a huge cache"
        );
    }

    /// A rebuild at the same size as a table 90% full puts many nodes
    /// through chains of moves in its first pass, which must keep their
    /// links; at twice the size, few. Either way the queues come out as
    /// they went in.
    #[test]
    fn a_rebuild_keeps_the_queues_through_chains_of_moves() {
        for (seed, stride) in [(5, 3), (6, 3), (7, 4)] {
            let mut nodes = if stride == 3 {
                Nodes::new(1_000, 1_000)
            } else {
                Nodes::in_four_words(1_000)
            };
            let full = nodes.layout.slots() * LOAD_PERCENT / 100;
            let mut rng = XorShift(seed);
            let mut model = Model {
                queues: [VecDeque::new(), VecDeque::new(), VecDeque::new()],
            };
            for _ in 0..full {
                let hash = rng.next();
                let queue = Queue::ALL[rng.below(3)];
                let weight = rng.below(3) as u32;
                nodes.push(hash, weight, queue);
                model.queues[queue as usize].push_back((hash, weight));
            }
            // Shuffle the queues' orders away from the insertion order.
            for _ in 0..full {
                let residents = model.residents();
                let hash = residents[rng.below(residents.len())];
                let queue = Queue::ALL[rng.below(3)];
                move_to_back(&mut nodes, &mut model, hash, queue);
            }
            check(&nodes, &model);
            let in_secondary = |nodes: &Nodes| {
                (0..nodes.layout.slots())
                    .filter(|&s| nodes.occupied(s) && nodes.extras(s) & SECONDARY != 0)
                    .count()
            };
            let same = nodes
                .rebuilt(nodes.layout.buckets)
                .expect("a chain for every node");
            assert!(
                in_secondary(&same) > full / 10,
                "the same-size rebuild moved nodes out of full primary buckets"
            );
            check(&same, &model);
            let doubled = nodes.rebuilt(nodes.layout.buckets * 2).expect("room");
            check(&doubled, &model);
            assert_eq!(doubled.layout.stride, stride);
        }
    }

    #[test]
    fn a_hash_is_recovered_from_either_bucket_and_its_remainder() {
        let mut rng = XorShift(11);
        for buckets in [
            1,
            2,
            3,
            4,
            17,
            1000,
            277_778,
            1_000_000,
            9_999_999,
            MAX_SLOTS / WAYS,
        ] {
            let layout = Layout::for_buckets(buckets);
            let check = |mixed: u64| {
                let primary = layout.primary(mixed);
                assert!(primary < buckets);
                let remainder = layout.remainder(mixed);
                let secondary = layout.other(primary, remainder);
                assert!(secondary < buckets);
                assert_eq!(
                    layout.other(secondary, remainder),
                    primary,
                    "{buckets}: an involution"
                );
                assert_eq!(layout.mixed(primary, remainder), mixed, "{buckets} buckets");
            };
            for _ in 0..2000 {
                check(rng.next());
            }
            for mixed in [0, u64::MAX, u64::MAX << 32, 0xFFFF_FFFF] {
                check(mixed);
            }
        }
    }

    #[test]
    fn records_take_a_fourth_word_only_past_thirty_million_slots() {
        let switch = (1..=MAX_SLOTS / WAYS)
            .step_by(4096)
            .find(|&buckets| Layout::for_buckets(buckets).stride == 4)
            .expect("the largest tables take four words");
        assert!((4_000_000..9_000_000).contains(&switch), "{switch} buckets");
        let largest = Layout::for_buckets(MAX_SLOTS / WAYS);
        assert_eq!((largest.stride, largest.position_bits), (4, 31));
        assert_eq!(largest.flags(), (3, 0));
    }

    #[test]
    fn the_records_fit_their_words() {
        for buckets in [1, 16, 1000, 277_778, 1 << 22, 1 << 23, MAX_SLOTS / WAYS] {
            let layout = Layout::for_buckets(buckets);
            let extras = HIGH_SHIFT + layout.high_mask.count_ones();
            let room = 2 * layout.gap() + if layout.stride == 4 { 32 } else { 0 };
            assert!(extras <= room, "{buckets}: {extras} bits of extras");
            assert!((layout.nil() as usize) >= layout.slots(), "none is no slot");
        }
        let million = Layout::for_buckets(277_778);
        assert_eq!(million.stride, 3, "12 bytes a node at a million entries");
        assert_eq!(
            (million.position_bits, million.high_mask.count_ones()),
            (21, 14)
        );
    }

    #[test]
    fn random_operations_match_the_model() {
        for seed in 1..=6 {
            run_against_model(
                seed,
                3000,
                |k| k.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed,
                false,
            );
        }
    }

    #[test]
    fn small_integer_hashes_match_the_model() {
        // The policy's tests and simulator use keys as hashes.
        for seed in 1..=3 {
            run_against_model(seed, 3000, |k| k, false);
        }
    }

    #[test]
    fn weighted_operations_match_the_model() {
        for seed in 1..=4 {
            run_against_model(seed, 2000, |k| k * 3 + 1, true);
        }
    }

    #[test]
    fn a_full_million_entry_policy_takes_about_13_bytes_a_node() {
        let capacity = 1_000_000u64;
        let mut nodes = Nodes::new(capacity, capacity);
        let mut rng = XorShift(3);
        let mut hashes = Vec::new();
        for _ in 0..=capacity {
            let hash = rng.next();
            hashes.push(hash);
            nodes.push(hash, 1, Queue::Window);
        }
        assert_eq!(
            nodes.layout.buckets, nodes.full_buckets,
            "no growth past the capacity's size"
        );
        let per_node = nodes.heap_bytes() as f64 / capacity as f64;
        assert!(per_node < 13.4, "{per_node} bytes a node");
        // Churn at full size: evict the oldest, admit a new one.
        for _ in 0..200_000 {
            let oldest = nodes.front(Queue::Window).unwrap();
            nodes.remove(oldest);
            nodes.push(rng.next(), 1, Queue::Window);
        }
        assert_eq!(
            nodes.layout.buckets, nodes.full_buckets,
            "churn forces no growth"
        );
        for &hash in hashes.iter().rev().take(1000) {
            if let Some(slot) = nodes.find(hash) {
                assert_eq!(nodes.hash(slot), hash);
            }
        }
    }

    #[test]
    fn weightless_entries_grow_the_table_past_its_capacity() {
        let mut nodes = Nodes::new(10, 10);
        for h in 0..1000 {
            nodes.push(h, 0, Queue::Probation);
        }
        assert_eq!(nodes.len(), 1000);
        assert_eq!(nodes.weight(Queue::Probation), 0);
        for h in 0..1000 {
            assert_eq!(nodes.hash(nodes.find(h).unwrap()), h);
        }
    }
}
