//! The lab's phases and its seeded traffic schedule.

use std::time::Duration;

/// What the downstream service does during a stretch of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Fast 200s.
    Healthy,
    /// Every call answers 503.
    Outage,
    /// 200s after an added delay.
    Slow,
    /// Fast 200s again.
    Recovery,
}

impl Phase {
    /// Every phase, in the order they run.
    pub const ALL: [Phase; 4] = [Phase::Healthy, Phase::Outage, Phase::Slow, Phase::Recovery];

    /// The phase's lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Healthy => "healthy",
            Phase::Outage => "outage",
            Phase::Slow => "slow",
            Phase::Recovery => "recovery",
        }
    }

    /// The phase running at `elapsed` into a run of `total` (four equal
    /// quarters).
    pub fn at(elapsed: Duration, total: Duration) -> Phase {
        let quarter = (elapsed.as_secs_f64() / total.as_secs_f64() * 4.0) as usize;
        Phase::ALL[quarter.min(3)]
    }

    /// The phase's index in [`Phase::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A small seeded generator (splitmix64): the same seed gives the same
/// traffic schedule on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// A key in `0..n`, skewed towards small keys (a few hot users).
    pub fn skewed(&mut self, n: u64) -> u64 {
        let a = self.next_u64() % n;
        let b = self.next_u64() % n;
        a.min(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_split_the_run_in_quarters() {
        let total = Duration::from_secs(20);
        assert_eq!(Phase::at(Duration::from_secs(0), total), Phase::Healthy);
        assert_eq!(Phase::at(Duration::from_secs(6), total), Phase::Outage);
        assert_eq!(Phase::at(Duration::from_secs(11), total), Phase::Slow);
        assert_eq!(Phase::at(Duration::from_secs(19), total), Phase::Recovery);
        assert_eq!(Phase::at(Duration::from_secs(25), total), Phase::Recovery);
    }

    #[test]
    fn same_seed_same_schedule() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let xs: Vec<u64> = (0..16).map(|_| a.range(3, 9)).collect();
        let ys: Vec<u64> = (0..16).map(|_| b.range(3, 9)).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|x| (3..=9).contains(x)));
        assert_ne!(
            xs,
            (0..16).map(|_| Rng::new(8).range(3, 9)).collect::<Vec<_>>()
        );
    }
}
