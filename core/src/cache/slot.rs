//! One cached entry as stored in the map.
//!
//! # Layout
//!
//! A slot is the key plus a 16-byte [`Meta`], plus the value if the entry
//! has one: 32 bytes for `u64` keys and values (it was 48). Three things
//! keep it that small:
//!
//! * **No `Option` tag.** A cached "not found" (negative caching) is the
//!   `Missing` variant of [`Body`]; the compiler keeps the variant in an
//!   unused value (zero) of the `Found` variant's expiry code, so a `u64`
//!   value costs 8 bytes where `Option<u64>` costs 16.
//! * **One deadline is stored exactly, the other as its distance**, in a
//!   16-bit floating-point code (below): 10 bytes for two deadlines. The
//!   hard deadline, past which the entry is never served, is exact; so is
//!   the soft one when there is no hard one.
//! * **The hit filter's stamp is 16 bits** (see `hit_filter.rs`).
//!
//! # The deadlines
//!
//! `at` is the hard deadline if there is one (`lead` then codes how long
//! before it the soft deadline falls), else the soft deadline or `MAX`
//! (`lead` is then `NO_HARD_DEADLINE`).
//!
//! `lead`'s code is `e << 10 | f`, stored plus one (zero is the niche). For
//! `e = 0` the distance is `f` nanoseconds; for `e ≥ 1` it is
//! `(1024 + f) << (e - 1)`: eleven significant bits, so a distance is kept
//! to within 1/1024 (0.1%), and exactly under 2,048 ns. Encoding rounds
//! *up*: an entry may turn stale (and be refreshed) up to 0.1% of its
//! soft-to-hard span before its soft deadline, never after it (a 1 h soft
//! TTL with a 1 day hard TTL: at most 81 s early).

use core::num::NonZeroU16;

use crate::sync::{AtomicU16, AtomicU32};
use crate::time::Nanos;

/// Bits of the lead code below the exponent.
const FRACTION_BITS: u32 = 10;
/// The lead code of an entry without a hard deadline.
const NO_HARD_DEADLINE: u16 = u16::MAX;

/// How long before the hard deadline the soft one falls, rounded up to
/// eleven significant bits (see the module docs), or `NO_HARD_DEADLINE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Lead(NonZeroU16);

impl Lead {
    fn no_hard_deadline() -> Self {
        Lead(NonZeroU16::new(NO_HARD_DEADLINE).expect("nonzero"))
    }

    /// The smallest code whose distance is at least `distance`.
    fn at_least(distance: u64) -> Self {
        let exponent = (u64::BITS - distance.leading_zeros()).saturating_sub(FRACTION_BITS);
        let mut code = if exponent == 0 {
            distance as u16
        } else {
            // The leading one is implicit: keep the ten bits below it.
            let fraction = (distance >> (exponent - 1)) as u16 & ((1 << FRACTION_BITS) - 1);
            (exponent as u16) << FRACTION_BITS | fraction
        };
        if Self::distance_of(code) < u128::from(distance) {
            // Rounded down: the next code is the next larger distance (a
            // full fraction carries into the exponent).
            code += 1;
        }
        // The largest code (exponent 55) is far below `NO_HARD_DEADLINE - 1`.
        Lead(NonZeroU16::new(code + 1).expect("code + 1 is nonzero"))
    }

    /// The distance of `code` (not plus one), in nanoseconds.
    #[inline]
    fn distance_of(code: u16) -> u128 {
        let exponent = u32::from(code >> FRACTION_BITS);
        let fraction = u128::from(code & ((1 << FRACTION_BITS) - 1));
        if exponent == 0 {
            fraction
        } else {
            ((1 << FRACTION_BITS) | fraction) << (exponent - 1)
        }
    }

    /// The distance in nanoseconds (at most `u64::MAX`), `None` for "no
    /// hard deadline".
    #[inline]
    fn distance(self) -> Option<u64> {
        let code = self.0.get();
        (code != NO_HARD_DEADLINE)
            .then(|| Self::distance_of(code - 1).min(u128::from(u64::MAX)) as u64)
    }
}

/// What every slot carries besides its key and value.
#[derive(Debug)]
struct Meta {
    /// The hard deadline, or if there is none the soft one (`MAX`: no
    /// deadline at all).
    at: Nanos,
    generation: AtomicU32,
    /// How long before `at` the entry turns stale.
    lead: Lead,
    /// The hit filter's stamp of this entry's last reported hit.
    reported: AtomicU16,
}

