//! Sources over an index space `0, 1, 2, ...`: collections, generators, Nexmark.
//!
//! The index space is cut into [`SPLITS`] virtual splits (`index % SPLITS`). Subtask
//! `k` of `p` owns the splits `s` with `s % p == k` and emits their indices in
//! increasing order. Its checkpointed position is the next index of each owned
//! split, so after a restore at another parallelism every split continues exactly
//! where it stopped, whichever subtask owns it now.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use eddy_core::{Error, Records, Result, StreamRecord, Timestamp};
use eddy_runtime::{OperatorContext, SourceEvent, SourceReader};
use tokio::time::{Instant, Sleep};

/// The number of virtual splits of an index space (the upper bound of useful
/// source parallelism).
pub const SPLITS: u64 = 128;

/// Makes the record at an index, with its event time if it has one.
pub type IndexFunction<T> = Arc<dyn Fn(u64) -> (T, Option<Timestamp>) + Send + Sync>;

/// Where the owned splits stand.
enum Cursor {
    /// The owned indices are `next, next + step, ...` (every split in phase).
    Stride { next: u64, step: u64 },
    /// Splits out of phase (after a restore at another parallelism): merge them.
    Merge(BinaryHeap<Reverse<(u64, u64)>>),
}

/// Emits `f(i)` for the indices `i` below `count` (or forever), split across
/// subtasks by virtual split, optionally rate-limited.
pub struct IndexedSource<T> {
    function: IndexFunction<T>,
    count: Option<u64>,
    rate: Option<f64>,
    cursor: Cursor,
    owned: Vec<u64>,
    restored: Option<BTreeMap<u64, u64>>,
    batch_size: usize,
    started: Option<Instant>,
    emitted: u64,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<T> IndexedSource<T> {
    /// A source of `count` records (`None`: unbounded).
    pub fn new(function: IndexFunction<T>, count: Option<u64>) -> Self {
        IndexedSource {
            function,
            count,
            rate: None,
            cursor: Cursor::Stride { next: 0, step: 1 },
            owned: Vec::new(),
            restored: None,
            batch_size: 1024,
            started: None,
            emitted: 0,
            sleep: None,
        }
    }

    /// Limits the rate to `records_per_second` over all subtasks.
    pub fn with_rate(mut self, records_per_second: Option<f64>) -> Self {
        self.rate = records_per_second.filter(|r| *r > 0.0);
        self
    }

    /// The next index of split `split` at or after `from`.
    fn next_in_split(from: u64, split: u64) -> u64 {
        from + (split + SPLITS - from % SPLITS) % SPLITS
    }

    fn cursors(&self) -> Vec<(u64, u64)> {
        match &self.cursor {
            Cursor::Stride { next, .. } => self
                .owned
                .iter()
                .map(|&s| (s, Self::next_in_split(*next, s)))
                .collect(),
            Cursor::Merge(heap) => {
                let mut v: Vec<(u64, u64)> = heap.iter().map(|Reverse((i, s))| (*s, *i)).collect();
                v.sort();
                v
            }
        }
    }

    fn next_index(&mut self) -> Option<u64> {
        let index = match &mut self.cursor {
            Cursor::Stride { next, step } => {
                let i = *next;
                if self.count.is_some_and(|c| i >= c) || self.owned.is_empty() {
                    return None;
                }
                *next += *step;
                i
            }
            Cursor::Merge(heap) => {
                let Reverse((i, split)) = *heap.peek()?;
                if self.count.is_some_and(|c| i >= c) {
                    return None;
                }
                heap.pop();
                heap.push(Reverse((i + SPLITS, split)));
                i
            }
        };
        Some(index)
    }
}

impl<T: Clone + Send + 'static> SourceReader for IndexedSource<T> {
    type Out = Records<T>;

    fn restore_positions(&mut self, positions: Vec<Vec<u8>>) -> Result<()> {
        let mut restored = BTreeMap::new();
        for bytes in positions.iter().filter(|b| !b.is_empty()) {
            let cursors: Vec<(u64, u64)> = postcard::from_bytes(bytes)
                .map_err(|e| Error::state(format!("source position cannot be decoded: {e}")))?;
            restored.extend(cursors);
        }
        self.restored = Some(restored);
        Ok(())
    }

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let (k, p) = (ctx.subtask as u64, ctx.parallelism.max(1) as u64);
        self.owned = (0..SPLITS).filter(|s| s % p == k).collect();
        let cursors: Vec<(u64, u64)> = self
            .owned
            .iter()
            .map(|&s| {
                (
                    s,
                    self.restored
                        .as_ref()
                        .and_then(|r| r.get(&s).copied())
                        .unwrap_or(s),
                )
            })
            .collect();
        let start = cursors.iter().map(|c| c.1).min().unwrap_or(0);
        let in_phase = SPLITS.is_multiple_of(p)
            && cursors
                .iter()
                .all(|&(s, next)| next == Self::next_in_split(start, s));
        self.cursor = if in_phase && !cursors.is_empty() {
            Cursor::Stride {
                next: start,
                step: p,
            }
        } else {
            Cursor::Merge(
                cursors
                    .iter()
                    .map(|&(s, next)| Reverse((next, s)))
                    .collect(),
            )
        };
        self.batch_size = super::batch_size(ctx);
        if let Some(rate) = self.rate {
            self.rate = Some(rate / p as f64);
            // Small batches keep a paced stream smooth.
            self.batch_size = self.batch_size.min(((rate / 100.0).ceil() as usize).max(1));
        }
        Ok(())
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<SourceEvent<Records<T>>>> {
        if let Some(rate) = self.rate {
            let started = *self.started.get_or_insert_with(Instant::now);
            let due = started + Duration::from_secs_f64(self.emitted as f64 / rate);
            if due > Instant::now() {
                let sleep = self
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
                sleep.as_mut().reset(due);
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
        }
        let mut batch = Vec::with_capacity(self.batch_size);
        while batch.len() < self.batch_size {
            let Some(i) = self.next_index() else { break };
            let (value, timestamp) = (self.function)(i);
            batch.push(StreamRecord { value, timestamp });
        }
        if batch.is_empty() {
            return Poll::Ready(Ok(SourceEvent::End));
        }
        self.emitted += batch.len() as u64;
        Poll::Ready(Ok(SourceEvent::Batch(batch)))
    }

    fn snapshot_position(&mut self) -> Result<Vec<u8>> {
        postcard::to_stdvec(&self.cursors()).map_err(Error::state)
    }
}

/// A bounded source over the elements of a collection.
pub struct CollectionSource;

impl CollectionSource {
    /// A source emitting `elements` (no timestamps).
    #[allow(clippy::new_ret_no_self)]
    pub fn new<T: Clone + Send + Sync + 'static>(elements: Arc<Vec<T>>) -> IndexedSource<T> {
        let count = elements.len() as u64;
        IndexedSource::new(
            Arc::new(move |i| (elements[i as usize].clone(), None)),
            Some(count),
        )
    }
}

/// A deterministic generator: `f(0), f(1), ...`.
pub struct GeneratorSource;

impl GeneratorSource {
    /// A generator of `count` records (`None`: unbounded).
    #[allow(clippy::new_ret_no_self)]
    pub fn new<T>(function: IndexFunction<T>, count: Option<u64>) -> IndexedSource<T> {
        IndexedSource::new(function, count)
    }
}
