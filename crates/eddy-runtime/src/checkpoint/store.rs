//! Where tasks write the state of their checkpoints, and how they report it.
//!
//! At a barrier a task takes its snapshot (sharing keyed state copy-on-write, no
//! copy), forwards the barrier, and hands the snapshot to [`StateStore::spawn_write`]:
//! on a blocking thread the snapshot is serialized and written, one file per
//! operator subtask, into the checkpoint's directory, and only then does the task
//! acknowledge, with a [`SubtaskEntry`] per file (location, size, CRC-32): the
//! coordinator never sees state bytes and writes nothing but `_metadata`. A write
//! that fails declines the checkpoint instead.
//!
//! The directory of checkpoint `n` is `<run dir>/chk-<n>`, or a savepoint's own
//! directory, which its barrier carries to every task. A job without a checkpoint directory keeps its checkpoints in
//! memory: the store holds the finished snapshots until the coordinator
//! [takes](StateStore::take_in_memory) them for a restart.
//!
//! State file names carry the attempt (`<uid>-<subtask>-<attempt>.state`), so a
//! write of an attempt that was cancelled never meets one of the next attempt, which
//! numbers its checkpoints from the same restored id; the runtime also waits for an
//! attempt's writes ([`StateStore::idle`]) before it starts the next.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use eddy_core::{Error, Result};
use tokio::sync::watch;

use super::storage::{self, SubtaskEntry};
use super::OperatorSubtaskState;

/// The state store of one job attempt, shared by its tasks and its coordinator.
#[derive(Clone, Debug)]
pub struct StateStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The run's checkpoint directory; `None` keeps checkpoints in memory.
    run_dir: Option<PathBuf>,
    attempt: u32,
    /// The finished snapshots of a job without a checkpoint directory.
    memory: Mutex<HashMap<u64, Vec<OperatorSubtaskState>>>,
    /// How many writes are in flight.
    writes: watch::Sender<usize>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl StateStore {
    /// The store of attempt `attempt` of a run whose checkpoints go to `run_dir`
    /// (in memory when `None`).
    pub fn new(run_dir: Option<PathBuf>, attempt: u32) -> Self {
        StateStore {
            inner: Arc::new(Inner {
                run_dir,
                attempt,
                memory: Mutex::new(HashMap::new()),
                writes: watch::Sender::new(0),
            }),
        }
    }

    /// The directory the state of checkpoint `id` is written to: `target` (a
    /// savepoint's) if given, else the checkpoint's own; `None` when it is kept
    /// in memory.
    pub fn directory(&self, id: u64, target: Option<&Path>) -> Option<PathBuf> {
        if let Some(dir) = target {
            return Some(dir.to_path_buf());
        }
        self.inner
            .run_dir
            .as_ref()
            .map(|run| storage::checkpoint_dir(run, id))
    }

    /// Forgets checkpoint `id` (complete, aborted or subsumed): any state kept
    /// in memory for it.
    pub fn forget(&self, id: u64) {
        lock(&self.inner.memory).remove(&id);
    }

    /// Takes the in-memory state of checkpoint `id`.
    pub fn take_in_memory(&self, id: u64) -> Vec<OperatorSubtaskState> {
        lock(&self.inner.memory).remove(&id).unwrap_or_default()
    }

    /// Serializes and writes `states` of checkpoint `id` (into `target`, a
    /// savepoint's directory, if given), then calls `done` with their entries or
    /// the error, all on a blocking thread.
    pub fn spawn_write(
        &self,
        id: u64,
        target: Option<PathBuf>,
        states: Vec<OperatorSubtaskState>,
        done: impl FnOnce(Result<Vec<SubtaskEntry>>) + Send + 'static,
    ) {
        let store = self.clone();
        self.inner.writes.send_modify(|n| *n += 1);
        let write = move || {
            let result = store.write(id, target.as_deref(), states);
            done(result);
            store.inner.writes.send_modify(|n| *n -= 1);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn_blocking(write);
            }
            Err(_) => write(),
        }
    }

    /// Serializes and writes `states` of checkpoint `id` (see the module docs).
    pub fn write(
        &self,
        id: u64,
        target: Option<&Path>,
        mut states: Vec<OperatorSubtaskState>,
    ) -> Result<Vec<SubtaskEntry>> {
        for state in &mut states {
            state.snapshot.finish()?;
        }
        let Some(dir) = self.directory(id, target) else {
            let entries = states
                .iter()
                .map(|s| entry(s, String::new(), s.snapshot.byte_size() as u64, 0))
                .collect();
            lock(&self.inner.memory)
                .entry(id)
                .or_default()
                .extend(states);
            return Ok(entries);
        };
        eddy_fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut entries = Vec::with_capacity(states.len());
        for state in &states {
            let file = format!(
                "{}-{}-{}.state",
                storage::slug(&state.uid),
                state.subtask,
                self.inner.attempt
            );
            let (size, crc32) = storage::write_state_file(&dir.join(&file), &state.snapshot)?;
            entries.push(entry(state, file, size, crc32));
        }
        Ok(entries)
    }

    /// Waits until every write started so far has finished.
    pub async fn idle(&self) {
        let mut writes = self.inner.writes.subscribe();
        let _ = writes.wait_for(|n| *n == 0).await;
    }

    /// Whether checkpoints are kept in memory.
    pub fn in_memory(&self) -> bool {
        self.inner.run_dir.is_none()
    }

    /// The run's checkpoint directory.
    pub fn run_dir(&self) -> Option<&Path> {
        self.inner.run_dir.as_deref()
    }
}

fn entry(state: &OperatorSubtaskState, file: String, size: u64, crc32: u32) -> SubtaskEntry {
    SubtaskEntry::of(state, file, size, crc32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::OperatorSnapshot;
    use eddy_core::KeyGroupRange;

    fn state(uid: &str) -> OperatorSubtaskState {
        OperatorSubtaskState {
            uid: uid.into(),
            subtask: 1,
            parallelism: 2,
            max_parallelism: 128,
            key_group_range: KeyGroupRange::new(64, 127),
            snapshot: OperatorSnapshot {
                operator: vec![7; 10],
                ..OperatorSnapshot::default()
            },
        }
    }

    #[test]
    fn writes_files_into_the_checkpoint_or_savepoint_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let store = StateStore::new(Some(tmp.path().to_path_buf()), 3);
        let entries = store.write(4, None, vec![state("a/b")]).unwrap();
        assert_eq!(entries[0].file, "a-b-1-3.state");
        assert_eq!(entries[0].key_groups, [64, 127]);
        assert!(tmp.path().join("chk-4/a-b-1-3.state").exists());

        let savepoint = tmp.path().join("sp");
        store.write(5, Some(&savepoint), vec![state("a")]).unwrap();
        assert!(savepoint.join("a-1-3.state").exists());
        assert_eq!(store.directory(5, None), Some(tmp.path().join("chk-5")));
    }

    #[test]
    fn without_a_directory_state_stays_in_memory_until_taken() {
        let store = StateStore::new(None, 1);
        let entries = store.write(2, None, vec![state("a")]).unwrap();
        assert_eq!(entries[0].size, 10, "the size of the state");
        assert_eq!(store.take_in_memory(2), vec![state("a")]);
        assert!(store.take_in_memory(2).is_empty());
    }

    #[test]
    fn a_write_that_fails_reports_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let store = StateStore::new(Some(file), 1);
        let err = store
            .write(1, None, vec![state("a")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("chk-1"), "{err}");
    }
}
