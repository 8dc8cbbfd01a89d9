//! Restore planning: which parts of a checkpoint each new subtask receives.
//!
//! Keyed state and timers are split by key group: a new subtask receives the
//! snapshots of the old subtasks whose key-group ranges overlap its own (and keeps
//! only its own key groups when loading). Operator state (source positions, sink
//! transactions) is distributed as a union: every new subtask receives every old
//! subtask's operator state and takes its share.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use eddy_core::{CheckpointId, Error, KeyGroupRange, Result};

use super::storage::{self, SubtaskEntry};
use super::{CompletedCheckpoint, OperatorSubtaskState};
use crate::operator::OperatorSnapshot;
use crate::protocol::{OperatorSubtaskHandles, TaskRestore};

/// The state files subtask `subtask` of `parallelism` of operator `uid` reads
/// from a checkpoint in `dir` whose `_metadata` lists `entries`: those of the old
/// subtasks whose key groups overlap its own, if they hold keyed state or timers,
/// and every one that holds operator state (distributed as a union).
pub fn plan_subtask(
    entries: &[SubtaskEntry],
    dir: &Path,
    uid: &str,
    subtask: u32,
    parallelism: u32,
    max_parallelism: u32,
) -> Vec<OperatorSubtaskHandles> {
    let range = KeyGroupRange::for_operator(max_parallelism, parallelism, subtask);
    entries
        .iter()
        .filter(|e| e.uid == uid)
        .filter(|e| {
            let overlaps = e.key_groups[0] <= range.end && range.start <= e.key_groups[1];
            (e.keyed && overlaps) || e.operator
        })
        .map(|e| {
            let mut handles = OperatorSubtaskHandles::from(e.clone());
            for handle in &mut handles.handles {
                handle.location = dir.join(&handle.location).display().to_string();
            }
            handles
        })
        .collect()
}

/// The subtask's own part of a checkpoint, read from the files its restore lists
/// (each verified against its checksum).
pub fn load(restore: &TaskRestore) -> Result<RestoredState> {
    let mut by_uid: BTreeMap<String, Vec<OperatorSubtaskState>> = restore
        .operators
        .iter()
        .map(|uid| (uid.clone(), Vec::new()))
        .collect();
    for part in &restore.state {
        let [handle] = part.handles.as_slice() else {
            return Err(Error::State(format!(
                "operator '{}' subtask {} has {} state files; one is expected",
                part.uid,
                part.subtask,
                part.handles.len()
            )));
        };
        let snapshot = storage::read_state_file(Path::new(&handle.location), handle.crc32)?;
        by_uid
            .entry(part.uid.clone())
            .or_default()
            .push(OperatorSubtaskState {
                uid: part.uid.clone(),
                subtask: part.subtask,
                parallelism: part.parallelism,
                max_parallelism: part.max_parallelism,
                key_group_range: part.key_groups,
                snapshot,
            });
    }
    Ok(RestoredState {
        checkpoint_id: restore.checkpoint_id.0,
        by_uid,
    })
}

/// The restore of one subtask of the task whose chain holds `chain` (uid,
/// parallelism, max parallelism per operator) from the checkpoint in `dir`.
pub fn task_restore(
    checkpoint_id: u64,
    entries: &[SubtaskEntry],
    dir: &Path,
    chain: &[(&str, u32, u32)],
    subtask: u32,
) -> TaskRestore {
    let mut operators = Vec::new();
    let mut state = Vec::new();
    for &(uid, parallelism, max_parallelism) in chain {
        if entries.iter().any(|e| e.uid == uid) {
            operators.push(uid.to_string());
        }
        state.extend(plan_subtask(
            entries,
            dir,
            uid,
            subtask,
            parallelism,
            max_parallelism,
        ));
    }
    TaskRestore {
        checkpoint_id: CheckpointId(checkpoint_id),
        operators,
        state,
    }
}

/// The state of a checkpoint, ready to be handed to the subtasks of a new run.
#[derive(Clone, Debug, Default)]
pub struct RestoredState {
    /// The checkpoint it came from.
    pub checkpoint_id: u64,
    by_uid: BTreeMap<String, Vec<OperatorSubtaskState>>,
}

impl RestoredState {
    /// Indexes a completed checkpoint by operator uid.
    pub fn new(checkpoint: &CompletedCheckpoint) -> Self {
        let mut by_uid: BTreeMap<String, Vec<OperatorSubtaskState>> = BTreeMap::new();
        for state in &checkpoint.states {
            by_uid
                .entry(state.uid.clone())
                .or_default()
                .push(state.clone());
        }
        RestoredState {
            checkpoint_id: checkpoint.id,
            by_uid,
        }
    }

