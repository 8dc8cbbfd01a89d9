//! The JobMaster/TaskExecutor protocol: the plain-data messages between the part
//! that owns a job and the part that runs its tasks.
//!
//! The JobMaster schedules subtasks, drives the job's state machine
//! ([`eddy_core::JobStatus`]) and coordinates checkpoints; a TaskExecutor runs the
//! tasks it was given. They share no memory: everything they tell each other is one
//! of the messages here, serializable with serde, so the same messages travel over
//! an in-process channel (the embedded "cluster of one") or over TCP (the cluster).
//!
//! - [`ToTaskExecutor`]: deploy a task ([`TaskDeploymentDescriptor`]), trigger a
//!   checkpoint, checkpoint complete, checkpoint aborted, cancel a task.
//! - [`ToJobMaster`]: a task's execution state changed ([`ExecutionState`], with
//!   the [`FailureCause`] of a failure), a checkpoint acknowledged with state handles
//!   or declined, a metrics snapshot.
//!
//! State never travels in a message: a task writes its state to the checkpoint
//! storage itself and acknowledges with [`StateHandle`]s (location, size,
//! checksum); a deployed task receives the handles of *its own* restore state only.
//!
//! The life of a task that restores, checkpoints once and finishes:
//!
//! ```text
//!  JobMaster                                          TaskExecutor
//!     │ DeployTask(v1/0#0, operator, channels,            │
//!     │            restore: handles of v1/0 only) ───────▶│ build the task, read
//!     │◀──────────────────── TaskState(INITIALIZING) ─────│ its restore handles
//!     │◀──────────────────── TaskState(RUNNING) ──────────│
//!     │ TriggerCheckpoint(7)   (to source tasks) ────────▶│ barrier 7 flows with
//!     │                                                   │ the data; each task
//!     │                                                   │ writes its state
//!     │◀──── AcknowledgeCheckpoint(7, [StateHandle]) ─────│ (no state bytes)
//!     │ every task acknowledged: write chk-7/_metadata,   │
//!     │ last and atomically                               │
//!     │ CheckpointComplete(7) ───────────────────────────▶│ sinks commit
//!     │◀──────────────────── TaskState(FINISHED) ─────────│ end of input
//! ```
//!
//! A failed task reports `TaskState(FAILED, cause)`; the JobMaster then sends
//! `CancelTask` to the others and, if the restart strategy allows, deploys new
//! attempts (`v1/0#1`) with the latest checkpoint's handles. A checkpoint that a
//! task declines or that times out is announced with `CheckpointAborted`.
//!
//! The [`MiniCluster`](crate::MiniCluster)'s control loop is the JobMaster: it
//! deploys, triggers, notifies and cancels with these messages only, and learns
//! of task ends, acknowledgements, declines and ended inputs from them. Its
//! [`TaskExecutor`](crate::task_executor::TaskExecutor) runs in the same process,
//! with an in-process channel as the transport. A savepoint's directory travels in
//! the trigger and on in the barrier; a restoring task receives the handles of its
//! own state files in its descriptor and reads them itself. Only a job without a
//! checkpoint directory keeps its checkpoints in the memory of its one process
//! (the tasks' state store, shared with the JobMaster, and the restored state
//! handed to the TaskExecutor).
//!
//! ```
//! use eddy_core::{CheckpointId, ExecutionAttemptId, JobId, VertexId};
//! use eddy_runtime::protocol::{decode_message, encode_message, CheckpointComplete, ToTaskExecutor};
//!
//! let message = ToTaskExecutor::CheckpointComplete(CheckpointComplete {
//!     job_id: JobId::generate(),
//!     attempt: ExecutionAttemptId::new(VertexId(2), 0, 0),
//!     checkpoint_id: CheckpointId(7),
//! });
//! let bytes = encode_message(&message).unwrap();
//! assert_eq!(decode_message::<ToTaskExecutor>(&bytes).unwrap(), message);
//! assert!(decode_message::<ToTaskExecutor>(&bytes[..bytes.len() - 1]).is_err());
//! ```

mod to_job_master;
mod to_task_executor;

use std::fmt;

use eddy_core::{Error, KeyGroupRange, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::checkpoint::storage::SubtaskEntry;

pub use to_job_master::{
    CheckpointAck, CheckpointDecline, ExecutionState, FailureCause, GaugeSample, LocalError,
    MetricsSnapshot, OperatorSample, TaskExecutionState, TaskInputEnded, ToJobMaster,
};
pub use to_task_executor::{
    CancelTask, CheckpointAborted, CheckpointComplete, CheckpointKind, OperatorDescriptor,
    TaskDeploymentDescriptor, TaskRestore, ToTaskExecutor, TriggerCheckpoint,
};

/// One channel between two subtasks: the job graph edge it belongs to (its index
/// in [`JobGraph::edges`](eddy_core::JobGraph)), the producing and the consuming
/// subtask. Channel ids do not change when a task restarts.
///
/// ```
/// use eddy_runtime::protocol::ChannelId;
/// assert_eq!(ChannelId { edge: 1, producer: 0, consumer: 3 }.to_string(), "e1:0->3");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ChannelId {
    /// The edge's index in the job graph.
    pub edge: u32,
    /// The producing subtask's index.
    pub producer: u32,
    /// The consuming subtask's index.
    pub consumer: u32,
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "e{}:{}->{}", self.edge, self.producer, self.consumer)
    }
}

