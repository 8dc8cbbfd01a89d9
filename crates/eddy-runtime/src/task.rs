//! The task loop: one task per subtask (on a thread of its own, see the
//! TaskExecutor), driving a chain, the same loop
//! for every task ([`InputTask`]): what differs is its [`TaskInput`], an input
//! gate over any number of inputs or a source with its checkpoint triggers.
//!
//! Each loop turn first sends whatever the chain's writers have queued (waiting here
//! is backpressure), then waits for the first of: an input event (a batch, a
//! watermark or status of one input, a barrier: triggered at a source, aligned
//! elsewhere, the end of an input), a checkpoint completion, a due
//! processing-time callback, the buffer timeout, or cancellation.
//!
//! When every input has ended its data, the chain ends its data
//! ([`Output::end_of_data`]: operator by operator, the final `+inf` watermark and
//! the end of input, then the end of data downstream). With checkpointing on, a
//! source then keeps answering checkpoint triggers until a checkpoint taken after
//! its end completes (the final checkpoint, which commits every sink); only then
//! does it close and send the end of partition downstream.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant as StdInstant};

use eddy_core::time::Clock;
use eddy_core::{CheckpointBarrier, CheckpointId, Error, ExecutionAttemptId, JobId, Result};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::checkpoint::store::StateStore;
use crate::checkpoint::OperatorSubtaskState;
use crate::input::{Counted, InputEvent, InputGate};
use crate::operator::OperatorContext;
use crate::output::Output;
use crate::protocol::{
    CheckpointAck, CheckpointDecline, FailureCause, TaskInputEnded, ToJobMaster,
};
use crate::source::SourceReader;
use crate::source_input::SourceInput;
use crate::task_metrics::{TaskClock, TaskMetrics};

/// Tells running tasks to stop.
#[derive(Clone, Debug)]
pub struct CancelSignal {
    rx: watch::Receiver<bool>,
}

/// The sending side of a [`CancelSignal`].
#[derive(Debug)]
pub struct CancelHandle {
    tx: watch::Sender<bool>,
}

/// A cancellation handle and the signal tasks listen to.
pub fn cancel_pair() -> (CancelHandle, CancelSignal) {
    let (tx, rx) = watch::channel(false);
    (CancelHandle { tx }, CancelSignal { rx })
}

impl CancelHandle {
    /// Asks every task to stop.
    pub fn cancel(&self) {
        let _ = self.tx.send(true);
    }
}

impl CancelSignal {
    /// Resolves once cancellation was requested.
    pub async fn cancelled(&mut self) {
        let _ = self.rx.wait_for(|c| *c).await;
    }

    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        *self.rx.borrow()
    }
}

/// Timing settings of a task loop.
#[derive(Clone, Debug)]
pub struct TaskSettings {
    /// Flush partly filled batches this often (zero: after every event).
    pub buffer_timeout: Duration,
    /// Processing time.
    pub clock: Arc<dyn Clock>,
    /// Exactly-once (blocking) barrier alignment, else at-least-once.
    pub exactly_once: bool,
    /// Where the task's busy, idle and backpressured time goes.
    pub metrics: TaskMetrics,
}

/// A task's connection to the JobMaster: who it is, where its reports go, and
/// (with checkpointing) its triggers, completions and state store.
#[derive(Debug)]
pub struct TaskControl {
    /// The job run.
    pub job_id: JobId,
    /// The task attempt.
    pub attempt: ExecutionAttemptId,
    /// Checkpoint acknowledgements and notices to the JobMaster (`None` without
    /// checkpointing).
    pub job_master: Option<mpsc::UnboundedSender<ToJobMaster>>,
    /// The id of the latest completed checkpoint.
    pub completed: Option<watch::Receiver<u64>>,
    /// Checkpoint triggers (source tasks only).
    pub triggers: Option<mpsc::UnboundedReceiver<SourceTrigger>>,
    /// The longest synchronous part of a snapshot so far, in microseconds (the
    /// time record processing stops for a checkpoint).
    pub sync_pause_max: Option<Arc<std::sync::atomic::AtomicU64>>,
    /// The synchronous part of the latest snapshot, in microseconds.
    pub sync_pause_last: Option<Arc<std::sync::atomic::AtomicU64>>,
    /// Where the task writes the state of its checkpoints.
    pub store: Option<StateStore>,
}

