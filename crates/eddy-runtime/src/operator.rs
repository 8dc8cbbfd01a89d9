//! The operator contract: what an operator implements and what the runtime calls.
//!
//! The runtime owns the loop. It calls an operator's hooks in this order:
//!
//! 1. [`Operator::open`] once, with the [`OperatorContext`] of its subtask, from
//!    which the operator takes its keyed state and timers
//!    ([`OperatorContext::keyed_state`], created and restored by the runtime) and
//!    its restored operator state;
//! 2. for every input element, in order: [`Operator::process_batch`] for a batch,
//!    [`Operator::process_watermark`] when the task's combined watermark advances,
//!    [`Operator::process_status`] when its watermark status changes;
//!    [`Operator::on_processing_time`] whenever processing time reaches
//!    [`Operator::next_processing_time`];
//! 3. when every input has ended: a final watermark of `+inf`, then
//!    [`Operator::end_input`];
//! 4. [`Operator::close`].
//!
//! Every hook is synchronous and writes its results to an [`Emitter`]; an error (or
//! a panic) fails the job with a message naming the operator and subtask.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use eddy_core::time::Clock;
use eddy_core::{Batch, Config, KeyGroupRange, Result, Timestamp, WatermarkStatus};
use eddy_state::{DeferredKeyedSnapshot, KeyedStateSnapshot};
use serde::{Deserialize, Serialize};

use crate::checkpoint::restore::RestoredState;
use crate::keyed_state::{KeyedState, ManagedState, TimerNamespace};
use crate::output::Emitter;

pub use crate::metrics::Counters;

/// What an operator knows about the subtask it runs in.
#[derive(Clone)]
pub struct OperatorContext {
    /// The operator's name.
    pub name: String,
    /// The operator's uid (the key of its state).
    pub uid: String,
    /// The index of this subtask, in `0..parallelism`.
    pub subtask: usize,
    /// The operator's parallelism.
    pub parallelism: usize,
    /// The number of key groups of the job.
    pub max_parallelism: u32,
    /// Processing time.
    pub clock: Arc<dyn Clock>,
    /// The job's configuration.
    pub config: Arc<Config>,
    /// The job's counters.
    pub counters: Counters,
    /// The checkpoint this run restores from, if any, until the subtask has taken
    /// its part ([`OperatorContext::take_restored_snapshots`]).
    pub restored: Option<Arc<RestoredState>>,
    /// Whether the job takes checkpoints (sinks then commit on checkpoint
    /// completion instead of at the end of input).
    pub checkpointing: bool,
    /// Which run and attempt of the job this is.
    pub run: RunContext,
    /// This subtask's part of the restored checkpoint while `open` runs: the
    /// operator takes its keyed state ([`OperatorContext::keyed_state`]) and its
    /// operator state ([`OperatorContext::restored_operator_state`]) from it.
    pub(crate) restored_part: RestoredPart,
}

/// The snapshots one operator subtask restores from, taken piece by piece by its
/// `open`; what it leaves is state nobody took, an error
/// ([`RestoredPart::check_taken`]).
#[derive(Clone, Default)]
pub(crate) struct RestoredPart(Arc<Mutex<Vec<OperatorSnapshot>>>);

