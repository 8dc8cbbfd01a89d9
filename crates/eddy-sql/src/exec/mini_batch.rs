//! Mini-batches (`table.exec.mini-batch.*`): an operator buffers its input
//! rows into a bundle and processes the bundle at once, reading and writing
//! each key's state once and emitting one change per key instead of one per
//! row, as Flink's mini-batch aggregation does.
//!
//! A bundle ends when it holds `table.exec.mini-batch.size` rows (cut exactly
//! there), at the next multiple of `table.exec.mini-batch.allow-latency` in
//! processing time after its first row (Flink's processing-time mini-batch
//! assigner), before every checkpoint barrier (so nothing buffered is ever in
//! flight when the job snapshots) and at the end of the input.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{Int64Array, RecordBatch};
//! use arrow::datatypes::{DataType, Field, Schema};
//! use eddy_sql::exec::mini_batch::{Bundle, MiniBatch};
//!
//! let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
//! let rows = |n: i64| {
//!     RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from_iter_values(0..n))])
//!         .unwrap()
//! };
//! let settings = MiniBatch { allow_latency_ms: 1_000, size: 4, two_phase: false };
//! let mut bundle = Bundle::new(settings);
//! let full = bundle.add(rows(3), 1_500).unwrap();
//! assert!(full.is_empty());
//! assert_eq!(bundle.due(), Some(2_000)); // the next whole second
//! let full = bundle.add(rows(6), 1_600).unwrap();
//! // 3 + 1 rows made a bundle of 4; 4 more made another; 1 waits.
//! assert_eq!(full.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), [4, 4]);
//! assert_eq!(bundle.take().unwrap().unwrap().num_rows(), 1);
//! assert!(bundle.take().unwrap().is_none());
//! ```

use std::collections::HashMap;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::error::ArrowError;
use arrow::row::Rows;

use eddy_core::Timestamp;

/// Flink's mini-batch settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MiniBatch {
    /// `table.exec.mini-batch.allow-latency`, in milliseconds (positive).
    pub allow_latency_ms: u64,
    /// `table.exec.mini-batch.size`: rows per bundle (positive).
    pub size: usize,
    /// Unbounded aggregations in two phases (local, then global after the
    /// hash exchange) where their functions allow:
    /// `table.optimizer.agg-phase-strategy` other than `ONE_PHASE`.
    pub two_phase: bool,
}

/// The rows buffered for the next bundle.
#[derive(Debug)]
pub struct Bundle {
    settings: MiniBatch,
    pending: Vec<RecordBatch>,
    rows: usize,
    /// When the bundle ends at the latest (processing time), once it has rows.
    due: Option<Timestamp>,
}

impl Bundle {
    /// An empty bundle.
    pub fn new(settings: MiniBatch) -> Self {
        Bundle {
            settings,
            pending: Vec::new(),
            rows: 0,
            due: None,
        }
    }

    /// Adds `batch`, arriving at processing time `now`; gives back the bundles
    /// it completed (each exactly `size` rows).
    pub fn add(
        &mut self,
        mut batch: RecordBatch,
        now: Timestamp,
    ) -> Result<Vec<RecordBatch>, ArrowError> {
        let mut full = Vec::new();
        while batch.num_rows() > 0 {
            if self.due.is_none() {
                let latency = self.settings.allow_latency_ms.max(1) as i64;
                self.due = Some(now - now.rem_euclid(latency) + latency);
            }
            let room = self.settings.size - self.rows;
            if batch.num_rows() < room {
                self.rows += batch.num_rows();
                self.pending.push(batch);
                break;
            }
            self.pending.push(batch.slice(0, room));
            self.rows += room;
            batch = batch.slice(room, batch.num_rows() - room);
            full.extend(self.take()?);
        }
        Ok(full)
    }

    /// When the buffered rows must be processed at the latest.
    pub fn due(&self) -> Option<Timestamp> {
        self.due
    }

    /// The buffered rows as one batch, leaving the bundle empty; `None` when
    /// it is empty.
    pub fn take(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        self.due = None;
        self.rows = 0;
        let pending = std::mem::take(&mut self.pending);
        match pending.len() {
            0 => Ok(None),
            1 => Ok(pending.into_iter().next()),
            _ => concat_batches(&pending[0].schema(), &pending).map(Some),
        }
    }
}

/// The rows of each key, keys in the order of their first row; all rows one
/// key without `keys` (a global aggregation).
pub fn rows_by_key(keys: Option<&Rows>, n: usize) -> Vec<Vec<usize>> {
    let Some(keys) = keys else {
        return if n == 0 {
            Vec::new()
        } else {
            vec![(0..n).collect()]
        };
    };
    let mut index: HashMap<&[u8], usize> = HashMap::new();
    let mut steps: Vec<Vec<usize>> = Vec::new();
    for i in 0..n {
        let next = steps.len();
        let at = *index.entry(keys.row(i).data()).or_insert(next);
        if at == next {
            steps.push(Vec::new());
        }
        steps[at].push(i);
    }
    steps
}
