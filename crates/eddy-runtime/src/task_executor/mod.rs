//! The TaskExecutor: runs the tasks the JobMaster deploys to it, and talks to the
//! JobMaster only through the [`protocol`](crate::protocol)'s messages.
//!
//! ```text
//!  JobMaster ──ToTaskExecutor──▶ TaskExecutor::run ──▶ build the task (deploy.rs),
//!     ▲                               │               spawn it, keep its slot:
//!     │                               │               cancel, triggers, completions
//!     └────────ToJobMaster────────────┘◀── a task ends: FINISHED / CANCELED /
//!        (task states; tasks send their         FAILED with the cause
//!         checkpoint acks themselves)
//! ```
//!
//! A TaskExecutor serves one job attempt: the job's code (its [`JobSpec`]) is in
//! this binary, as in Flink's application mode, so a deployment descriptor names
//! its operators by vertex. Channels between its tasks are local
//! ([`channels`]). Messages for an attempt it does not run are ignored: they are
//! for an attempt that already ended.

pub mod channels;
mod deploy;
mod thread;

use std::collections::HashMap;
use std::sync::Arc;

use eddy_core::config::options;
use eddy_core::graph::VertexKind;
use eddy_core::time::Clock;
use eddy_core::{CheckpointBarrier, Config, Error, ExecutionAttemptId, JobId, Result};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::checkpoint::restore::{self, RestoredState};
use crate::checkpoint::store::StateStore;
use crate::factory::JobSpec;
use crate::network::{DataClient, Providers};
use crate::operator::{Counters, RunContext};
use crate::protocol::{
    CheckpointKind, ExecutionState, FailureCause, MetricsSnapshot, TaskDeploymentDescriptor,
    TaskExecutionState, ToJobMaster, ToTaskExecutor, TriggerCheckpoint,
};
use crate::task::{cancel_pair, CancelHandle, SourceTrigger, TaskControl};
use channels::LocalChannels;
use deploy::Environment;

/// What a TaskExecutor needs besides the messages: the job's code and
/// configuration, and this attempt's checkpointing connections.
pub struct TaskExecutorSetup {
    /// The job, with the factories of its operators.
    pub spec: Arc<JobSpec>,
    /// The job's configuration.
    pub config: Arc<Config>,
    /// Processing time.
    pub clock: Arc<dyn Clock>,
    /// The metrics registry the tasks count into.
    pub counters: Counters,
    /// Where tasks write their checkpoints' state (`None`: no checkpointing).
    pub store: Option<StateStore>,
    /// The state the tasks restore.
    pub restored: Option<Arc<RestoredState>>,
    /// Exactly-once (aligned) barriers, else at-least-once.
    pub exactly_once: bool,
    /// The run and attempt the tasks belong to.
    pub run: RunContext,
    /// Channels to and from other TaskManagers (`None` in a single process).
    pub network: Option<RemoteChannels>,
    /// Whether the tasks' metrics are sent to the JobMaster (every
    /// [`METRICS_INTERVAL`] and before each task's end), for a JobMaster in
    /// another process; in one process it reads the same registry.
    pub report_metrics: bool,
}

/// How often a TaskExecutor in another process than its JobMaster reports its
/// tasks' metrics.
pub const METRICS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// A TaskExecutor's link to the other TaskManagers of the cluster.
pub struct RemoteChannels {
    /// Receives the input channels produced elsewhere.
    pub client: Arc<DataClient>,
    /// Where this TaskManager's data port finds the attempt's channels.
    pub providers: Providers,
}

/// A deployed task's controls.
struct Slot {
    cancel: CancelHandle,
    /// Checkpoint triggers (source tasks with checkpointing).
    triggers: Option<mpsc::UnboundedSender<SourceTrigger>>,
    /// The latest completed checkpoint the task was told of.
    completed: watch::Sender<u64>,
}

/// Runs the tasks of one job attempt in this process.
pub struct TaskExecutor {
    env: Arc<Environment>,
    /// The data port's registry this executor's channels are served from.
    providers: Option<Providers>,
    report_metrics: bool,
    store: Option<StateStore>,
    job_id: JobId,
    job_master: mpsc::UnboundedSender<ToJobMaster>,
    slots: HashMap<ExecutionAttemptId, Slot>,
    running: JoinSet<(ExecutionAttemptId, Result<()>)>,
    spawned: HashMap<tokio::task::Id, ExecutionAttemptId>,
}

