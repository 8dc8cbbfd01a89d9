//! Restore planning: which parts of a checkpoint each new subtask receives.
//!
//! Keyed state and timers are split by key group: a new subtask receives the
//! snapshots of the old subtasks whose key-group ranges overlap its own (and keeps
//! only its own key groups when loading). Operator state (source positions, sink
//! transactions) is distributed as a union: every new subtask receives every old
//! subtask's operator state and takes its share.

use std::collections::{BTreeMap, BTreeSet};

use eddy_core::{Error, KeyGroupRange, Result};

use super::{CompletedCheckpoint, OperatorSubtaskState};
use crate::operator::OperatorSnapshot;

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
}
