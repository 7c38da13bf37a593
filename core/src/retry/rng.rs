//! The small pseudo-random generator behind jitter.
//!
//! Jitter needs numbers that are cheap, well spread and reproducible from a
//! seed in tests; it does not need cryptographic strength. [`SplitMix64`]
//! (Steele, Lea and Flood, 2014) is one add and a three-step mix per number
//! and passes BigCrush, which is plenty for spreading sleeps.

use core::fmt;

/// A source of uniformly distributed 64-bit numbers.
///
/// Implement it to drive [`Backoff`](super::Backoff) jitter from your own
/// generator; [`SplitMix64`] is the one brace uses by default.
///
/// ```
/// use brace::retry::RandomSource;
///
/// /// Always the middle of the range: handy to pin jitter in a test.
/// struct Middle;
/// impl RandomSource for Middle {
///     fn next_u64(&mut self) -> u64 {
///         u64::MAX / 2
///     }
/// }
/// assert_eq!(Middle.next_u64(), u64::MAX / 2);
/// ```
pub trait RandomSource {
    /// The next number; every value of `u64` should be equally likely.
    fn next_u64(&mut self) -> u64;

    /// A number uniformly distributed in `low..=high` (`low` when
    /// `high <= low`).
    ///
    /// Uses the widening-multiply reduction (Lemire, 2019), whose bias is
    /// below 2^-64 per value for the spans used here.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        let span = u128::from(high - low) + 1;
        let scaled = (u128::from(self.next_u64()) * span) >> 64;
        low + scaled as u64
    }
}

/// SplitMix64: a 64-bit state advanced by a constant and mixed on output.
///
/// Seed it with [`SplitMix64::new`] for reproducible delays (tests,
/// simulations) or with [`SplitMix64::from_entropy`] so that two clients do
/// not jitter in lock-step.
///
/// ```
/// use brace::retry::{RandomSource, SplitMix64};
///
/// let mut a = SplitMix64::new(7);
/// let mut b = SplitMix64::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!(a.between(10, 20) <= 20);
/// ```
#[derive(Clone)]
pub struct SplitMix64 {
    state: u64,
}

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

impl SplitMix64 {
    /// A generator whose sequence is fixed by `seed`.
    pub const fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// A generator seeded differently on every call and in every process.
    ///
    /// With `std` the seed comes from the operating system's randomness
    /// (through `std::hash::RandomState`); without it, from a process-wide
    /// counter mixed with a stack address, which differs between threads and,
    /// under address-space layout randomisation, between processes.
    pub fn from_entropy() -> Self {
        static CALLS: crate::sync::StaticAtomicU64 = crate::sync::StaticAtomicU64::new(0);
        let n = CALLS.fetch_add(1, crate::sync::Ordering::Relaxed);
        let probe = 0u8;
        let address = core::ptr::addr_of!(probe) as usize as u64;
        let seed = mix(n.wrapping_mul(GOLDEN_GAMMA) ^ address);
        #[cfg(feature = "std")]
        let seed = {
            use std::hash::{BuildHasher, Hasher};
            let mut hasher = std::hash::RandomState::new().build_hasher();
            hasher.write_u64(seed);
            hasher.finish()
        };
        SplitMix64::new(seed)
    }
}

/// The SplitMix64 output function (a variant of MurmurHash3's finaliser).
#[inline]
pub(crate) const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl RandomSource for SplitMix64 {
    #[inline]
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix(self.state)
    }
}

impl<R: RandomSource + ?Sized> RandomSource for &mut R {
    #[inline]
    fn next_u64(&mut self) -> u64 {
        (**self).next_u64()
    }
}

impl fmt::Debug for SplitMix64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The state is the whole future sequence; it is not secret, but it is
        // noise in logs.
        f.debug_struct("SplitMix64").finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_different_seed_different_sequence() {
        let a: [u64; 4] = core::array::from_fn({
            let mut r = SplitMix64::new(1);
            move |_| r.next_u64()
        });
        let b: [u64; 4] = core::array::from_fn({
            let mut r = SplitMix64::new(1);
            move |_| r.next_u64()
        });
        let c: [u64; 4] = core::array::from_fn({
            let mut r = SplitMix64::new(2);
            move |_| r.next_u64()
        });
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn between_stays_in_range_and_reaches_both_ends() {
        let mut r = SplitMix64::new(42);
        let (mut saw_low, mut saw_high) = (false, false);
        for _ in 0..10_000 {
            let x = r.between(3, 6);
            assert!((3..=6).contains(&x));
            saw_low |= x == 3;
            saw_high |= x == 6;
        }
        assert!(saw_low && saw_high);
        assert_eq!(r.between(9, 9), 9);
        assert_eq!(r.between(9, 2), 9);
        let _full_range = r.between(0, u64::MAX); // must not overflow
    }

    #[test]
    fn entropy_seeds_differ_between_calls() {
        let mut a = SplitMix64::from_entropy();
        let mut b = SplitMix64::from_entropy();
        assert_ne!(a.next_u64(), b.next_u64());
    }
}
