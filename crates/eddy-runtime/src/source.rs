//! The source contract: a reader the runtime polls for batches.

use std::task::{Context, Poll};

use eddy_core::{Batch, Result, Timestamp};

use crate::operator::OperatorContext;

/// What a source produced.
#[derive(Debug)]
pub enum SourceEvent<B> {
    /// A batch of records.
    Batch(B),
    /// A watermark from the source itself (e.g. a source that knows its event time).
    Watermark(Timestamp),
    /// The source has nothing to read for now and should not hold back event time.
    Idle,
    /// The source is exhausted (bounded input); the task finishes.
    End,
}

/// One parallel instance of a source. The runtime polls it like a stream: a reader
/// that has data returns `Ready`; a reader waiting for data (a socket, a rate limit)
/// returns `Pending` after arranging to be woken.
pub trait SourceReader: Send + 'static {
    /// The batch type produced.
    type Out: Batch;

    /// Prepares the reader: opens files, connects, picks its split by subtask index.
    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// The next event.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<SourceEvent<Self::Out>>>;

    /// Releases resources.
    fn close(&mut self) -> Result<()> {
        Ok(())
    }

    /// The reader's position, for a checkpoint: everything emitted so far is
    /// before it. Called between two `poll_next` calls.
    fn snapshot_position(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }

    /// The reader's position for checkpoint `checkpoint_id` (what
    /// [`snapshot_position`](Self::snapshot_position) returns, unless the reader
    /// keeps positions per checkpoint to act on their completion).
    fn snapshot_position_for(&mut self, checkpoint_id: u64) -> Result<Vec<u8>> {
        let _ = checkpoint_id;
        self.snapshot_position()
    }

    /// Checkpoint `checkpoint_id` completed: every position up to the one snapshot
    /// for it is durable (e.g. commit offsets to a broker, for monitoring).
    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        let _ = checkpoint_id;
        Ok(())
    }

    /// Restores from the positions of every subtask of the checkpointed run (a
    /// union: after a change of parallelism each reader picks its own share).
    /// Called before `open`. Sources that cannot replay ignore it.
    fn restore_positions(&mut self, positions: Vec<Vec<u8>>) -> Result<()> {
        let _ = positions;
        Ok(())
    }

    /// The splits (e.g. partitions) this reader reads now and has not
    /// finished, named as its records name where they came from; `None` for a
    /// reader without splits. Event time computed after the source (a SQL
    /// table's watermark) is then tracked per split, as Flink's per-split
    /// watermarks: a split read ahead does not make another's records late.
    fn splits(&self) -> Option<Vec<String>> {
        None
    }
}