impl TaskExecutor {
    /// A TaskExecutor that reports to `job_master`.
    pub fn new(
        setup: TaskExecutorSetup,
        job_master: mpsc::UnboundedSender<ToJobMaster>,
    ) -> Result<Self> {
        let capacity = setup.config.get(&options::BUFFERS_PER_CHANNEL)?;
        let (client, providers) = match setup.network {
            Some(network) => (Some(network.client), Some(network.providers)),
            None => (None, None),
        };
        let attempt = setup.run.attempt;
        let env = Arc::new(Environment {
            spec: setup.spec,
            config: setup.config,
            clock: setup.clock,
            counters: setup.counters,
            channels: LocalChannels::new(capacity),
            restored: setup.restored,
            checkpointing: setup.store.is_some(),
            exactly_once: setup.exactly_once,
            run: setup.run,
            client,
        });
        if let Some(providers) = &providers {
            providers.insert(env.run.job_id, attempt, env.clone());
        }
        Ok(TaskExecutor {
            job_id: env.run.job_id,
            env,
            providers,
            report_metrics: setup.report_metrics,
            store: setup.store,
            job_master,
            slots: HashMap::new(),
            running: JoinSet::new(),
            spawned: HashMap::new(),
        })
    }

    /// Handles messages until the JobMaster hangs up, then cancels what still
    /// runs and waits for it. Every task's end is reported.
    pub async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<ToTaskExecutor>) {
        let mut connected = true;
        let mut metrics = tokio::time::interval(METRICS_INTERVAL);
        metrics.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = metrics.tick(), if self.report_metrics => self.send_metrics(),
                message = inbox.recv(), if connected => match message {
                    Some(message) => self.handle(message),
                    None => {
                        connected = false;
                        for slot in self.slots.values() {
                            slot.cancel.cancel();
                        }
                    }
                },
                Some(joined) = self.running.join_next_with_id(), if !self.running.is_empty() => {
                    self.ended(joined);
                }
                else => break,
            }
            if !connected && self.running.is_empty() {
                break;
            }
        }
        if let Some(providers) = &self.providers {
            providers.remove(self.job_id, self.env.run.attempt);
        }
    }

    fn handle(&mut self, message: ToTaskExecutor) {
        match message {
            ToTaskExecutor::DeployTask(tdd) => self.deploy(tdd),
            ToTaskExecutor::TriggerCheckpoint(trigger) => self.trigger(trigger),
            ToTaskExecutor::CheckpointComplete(complete) => {
                if let Some(slot) = self.slots.get(&complete.attempt) {
                    let id = complete.checkpoint_id.0;
                    // Never backwards: completions may arrive out of order.
                    slot.completed.send_if_modified(|latest| {
                        let newer = id > *latest;
                        *latest = (*latest).max(id);
                        newer
                    });
                }
            }
            ToTaskExecutor::CheckpointAborted(aborted) => {
                // Nothing of an aborted checkpoint stays with the task: its state
                // files are the storage's to delete.
                if let Some(store) = &self.store {
                    store.forget(aborted.checkpoint_id.0);
                }
            }
            ToTaskExecutor::CancelTask(cancel) => {
                if let Some(slot) = self.slots.get(&cancel.attempt) {
                    slot.cancel.cancel();
                }
            }
        }
    }

    fn deploy(&mut self, tdd: TaskDeploymentDescriptor) {
        let attempt = tdd.attempt;
        let is_source = self
            .env
            .spec
            .graph
            .vertex(attempt.vertex)
            .is_some_and(|v| v.kind == VertexKind::Source);
        let (cancel, signal) = cancel_pair();
        let restored = match &tdd.restore {
            Some(restore) => restore.checkpoint_id.0,
            None => self.env.restored.as_ref().map_or(0, |r| r.checkpoint_id),
        };
        let (completed, completed_rx) = watch::channel(restored);
        let checkpointing = self.env.checkpointing;
        let (triggers, triggers_rx) = match (is_source, checkpointing) {
            (true, true) => {
                let (tx, rx) = mpsc::unbounded_channel();
                (Some(tx), Some(rx))
            }
            _ => (None, None),
        };
        let counters = &self.env.counters;
        let control = TaskControl {
            job_id: self.job_id,
            attempt,
            job_master: checkpointing.then(|| self.job_master.clone()),
            completed: checkpointing.then_some(completed_rx),
            triggers: triggers_rx,
            sync_pause_max: checkpointing
                .then(|| counters.counter("checkpointSyncDurationMaxMicros")),
            sync_pause_last: checkpointing
                .then(|| counters.counter("lastCheckpointSyncDurationMicros")),
            store: self.store.clone(),
        };
        self.report(attempt, ExecutionState::Deploying, None);
        let env = self.env.clone();
        let job_master = self.job_master.clone();
        let job_id = self.job_id;
        let handle = self.running.spawn(async move {
            let run = async move {
                // The task reads its state files itself, on its own thread.
                let restored = match tdd.restore.clone() {
                    Some(restore) => Some(Arc::new(restore::load(&restore)?)),
                    None => env.restored.clone(),
                };
                let task = deploy::build(&env, &tdd, control, restored)?;
                let _ = job_master.send(ToJobMaster::TaskState(TaskExecutionState {
                    job_id,
                    attempt,
                    state: ExecutionState::Running,
                    failure: None,
                }));
                task.run(signal).await
            };
            (attempt, thread::on_own_thread(run).await)
        });
        self.spawned.insert(handle.id(), attempt);
        self.slots.insert(
            attempt,
            Slot {
                cancel,
                triggers,
                completed,
            },
        );
    }

    fn trigger(&mut self, trigger: TriggerCheckpoint) {
        let Some(triggers) = self
            .slots
            .get(&trigger.attempt)
            .and_then(|s| s.triggers.as_ref())
        else {
            return;
        };
        let (is_savepoint, drain) = match trigger.kind {
            CheckpointKind::Checkpoint => (false, false),
            CheckpointKind::Savepoint => (true, false),
            CheckpointKind::StopWithSavepoint { drain } => (true, drain),
        };
        // A task that ended no longer listens; the JobMaster learns of its end.
        let _ = triggers.send(SourceTrigger {
            barrier: CheckpointBarrier {
                checkpoint_id: trigger.checkpoint_id.0,
                timestamp: trigger.timestamp,
                is_savepoint,
                target: trigger.target,
            },
            drain,
            is_final: trigger.is_final,
        });
    }

    /// Reports the end of a task.
    fn ended(
        &mut self,
        joined: std::result::Result<
            (tokio::task::Id, (ExecutionAttemptId, Result<()>)),
            tokio::task::JoinError,
        >,
    ) {
        let (attempt, result) = match joined {
            Ok((id, outcome)) => {
                self.spawned.remove(&id);
                outcome
            }
            Err(join_error) => {
                let Some(attempt) = self.spawned.remove(&join_error.id()) else {
                    return;
                };
                let message = if join_error.is_panic() {
                    crate::chain::panic_message(join_error.into_panic().as_ref())
                } else {
                    "task aborted".to_string()
                };
                (
                    attempt,
                    Err(Error::Other(format!("a task panicked: {message}"))),
                )
            }
        };
        self.slots.remove(&attempt);
        if self.report_metrics {
            // The JobMaster stops listening once every task ended: the final
            // counts go first.
            self.send_metrics();
        }
        match result {
            Ok(()) => self.report(attempt, ExecutionState::Finished, None),
            Err(Error::Cancelled) => self.report(attempt, ExecutionState::Canceled, None),
            Err(e) => self.report(attempt, ExecutionState::Failed, Some(FailureCause::of(e))),
        }
    }

    /// Sends the tasks' metrics to the JobMaster.
    fn send_metrics(&self) {
        let counters = &self.env.counters;
        let _ = self.job_master.send(ToJobMaster::Metrics(MetricsSnapshot {
            job_id: self.job_id,
            reporter: String::new(),
            timestamp: self.env.clock.now_millis(),
            job: counters.job_values(),
            operators: counters.operator_metrics(),
            gauges: counters.operator_gauges(),
        }));
    }

    fn report(
        &self,
        attempt: ExecutionAttemptId,
        state: ExecutionState,
        failure: Option<FailureCause>,
    ) {
        // The JobMaster is gone only when the job is ending.
        let _ = self
            .job_master
            .send(ToJobMaster::TaskState(TaskExecutionState {
                job_id: self.job_id,
                attempt,
                state,
                failure,
            }));
    }
}
