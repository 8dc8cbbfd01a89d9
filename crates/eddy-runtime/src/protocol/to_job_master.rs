//! Messages from a TaskExecutor to the JobMaster (Flink's `JobMasterGateway`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use eddy_core::{CheckpointId, Error, ExecutionAttemptId, JobId, Timestamp};
use serde::{Deserialize, Serialize};

use super::OperatorSubtaskHandles;

/// What a TaskExecutor reports to the JobMaster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToJobMaster {
    /// A task's execution state changed (Flink's `updateTaskExecutionState`).
    TaskState(TaskExecutionState),
    /// A task wrote its state for a checkpoint and forwarded the barrier.
    AcknowledgeCheckpoint(CheckpointAck),
    /// A task could not take its part of a checkpoint; the checkpoint is aborted,
    /// the job keeps running.
    DeclineCheckpoint(CheckpointDecline),
    /// A task's metrics at one moment.
    Metrics(MetricsSnapshot),
    /// A source task read all of its input. It stays RUNNING and keeps taking
    /// checkpoints: once every source has ended, the JobMaster triggers the final
    /// checkpoint, whose completion commits the last output and lets the tasks
    /// finish (Flink's final checkpoint after end of data).
    InputEnded(TaskInputEnded),
}

/// A source task attempt read all of its input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInputEnded {
    /// The job.
    pub job_id: JobId,
    /// The source task attempt.
    pub attempt: ExecutionAttemptId,
}

/// The execution state of one task attempt: Flink's `ExecutionState` as far as a
/// TaskExecutor sees it.
///
/// ```text
///  CREATED ─▶ DEPLOYING ─▶ INITIALIZING ─▶ RUNNING ─▶ FINISHED
///                  │             │             │
///                  └─────────────┴─────────────┴──▶ CANCELING ─▶ CANCELED
///                  any state that is not terminal ─▶ FAILED
/// ```
///
/// ```
/// use eddy_runtime::protocol::ExecutionState;
/// assert_eq!(ExecutionState::Canceling.to_string(), "CANCELING");
/// assert!(ExecutionState::Finished.is_terminal());
/// assert!(!ExecutionState::Canceling.is_terminal());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionState {
    /// The attempt exists; nothing is deployed yet.
    Created,
    /// The TaskExecutor received the task and is building it.
    Deploying,
    /// The task restores its state and opens its operators.
    Initializing,
    /// The task processes its input.
    Running,
    /// The task reached the end of its input and ended. Terminal.
    Finished,
    /// The task was asked to stop and is stopping.
    Canceling,
    /// The task stopped on request. Terminal.
    Canceled,
    /// The task failed; the failure cause says why. Terminal.
    Failed,
}

impl ExecutionState {
    /// Whether the attempt is over: FINISHED, CANCELED or FAILED.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ExecutionState::Finished | ExecutionState::Canceled | ExecutionState::Failed
        )
    }

    /// Flink's name of the state: `RUNNING`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionState::Created => "CREATED",
            ExecutionState::Deploying => "DEPLOYING",
            ExecutionState::Initializing => "INITIALIZING",
            ExecutionState::Running => "RUNNING",
            ExecutionState::Finished => "FINISHED",
            ExecutionState::Canceling => "CANCELING",
            ExecutionState::Canceled => "CANCELED",
            ExecutionState::Failed => "FAILED",
        }
    }
}

impl fmt::Display for ExecutionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a task failed, as text that survives serialization: the error's message
/// and the messages of its sources, outermost first.
///
/// Within one process the error itself rides along ([`FailureCause::of`]), unseen
/// by serialization, so the caller of an embedded job gets the typed error back
/// ([`FailureCause::into_error`]); across processes the text is what arrives (as
/// Flink's `SerializedThrowable` falls back to its message when the class is
/// missing).
///
/// ```
/// use eddy_runtime::protocol::FailureCause;
/// let io = std::io::Error::other("disk full");
/// let err = eddy_core::Error::io("/tmp/chk-3", io);
/// let cause = FailureCause::from_error(&err);
/// assert_eq!(cause.message, "I/O error on /tmp/chk-3: disk full");
/// assert_eq!(cause.chain, ["disk full"]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureCause {
    /// The error's message.
    pub message: String,
    /// The messages of the error's sources, outermost first.
    pub chain: Vec<String>,
    /// The error itself, when the cause has not left the process.
    #[serde(skip)]
    pub local: LocalError,
}

impl FailureCause {
    /// The message and source chain of `error`.
    pub fn from_error(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = Vec::new();
        let mut source = error.source();
        while let Some(e) = source {
            chain.push(e.to_string());
            source = e.source();
        }
        FailureCause {
            message: error.to_string(),
            chain,
            local: LocalError::default(),
        }
    }

