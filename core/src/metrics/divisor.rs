//! Division by a number fixed at construction, without a `div` instruction
//! on the record path (a 64-bit `div` costs tens of cycles on some CPUs).
//!
//! For a non-power-of-two `d`, `magic = ceil(2^64 / d)`; then
//! `q = (n · magic) >> 64` is either `n / d` or one more (the excess
//! `n · (magic - 2^64/d) / 2^64` is below 1 for every `n < 2^64`), and one
//! multiply-compare corrects it. Powers of two shift.

/// `n / d` and `n % d` for a fixed `d >= 1`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Divisor {
    d: u64,
    magic: u64,
    shift: u32,
}

impl Divisor {
    /// # Panics
    ///
    /// Panics if `d` is zero (callers validate their configuration first).
    pub(crate) fn new(d: u64) -> Self {
        assert!(d > 0, "division by zero");
        if d.is_power_of_two() {
            Divisor {
                d,
                magic: 0,
                shift: d.trailing_zeros(),
            }
        } else {
            Divisor {
                d,
                magic: u64::MAX / d + 1,
                shift: 0,
            }
        }
    }

    pub(crate) fn get(&self) -> u64 {
        self.d
    }

    #[inline]
    pub(crate) fn div(&self, n: u64) -> u64 {
        if self.magic == 0 {
            return n >> self.shift;
        }
        let q = ((u128::from(n) * u128::from(self.magic)) >> 64) as u64;
        match q.checked_mul(self.d) {
            Some(p) if p <= n => q,
            _ => q - 1,
        }
    }

    #[inline]
    pub(crate) fn rem(&self, n: u64) -> u64 {
        n - self.div(n) * self.d
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edges() {
        for d in [1u64, 2, 3, 7, 10, 1_000_000_007, 5_000_000_000, u64::MAX] {
            let div = Divisor::new(d);
            for n in [0, 1, d - 1, d, d.saturating_add(1), u64::MAX - 1, u64::MAX] {
                assert_eq!(div.div(n), n / d, "{n} / {d}");
                assert_eq!(div.rem(n), n % d, "{n} % {d}");
            }
        }
    }

    proptest! {
        #[test]
        fn matches_hardware_division(n in any::<u64>(), d in 1u64..) {
            let div = Divisor::new(d);
            prop_assert_eq!(div.div(n), n / d);
            prop_assert_eq!(div.rem(n), n % d);
        }

        #[test]
        fn matches_for_small_divisors(n in any::<u64>(), d in 1u64..100) {
            prop_assert_eq!(Divisor::new(d).div(n), n / d);
        }
    }
}