/// The value, or a cached "not found", with the entry's metadata.
#[derive(Debug)]
enum Body<V> {
    Found(V, Meta),
    Missing(Meta),
}

/// A cached entry. Immutable once published except for `generation`, which a
/// reader raises after checking the entry against pending invalidations (see
/// `invalidation.rs`), and the hit filter's stamp.
#[derive(Debug)]
pub(super) struct Slot<K, V> {
    pub(super) key: K,
    body: Body<V>,
}

/// How fresh an entry is at a given instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Freshness {
    /// Before the soft deadline.
    Fresh,
    /// Between the soft and the hard deadline: servable, due for a refresh.
    Stale,
    /// At or past the hard deadline: never served.
    Expired,
}

impl<K, V> Slot<K, V> {
    /// A slot; `value: None` is a cached "not found". A soft deadline past
    /// the hard one is the hard one; the soft one may come up to 0.1% of
    /// the span between them early (see the module docs).
    pub(super) fn new(
        key: K,
        value: Option<V>,
        stale_at: Nanos,
        expires_at: Nanos,
        generation: u32,
        reported: u16,
    ) -> Self {
        let (at, lead) = if expires_at == Nanos::MAX {
            (stale_at, Lead::no_hard_deadline())
        } else {
            let stale_at = stale_at.min(expires_at);
            (
                expires_at,
                Lead::at_least(expires_at.as_u64() - stale_at.as_u64()),
            )
        };
        let meta = Meta {
            at,
            generation: AtomicU32::new(generation),
            lead,
            reported: AtomicU16::new(reported),
        };
        let body = match value {
            Some(value) => Body::Found(value, meta),
            None => Body::Missing(meta),
        };
        Slot { key, body }
    }

    #[inline]
    fn meta(&self) -> &Meta {
        self.view().meta
    }

    /// The value and the metadata, the variant matched once (see [`View`]).
    #[inline]
    pub(super) fn view(&self) -> View<'_, V> {
        match &self.body {
            Body::Found(value, meta) => View {
                value: Some(value),
                meta,
            },
            Body::Missing(meta) => View { value: None, meta },
        }
    }

    /// The value; `None` for a cached "not found".
    #[inline]
    pub(super) fn value(&self) -> Option<&V> {
        self.view().value
    }

    /// The value, taken out of the slot.
    pub(super) fn into_value(self) -> Option<V> {
        match self.body {
            Body::Found(value, _) => Some(value),
            Body::Missing(_) => None,
        }
    }

    /// The invalidation generation the entry was last found valid in.
    #[inline]
    pub(super) fn generation(&self) -> &AtomicU32 {
        &self.meta().generation
    }

    /// The hit filter's stamp.
    #[inline]
    pub(super) fn reported(&self) -> &AtomicU16 {
        &self.meta().reported
    }

    /// Whether the entry ever needs the clock read.
    #[cfg(test)]
    fn has_deadline(&self) -> bool {
        self.view().has_deadline()
    }

    /// The soft deadline as stored (see the module docs on its precision).
    #[cfg(test)]
    fn stale_at(&self) -> Nanos {
        let meta = self.meta();
        match meta.lead.distance() {
            Some(lead) => Nanos::new(meta.at.as_u64().saturating_sub(lead)),
            None => meta.at,
        }
    }

    /// The hard deadline, exactly.
    #[cfg(test)]
    fn expires_at(&self) -> Nanos {
        let meta = self.meta();
        match meta.lead.distance() {
            Some(_) => meta.at,
            None => Nanos::MAX,
        }
    }

    #[inline]
    pub(super) fn freshness(&self, now: Nanos) -> Freshness {
        self.view().freshness(now)
    }
}

/// A slot's value and metadata, found with one look at its variant. The
/// metadata sits at a different offset in each variant, and after an
/// atomic load (the generation check) the compiler looks at the variant
/// again for every field; a read that asks for several takes a view first.
#[derive(Debug)]
pub(super) struct View<'a, V> {
    value: Option<&'a V>,
    meta: &'a Meta,
}

impl<V> Clone for View<'_, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<V> Copy for View<'_, V> {}

