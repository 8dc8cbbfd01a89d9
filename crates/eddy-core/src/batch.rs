//! Batches of records: the unit that moves between tasks.
//!
//! The runtime is generic over the batch type. It only needs what [`Batch`] offers:
//! count the rows, scatter them to target channels, append one batch to another and
//! clone a batch for broadcast. Typed Rust records travel as [`Records`]; Arrow
//! `RecordBatch`es implement the same trait (feature `arrow`), so both APIs share
//! one runtime.

use crate::time::Timestamp;

/// A batch of records the runtime can count, route and buffer.
pub trait Batch: Clone + Send + Sized + 'static {
    /// The number of rows in the batch.
    fn num_rows(&self) -> usize;

    /// Moves every row `i` into `outs[targets[i]]`, creating or appending to the
    /// batch already buffered there. `targets.len()` equals [`Batch::num_rows`] and
    /// every target is smaller than `outs.len()`.
    fn scatter_into(self, targets: &[u32], outs: &mut [Option<Self>]);

    /// Appends the rows of `other` after the rows of `self`.
    fn append(&mut self, other: Self);

    /// An estimate of the bytes the batch's rows take: what the `numBytesIn` and
    /// `numBytesOut` metrics count.
    fn byte_size_estimate(&self) -> usize {
        self.num_rows() * 16
    }
}

/// One typed record and its event-time timestamp, if it has one.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StreamRecord<T> {
    /// The value.
    pub value: T,
    /// The record's event time, assigned by a source or a timestamp assigner.
    pub timestamp: Option<Timestamp>,
}

impl<T> StreamRecord<T> {
    /// A record without a timestamp.
    pub fn new(value: T) -> Self {
        StreamRecord {
            value,
            timestamp: None,
        }
    }

    /// A record with an event-time timestamp.
    pub fn with_timestamp(value: T, timestamp: Timestamp) -> Self {
        StreamRecord {
            value,
            timestamp: Some(timestamp),
        }
    }
}

/// A batch of typed records, the batch type of the DataStream API.
pub type Records<T> = Vec<StreamRecord<T>>;

impl<T: Clone + Send + 'static> Batch for Vec<StreamRecord<T>> {
    fn num_rows(&self) -> usize {
        self.len()
    }

    fn scatter_into(self, targets: &[u32], outs: &mut [Option<Self>]) {
        if outs.len() == 1 {
            match &mut outs[0] {
                Some(buffer) => buffer.extend(self),
                slot => *slot = Some(self),
            }
            return;
        }
        let hint = self.len() / outs.len() + 1;
        for (record, &target) in self.into_iter().zip(targets) {
            outs[target as usize]
                .get_or_insert_with(|| Vec::with_capacity(hint))
                .push(record);
        }
    }

    fn append(&mut self, other: Self) {
        if self.is_empty() {
            *self = other;
        } else {
            self.extend(other);
        }
    }

    fn byte_size_estimate(&self) -> usize {
        self.len() * std::mem::size_of::<StreamRecord<T>>()
    }
}
