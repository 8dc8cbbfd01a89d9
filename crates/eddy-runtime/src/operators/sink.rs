//! Sinks: the last operator of a pipeline, writing records somewhere.

use std::marker::PhantomData;

use eddy_core::{Records, Result, Timestamp};

use crate::operator::{Operator, OperatorContext, OperatorSnapshot};
use crate::output::Emitter;

/// Writes records out. One writer per parallel subtask.
pub trait SinkWriter<T>: Send + 'static {
    /// Prepares the writer for subtask `ctx.subtask` (e.g. opens its part file).
    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// Writes a batch of records.
    fn write_batch(&mut self, records: Records<T>) -> Result<()>;

    /// The watermark advanced (for sinks that roll files on event time).
    fn on_watermark(&mut self, watermark: Timestamp) -> Result<()> {
        let _ = watermark;
        Ok(())
    }

    /// The input ended: flush and finalize everything written.
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }

    /// A checkpoint barrier: pre-commit what was written since the last one and
    /// return the sink's state (e.g. the transactions awaiting commit).
    fn snapshot(&mut self, checkpoint_id: u64) -> Result<Vec<u8>> {
        let _ = checkpoint_id;
        Ok(Vec::new())
    }

    /// Checkpoint `checkpoint_id` completed: commit what it pre-committed.
    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        let _ = checkpoint_id;
        Ok(())
    }

    /// Restores from the states of every subtask of the checkpointed run (a union),
    /// before `open`.
    fn restore(&mut self, states: Vec<Vec<u8>>) -> Result<()> {
        let _ = states;
        Ok(())
    }
}

/// Runs a [`SinkWriter`].
pub struct SinkOperator<T, W> {
    writer: W,
    _types: PhantomData<fn(T)>,
}

impl<T, W> SinkOperator<T, W> {
    /// A sink operator.
    pub fn new(writer: W) -> Self {
        SinkOperator {
            writer,
            _types: PhantomData,
        }
    }
}

impl<T, W> Operator for SinkOperator<T, W>
where
    T: Clone + Send + 'static,
    W: SinkWriter<T>,
{
    type In = Records<T>;
    type Out = Records<()>;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.writer.restore(ctx.restored_operator_state())?;
        self.writer.open(ctx)
    }

    fn process_batch(
        &mut self,
        batch: Records<T>,
        _out: &mut Emitter<'_, Records<()>>,
    ) -> Result<()> {
        self.writer.write_batch(batch)
    }

    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        _out: &mut Emitter<'_, Records<()>>,
    ) -> Result<()> {
        self.writer.on_watermark(watermark)
    }

    fn end_input(&mut self, _out: &mut Emitter<'_, Records<()>>) -> Result<()> {
        self.writer.finish()
    }

    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<OperatorSnapshot> {
        Ok(OperatorSnapshot {
            operator: self.writer.snapshot(checkpoint_id)?,
            ..Default::default()
        })
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        self.writer.notify_checkpoint_complete(checkpoint_id)
    }
}
