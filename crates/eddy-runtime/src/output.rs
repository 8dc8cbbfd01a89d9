//! Where an operator's results go: the next operator of the chain or the network.
//!
//! An operator never sends anything itself. It hands batches and watermarks to an
//! [`Emitter`], whose main [`Output`] is either the next chained operator (a direct
//! call) or a [`RecordWriter`](crate::writer::RecordWriter) that buffers rows per
//! target channel. The writers only buffer; the task loop drives the actual sends
//! through [`Output::poll_flush`], so an operator stays a plain synchronous function
//! and backpressure is handled once, in the runtime.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use eddy_core::{CheckpointBarrier, Result, Timestamp, WatermarkStatus};

use crate::checkpoint::OperatorSubtaskState;

/// A node of an operator chain that accepts batches of type `B`: a chained
/// operator, a record writer, or a fan-out to several of them. The lifecycle methods
/// walk the chain from head to tail.
pub trait Output<B>: Send {
    /// Accepts a batch of records.
    fn collect(&mut self, batch: B) -> Result<()>;
    /// Accepts a watermark.
    fn emit_watermark(&mut self, watermark: Timestamp) -> Result<()>;
    /// Accepts a watermark status change.
    fn emit_status(&mut self, status: WatermarkStatus) -> Result<()>;

    /// Accepts the combined watermark of input `input` of a task's head (a
    /// chain has one input, whose watermark is its own; a two-input head
    /// combines them).
    fn emit_input_watermark(&mut self, input: usize, watermark: Timestamp) -> Result<()> {
        let _ = input;
        self.emit_watermark(watermark)
    }
    /// Accepts a status change of input `input` of a task's head.
    fn emit_input_status(&mut self, input: usize, status: WatermarkStatus) -> Result<()> {
        let _ = input;
        self.emit_status(status)
    }
    /// Every channel of input `input` of a task's head has sent its end of
    /// data: that input's event time is over (a two-input head goes on with
    /// the other input's watermark alone).
    fn end_of_input(&mut self, input: usize) -> Result<()> {
        let _ = input;
        Ok(())
    }

    /// Opens the operators of the chain (called once, before any element).
    fn open(&mut self) -> Result<()> {
        Ok(())
    }
    /// Every input of the task has ended: each operator of the chain, head
    /// first, gets the final `+inf` watermark (its remaining event-time timers
    /// fire) and then its end of input, and only then does the next operator:
    /// a `+inf` watermark handed to [`Output::emit_watermark`] is held back
    /// until this call, so everything an operator emits at its end reaches the
    /// operators after it (and the tasks downstream, as records before an
    /// [`Element::EndOfData`](eddy_core::Element::EndOfData)) while their event
    /// time still runs.
    fn end_of_data(&mut self) -> Result<()> {
        Ok(())
    }
    /// Closes the chain; sends the end of partition on every channel.
    fn close(&mut self) -> Result<()> {
        Ok(())
    }
    /// The earliest processing time at which an operator of the chain wants
    /// [`Output::fire_processing_time`].
    fn next_processing_time(&self) -> Option<Timestamp> {
        None
    }
    /// Fires processing-time callbacks due at `now`.
    fn fire_processing_time(&mut self, now: Timestamp) -> Result<()> {
        let _ = now;
        Ok(())
    }
    /// Lets every operator of the chain, head first, emit what it buffers
    /// before the chain snapshots for checkpoint `checkpoint_id`.
    fn prepare_snapshot_pre_barrier(&mut self, checkpoint_id: u64) -> Result<()> {
        let _ = checkpoint_id;
        Ok(())
    }
    /// Snapshots the state of every operator of the chain for a checkpoint.
    fn snapshot_state(
        &mut self,
        checkpoint_id: u64,
        out: &mut Vec<OperatorSubtaskState>,
    ) -> Result<()> {
        let _ = (checkpoint_id, out);
        Ok(())
    }
    /// Forwards a checkpoint barrier (after every record before it).
    fn emit_barrier(&mut self, barrier: CheckpointBarrier) -> Result<()> {
        let _ = barrier;
        Ok(())
    }
    /// Checkpoint `checkpoint_id` is complete: operators may commit.
    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        let _ = checkpoint_id;
        Ok(())
    }
    /// Moves partly filled batches to the send queues (buffer timeout).
    fn flush_buffers(&mut self) {}
    /// Sends queued elements; `Ready` when every queue is empty.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let _ = cx;
        Poll::Ready(Ok(()))
    }
}

