//! Messages from the JobMaster to a TaskExecutor (Flink's `TaskExecutorGateway`).

use eddy_core::{CheckpointId, ExecutionAttemptId, JobId, Timestamp};
use serde::{Deserialize, Serialize};

use super::{ChannelId, OperatorSubtaskHandles};

/// What the JobMaster asks a TaskExecutor to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToTaskExecutor {
    /// Start a task: build its operator, connect its channels, restore its state.
    DeployTask(TaskDeploymentDescriptor),
    /// Start a checkpoint at a source task: it records its position and emits the
    /// barrier.
    TriggerCheckpoint(TriggerCheckpoint),
    /// Every task acknowledged the checkpoint and its `_metadata` is written: the
    /// commit point of two-phase-commit sinks.
    CheckpointComplete(CheckpointComplete),
    /// The checkpoint will not complete (declined, timed out, or the job is
    /// failing): discard what was written for it.
    CheckpointAborted(CheckpointAborted),
    /// Stop the task; it answers with its execution state CANCELED.
    CancelTask(CancelTask),
}

/// Everything a TaskExecutor needs to run one attempt of one subtask, as plain
/// data (Flink's `TaskDeploymentDescriptor`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDeploymentDescriptor {
    /// The run of the job the task belongs to.
    pub job_id: JobId,
    /// The vertex, the subtask index and the attempt number.
    pub attempt: ExecutionAttemptId,
    /// The vertex's operator uid, the key of its state.
    pub vertex_uid: String,
    /// The vertex's name, for logs and failure messages.
    pub vertex_name: String,
    /// The vertex's parallelism.
    pub parallelism: u32,
    /// The job's number of key groups.
    pub max_parallelism: u32,
    /// How to build the operator.
    pub operator: OperatorDescriptor,
    /// The channels the task reads, in input order.
    pub inputs: Vec<ChannelId>,
    /// The channels the task writes.
    pub outputs: Vec<ChannelId>,
    /// The input channels whose producer runs in another TaskManager, with the
    /// data address of that TaskManager; every other channel is local.
    pub remote_inputs: Vec<(ChannelId, String)>,
    /// The state to restore, if the job restores from a checkpoint.
    pub restore: Option<TaskRestore>,
}

impl TaskDeploymentDescriptor {
    /// The data address of the TaskManager producing input channel `id`, if
    /// it is not local.
    pub fn remote_producer(&self, id: ChannelId) -> Option<&str> {
        self.remote_inputs
            .iter()
            .find(|(channel, _)| *channel == id)
            .map(|(_, address)| address.as_str())
    }
}

/// How to build a task's operator, beyond its vertex: empty today.
///
/// A TaskExecutor builds every operator from the job it builds itself out of
/// the job's [`JobArtifact`](super::JobArtifact), sent once per job: a SQL job's
/// catalog statements replayed and its statement planned again (the TaskExecutor
/// checks that the graph equals the one it was sent), a DataStream program's
/// arguments run by the same binary up to `execute()`. The task's vertex
/// (`attempt.vertex`) names the factory to use. A per-operator descriptor would
/// let a TaskExecutor build one SQL operator without planning the statement;
/// these bytes are reserved for it and no TaskExecutor reads them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorDescriptor(pub Vec<u8>);

/// The restore state of one subtask: the checkpoint and the handles this subtask
/// reads, and no other subtask's.
///
/// After a rescale a subtask reads the files of every old subtask whose key groups
/// overlap its own, each listed with the key groups it covered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRestore {
    /// The checkpoint or savepoint restored from.
    pub checkpoint_id: CheckpointId,
    /// The operators of the task's chain that the checkpoint holds state for,
    /// whether or not this subtask receives a file of theirs.
    pub operators: Vec<String>,
    /// The state files to read, per operator subtask that wrote them.
    pub state: Vec<OperatorSubtaskHandles>,
}

/// What kind of snapshot a trigger starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckpointKind {
    /// A periodic checkpoint, owned and deleted by eddy.
    Checkpoint,
    /// A savepoint the user asked for; the job keeps running.
    Savepoint,
    /// A savepoint after which the job stops; with `drain`, the sources end their
    /// input first so that every window and timer fires.
    StopWithSavepoint {
        /// Whether the sources end their input before the savepoint.
        drain: bool,
    },
}

/// Start checkpoint `checkpoint_id` at a source task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerCheckpoint {
    /// The job.
    pub job_id: JobId,
    /// The source task.
    pub attempt: ExecutionAttemptId,
    /// The checkpoint.
    pub checkpoint_id: CheckpointId,
    /// When the JobMaster triggered it (wall-clock milliseconds).
    pub timestamp: Timestamp,
    /// Checkpoint or savepoint.
    pub kind: CheckpointKind,
    /// Every source has read all of its input: once this checkpoint completes,
    /// the tasks finish.
    pub is_final: bool,
    /// A savepoint's own directory, where every task writes its state (carried
    /// on in the barrier); `None` for the job's checkpoint storage.
    pub target: Option<String>,
}

/// Checkpoint `checkpoint_id` is complete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointComplete {
    /// The job.
    pub job_id: JobId,
    /// The task notified.
    pub attempt: ExecutionAttemptId,
    /// The completed checkpoint.
    pub checkpoint_id: CheckpointId,
}

/// Checkpoint `checkpoint_id` was aborted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointAborted {
    /// The job.
    pub job_id: JobId,
    /// The task notified.
    pub attempt: ExecutionAttemptId,
    /// The aborted checkpoint.
    pub checkpoint_id: CheckpointId,
    /// Why, for the task's log.
    pub reason: String,
}

/// Cancel one attempt of a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelTask {
    /// The job.
    pub job_id: JobId,
    /// The attempt to cancel; a message for an older attempt is ignored.
    pub attempt: ExecutionAttemptId,
}
