//! How the JobMaster reaches the TaskExecutors of a job attempt: one in its own
//! process (the embedded "cluster of one"), or one per TaskManager of a slot
//! lease (the cluster). The JobMaster's messages are the same either way.

use std::collections::HashMap;

use eddy_core::ExecutionAttemptId;
use tokio::sync::mpsc;

use crate::cluster::SlotLease;
use crate::protocol::ToTaskExecutor;

/// The TaskExecutors of one job attempt.
pub(crate) enum Gateway {
    /// The TaskExecutor in this process; dropping the sender hangs up on it.
    Local(mpsc::UnboundedSender<ToTaskExecutor>),
    /// The TaskExecutors of the TaskManagers holding the attempt's slots, and
    /// where each task was deployed. Dropping the lease ends the attempt there.
    Cluster {
        lease: SlotLease,
        placement: HashMap<ExecutionAttemptId, String>,
    },
}

impl Gateway {
    /// Sends `message` to the TaskExecutor of the task it names.
    pub(crate) fn send(&self, message: ToTaskExecutor) {
        match self {
            Gateway::Local(tx) => {
                // The TaskExecutor lives until it is hung up on.
                let _ = tx.send(message);
            }
            Gateway::Cluster { lease, placement } => {
                if let Some(tm) = placement.get(&target(&message)) {
                    lease.send(tm, message);
                }
            }
        }
    }
}

/// The task a message is for.
fn target(message: &ToTaskExecutor) -> ExecutionAttemptId {
    match message {
        ToTaskExecutor::DeployTask(tdd) => tdd.attempt,
        ToTaskExecutor::TriggerCheckpoint(m) => m.attempt,
        ToTaskExecutor::CheckpointComplete(m) => m.attempt,
        ToTaskExecutor::CheckpointAborted(m) => m.attempt,
        ToTaskExecutor::CancelTask(m) => m.attempt,
    }
}