/// What the coordinator asks of a source task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceTrigger {
    /// The barrier to emit.
    pub barrier: CheckpointBarrier,
    /// Stop-with-savepoint with drain: end the input first (final watermark, every
    /// window fires), then take the savepoint, then finish.
    pub drain: bool,
    /// Every source has finished: once this checkpoint completes, the sources
    /// close and the job ends.
    pub is_final: bool,
}

impl TaskControl {
    /// With checkpointing, what tells the JobMaster that this source read all
    /// of its input.
    fn input_ended_notice(&self) -> Option<Box<dyn Fn() + Send>> {
        let job_master = self.job_master.clone()?;
        let (job_id, attempt) = (self.job_id, self.attempt);
        Some(Box::new(move || {
            // The JobMaster is gone only when the job is ending.
            let _ = job_master.send(ToJobMaster::InputEnded(TaskInputEnded { job_id, attempt }));
        }))
    }

    /// Writes the state of checkpoint `id` off the processing thread, then
    /// acknowledges with where it went (or declines the checkpoint).
    fn write_and_acknowledge(
        &self,
        barrier: &CheckpointBarrier,
        states: Vec<OperatorSubtaskState>,
        timing: BarrierTiming,
    ) {
        let id = barrier.checkpoint_id;
        let (Some(job_master), Some(store)) = (&self.job_master, &self.store) else {
            return;
        };
        let job_master = job_master.clone();
        let (job_id, attempt) = (self.job_id, self.attempt);
        let started = StdInstant::now();
        let target = barrier.target.as_ref().map(std::path::PathBuf::from);
        store.spawn_write(id, target, states, move |written| {
            let checkpoint_id = CheckpointId(id);
            // The JobMaster is gone only when the job is ending.
            let _ = job_master.send(match written {
                Ok(entries) => ToJobMaster::AcknowledgeCheckpoint(CheckpointAck {
                    job_id,
                    attempt,
                    checkpoint_id,
                    state: entries.into_iter().map(Into::into).collect(),
                    sync_duration_ms: timing.sync.as_millis() as u64,
                    async_duration_ms: started.elapsed().as_millis() as u64,
                    alignment_duration_ms: timing.alignment.as_millis() as u64,
                    start_delay_ms: timing.start_delay_ms,
                }),
                Err(error) => ToJobMaster::DeclineCheckpoint(CheckpointDecline {
                    job_id,
                    attempt,
                    checkpoint_id,
                    cause: FailureCause::of(error),
                }),
            });
        });
    }

    fn latest_completed(&self) -> u64 {
        self.completed.as_ref().map_or(0, |c| *c.borrow())
    }