    /// The snapshots subtask `subtask` of `parallelism` of operator `uid` receives,
    /// or `None` if the checkpoint has no state for the uid.
    pub fn for_subtask(
        &self,
        uid: &str,
        subtask: usize,
        parallelism: usize,
        max_parallelism: u32,
    ) -> Option<Vec<OperatorSnapshot>> {
        let states = self.by_uid.get(uid)?;
        let range =
            KeyGroupRange::for_operator(max_parallelism, parallelism as u32, subtask as u32);
        Some(
            states
                .iter()
                .filter(|s| {
                    let keyed = s.snapshot.keyed.is_some() || !s.snapshot.timers.is_empty();
                    let overlaps = s.key_group_range.start <= range.end
                        && range.start <= s.key_group_range.end;
                    (keyed && overlaps) || !s.snapshot.operator.is_empty()
                })
                .map(|s| s.snapshot.clone())
                .collect(),
        )
    }

    /// Checks the checkpoint against the new job: the max parallelism of every
    /// operator must be unchanged, and every uid in the checkpoint must exist in the
    /// job unless `allow_non_restored` is set.
    pub fn validate(
        &self,
        operators: &BTreeMap<String, u32>,
        allow_non_restored: bool,
    ) -> Result<()> {
        let mut missing = BTreeSet::new();
        for (uid, states) in &self.by_uid {
            match operators.get(uid) {
                None => {
                    missing.insert(uid.clone());
                }
                Some(max) => {
                    if let Some(s) = states.iter().find(|s| s.max_parallelism != *max) {
                        return Err(Error::State(format!(
                            "operator '{uid}' was checkpointed with max parallelism {} but the job has {max}; \
                             max parallelism cannot change",
                            s.max_parallelism
                        )));
                    }
                }
            }
        }
        if !missing.is_empty() && !allow_non_restored {
            return Err(Error::State(format!(
                "checkpoint {} has state for operators that are not in the job: {}; \
                 pass --allow-non-restored-state to drop it",
                self.checkpoint_id,
                missing.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(())
    }

    /// Checks that `checkpoint` (read from `path`) describes a job: it names its
    /// operators (format 2) or holds state (format 1). Returns the sources of the
    /// new job it does not cover (they start from the beginning of their input);
    /// with `strict` (resuming the same job with `-s latest`) those are an error.
    pub fn check_coverage(
        checkpoint: &CompletedCheckpoint,
        path: &std::path::Path,
        sources: &[&str],
        strict: bool,
    ) -> Result<Vec<String>> {
        let covered: BTreeSet<&str> = if checkpoint.operators.is_empty() {
            checkpoint.states.iter().map(|s| s.uid.as_str()).collect()
        } else {
            checkpoint
                .operators
                .iter()
                .map(|o| o.uid.as_str())
                .collect()
        };
        if covered.is_empty() {
            return Err(Error::State(format!(
                "{}: checkpoint {} covers no operator; it cannot be restored",
                path.display(),
                checkpoint.id
            )));
        }
        let missing: Vec<&str> = sources
            .iter()
            .copied()
            .filter(|uid| !covered.contains(uid))
            .collect();
        if checkpoint.operators.is_empty() {
            // Format 1 lists only operators with state: nothing to tell.
            return Ok(Vec::new());
        }
        if !missing.is_empty() && strict {
            return Err(Error::State(format!(
                "{}: checkpoint {} does not cover the job's source(s) {}: they would read \
                 their input again from the beginning; give the sources the uids they had, \
                 or start the job without -s",
                path.display(),
                checkpoint.id,
                missing.join(", ")
            )));
        }
        Ok(missing.into_iter().map(str::to_string).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::OperatorEntry;
    use crate::operator::OperatorSnapshot;

    fn state(uid: &str, subtask: u32, range: (u32, u32), keyed: bool) -> OperatorSubtaskState {
        OperatorSubtaskState {
            uid: uid.into(),
            subtask,
            parallelism: 2,
            max_parallelism: 128,
            key_group_range: KeyGroupRange::new(range.0, range.1),
            snapshot: OperatorSnapshot {
                keyed: None,
                timers: if keyed {
                    vec![(range.0, vec![1])]
                } else {
                    vec![]
                },
                operator: if keyed {
                    vec![]
                } else {
                    vec![subtask as u8 + 1]
                },
                deferred_keyed: None,
            },
        }
    }

    fn checkpoint() -> CompletedCheckpoint {
        CompletedCheckpoint {
            id: 7,
            states: vec![
                state("agg", 0, (0, 63), true),
                state("agg", 1, (64, 127), true),
                state("src", 0, (0, 63), false),
                state("src", 1, (64, 127), false),
            ],
            operators: vec![
                OperatorEntry {
                    uid: "src".into(),
                    parallelism: 2,
                    source: true,
                },
                OperatorEntry {
                    uid: "agg".into(),
                    parallelism: 2,
                    source: false,
                },
            ],
            ..CompletedCheckpoint::default()
        }
    }

    #[test]
    fn keyed_state_goes_by_key_group_and_operator_state_to_everyone() {
        let restored = RestoredState::new(&checkpoint());
        // Rescale 2 -> 3: subtask 1 owns key groups 43..=85, which overlap both.
        assert_eq!(restored.for_subtask("agg", 1, 3, 128).unwrap().len(), 2);
        assert_eq!(restored.for_subtask("agg", 0, 3, 128).unwrap().len(), 1);
        assert_eq!(restored.for_subtask("agg", 2, 3, 128).unwrap().len(), 1);
        // Operator state is a union: every new subtask gets both old ones.
        assert_eq!(restored.for_subtask("src", 2, 3, 128).unwrap().len(), 2);
        assert!(restored.for_subtask("nosuch", 0, 1, 128).is_none());
    }

    #[test]
    fn a_rescaled_subtask_reads_only_the_files_it_needs() {
        let tmp = tempfile::tempdir().unwrap();
        let store = crate::checkpoint::store::StateStore::new(Some(tmp.path().into()), 1);
        let entries = store.write(7, None, checkpoint().states).unwrap();
        let dir = tmp.path().join("chk-7");
        let chain = [("src", 3, 128), ("agg", 3, 128)];
        // Rescale 2 -> 3: subtask 0 owns key groups 0..=42 (only old subtask 0's
        // keyed file) and receives both source positions.
        let restore = task_restore(7, &entries, &dir, &chain, 0);
        let files: Vec<(&str, u32)> = restore
            .state
            .iter()
            .map(|h| (h.uid.as_str(), h.subtask))
            .collect();
        assert_eq!(files, [("src", 0), ("src", 1), ("agg", 0)]);
        assert_eq!(restore.operators, ["src", "agg"]);
        assert_eq!(task_restore(7, &entries, &dir, &chain, 1).state.len(), 4);

        let loaded = load(&restore).unwrap();
        let whole = RestoredState::new(&checkpoint());
        for (uid, subtask) in [("src", 0), ("agg", 0)] {
            assert_eq!(
                loaded.for_subtask(uid, subtask, 3, 128),
                whole.for_subtask(uid, subtask, 3, 128),
                "{uid}"
            );
        }
        // An operator the checkpoint has no state for is not restored.
        let none = task_restore(7, &entries, &dir, &[("new", 3, 128)], 0);
        assert!(load(&none).unwrap().for_subtask("new", 0, 3, 128).is_none());
    }

    #[test]
    fn a_damaged_state_file_fails_the_load_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let store = crate::checkpoint::store::StateStore::new(Some(tmp.path().into()), 1);
        let entries = store.write(7, None, checkpoint().states).unwrap();
        let dir = tmp.path().join("chk-7");
        let restore = task_restore(7, &entries, &dir, &[("agg", 2, 128)], 1);
        let file = &restore.state[0].handles[0].location;
        let mut bytes = std::fs::read(file).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(file, bytes).unwrap();
        let err = load(&restore).err().unwrap().to_string();
        assert!(
            err.contains(file.as_str()) && err.contains("checksum"),
            "{err}"
        );
        std::fs::remove_file(file).unwrap();
        let err = load(&restore).err().unwrap().to_string();
        assert!(err.contains(file.as_str()), "{err}");
    }

    #[test]
    fn validation_names_what_does_not_fit() {
        let restored = RestoredState::new(&checkpoint());
        let job = BTreeMap::from([("src".to_string(), 128), ("agg".to_string(), 128)]);
        restored.validate(&job, false).unwrap();
        let changed = BTreeMap::from([("src".to_string(), 128), ("agg".to_string(), 256)]);
        let err = restored.validate(&changed, false).unwrap_err().to_string();
        assert!(err.contains("max parallelism"), "{err}");
        let fewer = BTreeMap::from([("src".to_string(), 128)]);
        let err = restored.validate(&fewer, false).unwrap_err().to_string();
        assert!(
            err.contains("agg") && err.contains("--allow-non-restored-state"),
            "{err}"
        );
        restored.validate(&fewer, true).unwrap();
    }

    #[test]
    fn a_checkpoint_must_cover_the_sources_of_the_job() {
        let path = std::path::Path::new("/ck/chk-7");
        let covered = RestoredState::check_coverage(&checkpoint(), path, &["src"], true);
        assert!(covered.unwrap().is_empty());
        let err = RestoredState::check_coverage(&checkpoint(), path, &["src", "src2"], true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("src2") && err.contains("/ck/chk-7"), "{err}");
        let told = RestoredState::check_coverage(&checkpoint(), path, &["src", "src2"], false);
        assert_eq!(told.unwrap(), vec!["src2".to_string()]);
        let empty = CompletedCheckpoint {
            id: 3,
            ..CompletedCheckpoint::default()
        };
        let err = RestoredState::check_coverage(&empty, path, &["src"], false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("covers no operator"), "{err}");
    }
}