impl RestoredPart {
    fn with<T>(&self, f: impl FnOnce(&mut Vec<OperatorSnapshot>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// An error naming `uid` if restored state is left that the operator did not
    /// take: its state would be lost silently.
    pub(crate) fn check_taken(&self, uid: &str) -> Result<()> {
        let left = self.with(|part| {
            std::mem::take(part)
                .into_iter()
                .filter(OperatorSnapshot::holds_state)
                .count()
        });
        if left == 0 {
            return Ok(());
        }
        Err(eddy_core::Error::state(format!(
            "the checkpoint holds state for operator '{uid}' that this job's operator \
             does not restore (was the job changed? set \
             execution.state-recovery.ignore-unclaimed-state=true to drop that state)"
        )))
    }
}

/// Which run of a job, in which lineage, and which attempt of it a subtask belongs
/// to. Sinks name their output after it, and tell their lineage's earlier output
/// from other jobs' files by it.
#[derive(Clone, Debug)]
pub struct RunContext {
    /// The run's job id: new for every start of the job.
    pub job_id: eddy_core::JobId,
    /// The lineage: the short id of the run that started from scratch, kept by
    /// every run restored from its checkpoints.
    pub lineage: String,
    /// The attempt within the run: 1, then one more for every restart.
    pub attempt: u32,
}

impl RunContext {
    /// A short name for this attempt of this run, for file names: hex digits and
    /// `x`, never `-`.
    pub fn attempt_name(&self) -> String {
        format!("{}x{}", self.job_id.short(), self.attempt)
    }
}

impl Default for RunContext {
    fn default() -> Self {
        let job_id = eddy_core::JobId::generate();
        RunContext {
            lineage: job_id.short(),
            job_id,
            attempt: 1,
        }
    }
}

impl OperatorContext {
    /// The key groups this subtask owns.
    pub fn key_group_range(&self) -> KeyGroupRange {
        KeyGroupRange::for_operator(
            self.max_parallelism,
            self.parallelism as u32,
            self.subtask as u32,
        )
    }

    /// The current processing time.
    pub fn now(&self) -> Timestamp {
        self.clock.now_millis()
    }

    /// Takes the snapshots this subtask restores from (see
    /// [`RestoredState::for_subtask`]), or `None` if it starts without state. The
    /// context lets go of the restored checkpoint, so its memory is freed once every
    /// subtask has taken its part.
    pub fn take_restored_snapshots(&mut self) -> Option<Vec<OperatorSnapshot>> {
        self.restored.take()?.for_subtask(
            &self.uid,
            self.subtask,
            self.parallelism,
            self.max_parallelism,
        )
    }

    /// Runs `open` with this subtask's part of the restored checkpoint (if any)
    /// available to it, and checks that it took all of it.
    pub(crate) fn open_restored(
        &mut self,
        open: impl FnOnce(&OperatorContext) -> Result<()>,
    ) -> Result<()> {
        let part = self.take_restored_snapshots().unwrap_or_default();
        self.restored_part = RestoredPart(Arc::new(Mutex::new(part)));
        open(self)?;
        let part = std::mem::take(&mut self.restored_part);
        let allow = self
            .config
            .get_str(crate::mini_cluster::ALLOW_NON_RESTORED)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        if allow {
            return Ok(());
        }
        part.check_taken(&self.uid)
    }

    /// The keyed state backend (`state.backend.type`) and timer service of this
    /// operator subtask, loaded with what it restores. Call it once, in `open`,
    /// and show both from [`Operator::managed_state`] so the runtime snapshots
    /// them.
    pub fn keyed_state<K: eddy_state::Key, N: TimerNamespace>(&self) -> Result<KeyedState<K, N>> {
        let (keyed, timers) = self.restored_part.with(|part| {
            let mut keyed = Vec::new();
            let mut timers = Vec::new();
            for snapshot in part.iter_mut() {
                keyed.extend(snapshot.keyed.take());
                timers.extend(
                    std::mem::take(&mut snapshot.timers)
                        .into_iter()
                        .map(|(_, b)| b),
                );
            }
            (keyed, timers)
        });
        KeyedState::create(self, keyed, timers)
    }

    /// The operator (non-keyed) state this subtask restores: one entry per
    /// snapshot it was assigned (several after a rescale), empty when it starts
    /// without state. Call it in `open`.
    pub fn restored_operator_state(&self) -> Vec<Vec<u8>> {
        self.restored_part.with(|part| {
            part.iter_mut()
                .map(|s| std::mem::take(&mut s.operator))
                .filter(|bytes| !bytes.is_empty())
                .collect()
        })
    }

    /// A job-wide counter (summed over subtasks).
    pub fn counter(&self, name: &str) -> Arc<AtomicU64> {
        self.counters.counter(name)
    }

    /// This operator subtask's counter `metric` (e.g. `numRecordsIn`), scoped by
    /// the operator's uid; the job result also shows it summed as
    /// `<operator name>.<metric>`.
    pub fn metric(&self, metric: &str) -> Arc<AtomicU64> {
        self.counters
            .operator_metric(&self.uid, &self.name, self.subtask as u32, metric)
    }

    /// This operator subtask's group for user-defined metrics (Flink's
    /// `getRuntimeContext().getMetricGroup()`).
    pub fn metric_group(&self) -> crate::user_metrics::MetricGroup {
        crate::user_metrics::MetricGroup::new(
            &self.counters,
            &self.uid,
            &self.name,
            self.subtask as u32,
        )
    }

    /// This operator subtask's gauge `metric` (e.g. `currentInputWatermark`),
    /// set to `value`: a task attempt starts its gauges afresh.
    pub fn gauge(&self, metric: &str, value: i64) -> Arc<AtomicI64> {
        let gauge =
            self.counters
                .operator_gauge(&self.uid, &self.name, self.subtask as u32, metric, value);
        gauge.store(value, Ordering::Relaxed);
        gauge
    }
}

/// The state of one operator subtask at a checkpoint: its keyed state (by key group)
/// and its operator state, both already serialized.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorSnapshot {
    /// Keyed state, by state name and key group.
    pub keyed: Option<KeyedStateSnapshot>,
    /// Timers, serialized per key group: `(key group, bytes)`.
    #[serde(with = "eddy_core::byte_buf::pairs")]
    pub timers: Vec<(u32, Vec<u8>)>,
    /// Operator (non-keyed) state.
    #[serde(with = "eddy_core::byte_buf")]
    pub operator: Vec<u8>,
    /// Keyed state snapshotted at the barrier (shared copy-on-write with the live
    /// state) but not yet serialized; the checkpoint writer finishes it off the
    /// processing thread ([`OperatorSnapshot::finish`]).
    #[serde(skip)]
    pub deferred_keyed: Option<DeferredKeyedSnapshot>,
}

impl OperatorSnapshot {
    /// Whether the snapshot holds no state at all.
    pub fn is_empty(&self) -> bool {
        self.keyed.is_none()
            && self.deferred_keyed.is_none()
            && self.timers.is_empty()
            && self.operator.is_empty()
    }

