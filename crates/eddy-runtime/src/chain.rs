//! Operator chaining: an operator and everything after it in the same task.
//!
//! A [`ChainNode`] wraps one operator and the output it writes to (the next chained
//! operator, a record writer, or a fan-out). Handing a batch to a chain is a direct
//! call: no channel, no copy. Each call into the operator is guarded: an error or a
//! panic becomes [`Error::UserCode`] naming the operator and subtask.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use eddy_core::{
    Batch, CheckpointBarrier, Error, Result, Timestamp, WatermarkStatus, MAX_WATERMARK,
};

use crate::checkpoint::OperatorSubtaskState;
use crate::operator::{Operator, OperatorContext, OperatorSnapshot};
use crate::output::{Emitter, Output, SideOutputs};
use crate::task_metrics::NO_WATERMARK;

/// One operator of a chain and its outputs.
pub struct ChainNode<O: Operator> {
    operator: O,
    next: Box<dyn Output<O::Out>>,
    sides: SideOutputs,
    context: OperatorContext,
    records_in: Arc<AtomicU64>,
    records_out: Arc<AtomicU64>,
    input_watermark: Arc<AtomicI64>,
    opened: bool,
    /// The operator has had its final watermark and end of input.
    data_ended: bool,
}

/// Turns the payload of a panic into text.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".to_string()
    }
}

/// Runs `f`, turning a panic or an error into a [`Error::UserCode`] that names the
/// operator and subtask. Errors that already name an operator, and errors of a
/// higher layer ([`Error::External`]), pass through.
pub fn guarded<T>(context: &OperatorContext, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e @ (Error::UserCode { .. } | Error::Cancelled | Error::External(_)))) => Err(e),
        Ok(Err(e)) => Err(Error::UserCode {
            operator: context.name.clone(),
            subtask: context.subtask,
            message: e.to_string(),
        }),
        Err(payload) => Err(Error::UserCode {
            operator: context.name.clone(),
            subtask: context.subtask,
            message: format!("panicked: {}", panic_message(payload.as_ref())),
        }),
    }
}

/// [`guarded`] around an operator's `open`, which gets the subtask's part of the
/// restored checkpoint ([`OperatorContext::keyed_state`]) and must take all of it.
pub fn guarded_open(
    context: &mut OperatorContext,
    open: impl FnOnce(&OperatorContext) -> Result<()>,
) -> Result<()> {
    let named = context.clone();
    guarded(&named, || context.open_restored(open))
}

/// Wraps an operator's snapshot with the subtask's identity; `None` when empty.
pub fn subtask_state(
    ctx: &OperatorContext,
    snapshot: OperatorSnapshot,
) -> Option<OperatorSubtaskState> {
    (!snapshot.is_empty()).then(|| OperatorSubtaskState {
        uid: ctx.uid.clone(),
        subtask: ctx.subtask as u32,
        parallelism: ctx.parallelism as u32,
        max_parallelism: ctx.max_parallelism,
        key_group_range: ctx.key_group_range(),
        snapshot,
    })
}

impl<O: Operator> ChainNode<O> {
    /// A chain node for `operator` writing to `next` and to `sides`.
    pub fn new(
        operator: O,
        next: Box<dyn Output<O::Out>>,
        sides: SideOutputs,
        context: OperatorContext,
    ) -> Self {
        let records_in = context.metric("numRecordsIn");
        let records_out = context.metric("numRecordsOut");
        let input_watermark = context.gauge("currentInputWatermark", NO_WATERMARK);
        ChainNode {
            operator,
            next,
            sides,
            context,
            records_in,
            records_out,
            input_watermark,
            opened: false,
            data_ended: false,
        }
    }
}

impl<O: Operator> Output<O::In> for ChainNode<O> {
    fn collect(&mut self, batch: O::In) -> Result<()> {
        self.records_in
            .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
        let Self {
            operator,
            next,
            sides,
            context,
            records_out,
            ..
        } = self;
        guarded(context, || {
            operator.process_batch(
                batch,
                &mut Emitter::counted(next.as_mut(), sides, records_out),
            )
        })
    }