    /// The cause of `error`, keeping the error itself for a receiver in this
    /// process.
    ///
    /// ```
    /// use eddy_core::Error;
    /// use eddy_runtime::protocol::{decode_message, encode_message, FailureCause};
    /// let cause = FailureCause::of(Error::Cancelled);
    /// let remote: FailureCause = decode_message(&encode_message(&cause).unwrap()).unwrap();
    /// assert!(matches!(cause.into_error(), Error::Cancelled));
    /// assert_eq!(remote.into_error().to_string(), "job was cancelled");
    /// ```
    pub fn of(error: Error) -> Self {
        let mut cause = FailureCause::from_error(&error);
        cause.local = LocalError(Some(Arc::new(Mutex::new(Some(error)))));
        cause
    }

    /// The error: the original one if it never left the process (and was not
    /// taken yet), else one carrying the message and its chain.
    pub fn into_error(self) -> Error {
        let original = self
            .local
            .0
            .and_then(|slot| slot.lock().unwrap_or_else(|p| p.into_inner()).take());
        original.unwrap_or_else(|| {
            let mut message = self.message;
            for cause in self.chain {
                message.push_str(": ");
                message.push_str(&cause);
            }
            Error::Other(message)
        })
    }
}

/// The error behind a [`FailureCause`] in the process that raised it; empty once
/// serialized. Causes compare equal whatever it holds.
#[derive(Clone, Default)]
pub struct LocalError(Option<Arc<Mutex<Option<Error>>>>);

impl PartialEq for LocalError {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for LocalError {}

impl fmt::Debug for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "LocalError(..)"
        } else {
            "LocalError(None)"
        })
    }
}

impl fmt::Display for FailureCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for cause in &self.chain {
            write!(f, "\n  caused by: {cause}")?;
        }
        Ok(())
    }
}

/// A task attempt's new execution state (Flink's `TaskExecutionState`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskExecutionState {
    /// The job.
    pub job_id: JobId,
    /// The task attempt.
    pub attempt: ExecutionAttemptId,
    /// Its new state.
    pub state: ExecutionState,
    /// Why it failed, when `state` is FAILED.
    pub failure: Option<FailureCause>,
}

/// A task's acknowledgement of a checkpoint: where it wrote the state of each
/// operator of its chain. Never the state bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointAck {
    /// The job.
    pub job_id: JobId,
    /// The acknowledging task attempt.
    pub attempt: ExecutionAttemptId,
    /// The checkpoint.
    pub checkpoint_id: CheckpointId,
    /// The state files, one entry per operator of the task's chain.
    pub state: Vec<OperatorSubtaskHandles>,
    /// Milliseconds the task spent on the synchronous part (processing paused).
    pub sync_duration_ms: u64,
    /// Milliseconds spent writing the state, off the processing thread.
    pub async_duration_ms: u64,
    /// Milliseconds from the first barrier's arrival to the last one's.
    pub alignment_duration_ms: u64,
    /// Milliseconds from the checkpoint's trigger to the first barrier's arrival.
    pub start_delay_ms: u64,
}

/// A task's refusal to take part in a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointDecline {
    /// The job.
    pub job_id: JobId,
    /// The declining task attempt.
    pub attempt: ExecutionAttemptId,
    /// The checkpoint.
    pub checkpoint_id: CheckpointId,
    /// Why (the state could not be written, say).
    pub cause: FailureCause,
}

/// One operator subtask's counter in a [`MetricsSnapshot`]: its value in this
/// job attempt so far.
pub type OperatorSample = crate::metrics::OperatorMetric;

/// The metrics of a TaskExecutor's tasks at one moment: sent periodically and
/// before each task's end, from TaskManagers in other processes (tasks in the
/// JobMaster's own process count into its registry directly).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    /// The job.
    pub job_id: JobId,
    /// The TaskManager that sent it, as the JobManager's ResourceManager
    /// names it (empty in one process).
    #[serde(default)]
    pub reporter: String,
    /// When the values were read (wall-clock milliseconds).
    pub timestamp: Timestamp,
    /// The job-scoped values (checkpoint pauses, user counters), by name.
    pub job: BTreeMap<String, u64>,
    /// Every operator subtask's counters, in this job attempt so far.
    pub operators: Vec<OperatorSample>,
    /// Every operator subtask's gauges (watermarks, task times), as they are now.
    #[serde(default)]
    pub gauges: Vec<GaugeSample>,
}

/// One operator subtask's gauge in a [`MetricsSnapshot`].
pub type GaugeSample = crate::metrics::OperatorGauge;