    /// Whether the snapshot holds any entry of state (a keyed state with no key
    /// group does not count).
    fn holds_state(&self) -> bool {
        let keyed = |k: &KeyedStateSnapshot| k.states.iter().any(|(_, groups)| !groups.is_empty());
        self.keyed.as_ref().is_some_and(keyed)
            || self.deferred_keyed.is_some()
            || !self.timers.is_empty()
            || !self.operator.is_empty()
    }

    /// Serializes deferred keyed state (the asynchronous part of a snapshot).
    pub fn finish(&mut self) -> Result<()> {
        if let Some(deferred) = self.deferred_keyed.take() {
            self.keyed = Some(deferred.finish()?);
        }
        Ok(())
    }

    /// The number of bytes of state.
    pub fn byte_size(&self) -> usize {
        self.keyed.as_ref().map_or(0, |k| k.byte_size())
            + self.timers.iter().map(|(_, b)| b.len()).sum::<usize>()
            + self.operator.len()
    }
}

/// An operator with one input: consumes batches of `In`, produces batches of `Out`.
pub trait Operator: Send + 'static {
    /// The input batch type.
    type In: Batch;
    /// The output batch type.
    type Out: Batch;

    /// Prepares the operator (registers state, reads configuration).
    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// Processes one batch of records.
    fn process_batch(&mut self, batch: Self::In, out: &mut Emitter<'_, Self::Out>) -> Result<()>;

    /// Event time advanced to `watermark`: fire what is due, then forward it.
    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        out: &mut Emitter<'_, Self::Out>,
    ) -> Result<()> {
        out.emit_watermark(watermark)
    }

    /// The input's watermark status changed.
    fn process_status(
        &mut self,
        status: WatermarkStatus,
        out: &mut Emitter<'_, Self::Out>,
    ) -> Result<()> {
        out.emit_status(status)
    }

    /// When the operator next wants [`Operator::on_processing_time`].
    fn next_processing_time(&self) -> Option<Timestamp> {
        None
    }

