//! Checkpoints: consistent snapshots of a running job, by asynchronous barrier
//! snapshotting.
//!
//! ```text
//!  coordinator ──trigger n──▶ sources: record position, emit barrier n
//!                               │
//!            barrier n ────────▶ task: align inputs (exactly-once), snapshot the
//!                               │      chain's state (copy-on-write), forward
//!                               │      barrier n; off the processing thread:
//!                               │      write the state files, then ack
//!  coordinator ◀─ack(n, handles)┘      (location, size, CRC-32 per file)
//!  all acked: write `_metadata` last and atomically,
//!  then notify every task: checkpoint n complete (sinks commit)
//! ```
//!
//! The protocol logic is pure ([`coordinator`], [`restore`]); tasks write through
//! the [`store`]; the file format lives in [`storage`].

pub mod coordinator;
pub mod restore;
pub mod runs;
pub mod storage;
pub mod store;

use eddy_core::KeyGroupRange;
use serde::{Deserialize, Serialize};

use crate::operator::OperatorSnapshot;
use storage::SubtaskEntry;

/// The state of one operator subtask in a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorSubtaskState {
    /// The operator's uid.
    pub uid: String,
    /// The subtask index.
    pub subtask: u32,
    /// The operator's parallelism when the snapshot was taken.
    pub parallelism: u32,
    /// The job's number of key groups.
    pub max_parallelism: u32,
    /// The key groups the subtask owned.
    pub key_group_range: KeyGroupRange,
    /// The serialized state.
    pub snapshot: OperatorSnapshot,
}

/// A task's acknowledgement of a checkpoint: where it wrote the state of its
/// operators (never the state itself).
#[derive(Debug)]
pub struct TaskAck {
    /// The checkpoint.
    pub checkpoint_id: u64,
    /// The acknowledging task (index in the job's task list).
    pub task: usize,
    /// The state of every operator of the task's chain that has state.
    pub states: Vec<SubtaskEntry>,
}

/// A checkpoint every task acknowledged: where each operator subtask's state was
/// written. `_metadata` is written from it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AcknowledgedCheckpoint {
    /// The checkpoint id.
    pub id: u64,
    /// When it was triggered (wall-clock milliseconds).
    pub timestamp: i64,
    /// Whether it is a savepoint.
    pub is_savepoint: bool,
    /// Every operator subtask's state, sorted by uid and subtask.
    pub subtasks: Vec<SubtaskEntry>,
}

impl AcknowledgedCheckpoint {
    /// The total size of the written state.
    pub fn state_size(&self) -> u64 {
        self.subtasks.iter().map(|s| s.size).sum()
    }
}

/// A checkpoint every task acknowledged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompletedCheckpoint {
    /// The checkpoint id.
    pub id: u64,
    /// When it was triggered (wall-clock milliseconds).
    pub timestamp: i64,
    /// Whether it is a savepoint.
    pub is_savepoint: bool,
    /// The state of every operator subtask.
    pub states: Vec<OperatorSubtaskState>,
    /// The lineage of the run that took it: the short id of the run that started
    /// from scratch, inherited by every run restored from it. Sinks use it to tell
    /// their own earlier output from other jobs' files.
    pub lineage: String,
    /// Every operator of the job when it was taken, with or without state: a
    /// restore checks that the checkpoint covers the new job's sources.
    pub operators: Vec<OperatorEntry>,
}

/// An operator of the job a checkpoint was taken of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorEntry {
    /// The operator uid.
    pub uid: String,
    /// Its parallelism.
    pub parallelism: u32,
    /// Whether it is a source (whose position the checkpoint must hold).
    #[serde(default)]
    pub source: bool,
}

impl CompletedCheckpoint {
    /// The total size of the serialized state.
    pub fn state_size(&self) -> usize {
        self.states.iter().map(|s| s.snapshot.byte_size()).sum()
    }
}