/// A type-erased output, for side outputs whose batch type differs from the main one.
pub trait ErasedOutput: Send {
    /// Accepts a batch boxed as `Any`; fails if it has the wrong type.
    fn collect_any(&mut self, batch: Box<dyn Any + Send>) -> Result<()>;
    /// The wrapped output's watermark method.
    fn emit_watermark(&mut self, watermark: Timestamp) -> Result<()>;
    /// The wrapped output's status method.
    fn emit_status(&mut self, status: WatermarkStatus) -> Result<()>;
    /// The wrapped output's end-of-data method.
    fn end_of_data(&mut self) -> Result<()>;
    /// The wrapped output's close method.
    fn close(&mut self) -> Result<()>;
    /// The wrapped output's earliest processing-time callback.
    fn next_processing_time(&self) -> Option<Timestamp>;
    /// The wrapped output's processing-time callbacks.
    fn fire_processing_time(&mut self, now: Timestamp) -> Result<()>;
    /// The wrapped output's open method.
    fn open(&mut self) -> Result<()>;
    /// The wrapped output's buffer flush.
    fn flush_buffers(&mut self);
    /// The wrapped output's emission before a barrier.
    fn prepare_snapshot_pre_barrier(&mut self, checkpoint_id: u64) -> Result<()>;
    /// The wrapped output's snapshot.
    fn snapshot_state(
        &mut self,
        checkpoint_id: u64,
        out: &mut Vec<OperatorSubtaskState>,
    ) -> Result<()>;
    /// The wrapped output's barrier forwarding.
    fn emit_barrier(&mut self, barrier: CheckpointBarrier) -> Result<()>;
    /// The wrapped output's completion notification.
    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()>;
    /// The wrapped output's send loop.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>>;
}

/// An [`Output<B>`] behind the [`ErasedOutput`] face.
pub struct TypedOutput<B>(pub Box<dyn Output<B>>);

impl<B: Send + 'static> ErasedOutput for TypedOutput<B> {
    fn collect_any(&mut self, batch: Box<dyn Any + Send>) -> Result<()> {
        match batch.downcast::<B>() {
            Ok(batch) => self.0.collect(*batch),
            Err(_) => Err(eddy_core::Error::Other(
                "a side output received records of another type than its tag declares".into(),
            )),
        }
    }
    fn emit_watermark(&mut self, watermark: Timestamp) -> Result<()> {
        self.0.emit_watermark(watermark)
    }
    fn emit_status(&mut self, status: WatermarkStatus) -> Result<()> {
        self.0.emit_status(status)
    }
    fn end_of_data(&mut self) -> Result<()> {
        self.0.end_of_data()
    }
    fn close(&mut self) -> Result<()> {
        self.0.close()
    }
    fn next_processing_time(&self) -> Option<Timestamp> {
        self.0.next_processing_time()
    }
    fn fire_processing_time(&mut self, now: Timestamp) -> Result<()> {
        self.0.fire_processing_time(now)
    }
    fn open(&mut self) -> Result<()> {
        self.0.open()
    }
    fn flush_buffers(&mut self) {
        self.0.flush_buffers()
    }
    fn prepare_snapshot_pre_barrier(&mut self, checkpoint_id: u64) -> Result<()> {
        self.0.prepare_snapshot_pre_barrier(checkpoint_id)
    }
    fn snapshot_state(
        &mut self,
        checkpoint_id: u64,
        out: &mut Vec<OperatorSubtaskState>,
    ) -> Result<()> {
        self.0.snapshot_state(checkpoint_id, out)
    }
    fn emit_barrier(&mut self, barrier: CheckpointBarrier) -> Result<()> {
        self.0.emit_barrier(barrier)
    }
    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        self.0.notify_checkpoint_complete(checkpoint_id)
    }
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.0.poll_flush(cx)
    }
}

/// The side outputs of one operator, by tag id.
#[derive(Default)]
pub struct SideOutputs {
    outputs: HashMap<String, Box<dyn ErasedOutput>>,
}

impl SideOutputs {
    /// Adds the output for a tag.
    pub fn insert(&mut self, tag: String, output: Box<dyn ErasedOutput>) {
        self.outputs.insert(tag, output);
    }