    /// Processing time reached `now`.
    fn on_processing_time(
        &mut self,
        now: Timestamp,
        out: &mut Emitter<'_, Self::Out>,
    ) -> Result<()> {
        let _ = (now, out);
        Ok(())
    }

    /// Every input has ended (after the final `+inf` watermark).
    fn end_input(&mut self, out: &mut Emitter<'_, Self::Out>) -> Result<()> {
        let _ = out;
        Ok(())
    }

    /// Releases resources; the last call.
    fn close(&mut self) -> Result<()> {
        Ok(())
    }

    /// The keyed state the operator took from [`OperatorContext::keyed_state`],
    /// for the runtime to snapshot; `None` for an operator without keyed state.
    fn managed_state(&mut self) -> Option<ManagedState<'_>> {
        None
    }

    /// A barrier of checkpoint `checkpoint_id` arrived and the chain is about
    /// to snapshot: an operator that buffers records (a mini-batch) emits them
    /// here, so they reach the operators after it before the barrier does
    /// (Flink's `prepareSnapshotPreBarrier`).
    fn prepare_snapshot_pre_barrier(
        &mut self,
        checkpoint_id: u64,
        out: &mut Emitter<'_, Self::Out>,
    ) -> Result<()> {
        let _ = (checkpoint_id, out);
        Ok(())
    }

    /// The operator's state at a barrier: by default its
    /// [`Operator::managed_state`]. An operator with operator state of its own
    /// (a sink's pending files) adds it here; it gets it back in `open` from
    /// [`OperatorContext::restored_operator_state`].
    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<OperatorSnapshot> {
        let _ = checkpoint_id;
        self.managed_state()
            .map_or_else(|| Ok(OperatorSnapshot::default()), |state| state.snapshot())
    }

    /// Checkpoint `checkpoint_id` is complete (the commit point of two-phase
    /// commit sinks).
    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        let _ = checkpoint_id;
        Ok(())
    }
}

/// An operator with two inputs of different types (`connect`).
pub trait TwoInputOperator: Send + 'static {
    /// The first input's batch type.
    type In1: Batch;
    /// The second input's batch type.
    type In2: Batch;
    /// The output batch type.
    type Out: Batch;

    /// Prepares the operator.
    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let _ = ctx;
        Ok(())
    }
    /// Processes a batch of the first input.
    fn process_batch1(&mut self, batch: Self::In1, out: &mut Emitter<'_, Self::Out>) -> Result<()>;
    /// Processes a batch of the second input.
    fn process_batch2(&mut self, batch: Self::In2, out: &mut Emitter<'_, Self::Out>) -> Result<()>;
    /// The combined watermark of both inputs advanced.
    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        out: &mut Emitter<'_, Self::Out>,
    ) -> Result<()> {
        out.emit_watermark(watermark)
    }
    /// When the operator next wants [`TwoInputOperator::on_processing_time`].
    fn next_processing_time(&self) -> Option<Timestamp> {
        None
    }
    /// Processing time reached `now`.
    fn on_processing_time(
        &mut self,
        now: Timestamp,
        out: &mut Emitter<'_, Self::Out>,
    ) -> Result<()> {
        let _ = (now, out);
        Ok(())
    }
    /// Both inputs have ended.
    fn end_input(&mut self, out: &mut Emitter<'_, Self::Out>) -> Result<()> {
        let _ = out;
        Ok(())
    }
    /// Releases resources.
    fn close(&mut self) -> Result<()> {
        Ok(())
    }
    /// See [`Operator::managed_state`].
    fn managed_state(&mut self) -> Option<ManagedState<'_>> {
        None
    }

    /// See [`Operator::prepare_snapshot_pre_barrier`].
    fn prepare_snapshot_pre_barrier(
        &mut self,
        checkpoint_id: u64,
        out: &mut Emitter<'_, Self::Out>,
    ) -> Result<()> {
        let _ = (checkpoint_id, out);
        Ok(())
    }
    /// See [`Operator::snapshot_state`].
    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<OperatorSnapshot> {
        let _ = checkpoint_id;
        self.managed_state()
            .map_or_else(|| Ok(OperatorSnapshot::default()), |state| state.snapshot())
    }
}