    fn emit_watermark(&mut self, watermark: Timestamp) -> Result<()> {
        if watermark == MAX_WATERMARK {
            // The end of event time reaches this operator with its end of data.
            return Ok(());
        }
        self.input_watermark.store(watermark, Ordering::Relaxed);
        let Self {
            operator,
            next,
            sides,
            context,
            records_out,
            ..
        } = self;
        guarded(context, || {
            operator.process_watermark(
                watermark,
                &mut Emitter::counted(next.as_mut(), sides, records_out),
            )
        })
    }

    fn emit_status(&mut self, status: WatermarkStatus) -> Result<()> {
        let Self {
            operator,
            next,
            sides,
            context,
            records_out,
            ..
        } = self;
        guarded(context, || {
            operator.process_status(
                status,
                &mut Emitter::counted(next.as_mut(), sides, records_out),
            )
        })
    }

    fn open(&mut self) -> Result<()> {
        if !self.opened {
            self.opened = true;
            let Self {
                operator, context, ..
            } = self;
            guarded_open(context, |context| operator.open(context))?;
        }
        for side in self.sides.all_mut() {
            side.open()?;
        }
        self.next.open()
    }

    fn end_of_data(&mut self) -> Result<()> {
        if std::mem::replace(&mut self.data_ended, true) {
            return Ok(());
        }
        self.input_watermark.store(MAX_WATERMARK, Ordering::Relaxed);
        {
            let Self {
                operator,
                next,
                sides,
                context,
                records_out,
                ..
            } = self;
            guarded(context, || {
                let mut out = Emitter::counted(next.as_mut(), sides, records_out);
                operator.process_watermark(MAX_WATERMARK, &mut out)?;
                operator.end_input(&mut out)
            })?;
        }
        self.sides.end_of_data_with(self.next.as_mut())
    }

    fn close(&mut self) -> Result<()> {
        let Self {
            operator, context, ..
        } = self;
        guarded(context, || operator.close())?;
        for side in self.sides.all_mut() {
            side.close()?;
        }
        self.next.close()
    }

    fn next_processing_time(&self) -> Option<Timestamp> {
        let own = self.operator.next_processing_time();
        let sides = self
            .sides
            .all()
            .filter_map(|s| s.next_processing_time())
            .min();
        [own, sides, self.next.next_processing_time()]
            .into_iter()
            .flatten()
            .min()
    }

    fn fire_processing_time(&mut self, now: Timestamp) -> Result<()> {
        if self
            .operator
            .next_processing_time()
            .is_some_and(|t| t <= now)
        {
            let Self {
                operator,
                next,
                sides,
                context,
                records_out,
                ..
            } = self;
            guarded(context, || {
                operator.on_processing_time(
                    now,
                    &mut Emitter::counted(next.as_mut(), sides, records_out),
                )
            })?;
        }
        for side in self.sides.all_mut() {
            side.fire_processing_time(now)?;
        }
        self.next.fire_processing_time(now)
    }

    fn flush_buffers(&mut self) {
        self.sides.flush_buffers_with(self.next.as_mut());
    }

    fn prepare_snapshot_pre_barrier(&mut self, checkpoint_id: u64) -> Result<()> {
        {
            let Self {
                operator,
                next,
                sides,
                context,
                records_out,
                ..
            } = self;
            guarded(context, || {
                operator.prepare_snapshot_pre_barrier(
                    checkpoint_id,
                    &mut Emitter::counted(next.as_mut(), sides, records_out),
                )
            })?;
        }
        self.sides
            .prepare_snapshot_with(checkpoint_id, self.next.as_mut())
    }

    fn snapshot_state(
        &mut self,
        checkpoint_id: u64,
        out: &mut Vec<OperatorSubtaskState>,
    ) -> Result<()> {
        let Self {
            operator, context, ..
        } = self;
        let snapshot = guarded(context, || operator.snapshot_state(checkpoint_id))?;
        out.extend(subtask_state(context, snapshot));
        self.sides
            .snapshot_with(checkpoint_id, out, self.next.as_mut())
    }

    fn emit_barrier(&mut self, barrier: CheckpointBarrier) -> Result<()> {
        self.sides.emit_barrier_with(barrier, self.next.as_mut())
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        let Self {
            operator, context, ..
        } = self;
        guarded(context, || {
            operator.notify_checkpoint_complete(checkpoint_id)
        })?;
        self.sides.notify_with(checkpoint_id, self.next.as_mut())
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.sides.poll_flush_with(cx, self.next.as_mut())
    }
}
