//! `VALUES`: a bounded source of literal rows.

use std::task::{Context, Poll};

use arrow::array::RecordBatch;
use eddy_core::Result;
use eddy_runtime::{OperatorContext, SourceEvent, SourceReader};

/// Emits one batch once (subtask 0), then ends.
pub struct ValuesSource {
    batch: Option<RecordBatch>,
}

impl ValuesSource {
    /// A source of `batch`.
    pub fn new(batch: RecordBatch) -> Self {
        ValuesSource { batch: Some(batch) }
    }
}

impl SourceReader for ValuesSource {
    type Out = RecordBatch;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        if ctx.subtask != 0 {
            self.batch = None;
        }
        Ok(())
    }

    fn poll_next(&mut self, _: &mut Context<'_>) -> Poll<Result<SourceEvent<RecordBatch>>> {
        Poll::Ready(Ok(match self.batch.take() {
            Some(b) => SourceEvent::Batch(b),
            None => SourceEvent::End,
        }))
    }

    fn snapshot_position(&mut self) -> Result<Vec<u8>> {
        Ok(vec![u8::from(self.batch.is_none())])
    }

    fn restore_positions(&mut self, positions: Vec<Vec<u8>>) -> Result<()> {
        if positions.iter().any(|p| p.first() == Some(&1)) {
            self.batch = None;
        }
        Ok(())
    }
}
