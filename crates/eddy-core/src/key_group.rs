//! Key groups: the unit in which keyed state is partitioned, stored and rescaled.
//!
//! A key is hashed to one of `max_parallelism` key groups; each parallel subtask owns
//! a contiguous range of key groups. The formulas are Flink's, so a job with
//! `max_parallelism = 128` spreads keys over subtasks the way Flink would, and
//! rescaling is a redistribution of whole key groups.
//!
//! ```
//! use eddy_core::key_group::{key_group_for_key, operator_index_for_key_group, KeyGroupRange};
//! let kg = key_group_for_key(&"user-42", 128);
//! let subtask = operator_index_for_key_group(128, 4, kg);
//! assert!(KeyGroupRange::for_operator(128, 4, subtask).contains(kg));
//! ```

use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

/// The index of a key group, in `0..max_parallelism`.
pub type KeyGroup = u32;

/// The default maximum parallelism (`pipeline.max-parallelism`).
pub const DEFAULT_MAX_PARALLELISM: u32 = 128;

/// A hasher whose output depends only on the bytes and integers written to it, on
/// every platform and in every process, so key groups are stable across runs and
/// machines (a requirement for checkpoints and savepoints).
#[derive(Clone, Copy, Debug, Default)]
pub struct StableHasher {
    state: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl StableHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for StableHasher {
    /// The state through murmur3's 64-bit finalizer: the word mixing above keeps
    /// entropy in the high bits only, and hash tables index by the low bits.
    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.state;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.mix(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.mix(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }
    #[inline]
    fn write_i64(&mut self, i: i64) {
        self.mix(i as u64);
    }
}

/// The stable 32-bit hash of a key (the analogue of Java's `hashCode`).
#[inline]
pub fn stable_hash<K: Hash + ?Sized>(key: &K) -> i32 {
    fold_hash(stable_hash64(key))
}

/// The stable 64-bit hash of a key: what hash tables of keys index by, and
/// what [`stable_hash`] folds to 32 bits. Computed once per key, it serves both.
#[inline]
pub fn stable_hash64<K: Hash + ?Sized>(key: &K) -> u64 {
    let mut hasher = StableHasher::default();
    key.hash(&mut hasher);
    hasher.finish()
}

/// [`stable_hash`] of a key whose [`stable_hash64`] is `h`.
#[inline]
pub fn fold_hash(h: u64) -> i32 {
    (h ^ (h >> 32)) as i32
}

/// Flink's `MathUtils.murmurHash`: one murmur3 round and finalizer over a 32-bit
/// hash, made non-negative.
#[inline]
pub fn murmur_hash(code: i32) -> i32 {
    let mut h = code.wrapping_mul(0xcc9e_2d51_u32 as i32);
    h = h.rotate_left(15);
    h = h.wrapping_mul(0x1b87_3593);
    h = h.rotate_left(13);
    h = h.wrapping_mul(5).wrapping_add(0xe654_6b64_u32 as i32);
    h ^= 4;
    // fmix32
    let mut u = h as u32;
    u ^= u >> 16;
    u = u.wrapping_mul(0x85eb_ca6b);
    u ^= u >> 13;
    u = u.wrapping_mul(0xc2b2_ae35);
    u ^= u >> 16;
    let h = u as i32;
    if h >= 0 {
        h
    } else if h != i32::MIN {
        -h
    } else {
        0
    }
}

/// The key group of a key hash: `murmur(hash) % max_parallelism`.
#[inline]
pub fn key_group_for_hash(hash: i32, max_parallelism: u32) -> KeyGroup {
    (murmur_hash(hash) as u32) % max_parallelism
}

/// The key group of a key.
#[inline]
pub fn key_group_for_key<K: Hash + ?Sized>(key: &K, max_parallelism: u32) -> KeyGroup {
    key_group_for_hash(stable_hash(key), max_parallelism)
}

/// The subtask that owns a key group: `key_group * parallelism / max_parallelism`.
#[inline]
pub fn operator_index_for_key_group(
    max_parallelism: u32,
    parallelism: u32,
    key_group: KeyGroup,
) -> u32 {
    ((u64::from(key_group) * u64::from(parallelism)) / u64::from(max_parallelism)) as u32
}

/// A contiguous, inclusive range of key groups owned by one subtask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyGroupRange {
    /// The first key group of the range.
    pub start: KeyGroup,
    /// The last key group of the range (inclusive).
    pub end: KeyGroup,
}

impl KeyGroupRange {
    /// A range from `start` to `end`, both inclusive.
    pub fn new(start: KeyGroup, end: KeyGroup) -> Self {
        KeyGroupRange { start, end }
    }

    /// The range of key groups that subtask `operator_index` owns.
    pub fn for_operator(max_parallelism: u32, parallelism: u32, operator_index: u32) -> Self {
        let (mp, p, i) = (
            u64::from(max_parallelism),
            u64::from(parallelism),
            u64::from(operator_index),
        );
        let start = (i * mp).div_ceil(p);
        let end = ((i + 1) * mp - 1) / p;
        KeyGroupRange {
            start: start as u32,
            end: end as u32,
        }
    }

    /// Whether the range contains `key_group`.
    pub fn contains(&self, key_group: KeyGroup) -> bool {
        key_group >= self.start && key_group <= self.end
    }

    /// The number of key groups in the range.
    pub fn len(&self) -> usize {
        if self.end < self.start {
            0
        } else {
            (self.end - self.start + 1) as usize
        }
    }

    /// Whether the range is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key groups of the range, in order.
    pub fn iter(&self) -> impl Iterator<Item = KeyGroup> {
        self.start..self.end.saturating_add(1).max(self.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_partition_all_key_groups() {
        for p in 1..=7 {
            let mut next = 0;
            for i in 0..p {
                let range = KeyGroupRange::for_operator(128, p, i);
                assert_eq!(range.start, next, "p={p} i={i}");
                for kg in range.iter() {
                    assert_eq!(operator_index_for_key_group(128, p, kg), i);
                }
                next = range.end + 1;
            }
            assert_eq!(next, 128);
        }
    }

    #[test]
    fn murmur_matches_flink() {
        // Values computed with Flink's MathUtils.murmurHash on a JVM.
        assert_eq!(murmur_hash(0), 593_689_054);
        assert_eq!(murmur_hash(1), 68_075_478);
        assert_eq!(murmur_hash(-7), 206_585_249);
        assert_eq!(murmur_hash(123_456), 1_294_369_584);
    }

    #[test]
    fn hash_is_stable() {
        assert_eq!(stable_hash(&42u64), stable_hash(&42u64));
        assert_ne!(stable_hash("a"), stable_hash("b"));
    }
}