/// Where a task wrote a piece of state: a URL or path in the checkpoint storage,
/// the payload's size and its CRC-32 (IEEE), as `docs/checkpoint-format.md`
/// describes state files. Never the state itself.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StateHandle {
    /// The file's location: a path relative to the checkpoint directory, or a URL
    /// (`file:///...`, `s3://bucket/...`).
    pub location: String,
    /// The payload's size in bytes.
    pub size: u64,
    /// The payload's CRC-32 (IEEE).
    pub crc32: u32,
}

/// The state one operator subtask wrote for one checkpoint: the operator, the
/// subtask and its key groups at snapshot time, and the files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorSubtaskHandles {
    /// The operator's uid, the key of its state.
    pub uid: String,
    /// The subtask that wrote the state.
    pub subtask: u32,
    /// The operator's parallelism when the state was written.
    pub parallelism: u32,
    /// The job's number of key groups.
    pub max_parallelism: u32,
    /// The key groups the subtask owned.
    pub key_groups: KeyGroupRange,
    /// The files holding the state (keyed state, operator state, timers).
    pub handles: Vec<StateHandle>,
    /// Whether the files hold keyed state or timers (a restore splits those by
    /// key group).
    pub has_keyed_state: bool,
    /// Whether the files hold operator state (a restore gives it to every
    /// subtask).
    pub has_operator_state: bool,
}

impl From<SubtaskEntry> for OperatorSubtaskHandles {
    /// The handle of the one file a task wrote for an operator subtask.
    fn from(entry: SubtaskEntry) -> Self {
        OperatorSubtaskHandles {
            uid: entry.uid,
            subtask: entry.subtask,
            parallelism: entry.parallelism,
            max_parallelism: entry.max_parallelism,
            key_groups: KeyGroupRange::new(entry.key_groups[0], entry.key_groups[1]),
            handles: vec![StateHandle {
                location: entry.file,
                size: entry.size,
                crc32: entry.crc32,
            }],
            has_keyed_state: entry.keyed,
            has_operator_state: entry.operator,
        }
    }
}

impl OperatorSubtaskHandles {
    /// The `_metadata` entry of these handles: eddy writes one state file per
    /// operator subtask, so exactly one handle is expected.
    pub fn into_entry(mut self) -> Result<SubtaskEntry> {
        if self.handles.len() != 1 {
            return Err(Error::State(format!(
                "operator '{}' subtask {} acknowledged {} state files; one was expected",
                self.uid,
                self.subtask,
                self.handles.len()
            )));
        }
        let file = self.handles.remove(0);
        Ok(SubtaskEntry {
            uid: self.uid,
            subtask: self.subtask,
            parallelism: self.parallelism,
            max_parallelism: self.max_parallelism,
            key_groups: [self.key_groups.start, self.key_groups.end],
            file: file.location,
            size: file.size,
            crc32: file.crc32,
            keyed: self.has_keyed_state,
            operator: self.has_operator_state,
        })
    }
}

/// What a TaskManager needs to build a job's operators itself: the job's code
/// is never shipped, only a description a loader of the same binary turns into
/// the same [`JobSpec`](crate::JobSpec).
///
/// For SQL (`kind` "sql"), the statements that shaped the catalog followed by
/// the `INSERT` (or statement set) that is the job; planning them again gives
/// the same graph, which the TaskManager checks against the one it is sent.
/// For a DataStream program in application mode (`kind` "application"), the
/// program's arguments: the TaskManager runs the same binary's program with
/// them up to `execute()`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobArtifact {
    /// Which loader builds the job ("sql", "application").
    pub kind: String,
    /// The loader's input, in order.
    pub statements: Vec<String>,
}

/// Encodes a message with postcard, the compact format of the wire.
pub fn encode_message<M: Serialize>(message: &M) -> Result<Vec<u8>> {
    postcard::to_allocvec(message).map_err(|e| Error::codec("encode", "a protocol message", e))
}

/// Decodes a message from exactly these bytes; truncated, corrupt or trailing
/// bytes are an error.
pub fn decode_message<M: DeserializeOwned>(bytes: &[u8]) -> Result<M> {
    let (message, rest) = postcard::take_from_bytes(bytes)
        .map_err(|e| Error::codec("decode", "a protocol message", e))?;
    if !rest.is_empty() {
        return Err(Error::decode(
            "a protocol message",
            format!("{} bytes after the message", rest.len()),
        ));
    }
    Ok(message)
}

#[cfg(test)]
mod tests;
