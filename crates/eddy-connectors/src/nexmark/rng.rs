//! A tiny deterministic PRNG (SplitMix64), seeded per event from `(seed, event number)`.
//!
//! Seeding per event makes every random choice for event `n` a pure function of the
//! configured seed and `n`, so any split of the stream (and any resumed generator)
//! reproduces exactly the same event `n`.

/// SplitMix64 increment (2^64 / golden ratio, odd).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// Salt so that seed 0 does not start from an all-zero state.
const SEED_SALT: u64 = 0x6E65_786D_6172_6B21; // "nexmark!"

/// SplitMix64 finaliser: a bijective 64-bit mixing function.
#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Pre-mixes a user seed; feed the result to [`EventRng::new`].
#[inline]
pub(crate) fn seed_key(seed: u64) -> u64 {
    mix64(seed ^ SEED_SALT)
}

/// SplitMix64 generator for the random choices of a single event.
#[derive(Debug, Clone)]
pub(crate) struct EventRng {
    state: u64,
}

impl EventRng {
    /// Generator for event `event_number` under the pre-mixed seed `key` (see [`seed_key`]).
    ///
    /// For a fixed key, distinct event numbers get distinct starting states.
    #[inline]
    pub(crate) fn new(key: u64, event_number: u64) -> Self {
        Self {
            state: mix64(key ^ event_number.wrapping_mul(GAMMA)),
        }
    }

    /// Next 64 uniformly distributed bits.
    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix64(self.state)
    }

    /// Uniform-ish integer in `0..n` (multiply-shift; bias is below 2^-40 for the
    /// bounds used here). Returns 0 when `n == 0`.
    #[inline]
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform index in `0..n`; returns 0 when `n == 0`.
    #[inline]
    pub(crate) fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform float in `[0, 1)`.
    #[inline]
    pub(crate) fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Nexmark's "hot" coin: true with probability `1 - 1/ratio` (never for ratio <= 1).
    #[inline]
    pub(crate) fn hot(&mut self, ratio: u32) -> bool {
        self.below(u64::from(ratio)) > 0
    }
}