    /// Whether any side output is connected.
    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty()
    }

    pub(crate) fn all_mut(&mut self) -> impl Iterator<Item = &mut Box<dyn ErasedOutput>> {
        self.outputs.values_mut()
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = &Box<dyn ErasedOutput>> {
        self.outputs.values()
    }

    // What an operator node passes down after its own part: to every side
    // output, then to its main output `next` (shared by chained and two-input
    // heads).

    /// Ends the data of the sides, then of `next`.
    pub(crate) fn end_of_data_with<B>(&mut self, next: &mut dyn Output<B>) -> Result<()> {
        for side in self.all_mut() {
            side.end_of_data()?;
        }
        next.end_of_data()
    }

    /// Moves partly filled batches to the send queues, sides then `next`.
    pub(crate) fn flush_buffers_with<B>(&mut self, next: &mut dyn Output<B>) {
        for side in self.all_mut() {
            side.flush_buffers();
        }
        next.flush_buffers();
    }

    /// Lets the sides, then `next`, emit what they buffer before a barrier.
    pub(crate) fn prepare_snapshot_with<B>(
        &mut self,
        checkpoint_id: u64,
        next: &mut dyn Output<B>,
    ) -> Result<()> {
        for side in self.all_mut() {
            side.prepare_snapshot_pre_barrier(checkpoint_id)?;
        }
        next.prepare_snapshot_pre_barrier(checkpoint_id)
    }

    /// Snapshots the sides, then `next`, into `out`.
    pub(crate) fn snapshot_with<B>(
        &mut self,
        checkpoint_id: u64,
        out: &mut Vec<OperatorSubtaskState>,
        next: &mut dyn Output<B>,
    ) -> Result<()> {
        for side in self.all_mut() {
            side.snapshot_state(checkpoint_id, out)?;
        }
        next.snapshot_state(checkpoint_id, out)
    }

    /// Forwards a barrier to the sides, then `next`.
    pub(crate) fn emit_barrier_with<B>(
        &mut self,
        barrier: CheckpointBarrier,
        next: &mut dyn Output<B>,
    ) -> Result<()> {
        for side in self.all_mut() {
            side.emit_barrier(barrier.clone())?;
        }
        next.emit_barrier(barrier)
    }

    /// Tells the sides, then `next`, that a checkpoint completed.
    pub(crate) fn notify_with<B>(
        &mut self,
        checkpoint_id: u64,
        next: &mut dyn Output<B>,
    ) -> Result<()> {
        for side in self.all_mut() {
            side.notify_checkpoint_complete(checkpoint_id)?;
        }
        next.notify_checkpoint_complete(checkpoint_id)
    }

    /// Sends what the sides and `next` queued; `Ready` when all are empty.
    pub(crate) fn poll_flush_with<B>(
        &mut self,
        cx: &mut Context<'_>,
        next: &mut dyn Output<B>,
    ) -> Poll<Result<()>> {
        let mut pending = false;
        for side in self.all_mut() {
            match side.poll_flush(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => pending = true,
            }
        }
        match next.poll_flush(cx) {
            Poll::Ready(Ok(())) if !pending => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            _ => Poll::Pending,
        }
    }
}

/// What an operator writes to: its main output and its side outputs, counting
/// what it emits on both into its `numRecordsOut` (once per record, however
/// many streams consume the output, as Flink counts).
pub struct Emitter<'a, B> {
    main: &'a mut dyn Output<B>,
    sides: &'a mut SideOutputs,
    records_out: Option<&'a AtomicU64>,
}

impl<'a, B: Send + 'static> Emitter<'a, B> {
    /// An emitter over a main output and side outputs that counts nothing.
    pub fn new(main: &'a mut dyn Output<B>, sides: &'a mut SideOutputs) -> Self {
        Emitter {
            main,
            sides,
            records_out: None,
        }
    }

    /// An emitter that counts the records it emits into `records_out`.
    pub fn counted(
        main: &'a mut dyn Output<B>,
        sides: &'a mut SideOutputs,
        records_out: &'a AtomicU64,
    ) -> Self {
        Emitter {
            main,
            sides,
            records_out: Some(records_out),
        }
    }

    fn count(&self, rows: usize) {
        if let Some(counter) = self.records_out {
            counter.fetch_add(rows as u64, Ordering::Relaxed);
        }
    }

    /// Emits a batch on the main output. Empty batches are dropped here.
    pub fn collect(&mut self, batch: B) -> Result<()>
    where
        B: eddy_core::Batch,
    {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(());
        }
        self.count(rows);
        self.main.collect(batch)
    }

    /// Emits a batch on the side output `tag`. Records for a tag that no stream
    /// consumes are discarded, as in Flink.
    pub fn side_output<S: eddy_core::Batch>(&mut self, tag: &str, batch: S) -> Result<()> {
        let rows = batch.num_rows();
        self.side_output_any(tag, Box::new(batch), rows)
    }

    /// Emits an already boxed batch of `rows` records on the side output `tag`.
    pub fn side_output_any(
        &mut self,
        tag: &str,
        batch: Box<dyn Any + Send>,
        rows: usize,
    ) -> Result<()> {
        match self.sides.outputs.get_mut(tag) {
            Some(output) => {
                if let Some(counter) = self.records_out {
                    counter.fetch_add(rows as u64, Ordering::Relaxed);
                }
                output.collect_any(batch)
            }
            None => Ok(()),
        }
    }

    /// Whether a stream consumes the side output `tag`.
    pub fn has_side_output(&self, tag: &str) -> bool {
        self.sides.outputs.contains_key(tag)
    }

    /// Emits a watermark on the main and every side output.
    pub fn emit_watermark(&mut self, watermark: Timestamp) -> Result<()> {
        for side in self.sides.all_mut() {
            side.emit_watermark(watermark)?;
        }
        self.main.emit_watermark(watermark)
    }

    /// Emits a watermark status on the main and every side output.
    pub fn emit_status(&mut self, status: WatermarkStatus) -> Result<()> {
        for side in self.sides.all_mut() {
            side.emit_status(status)?;
        }
        self.main.emit_status(status)
    }
}

