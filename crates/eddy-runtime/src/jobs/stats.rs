//! What a job's observers read about its checkpoints and failures: Flink's
//! checkpoint statistics (counts, the latest of each kind, a bounded history) and
//! its exception history.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;

use eddy_core::VertexId;

/// Checkpoints and savepoints kept in the history, newest first (Flink's
/// `web.checkpoints.history`).
pub const HISTORY_SIZE: usize = 10;
/// Failures kept in the exception history (Flink's `web.exception-history-size`).
pub const EXCEPTION_HISTORY_SIZE: usize = 16;

/// Where a checkpoint is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckpointState {
    /// Triggered; not every task has acknowledged it or it is being written.
    InProgress,
    /// Written and complete.
    Completed,
    /// Declined, expired, aborted or not written.
    Failed,
}

impl CheckpointState {
    /// Flink's name of the state (`IN_PROGRESS`, `COMPLETED`, `FAILED`).
    pub fn as_str(self) -> &'static str {
        match self {
            CheckpointState::InProgress => "IN_PROGRESS",
            CheckpointState::Completed => "COMPLETED",
            CheckpointState::Failed => "FAILED",
        }
    }
}

/// One checkpoint or savepoint of the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointRecord {
    /// Its id.
    pub id: u64,
    /// Its state.
    pub state: CheckpointState,
    /// Whether it is a savepoint.
    pub is_savepoint: bool,
    /// When it was triggered (ms since the epoch).
    pub trigger_timestamp: i64,
    /// When it completed or failed (ms since the epoch).
    pub end_timestamp: Option<i64>,
    /// The tasks that take part.
    pub num_subtasks: usize,
    /// The size of its state in bytes (once completed).
    pub state_size: u64,
    /// Where it was written (once completed, with a checkpoint directory or for a
    /// savepoint).
    pub external_path: Option<PathBuf>,
    /// Why it failed.
    pub failure: Option<String>,
    /// The tasks' acknowledgements so far, in arrival order.
    pub acknowledgements: Vec<TaskCheckpoint>,
}

/// One task's acknowledgement of a checkpoint: Flink's per-subtask
/// checkpoint statistics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskCheckpoint {
    /// The vertex heading the task's chain.
    pub head: VertexId,
    /// The subtask.
    pub subtask: u32,
    /// When the acknowledgement arrived (ms since the epoch).
    pub ack_timestamp: i64,
    /// The synchronous part of the snapshot (processing paused), in ms.
    pub sync_duration_ms: u64,
    /// Writing the state, in ms.
    pub async_duration_ms: u64,
    /// From the first barrier's arrival to the last one's, in ms.
    pub alignment_duration_ms: u64,
    /// From the trigger to the first barrier's arrival, in ms.
    pub start_delay_ms: u64,
    /// The bytes each operator of the chain wrote, by operator uid (operators
    /// without state wrote none and are missing).
    pub state_sizes: Vec<(String, u64)>,
}

impl CheckpointRecord {
    /// From trigger to completion or failure, in milliseconds.
    pub fn duration_ms(&self, now: i64) -> u64 {
        (self.end_timestamp.unwrap_or(now) - self.trigger_timestamp).max(0) as u64
    }
}

/// The checkpoint a job restored from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoredCheckpoint {
    /// Its id.
    pub id: u64,
    /// Whether it was a savepoint.
    pub is_savepoint: bool,
    /// When the job restored it (ms since the epoch).
    pub restore_timestamp: i64,
    /// Where it was read from.
    pub external_path: Option<PathBuf>,
}

/// A job's checkpoint statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckpointStats {
    /// Checkpoints completed.
    pub completed: u64,
    /// Checkpoints failed.
    pub failed: u64,
    /// Checkpoints in progress, by id.
    pub in_progress: BTreeMap<u64, CheckpointRecord>,
    /// Restores (the first start from a checkpoint and every restart from one).
    pub restored: u64,
    /// The newest completed checkpoint (not savepoint).
    pub latest_completed: Option<CheckpointRecord>,
    /// The newest completed savepoint.
    pub latest_savepoint: Option<CheckpointRecord>,
    /// The newest failed checkpoint or savepoint.
    pub latest_failed: Option<CheckpointRecord>,
    /// The newest restore.
    pub latest_restored: Option<RestoredCheckpoint>,
    /// The newest completed and failed checkpoints and savepoints, newest first.
    pub history: VecDeque<CheckpointRecord>,
    /// Sizes and durations of every completed checkpoint, for the summary.
    pub completed_figures: Vec<(u64, u64)>,
}

impl CheckpointStats {
    /// Counts checkpoint `id` as triggered.
    pub(crate) fn triggered(&mut self, id: u64, timestamp: i64, is_savepoint: bool, tasks: usize) {
        self.in_progress.insert(
            id,
            CheckpointRecord {
                id,
                state: CheckpointState::InProgress,
                is_savepoint,
                trigger_timestamp: timestamp,
                end_timestamp: None,
                num_subtasks: tasks,
                state_size: 0,
                external_path: None,
                failure: None,
                acknowledgements: Vec::new(),
            },
        );
    }

    /// Keeps a task's acknowledgement of checkpoint `id`.
    pub(crate) fn acknowledged(&mut self, id: u64, ack: TaskCheckpoint) {
        if let Some(record) = self.in_progress.get_mut(&id) {
            record.acknowledgements.push(ack);
        }
    }