    fn record_pause(&self, started: StdInstant) {
        let micros = started.elapsed().as_micros() as u64;
        if let Some(max) = &self.sync_pause_max {
            max.fetch_max(micros, std::sync::atomic::Ordering::Relaxed);
        }
        if let Some(last) = &self.sync_pause_last {
            last.store(micros, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// A runnable task.
pub trait Task: Send {
    /// Runs the task to completion, failure or cancellation.
    fn run(
        self: Box<Self>,
        cancel: CancelSignal,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send>>;
}

/// Sends what the chain buffered.
async fn flush<B>(
    chain: &mut dyn Output<B>,
    cancel: &mut CancelSignal,
    clock: &TaskClock,
) -> Result<()> {
    wait_for_room(cancel, clock, |cx| chain.poll_flush(cx)).await
}

/// How often a task waiting for room downstream reports its times, so that a
/// long wait shows as backpressure while it lasts.
const PUBLISH_WHILE_BLOCKED: Duration = Duration::from_millis(200);

/// Polls `flush` until it has sent everything; the time it waits for room in a
/// full output channel is backpressured time.
async fn wait_for_room(
    cancel: &mut CancelSignal,
    clock: &TaskClock,
    mut flush: impl FnMut(&mut std::task::Context<'_>) -> Poll<Result<()>>,
) -> Result<()> {
    // Most flushes go through at once: no timer, no select.
    if let Poll::Ready(result) = poll_fn(|cx| Poll::Ready(flush(cx))).await {
        return result;
    }
    clock.backpressure_started();
    let result = loop {
        tokio::select! {
            result = poll_fn(|cx| {
                let poll = flush(cx);
                if poll.is_pending() {
                    clock.backpressure_started();
                }
                poll
            }) => break result,
            _ = tokio::time::sleep(PUBLISH_WHILE_BLOCKED) => clock.publish(),
            _ = cancel.cancelled() => break Err(Error::Cancelled),
        }
    };
    clock.backpressure_ended();
    result
}

/// Polls an input, telling `clock` when it has nothing (idle time starts) and
/// when it hands something out (idle time ends).
fn timed<T>(clock: &TaskClock, poll: Poll<T>) -> Poll<T> {
    match &poll {
        Poll::Pending => clock.input_pending(),
        Poll::Ready(_) => clock.resumed(),
    }
    poll
}

/// How long until processing time reaches `at` (zero if it already has).
fn until(clock: &dyn Clock, at: Option<i64>) -> Option<Duration> {
    at.map(|t| Duration::from_millis(t.saturating_sub(clock.now_millis()).max(0) as u64))
}

async fn sleep_opt(duration: Option<Duration>) {
    match duration {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// The next completed checkpoint id, or never.
async fn next_completed(completed: &mut Option<watch::Receiver<u64>>) -> u64 {
    match completed {
        Some(rx) => match rx.changed().await {
            Ok(()) => *rx.borrow_and_update(),
            Err(_) => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// Shared loop state: the buffer-timeout deadline, periodic yielding and the
/// task's time accounting.
struct Pacer {
    settings: TaskSettings,
    flush_deadline: Instant,
    turns: u32,
    clock: TaskClock,
}

impl Pacer {
    fn new(settings: TaskSettings) -> Self {
        let flush_deadline = Instant::now() + settings.buffer_timeout;
        let clock = TaskClock::new(settings.metrics.clone());
        Pacer {
            settings,
            flush_deadline,
            turns: 0,
            clock,
        }
    }

    /// After handling an event: flush on timeout, fire due processing time, and let
    /// other tasks on this worker run now and then.
    async fn after_event<B>(&mut self, chain: &mut dyn Output<B>) -> Result<()> {
        // A timer or a message may have ended a wait for input.
        self.clock.resumed();
        let now = Instant::now();
        if self.settings.buffer_timeout.is_zero() || now >= self.flush_deadline {
            chain.flush_buffers();
            self.flush_deadline = now + self.settings.buffer_timeout;
            self.clock.publish();
        }
        let pt = self.settings.clock.now_millis();
        if chain.next_processing_time().is_some_and(|t| t <= pt) {
            chain.fire_processing_time(pt)?;
        }
        self.turns += 1;
        if self.turns.is_multiple_of(32) {
            tokio::task::yield_now().await;
        }
        Ok(())
    }

    fn sleep_processing(&self, next: Option<i64>) -> Option<Duration> {
        until(self.settings.clock.as_ref(), next)
    }
}

/// How one task took part in a checkpoint, as Flink's checkpoint statistics
/// show it per subtask.
#[derive(Clone, Copy, Debug)]
struct BarrierTiming {
    /// From the first barrier's arrival to the last one's (0 for a source).
    alignment: Duration,
    /// From the checkpoint's trigger to the first barrier's arrival.
    start_delay_ms: u64,
    /// The synchronous part of the snapshot: processing paused.
    sync: Duration,
}

impl BarrierTiming {
    /// The timing of a snapshot that started at `started`, of `barrier`, whose
    /// first copy arrived at `first_arrival` (`None`: a source, whose barrier
    /// starts here).
    fn of(
        barrier: &CheckpointBarrier,
        first_arrival: Option<StdInstant>,
        started: StdInstant,
    ) -> Self {
        let alignment = first_arrival.map_or(Duration::ZERO, |first| started - first);
        let arrived_ms = eddy_core::time::now_millis()
            - started.elapsed().as_millis() as i64
            - alignment.as_millis() as i64;
        BarrierTiming {
            alignment,
            start_delay_ms: (arrived_ms - barrier.timestamp).max(0) as u64,
            sync: started.elapsed(),
        }
    }
}

/// Snapshots the chain, forwards the barrier and acknowledges; the barrier's
/// first copy arrived at `first_arrival` (`None` for a source).
fn checkpoint<B>(
    chain: &mut dyn Output<B>,
    barrier: CheckpointBarrier,
    own: Option<OperatorSubtaskState>,
    first_arrival: Option<StdInstant>,
    control: &TaskControl,
) -> Result<()> {
    let started = StdInstant::now();
    let mut states: Vec<OperatorSubtaskState> = own.into_iter().collect();
    chain.prepare_snapshot_pre_barrier(barrier.checkpoint_id)?;
    chain.snapshot_state(barrier.checkpoint_id, &mut states)?;
    chain.emit_barrier(barrier.clone())?;
    control.record_pause(started);
    let timing = BarrierTiming::of(&barrier, first_arrival, started);
    control.write_and_acknowledge(&barrier, states, timing);
    Ok(())
}

/// Waits until checkpoint `id` or a later one has completed: a task whose input
/// ended does not finish before the checkpoint that followed its end (the first
/// barrier it saw after it) is complete, so that its sinks commit everything
/// (Flink's wait for the final checkpoint). The completion reaches every task
/// on its own, so upstream tasks finishing first prove nothing.
async fn await_completion(
    control: &mut TaskControl,
    id: Option<u64>,
    cancel: &mut CancelSignal,
) -> Result<()> {
    let Some(id) = id else {
        return Ok(());
    };
    while control.latest_completed() < id {
        tokio::select! {
            _ = next_completed(&mut control.completed) => {}
            _ = cancel.cancelled() => return Err(Error::Cancelled),
        }
    }
    Ok(())
}

/// Closes the chain (end-of-input downstream) once the checkpoint after its end
/// (`final_barrier`) is complete, passing that completion on, and sends
/// everything.
async fn close<B>(
    chain: &mut dyn Output<B>,
    control: &mut TaskControl,
    notified: u64,
    final_barrier: Option<u64>,
    cancel: &mut CancelSignal,
    clock: &TaskClock,
) -> Result<()> {
    await_completion(control, final_barrier, cancel).await?;
    let latest = control.latest_completed();
    if latest > notified {
        chain.notify_checkpoint_complete(latest)?;
    }
    chain.close()?;
    let flushed = flush(chain, cancel, clock).await;
    clock.publish();
    flushed
}

/// Where a task's events come from: its input gate (barriers aligned across
/// every input), or a source and the coordinator's checkpoint triggers
/// ([`crate::source_input::SourceInput`]).
pub trait TaskInput<B>: Send {
    /// Opens the input (a source restores its position and opens its reader).
    fn open(&mut self) -> Result<()> {
        Ok(())
    }
    /// The next event.
    fn poll_event(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Result<InputEvent<B>>>;
    /// The input's own state at a barrier (a source's position).
    fn snapshot(&mut self, checkpoint_id: u64) -> Result<Option<OperatorSubtaskState>> {
        let _ = checkpoint_id;
        Ok(None)
    }
    /// When the first copy of the barrier handed out last arrived (`None` for a
    /// source, whose barriers start with it).
    fn aligned_since(&self) -> Option<StdInstant>;
    /// Checkpoint `checkpoint_id` is complete.
    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        let _ = checkpoint_id;
        Ok(())
    }
    /// Closes the input.
    fn close(&mut self) -> Result<()> {
        Ok(())
    }
}

impl<B: Counted + Send> TaskInput<B> for InputGate<B> {
    fn poll_event(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Result<InputEvent<B>>> {
        self.poll_next(cx).map(Ok)
    }

    fn aligned_since(&self) -> Option<StdInstant> {
        InputGate::aligned_since(self)
    }
}

/// The one task loop, for every task: its input (a gate of any number of
/// inputs, or a source) feeding its chain's head (a chained operator, a
/// two-input head ([`crate::two_input::TwoInputHead`]) or a source's chain).
pub struct InputTask<B> {
    input: Box<dyn TaskInput<B>>,
    chain: Box<dyn Output<B>>,
    inputs: usize,
    settings: TaskSettings,
    control: TaskControl,
}

impl<B: Counted + Send + 'static> InputTask<B> {
    /// A task of `inputs` inputs read by `gate`.
    pub fn new(
        gate: InputGate<B>,
        inputs: usize,
        chain: Box<dyn Output<B>>,
        settings: TaskSettings,
        control: TaskControl,
    ) -> Self {
        let gate = gate.with_exactly_once(settings.exactly_once);
        InputTask {
            input: Box::new(gate),
            chain,
            inputs,
            settings,
            control,
        }
    }
}

impl<B: Send + 'static> InputTask<B> {
    /// The task of `source` and its chain.
    pub fn source<S: SourceReader<Out = B>>(
        source: S,
        context: OperatorContext,
        chain: Box<dyn Output<B>>,
        settings: TaskSettings,
        mut control: TaskControl,
    ) -> Self {
        let triggers = control.triggers.take();
        let on_end = control.input_ended_notice();
        InputTask {
            input: Box::new(SourceInput::new(source, context, triggers, on_end)),
            chain,
            inputs: 1,
            settings,
            control,
        }
    }

    async fn run_loop(mut self, mut cancel: CancelSignal) -> Result<()> {
        self.input.open()?;
        self.chain.open()?;
        let mut pacer = Pacer::new(self.settings.clone());
        // Which inputs ended their data; once all did, so has the chain's input.
        let mut data_ended = vec![false; self.inputs];
        let mut input_ended = false;
        let mut notified = 0u64;
        let mut final_barrier = None;
        loop {
            flush(self.chain.as_mut(), &mut cancel, &pacer.clock).await?;
            let sleep_pt = pacer.sleep_processing(self.chain.next_processing_time());
            let sleep_flush = pacer.flush_deadline;
            let Self {
                input,
                chain,
                control,
                ..
            } = &mut self;
            tokio::select! {
                event = poll_fn(|cx| timed(&pacer.clock, input.poll_event(cx))) => match event? {
                    InputEvent::Batch(batch) => chain.collect(batch)?,
                    InputEvent::Watermark(input, w) => chain.emit_input_watermark(input, w)?,
                    InputEvent::Status(input, s) => chain.emit_input_status(input, s)?,
                    InputEvent::EndOfData(input) => {
                        data_ended[input] = true;
                        chain.end_of_input(input)?;
                        if !input_ended && data_ended.iter().all(|e| *e) {
                            input_ended = true;
                            chain.end_of_data()?;
                        }
                    }
                    InputEvent::Barrier(barrier) => {
                        if input_ended && final_barrier.is_none() {
                            final_barrier = Some(barrier.checkpoint_id);
                        }
                        let own = input.snapshot(barrier.checkpoint_id)?;
                        let first_arrival = input.aligned_since();
                        checkpoint(chain.as_mut(), barrier, own, first_arrival, control)?;
                    }
                    InputEvent::End => break,
                    InputEvent::Disconnected => return Err(Error::Other(
                        "an upstream task stopped without finishing its output".into(),
                    )),
                },
                id = next_completed(&mut control.completed) => {
                    if id > notified {
                        notified = id;
                        input.notify_checkpoint_complete(id)?;
                        chain.notify_checkpoint_complete(id)?;
                    }
                }
                _ = sleep_opt(sleep_pt) => {}
                _ = tokio::time::sleep_until(sleep_flush) => {}
                _ = cancel.cancelled() => return Err(Error::Cancelled),
            }
            pacer.after_event(self.chain.as_mut()).await?;
        }
        self.input.close()?;
        if !input_ended {
            for (input, _) in data_ended.iter().enumerate().filter(|(_, e)| !**e) {
                self.chain.end_of_input(input)?;
            }
            self.chain.end_of_data()?;
        }
        close(
            self.chain.as_mut(),
            &mut self.control,
            notified,
            final_barrier,
            &mut cancel,
            &pacer.clock,
        )
        .await
    }
}

impl<B: Send + 'static> Task for InputTask<B> {
    fn run(
        self: Box<Self>,
        cancel: CancelSignal,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> {
        Box::pin(self.run_loop(cancel))
    }
}