/// Sends every batch and control element to several outputs (a vertex feeding
/// several downstream vertices).
pub struct FanOut<B> {
    outputs: Vec<Box<dyn Output<B>>>,
}

impl<B> FanOut<B> {
    /// A fan-out over `outputs`.
    pub fn new(outputs: Vec<Box<dyn Output<B>>>) -> Self {
        FanOut { outputs }
    }
}

impl<B: eddy_core::Batch> Output<B> for FanOut<B> {
    fn collect(&mut self, batch: B) -> Result<()> {
        let Some((last, rest)) = self.outputs.split_last_mut() else {
            return Ok(());
        };
        for output in rest {
            output.collect(batch.clone())?;
        }
        last.collect(batch)
    }
    fn emit_watermark(&mut self, watermark: Timestamp) -> Result<()> {
        self.outputs
            .iter_mut()
            .try_for_each(|o| o.emit_watermark(watermark))
    }
    fn emit_status(&mut self, status: WatermarkStatus) -> Result<()> {
        self.outputs
            .iter_mut()
            .try_for_each(|o| o.emit_status(status))
    }
    fn open(&mut self) -> Result<()> {
        self.outputs.iter_mut().try_for_each(|o| o.open())
    }
    fn end_of_data(&mut self) -> Result<()> {
        self.outputs.iter_mut().try_for_each(|o| o.end_of_data())
    }
    fn close(&mut self) -> Result<()> {
        self.outputs.iter_mut().try_for_each(|o| o.close())
    }
    fn next_processing_time(&self) -> Option<Timestamp> {
        self.outputs
            .iter()
            .filter_map(|o| o.next_processing_time())
            .min()
    }
    fn fire_processing_time(&mut self, now: Timestamp) -> Result<()> {
        self.outputs
            .iter_mut()
            .try_for_each(|o| o.fire_processing_time(now))
    }
    fn flush_buffers(&mut self) {
        self.outputs.iter_mut().for_each(|o| o.flush_buffers());
    }
    fn prepare_snapshot_pre_barrier(&mut self, checkpoint_id: u64) -> Result<()> {
        self.outputs
            .iter_mut()
            .try_for_each(|o| o.prepare_snapshot_pre_barrier(checkpoint_id))
    }
    fn snapshot_state(
        &mut self,
        checkpoint_id: u64,
        out: &mut Vec<OperatorSubtaskState>,
    ) -> Result<()> {
        self.outputs
            .iter_mut()
            .try_for_each(|o| o.snapshot_state(checkpoint_id, out))
    }
    fn emit_barrier(&mut self, barrier: CheckpointBarrier) -> Result<()> {
        self.outputs
            .iter_mut()
            .try_for_each(|o| o.emit_barrier(barrier.clone()))
    }
    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        self.outputs
            .iter_mut()
            .try_for_each(|o| o.notify_checkpoint_complete(checkpoint_id))
    }
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut pending = false;
        for output in &mut self.outputs {
            match output.poll_flush(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => pending = true,
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(Ok(()))
        }
    }
}

/// Accepts and drops everything (the output of a sink).
pub struct Discard;

impl<B: Send> Output<B> for Discard {
    fn collect(&mut self, _batch: B) -> Result<()> {
        Ok(())
    }
    fn emit_watermark(&mut self, _watermark: Timestamp) -> Result<()> {
        Ok(())
    }
    fn emit_status(&mut self, _status: WatermarkStatus) -> Result<()> {
        Ok(())
    }
}