impl<'a, V> View<'a, V> {
    /// The value; `None` for a cached "not found".
    #[inline]
    pub(super) fn value(self) -> Option<&'a V> {
        self.value
    }

    /// See [`Slot::generation`].
    #[inline]
    pub(super) fn generation(self) -> &'a AtomicU32 {
        &self.meta.generation
    }

    /// See [`Slot::reported`].
    #[inline]
    pub(super) fn reported(self) -> &'a AtomicU16 {
        &self.meta.reported
    }

    /// Whether the entry ever needs the clock read.
    #[inline]
    pub(super) fn has_deadline(self) -> bool {
        self.meta.at != Nanos::MAX
    }

    /// See [`Slot::freshness`].
    #[inline]
    pub(super) fn freshness(self, now: Nanos) -> Freshness {
        let meta = self.meta;
        match meta.lead.distance() {
            // The end of time ends every entry.
            _ if now == Nanos::MAX => Freshness::Expired,
            // `at` is the soft deadline, or `MAX`.
            None if now < meta.at => Freshness::Fresh,
            None => Freshness::Stale,
            // `at` is the hard deadline.
            Some(_) if now >= meta.at => Freshness::Expired,
            Some(lead) if now.as_u64() >= meta.at.as_u64().saturating_sub(lead) => Freshness::Stale,
            Some(_) => Freshness::Fresh,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(not(loom))]
    fn a_u64_slot_is_32_bytes() {
        // The figure the cache's `# Memory` section gives.
        assert_eq!(core::mem::size_of::<Slot<u64, u64>>(), 32);
    }

    #[test]
    fn freshness_follows_the_two_deadlines() {
        let s = Slot::new(1u8, Some(2u8), Nanos::new(10), Nanos::new(20), 0, 0);
        assert_eq!(s.freshness(Nanos::new(9)), Freshness::Fresh);
        assert_eq!(s.freshness(Nanos::new(10)), Freshness::Stale);
        assert_eq!(s.freshness(Nanos::new(19)), Freshness::Stale);
        assert_eq!(s.freshness(Nanos::new(20)), Freshness::Expired);
        let never = Slot::new(1u8, Some(2u8), Nanos::MAX, Nanos::MAX, 0, 0);
        assert!(!never.has_deadline());
        assert_eq!(never.freshness(Nanos::new(u64::MAX - 1)), Freshness::Fresh);
        let soft_only = Slot::new(1u8, None::<u8>, Nanos::new(10), Nanos::MAX, 0, 0);
        assert_eq!(
            soft_only.freshness(Nanos::new(u64::MAX - 1)),
            Freshness::Stale
        );
        assert_eq!(soft_only.value(), None);
        let soft_past_hard = Slot::new(1u8, Some(2u8), Nanos::new(30), Nanos::new(20), 0, 0);
        assert_eq!(soft_past_hard.freshness(Nanos::new(19)), Freshness::Fresh);
        assert_eq!(soft_past_hard.freshness(Nanos::new(20)), Freshness::Expired);
    }

    #[test]
    fn the_soft_deadline_is_never_late_and_at_most_a_thousandth_early() {
        let expires = u64::MAX - 1;
        let mut distances: alloc::vec::Vec<u64> = (0..5000).collect();
        let mut d = 5000u64;
        while d < u64::MAX / 3 {
            distances.extend([d - 1, d, d + 1, d * 3 / 2]);
            d = d * 2 + 7;
        }
        distances.push(expires);
        for distance in distances {
            let stale = expires - distance;
            let slot = Slot::new((), Some(()), Nanos::new(stale), Nanos::new(expires), 0, 0);
            assert_eq!(
                slot.expires_at().as_u64(),
                expires,
                "the hard deadline is exact"
            );
            let kept = slot.stale_at().as_u64();
            assert!(kept <= stale, "{distance}: late ({kept} > {stale})");
            let early = stale - kept;
            assert!(
                early <= distance / 1024,
                "{distance}: {early} ns early is more than a thousandth"
            );
            if distance < 2048 {
                assert_eq!(kept, stale, "{distance}: short spans are exact");
            }
        }
        let soft_only = Slot::new((), Some(()), Nanos::new(12_345), Nanos::MAX, 0, 0);
        assert_eq!(
            soft_only.stale_at(),
            Nanos::new(12_345),
            "exact without a hard deadline"
        );
    }

    #[test]
    fn a_value_and_its_absence_are_told_apart() {
        let found = Slot::new(7u64, Some(0u64), Nanos::MAX, Nanos::MAX, 3, 9);
        let missing = Slot::new(7u64, None::<u64>, Nanos::MAX, Nanos::MAX, 3, 9);
        assert_eq!(found.value(), Some(&0));
        assert_eq!(missing.value(), None);
        assert_eq!(found.into_value(), Some(0));
        assert_eq!(missing.into_value(), None);
    }
}
