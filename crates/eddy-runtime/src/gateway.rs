//! How the JobMaster reaches the TaskExecutors of a job attempt: one in its own
//! process (the embedded "cluster of one"), or one per TaskManager of a slot
//! lease (the cluster). The JobMaster's messages are the same either way.

use std::collections::HashMap;
use std::sync::Arc;

use eddy_core::{Error, ExecutionAttemptId, Result};
use tokio::sync::mpsc;

use crate::cluster::{AttemptSetup, ResourceManager, SlotLease};
use crate::protocol::{TaskDeploymentDescriptor, ToJobMaster, ToTaskExecutor};

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
    /// Leases the slots of an attempt on the cluster, starts the attempt on
    /// their TaskManagers (their tasks' messages go to `events`) and places
    /// every task: subtask `i` of each vertex in slot `i`, its input channels
    /// from other TaskManagers marked remote with their producer's address.
    pub(crate) async fn lease(
        rm: &Arc<ResourceManager>,
        setup: AttemptSetup,
        deployments: &mut [TaskDeploymentDescriptor],
        events: mpsc::UnboundedSender<ToJobMaster>,
    ) -> Result<Gateway> {
        let slots = setup
            .graph
            .vertices
            .iter()
            .map(|v| v.parallelism)
            .max()
            .unwrap_or(1);
        let lease = rm
            .allocate(setup.job_id, setup.attempt, slots.max(1))
            .await?;
        lease.open(setup, events);
        let mut placement = HashMap::new();
        for tdd in deployments.iter_mut() {
            let tm = lease.task_manager(tdd.attempt.subtask).to_string();
            for &id in &tdd.inputs {
                let producer = lease.task_manager(id.producer);
                if producer != tm {
                    let address = lease
                        .data_address(producer)
                        .ok_or_else(|| Error::Other(format!("TaskManager {producer} was lost")))?;
                    tdd.remote_inputs.push((id, address));
                }
            }
            placement.insert(tdd.attempt, tm);
        }
        Ok(Gateway::Cluster { lease, placement })
    }

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
