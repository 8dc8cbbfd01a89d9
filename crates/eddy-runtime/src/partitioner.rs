//! Partitioners: which channel of an edge each record goes to.

use std::sync::Arc;

use eddy_core::key_group::{key_group_for_hash, operator_index_for_key_group};
use eddy_core::Batch;

/// Where the rows of a batch go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// The whole batch to one channel.
    One(u32),
    /// Row `i` to channel `targets[i]`.
    PerRow,
    /// The whole batch to every channel.
    All,
}

/// Chooses the target channels of a batch.
pub trait Partitioner<B>: Send {
    /// Decides where the rows of `batch` go among `num_channels`; for
    /// [`Selection::PerRow`] it fills `targets` with one channel per row.
    fn select(&mut self, batch: &B, num_channels: usize, targets: &mut Vec<u32>) -> Selection;
}

/// Everything to channel 0 (forward edges have exactly one channel per producer).
pub struct ForwardPartitioner;

impl<B> Partitioner<B> for ForwardPartitioner {
    fn select(&mut self, _: &B, _: usize, _: &mut Vec<u32>) -> Selection {
        Selection::One(0)
    }
}

/// Round-robin, record by record, as Flink's rebalance (also used for rescale,
/// whose writer holds only its local subset of channels).
#[derive(Default)]
pub struct RebalancePartitioner {
    next: u32,
}

impl RebalancePartitioner {
    /// A round-robin partitioner starting at `start` (the subtask index spreads
    /// producers over consumers).
    pub fn starting_at(start: u32) -> Self {
        RebalancePartitioner { next: start }
    }
}

impl<B: Batch> Partitioner<B> for RebalancePartitioner {
    fn select(&mut self, batch: &B, num_channels: usize, targets: &mut Vec<u32>) -> Selection {
        let n = num_channels as u32;
        if n == 1 {
            return Selection::One(0);
        }
        let rows = batch.num_rows();
        targets.clear();
        let mut next = self.next % n;
        targets.extend((0..rows).map(|_| {
            let target = next;
            next = if next + 1 == n { 0 } else { next + 1 };
            target
        }));
        self.next = next;
        Selection::PerRow
    }
}

/// Every batch to every channel.
pub struct BroadcastPartitioner;

impl<B> Partitioner<B> for BroadcastPartitioner {
    fn select(&mut self, _: &B, _: usize, _: &mut Vec<u32>) -> Selection {
        Selection::All
    }
}

/// Computes the stable key hash of every row of a batch (see
/// [`eddy_core::key_group::stable_hash`]).
pub type KeyHasher<B> = Arc<dyn Fn(&B, &mut Vec<i32>) + Send + Sync>;

/// By key group: row → key hash → key group → owning subtask, as Flink assigns.
pub struct KeyGroupPartitioner<B> {
    hasher: KeyHasher<B>,
    max_parallelism: u32,
    hashes: Vec<i32>,
}

impl<B> KeyGroupPartitioner<B> {
    /// A partitioner hashing rows with `hasher` into `max_parallelism` key groups.
    pub fn new(hasher: KeyHasher<B>, max_parallelism: u32) -> Self {
        KeyGroupPartitioner {
            hasher,
            max_parallelism,
            hashes: Vec::new(),
        }
    }
}

impl<B: Batch> Partitioner<B> for KeyGroupPartitioner<B> {
    fn select(&mut self, batch: &B, num_channels: usize, targets: &mut Vec<u32>) -> Selection {
        if num_channels == 1 {
            return Selection::One(0);
        }
        self.hashes.clear();
        (self.hasher)(batch, &mut self.hashes);
        targets.clear();
        let (mp, p) = (self.max_parallelism, num_channels as u32);
        targets.extend(
            self.hashes
                .iter()
                .map(|&h| operator_index_for_key_group(mp, p, key_group_for_hash(h, mp))),
        );
        Selection::PerRow
    }
}