    /// Counts checkpoint `id` as completed.
    pub(crate) fn completed(&mut self, id: u64, now: i64, size: u64, path: Option<PathBuf>) {
        let Some(mut record) = self.in_progress.remove(&id) else {
            return;
        };
        record.state = CheckpointState::Completed;
        record.end_timestamp = Some(now);
        record.state_size = size;
        record.external_path = path;
        self.push_history(record.clone());
        self.completed += 1;
        self.completed_figures
            .push((record.state_size, record.duration_ms(now)));
        // The summary needs only a recent window of figures.
        if self.completed_figures.len() > 4 * 1024 {
            self.completed_figures.drain(..2 * 1024);
        }
        if record.is_savepoint {
            self.latest_savepoint = Some(record);
        } else {
            self.latest_completed = Some(record);
        }
    }

    /// Counts checkpoint `id` as failed because of `why`.
    pub(crate) fn failed(&mut self, id: u64, now: i64, why: &str) {
        let Some(mut record) = self.in_progress.remove(&id) else {
            return;
        };
        record.state = CheckpointState::Failed;
        record.end_timestamp = Some(now);
        record.failure = Some(why.to_string());
        self.push_history(record.clone());
        self.failed += 1;
        self.latest_failed = Some(record);
    }

    /// Counts every checkpoint still in progress as failed (the attempt ended).
    pub(crate) fn fail_in_progress(&mut self, now: i64, why: &str) {
        let ids: Vec<u64> = self.in_progress.keys().copied().collect();
        for id in ids {
            self.failed(id, now, why);
        }
    }

    /// Counts a restore from checkpoint `id`.
    pub(crate) fn restored(&mut self, restored: RestoredCheckpoint) {
        self.restored += 1;
        self.latest_restored = Some(restored);
    }

    fn push_history(&mut self, record: CheckpointRecord) {
        self.history.push_front(record);
        self.history.truncate(HISTORY_SIZE);
    }

    /// The checkpoints in progress (newest first) and then the newest ended ones,
    /// at most [`HISTORY_SIZE`] ended ones.
    pub fn newest(&self) -> impl Iterator<Item = &CheckpointRecord> {
        self.in_progress.values().rev().chain(self.history.iter())
    }

    /// Checkpoints triggered so far (every one is in progress, completed or
    /// failed).
    pub fn total(&self) -> u64 {
        self.completed + self.failed + self.in_progress.len() as u64
    }
}

/// One failure of a job, for its exception history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobException {
    /// When it happened (ms since the epoch).
    pub timestamp: i64,
    /// The error as eddy reports it.
    pub message: String,
    /// Whether the job was restarted after it.
    pub restarted: bool,
}

/// The newest failures of a job, newest first.
#[derive(Clone, Debug, Default)]
pub(crate) struct ExceptionHistory {
    pub(crate) entries: VecDeque<JobException>,
}

impl ExceptionHistory {
    pub(crate) fn push(&mut self, exception: JobException) {
        self.entries.push_front(exception);
        self.entries.truncate(EXCEPTION_HISTORY_SIZE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_moves_from_in_progress_to_completed_or_failed() {
        let mut stats = CheckpointStats::default();
        stats.triggered(1, 1_000, false, 4);
        stats.triggered(2, 2_000, true, 4);
        stats.triggered(3, 3_000, false, 4);
        assert_eq!((stats.total(), stats.in_progress.len()), (3, 3));
        stats.completed(1, 1_500, 42, None);
        stats.completed(2, 2_700, 43, Some(PathBuf::from("/sp")));
        stats.failed(3, 3_100, "declined");
        // A late report of a finished checkpoint changes nothing.
        stats.failed(1, 9_000, "late");
        assert_eq!(
            (stats.completed, stats.failed, stats.in_progress.len()),
            (2, 1, 0)
        );
        let completed = stats.latest_completed.as_ref().unwrap();
        assert_eq!((completed.id, completed.state_size), (1, 42));
        assert_eq!(completed.duration_ms(0), 500);
        let savepoint = stats.latest_savepoint.as_ref().unwrap();
        assert_eq!(savepoint.external_path, Some(PathBuf::from("/sp")));
        let failed = stats.latest_failed.as_ref().unwrap();
        assert_eq!(failed.failure.as_deref(), Some("declined"));
        let ids: Vec<u64> = stats.newest().map(|r| r.id).collect();
        assert_eq!(ids, vec![3, 2, 1]);
        assert_eq!(stats.completed_figures, vec![(42, 500), (43, 700)]);
    }

    #[test]
    fn the_history_keeps_the_newest_and_in_progress_ones_fail_with_the_attempt() {
        let mut stats = CheckpointStats::default();
        for id in 1..=(HISTORY_SIZE as u64 + 5) {
            stats.triggered(id, id as i64, false, 1);
            if id % 2 == 0 {
                stats.completed(id, id as i64 + 1, 1, None);
            }
        }
        assert_eq!(stats.in_progress.len(), 8);
        stats.fail_in_progress(100, "the attempt failed");
        assert!(stats.in_progress.is_empty());
        assert_eq!((stats.completed, stats.failed), (7, 8));
        assert_eq!(stats.history.len(), HISTORY_SIZE);
        assert_eq!(stats.newest().next().map(|r| r.id), Some(15));
    }
}
