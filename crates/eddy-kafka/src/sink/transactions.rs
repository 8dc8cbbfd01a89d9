//! Exactly-once delivery: one Kafka transaction per checkpoint interval.
//!
//! Subtask `s` writes the records after checkpoint `c - 1` into a transaction
//! with the id `<prefix>-<s>-<c>`. At barrier `c` the transaction is flushed
//! (pre-committed) and its records go into the checkpoint with it; when the
//! checkpoint completes, a commit marker (the checkpoint id, as the offset of
//! the group `<prefix>-<lineage>-<s>` on partition 0 of the topic, sent with
//! `send_offsets_to_transaction`) and the records are committed atomically.
//!
//! On recovery from checkpoint `r`, every pending transaction of the restored
//! state whose marker is below its checkpoint was never committed: its id is
//! initialised again (which aborts what the crashed producer left open) and
//! its records are written and committed in a new transaction with the marker.
//! Transactions a crashed run may have opened after `r` (ids
//! `<prefix>-<s>-<r+1>` .. `<prefix>-<s>-<r+ABORT_WINDOW>`) are aborted the same
//! way at start, so that no open transaction blocks `read_committed` readers.
//! A run restored at another parallelism takes over the states of the subtasks
//! `s` with `s % parallelism == subtask`.

use serde::{Deserialize, Serialize};

use crate::error::{KafkaError, KafkaResult};
use crate::record::ProducerRecord;

/// How many transaction ids after the restored checkpoint are aborted at start:
/// eddy starts the next checkpoint only once the last one is written, so a
/// crashed run has at most a few open beyond the latest complete one.
pub const ABORT_WINDOW: u64 = 3;

/// A flushed transaction waiting for its checkpoint to complete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTransaction {
    /// The checkpoint whose completion commits it.
    pub checkpoint_id: u64,
    /// Its transactional id.
    pub transactional_id: String,
    /// Its records, to write again if a crash interrupts the commit.
    pub records: Vec<ProducerRecord>,
}

/// What an exactly-once sink subtask puts in a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkState {
    /// The subtask that wrote it.
    pub subtask: u32,
    /// The checkpoint it was taken for.
    pub checkpoint_id: u64,
    /// The transactions not yet known to be committed, oldest first.
    pub pending: Vec<PendingTransaction>,
}

impl SinkState {
    /// The state's bytes.
    pub fn encode(&self) -> KafkaResult<Vec<u8>> {
        postcard::to_allocvec(self)
            .map_err(|e| KafkaError::State(format!("encoding the sink's transactions: {e}")))
    }

    /// Decodes the states of every subtask of the checkpointed run.
    pub fn decode_all(states: &[Vec<u8>]) -> KafkaResult<Vec<SinkState>> {
        states
            .iter()
            .filter(|b| !b.is_empty())
            .map(|b| {
                postcard::from_bytes(b).map_err(|e| {
                    KafkaError::State(format!("decoding the sink's transactions: {e}"))
                })
            })
            .collect()
    }
}

/// The transactional id of subtask `subtask` for the interval ending at `checkpoint_id`.
pub fn transactional_id(prefix: &str, subtask: u32, checkpoint_id: u64) -> String {
    format!("{prefix}-{subtask}-{checkpoint_id}")
}

/// The group whose committed offset marks the last committed checkpoint of
/// `subtask` in the lineage.
pub fn marker_group(prefix: &str, lineage: &str, subtask: u32) -> String {
    format!("{prefix}-{lineage}-{subtask}")
}

/// What subtask `subtask` of `parallelism` must do at start.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RecoveryPlan {
    /// Pending transactions to commit unless their marker says they were, with
    /// the subtask whose marker group they belong to.
    pub to_commit: Vec<(u32, PendingTransaction)>,
    /// Transactional ids to initialise, aborting what they left open.
    pub to_abort: Vec<String>,
    /// The checkpoint the run restored from (0 for a fresh start).
    pub restored_checkpoint: u64,
}

/// Plans the recovery of `subtask` from the states of the checkpointed run.
pub fn plan_recovery(
    prefix: &str,
    subtask: u32,
    parallelism: u32,
    states: &[SinkState],
) -> RecoveryPlan {
    let restored_checkpoint = states.iter().map(|s| s.checkpoint_id).max().unwrap_or(0);
    let mut owners: Vec<u32> = states
        .iter()
        .map(|s| s.subtask)
        .filter(|s| s % parallelism.max(1) == subtask)
        .collect();
    if !owners.contains(&subtask) {
        owners.push(subtask);
    }
    owners.sort_unstable();
    let mut to_commit: Vec<(u32, PendingTransaction)> = states
        .iter()
        .filter(|s| s.subtask % parallelism.max(1) == subtask)
        .flat_map(|s| s.pending.iter().map(move |p| (s.subtask, p.clone())))
        .collect();
    to_commit.sort_by_key(|(s, p)| (*s, p.checkpoint_id));
    let to_abort = owners
        .iter()
        .flat_map(|s| {
            (restored_checkpoint + 1..=restored_checkpoint + ABORT_WINDOW)
                .map(move |c| transactional_id(prefix, *s, c))
        })
        .collect();
    RecoveryPlan {
        to_commit,
        to_abort,
        restored_checkpoint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(c: u64, s: u32) -> PendingTransaction {
        PendingTransaction {
            checkpoint_id: c,
            transactional_id: transactional_id("p", s, c),
            records: vec![ProducerRecord::value(format!("r{c}"))],
        }
    }

    #[test]
    fn fresh_start_aborts_the_first_ids() {
        let plan = plan_recovery("p", 1, 2, &[]);
        assert_eq!(plan.restored_checkpoint, 0);
        assert!(plan.to_commit.is_empty());
        assert_eq!(plan.to_abort, vec!["p-1-1", "p-1-2", "p-1-3"]);
    }

    #[test]
    fn scale_in_takes_over_the_states_of_removed_subtasks() {
        let states = vec![
            SinkState {
                subtask: 0,
                checkpoint_id: 7,
                pending: vec![pending(7, 0)],
            },
            SinkState {
                subtask: 1,
                checkpoint_id: 7,
                pending: vec![pending(6, 1), pending(7, 1)],
            },
            SinkState {
                subtask: 2,
                checkpoint_id: 7,
                pending: vec![],
            },
        ];
        let plan = plan_recovery("p", 0, 2, &states);
        assert_eq!(plan.restored_checkpoint, 7);
        let commits: Vec<(u32, u64)> = plan
            .to_commit
            .iter()
            .map(|(s, p)| (*s, p.checkpoint_id))
            .collect();
        assert_eq!(commits, vec![(0, 7)]);
        assert!(plan.to_abort.contains(&"p-2-8".to_string()));
        assert!(plan.to_abort.contains(&"p-0-10".to_string()));
        assert!(!plan.to_abort.iter().any(|id| id.starts_with("p-1-")));
        let plan1 = plan_recovery("p", 1, 2, &states);
        let commits: Vec<u64> = plan1
            .to_commit
            .iter()
            .map(|(_, p)| p.checkpoint_id)
            .collect();
        assert_eq!(commits, vec![6, 7]);
    }

    #[test]
    fn states_round_trip_and_corruption_is_an_error() {
        let state = SinkState {
            subtask: 3,
            checkpoint_id: 9,
            pending: vec![pending(9, 3)],
        };
        let bytes = state.encode().expect("encode");
        assert_eq!(
            SinkState::decode_all(&[bytes, Vec::new()]).expect("decode"),
            vec![state]
        );
        assert!(SinkState::decode_all(&[vec![1, 2]]).is_err());
    }
}
