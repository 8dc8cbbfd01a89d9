//! A two-input operator at the head of its task, as one more [`Output`]: the
//! task's gate tags each batch with its input ([`TwoInputs`]), and this head
//! hands it to `process_batch1` or `process_batch2`, keeps the watermark of each
//! input and combines them, so that the one task loop of
//! [`InputTask`](crate::task::InputTask) drives one-input chains and two-input
//! operators alike.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use eddy_core::{CheckpointBarrier, Result, Timestamp, WatermarkStatus, MAX_WATERMARK};

use crate::chain::{guarded, guarded_open, subtask_state};
use crate::checkpoint::OperatorSubtaskState;
use crate::input::TwoInputs;
use crate::operator::{OperatorContext, TwoInputOperator};
use crate::output::{Emitter, Output, SideOutputs};
use crate::task_metrics::NO_WATERMARK;
use crate::watermark_valve::WatermarkValve;

/// A two-input operator, its outputs and the watermark of each input.
pub struct TwoInputHead<O: TwoInputOperator> {
    operator: O,
    next: Box<dyn Output<O::Out>>,
    sides: SideOutputs,
    context: OperatorContext,
    valve: WatermarkValve,
    /// The operator has had its final watermark and end of input.
    data_ended: bool,
    /// `currentInputWatermark`, `currentInput1Watermark`, `currentInput2Watermark`.
    watermarks: [Arc<AtomicI64>; 3],
    records_in: Arc<AtomicU64>,
    records_out: Arc<AtomicU64>,
}

impl<O: TwoInputOperator> TwoInputHead<O> {
    /// The head of `operator`, writing to `next` and `sides`.
    pub fn new(
        operator: O,
        next: Box<dyn Output<O::Out>>,
        sides: SideOutputs,
        context: OperatorContext,
    ) -> Self {
        let watermarks = [
            "currentInputWatermark",
            "currentInput1Watermark",
            "currentInput2Watermark",
        ]
        .map(|name| context.gauge(name, NO_WATERMARK));
        TwoInputHead {
            records_in: context.metric("numRecordsIn"),
            records_out: context.metric("numRecordsOut"),
            operator,
            next,
            sides,
            context,
            valve: WatermarkValve::new(2),
            data_ended: false,
            watermarks,
        }
    }

    /// Calls the operator with an emitter to its outputs.
    fn call(
        &mut self,
        f: impl FnOnce(&mut O, &mut Emitter<'_, O::Out>) -> Result<()>,
    ) -> Result<()> {
        let TwoInputHead {
            operator,
            next,
            sides,
            context,
            records_out,
            ..
        } = self;
        guarded(context, || {
            f(
                operator,
                &mut Emitter::counted(next.as_mut(), sides, records_out),
            )
        })
    }

    /// Passes on a combined watermark that advanced.
    fn forward(&mut self, advanced: Option<Timestamp>) -> Result<()> {
        let Some(w) = advanced else {
            return Ok(());
        };
        if w == MAX_WATERMARK {
            // The end of event time reaches the operator with its end of data.
            return Ok(());
        }
        self.watermarks[0].store(w, Ordering::Relaxed);
        self.call(|operator, out| operator.process_watermark(w, out))
    }
}

impl<O: TwoInputOperator> Output<TwoInputs<O::In1, O::In2>> for TwoInputHead<O> {
    fn collect(&mut self, batch: TwoInputs<O::In1, O::In2>) -> Result<()> {
        match batch {
            TwoInputs::First(b) => {
                self.records_in
                    .fetch_add(eddy_core::Batch::num_rows(&b) as u64, Ordering::Relaxed);
                self.call(|operator, out| operator.process_batch1(b, out))
            }
            TwoInputs::Second(b) => {
                self.records_in
                    .fetch_add(eddy_core::Batch::num_rows(&b) as u64, Ordering::Relaxed);
                self.call(|operator, out| operator.process_batch2(b, out))
            }
        }
    }

    fn emit_watermark(&mut self, watermark: Timestamp) -> Result<()> {
        for input in 0..2 {
            self.emit_input_watermark(input, watermark)?;
        }
        Ok(())
    }

    fn emit_status(&mut self, status: WatermarkStatus) -> Result<()> {
        for input in 0..2 {
            self.emit_input_status(input, status)?;
        }
        Ok(())
    }

    fn emit_input_watermark(&mut self, input: usize, watermark: Timestamp) -> Result<()> {
        self.watermarks[input + 1].store(watermark, Ordering::Relaxed);
        let advanced = self.valve.on_watermark(input, watermark);
        self.forward(advanced)
    }

    fn emit_input_status(&mut self, input: usize, status: WatermarkStatus) -> Result<()> {
        let advanced = self.valve.on_status(input, status).0;
        self.forward(advanced)
    }

    fn end_of_input(&mut self, input: usize) -> Result<()> {
        self.watermarks[input + 1].store(MAX_WATERMARK, Ordering::Relaxed);
        let advanced = self.valve.on_end(input).0;
        self.forward(advanced)
    }

    fn open(&mut self) -> Result<()> {
        let TwoInputHead {
            operator, context, ..
        } = self;
        guarded_open(context, |context| operator.open(context))?;
        for side in self.sides.all_mut() {
            side.open()?;
        }
        self.next.open()
    }

    /// Both inputs ended: the final watermark, then the operator's end of input.
    fn end_of_data(&mut self) -> Result<()> {
        if std::mem::replace(&mut self.data_ended, true) {
            return Ok(());
        }
        self.watermarks[0].store(MAX_WATERMARK, Ordering::Relaxed);
        self.call(|operator, out| {
            operator.process_watermark(MAX_WATERMARK, out)?;
            operator.end_input(out)
        })?;
        self.sides.end_of_data_with(self.next.as_mut())
    }

    fn close(&mut self) -> Result<()> {
        let TwoInputHead {
            operator, context, ..
        } = self;
        guarded(context, || operator.close())?;
        for side in self.sides.all_mut() {
            side.close()?;
        }
        self.next.close()
    }

    fn next_processing_time(&self) -> Option<Timestamp> {
        let sides = self
            .sides
            .all()
            .filter_map(|s| s.next_processing_time())
            .min();
        [
            self.operator.next_processing_time(),
            sides,
            self.next.next_processing_time(),
        ]
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
            self.call(|operator, out| operator.on_processing_time(now, out))?;
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
        self.call(|operator, out| operator.prepare_snapshot_pre_barrier(checkpoint_id, out))?;
        self.sides
            .prepare_snapshot_with(checkpoint_id, self.next.as_mut())
    }

    fn snapshot_state(
        &mut self,
        checkpoint_id: u64,
        out: &mut Vec<OperatorSubtaskState>,
    ) -> Result<()> {
        let TwoInputHead {
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
        self.sides.notify_with(checkpoint_id, self.next.as_mut())
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.sides.poll_flush_with(cx, self.next.as_mut())
    }
}
