//! The MiniCluster: runs a whole job in this process on a tokio runtime.
//!
//! It is the JobMaster of the job: it plans one deployment descriptor per task
//! ([`plan::deployments`]), hands them to a
//! [`TaskExecutor`] in the same process, and from then on talks to the tasks only
//! through the [`protocol`](crate::protocol)'s messages. With checkpointing on,
//! its control loop triggers checkpoints at the sources, collects the tasks'
//! acknowledgements (they write their own state), writes `_metadata` off the loop,
//! and notifies completion. The first failure cancels every other task; the job
//! then restarts from its latest complete checkpoint as the restart strategy
//! allows, or fails with that first error.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eddy_core::checkpointing::{
    CheckpointRetention, CheckpointingMode, CheckpointingOptions, RestartStrategy,
};
use eddy_core::config::options;
use eddy_core::graph::VertexKind;
use eddy_core::time::{now_millis, Clock, SystemClock};
use eddy_core::{CheckpointId, Config, Error, ExecutionAttemptId, JobGraph, JobId, Result};
use tokio::sync::mpsc;

use crate::checkpoint::coordinator::{Coordinator, Outcome};
use crate::checkpoint::restore::{self, RestoredState};
use crate::checkpoint::runs::{self, RunRecord, RunStatus};
use crate::checkpoint::store::StateStore;
use crate::checkpoint::TaskAck;
use crate::checkpoint::{storage, AcknowledgedCheckpoint, CompletedCheckpoint, OperatorEntry};
use crate::cluster::ha::{JobStore, StoredJob};
use crate::cluster::{AttemptSetup, ResourceManager};
use crate::factory::JobSpec;
use crate::gateway::Gateway;
use crate::jobs::{
    CompletedOperation, ControlRequest, JobHandle, JobInfo, JobRegistry, Operation,
    RestoredCheckpoint, Shared, TaskCheckpoint,
};
use crate::metrics::RemoteCounts;
use crate::operator::{Counters, RunContext};
use crate::plan;
use crate::protocol::{
    CancelTask, CheckpointAck, CheckpointComplete, CheckpointDecline, CheckpointKind,
    ExecutionState, TaskDeploymentDescriptor, TaskExecutionState, TaskInputEnded, TaskRestore,
    ToJobMaster, ToTaskExecutor, TriggerCheckpoint,
};
use crate::task::{cancel_pair, CancelSignal};
use crate::task_executor::{TaskExecutor, TaskExecutorSetup};

/// Configuration key: restore from `latest` (the newest complete checkpoint in the
/// checkpoint directory) or from a checkpoint or savepoint path (`-s`).
pub const RESTORE_PATH: &str = "execution.state-recovery.path";
/// Configuration key: allow a checkpoint with state for operators that are not in
/// the job (`--allow-non-restored-state`).
pub const ALLOW_NON_RESTORED: &str = "execution.state-recovery.ignore-unclaimed-state";

/// The job's status: Flink's job states, whose transitions are checked in one
/// place ([`JobStatus::transition`]).
pub use eddy_core::JobStatus;

/// What a finished job reports: its runtime and counters.
#[derive(Clone, Debug)]
pub struct JobExecutionResult {
    /// The job's name.
    pub job_name: String,
    /// Wall-clock time from start to finish.
    pub net_runtime: Duration,
    /// Counters summed over subtasks: `<operator>.numRecordsIn`,
    /// `<operator>.numRecordsOut`, `numRestarts`, `numberOfCompletedCheckpoints`,
    /// `numberOfFailedCheckpoints`, `lastCheckpointDuration` (ms),
    /// `lastCheckpointSize` (bytes), and user and connector counters.
    pub counters: BTreeMap<String, u64>,
    /// Every operator subtask's metrics, scoped by operator uid and subtask.
    pub operator_metrics: Vec<crate::metrics::OperatorMetric>,
    /// Every operator subtask's gauges at the end (watermarks, task times,
    /// user gauges and histograms).
    pub operator_gauges: Vec<crate::metrics::OperatorGauge>,
}

impl JobExecutionResult {
    /// A counter's value (0 if it never counted).
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }
}

/// Runs jobs in this process.
#[derive(Clone, Debug)]
pub struct MiniCluster {
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    counters: Counters,
    /// The cluster's TaskManagers, in a JobManager: jobs that can be built
    /// elsewhere (they carry an artifact) run there instead of in this process.
    cluster: Option<Arc<ResourceManager>>,
    /// The run a recovering JobManager resumes: the job starts from that run's
    /// newest complete checkpoint.
    recovering: Option<String>,
}

/// A handle to a running job: status, counters, savepoints, cancel, wait.
pub struct JobClient {
    handle: JobHandle,
    thread: Option<std::thread::JoinHandle<Result<JobExecutionResult>>>,
}

impl JobClient {
    /// The job's id.
    pub fn job_id(&self) -> JobId {
        self.handle.id()
    }

    /// The job's current status.
    pub fn status(&self) -> JobStatus {
        self.handle.status()
    }

    /// The counters so far.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        self.handle.counters()
    }

    /// Every operator subtask's metrics so far, scoped by operator uid.
    pub fn operator_metrics(&self) -> Vec<crate::metrics::OperatorMetric> {
        self.handle.operator_metrics()
    }

    /// What the job reported about restores and restarts (also printed to stderr).
    pub fn messages(&self) -> Vec<String> {
        self.handle.messages()
    }

    /// A handle for observers of the job (the one in [`JobRegistry::global`]).
    pub fn handle(&self) -> JobHandle {
        self.handle.clone()
    }

    /// Asks the job to stop; [`JobClient::wait`] then returns
    /// [`Error::Cancelled`].
    pub fn cancel(&self) {
        self.handle.cancel();
    }

    fn request_savepoint(&self, dir: &Path, stop: Option<bool>) -> Result<PathBuf> {
        let done = self.handle.savepoint(dir, stop).wait_blocking()?;
        Ok(done.path.unwrap_or_default())
    }

    /// Takes a savepoint into `dir` while the job keeps running; returns its path.
    /// Needs checkpointing to be configured.
    pub fn trigger_savepoint(&self, dir: impl AsRef<Path>) -> Result<PathBuf> {
        self.request_savepoint(dir.as_ref(), None)
    }

    /// Takes a savepoint into `dir` and stops the job. With `drain`, the sources
    /// end their input first, so every window and timer fires before the savepoint.
    pub fn stop_with_savepoint(&self, dir: impl AsRef<Path>, drain: bool) -> Result<PathBuf> {
        self.request_savepoint(dir.as_ref(), Some(drain))
    }

    /// Whether the job has ended ([`JobClient::wait`] then returns at once).
    pub fn is_done(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Waits for the job to end and returns its result.
    pub fn wait(mut self) -> Result<JobExecutionResult> {
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(Error::Other("the job's executor thread panicked".into()))),
            None => Err(Error::Other("the job was already waited for".into())),
        }
    }
}

impl Drop for JobClient {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.handle.cancel();
        }
    }
}

/// Everything a job run needs, moved into the job's thread.
struct JobRun {
    spec: Arc<JobSpec>,
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    counters: Counters,
    checkpointing: Option<CheckpointingOptions>,
    strategy: RestartStrategy,
    restored: Option<RestartPoint>,
    shared: Arc<Shared>,
    /// This run's id, lineage and record in the checkpoint directory.
    identity: RunIdentity,
    /// Attempts started so far (restarts included).
    attempt: u32,
    /// The cluster the job's tasks run on, if not in this process.
    cluster: Option<Arc<ResourceManager>>,
}

/// Who a run is: its id, its lineage, and (with a checkpoint directory) its record
/// there.
#[derive(Clone, Debug)]
pub struct RunIdentity {
    /// The run's job id.
    pub job_id: JobId,
    /// The run's lineage (see [`CompletedCheckpoint::lineage`]).
    pub lineage: String,
    /// The run's record and the checkpoint directory it lives in.
    record: Option<(PathBuf, RunRecord)>,
    /// Whether older runs of the lineage were already retired.
    retired_ancestors: bool,
}

impl RunIdentity {
    fn run_dir(&self) -> Option<PathBuf> {
        self.record
            .as_ref()
            .map(|(base, record)| base.join(&record.job_id))
    }

    fn set_status(&mut self, status: RunStatus) {
        if let Some((base, record)) = self.record.as_mut() {
            record.status = status;
            // Best effort: a record that cannot be updated still reads as a run
            // that may be resumed, which is the safe side.
            let _ = runs::write_record(base, record);
        }
    }
}

/// What a run restores from: a checkpoint (and its path), and the lineage to
/// continue.
#[derive(Default)]
struct Restore {
    checkpoint: Option<CompletedCheckpoint>,
    path: Option<PathBuf>,
    lineage: Option<String>,
}

impl MiniCluster {
    /// A MiniCluster with a configuration.
    pub fn new(config: Config) -> Self {
        MiniCluster {
            config: Arc::new(config),
            clock: Arc::new(SystemClock),
            counters: Counters::default(),
            cluster: None,
            recovering: None,
        }
    }

    /// Resumes run `job_id` (of a JobManager that was stopped or lost) from its
    /// newest complete checkpoint, as `-s latest` resumes the newest run.
    pub fn recovering(mut self, job_id: impl Into<String>) -> Self {
        self.recovering = Some(job_id.into());
        self
    }

    /// Runs jobs that carry an artifact on the TaskManagers of `rm`.
    pub fn with_resource_manager(mut self, rm: Option<Arc<ResourceManager>>) -> Self {
        self.cluster = rm;
        self
    }

    /// Uses `clock` for processing time (timers, TTL, periodic watermarks).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Reports into `counters` (shared with user functions that count).
    pub fn with_counters(mut self, counters: Counters) -> Self {
        self.counters = counters;
        self
    }

    /// Runs a job to its end.
    pub fn execute(&self, spec: JobSpec) -> Result<JobExecutionResult> {
        self.execute_async(spec)?.wait()
    }

    /// Starts a job and returns a client for it.
    pub fn execute_async(&self, spec: JobSpec) -> Result<JobClient> {
        // Configuration first: a bad value there is the cause of a bad graph too.
        eddy_core::config::validate::check(&self.config)?;
        // The file systems of checkpoints, savepoints and files (s3.* keys).
        eddy_fs::configure(self.config.iter());
        spec.graph.validate()?;
        if spec.edges.len() != spec.graph.edges.len() {
            return Err(Error::InvalidGraph(
                "every edge needs exactly one edge factory".into(),
            ));
        }
        let checkpointing = CheckpointingOptions::from_config(&self.config)?;
        let strategy = RestartStrategy::from_config(&self.config)?;
        let cluster = self.cluster.clone().filter(|_| spec.artifact.is_some());
        if cluster.is_some() && checkpointing.as_ref().is_some_and(|c| c.dir.is_none()) {
            return Err(Error::InvalidConfig {
                key: eddy_core::checkpointing::keys::DIR.into(),
                message: "a job on a cluster checkpoints into a directory every TaskManager \
                          can reach; set it"
                    .into(),
            });
        }
        warn_unknown_keys(&self.config);
        let job_id = JobId::generate();
        let info = JobInfo {
            id: job_id,
            name: spec.graph.name.clone(),
            start_time: now_millis(),
            graph: spec.graph.clone(),
            config: (*self.config).clone(),
            checkpointing: checkpointing.clone(),
        };
        let shared = Arc::new(Shared::new(info, self.counters.clone()));
        let restore = resolve_restore(
            &self.config,
            checkpointing.as_ref(),
            &spec,
            &shared,
            self.recovering.as_deref(),
        )?;
        if let (Some(checkpoint), path) = (&restore.checkpoint, &restore.path) {
            shared.checkpoints(|stats| {
                stats.restored(RestoredCheckpoint {
                    id: checkpoint.id,
                    is_savepoint: checkpoint.is_savepoint,
                    restore_timestamp: now_millis(),
                    external_path: path.clone(),
                })
            });
        }
        let lineage = restore.lineage.clone().unwrap_or_else(|| job_id.short());
        let mut identity = RunIdentity {
            job_id,
            lineage,
            record: None,
            retired_ancestors: false,
        };
        if let Some(base) = checkpointing.as_ref().and_then(|c| c.dir.clone()) {
            let record = RunRecord {
                job: spec.graph.name.clone(),
                job_id: job_id.to_string(),
                lineage: identity.lineage.clone(),
                shape: job_shape(&spec),
                started: now_millis(),
                restored_from: restore.path.clone(),
                status: RunStatus::Running,
            };
            // Fails the job at once, naming the path, when the directory cannot be
            // written: checkpoints would fail forever otherwise.
            runs::write_record(&base, &record)?;
            identity.record = Some((base, record));
        }
        // The checkpoint was read whole to verify it; the tasks read their own
        // parts again, so no copy of the state stays here.
        let restored = match (restore.checkpoint, restore.path) {
            (Some(checkpoint), Some(path)) => Some(RestartPoint::Disk {
                id: checkpoint.id,
                path,
            }),
            (Some(checkpoint), None) => Some(RestartPoint::Memory { checkpoint }),
            (None, _) => None,
        };
        let threads = match self.config.get(&options::LOCAL_THREADS)? {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("eddy-task")
            // Operators evaluate user expressions recursively (the SQL front
            // allows 1000 levels); the stack is reserved, not committed.
            .thread_stack_size(TASK_STACK)
            .enable_all()
            .build()
            .map_err(|e| Error::Other(format!("cannot start the task runtime: {e}")))?;
        // A job on the cluster is kept in the job store while it runs, so a
        // JobManager started again resumes it.
        let store = match (&cluster, &spec.artifact) {
            (Some(_), Some(artifact)) => JobStore::from_config(&self.config)?.map(|store| {
                let job = StoredJob {
                    job_id: job_id.to_string(),
                    name: spec.graph.name.clone(),
                    artifact: artifact.clone(),
                    config: self.config.to_map(),
                };
                store.put(&job).map(|()| store)
            }),
            _ => None,
        }
        .transpose()?;
        let (cancel, signal) = cancel_pair();
        let (requests, control_requests) = mpsc::unbounded_channel();
        let run = JobRun {
            spec: Arc::new(spec),
            config: self.config.clone(),
            clock: self.clock.clone(),
            counters: self.counters.clone(),
            checkpointing,
            strategy,
            restored,
            shared: shared.clone(),
            identity,
            attempt: 0,
            cluster,
        };
        let thread = std::thread::Builder::new()
            .name("eddy-job".into())
            .spawn(move || {
                let outcome = runtime.block_on(run.run(signal, control_requests));
                runtime.shutdown_timeout(Duration::from_secs(1));
                if let Some(store) = store {
                    store.remove(&job_id.to_string());
                }
                outcome
            })
            .map_err(|e| Error::Other(format!("cannot start the job thread: {e}")))?;
        let handle = JobHandle::new(shared, cancel, requests);
        JobRegistry::global().register(handle.clone());
        Ok(JobClient {
            handle,
            thread: Some(thread),
        })
    }
}

/// The stack of the threads that run tasks.
pub const TASK_STACK: usize = 64 << 20;

/// The shape of a job: a checksum of its operator uids.
fn job_shape(spec: &JobSpec) -> String {
    runs::shape(spec.graph.vertices.iter().map(|v| v.uid.as_str()))
}

/// Warns once per process about each configuration key eddy does not read.
fn warn_unknown_keys(config: &Config) {
    static WARNED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let mut warned = WARNED.lock().unwrap_or_else(|p| p.into_inner());
    for (key, nearest) in eddy_core::config::validate::unknown_keys(config, &[]) {
        if warned.insert(key.clone()) {
            let hint = nearest
                .map(|k| format!(" (did you mean '{k}'?)"))
                .unwrap_or_default();
            eprintln!("eddy: warning: unknown configuration key '{key}'{hint}; it has no effect");
        }
    }
}

/// The checkpoint to restore from, as `execution.state-recovery.path` says.
fn resolve_restore(
    config: &Config,
    checkpointing: Option<&CheckpointingOptions>,
    spec: &JobSpec,
    shared: &Shared,
    recovering: Option<&str>,
) -> Result<Restore> {
    let path = match (recovering, config.get_str(RESTORE_PATH)) {
        (Some(_), _) => "latest",
        (None, Some(path)) => path,
        (None, None) => return Ok(Restore::default()),
    };
    let path = path.trim();
    if path.is_empty() {
        return Err(Error::InvalidConfig {
            key: RESTORE_PATH.into(),
            message: "is empty; give 'latest' or the path of a checkpoint or savepoint".into(),
        });
    }
    let resuming = path == "latest";
    let (checkpoint, path) = if resuming {
        let Some(dir) = checkpointing.and_then(|c| c.dir.as_ref()) else {
            return Err(Error::InvalidConfig {
                key: RESTORE_PATH.into(),
                message: "'-s latest' needs execution.checkpointing.dir (and an interval)".into(),
            });
        };
        let latest = match recovering {
            Some(run) => runs::resolve_run(dir, run),
            None => runs::resolve_latest(dir, &spec.graph.name, &job_shape(spec))?,
        };
        for message in latest.messages {
            shared.say(message);
        }
        match latest.checkpoint {
            Some((path, checkpoint)) => {
                shared.say(format!(
                    "restoring job '{}' from checkpoint {} at {}",
                    spec.graph.name,
                    checkpoint.id,
                    path.display()
                ));
                (checkpoint, path)
            }
            None => {
                let what = match &latest.lineage {
                    Some(_) => {
                        "; output the earlier runs committed is set aside, not written twice"
                    }
                    None => "",
                };
                shared.say(format!(
                    "no complete checkpoint of job '{}' in {}; starting from the beginning \
                     (uncommitted output of earlier runs is discarded{what})",
                    spec.graph.name,
                    dir.display()
                ));
                return Ok(Restore {
                    lineage: latest.lineage,
                    ..Restore::default()
                });
            }
        }
    } else {
        let checkpoint = storage::read(Path::new(path))?;
        shared.say(format!(
            "restoring from {} {} at {path}",
            if checkpoint.is_savepoint {
                "savepoint"
            } else {
                "checkpoint"
            },
            checkpoint.id,
        ));
        (checkpoint, PathBuf::from(path))
    };
    let allow = config
        .get_str(ALLOW_NON_RESTORED)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let operators: BTreeMap<String, u32> = spec
        .graph
        .vertices
        .iter()
        .map(|v| (v.uid.clone(), v.max_parallelism))
        .collect();
    let restored = RestoredState::new(&checkpoint);
    restored.validate(&operators, allow)?;
    let sources: Vec<&str> = spec
        .graph
        .vertices
        .iter()
        .filter(|v| v.kind == VertexKind::Source)
        .map(|v| v.uid.as_str())
        .collect();
    for uid in RestoredState::check_coverage(&checkpoint, &path, &sources, resuming)? {
        shared.say(format!(
            "source '{uid}' has no state in {}: it reads its input from the beginning",
            path.display()
        ));
    }
    let lineage = (!checkpoint.lineage.is_empty()).then(|| checkpoint.lineage.clone());
    Ok(Restore {
        checkpoint: Some(checkpoint),
        path: Some(path),
        lineage,
    })
}

impl JobRun {
    async fn run(
        mut self,
        mut cancel: CancelSignal,
        mut requests: mpsc::UnboundedReceiver<ControlRequest>,
    ) -> Result<JobExecutionResult> {
        let started = Instant::now();
        let restarts = self.counters.counter("numRestarts");
        let mut attempt = 0u32;
        let mut repeated = RepeatedFailure::default();
        self.shared.set_status(JobStatus::Running);
        let outcome = loop {
            self.attempt += 1;
            let result = self.run_attempt(&mut cancel, &mut requests).await;
            match result {
                Ok(()) => break Ok(()),
                Err(Error::Cancelled) => break Err(Error::Cancelled),
                Err(e) => {
                    attempt += 1;
                    let Some(delay) = self.strategy.delay_before(attempt) else {
                        self.shared.failed(&e, false);
                        break Err(e);
                    };
                    let from = self.restored.as_ref().map_or(0, RestartPoint::id);
                    if repeated.record(from, &e) && self.strategy.is_unbounded() {
                        self.shared.say(format!(
                            "the job failed {} times in a row with the same error from {}; \
                             not restarting it again",
                            repeated.count,
                            match from {
                                0 => "the beginning".to_string(),
                                id => format!("checkpoint {id}"),
                            }
                        ));
                        self.shared.failed(&e, false);
                        break Err(e);
                    }
                    self.shared.failed(&e, true);
                    self.shared.set_status(JobStatus::Restarting);
                    self.shared.say(format!(
                        "job failed ({e}); restart {attempt} in {delay:?} from {}",
                        match &self.restored {
                            Some(c) => format!("checkpoint {}", c.id()),
                            None => "the beginning".to_string(),
                        }
                    ));
                    restarts.fetch_add(1, Ordering::Relaxed);
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = cancel.cancelled() => break Err(Error::Cancelled),
                    }
                    if let Some(point) = &self.restored {
                        let (id, external_path) = point.origin();
                        self.shared.checkpoints(|stats| {
                            stats.restored(RestoredCheckpoint {
                                id,
                                is_savepoint: false,
                                restore_timestamp: now_millis(),
                                external_path,
                            })
                        });
                    }
                    self.shared.set_status(JobStatus::Running);
                }
            }
        };
        let run_dir = self.identity.run_dir();
        let status = match &outcome {
            Ok(()) => {
                // A finished job's checkpoints are never resumed (as in Flink, they
                // are discarded); its record stays and says it finished.
                self.identity.set_status(RunStatus::Finished);
                if let Some(dir) = &run_dir {
                    storage::delete_all(dir);
                }
                JobStatus::Finished
            }
            Err(Error::Cancelled) => {
                self.identity.set_status(RunStatus::Canceled);
                let delete = self
                    .checkpointing
                    .as_ref()
                    .is_some_and(|c| c.retention == CheckpointRetention::DeleteOnCancellation);
                if let (true, Some(dir)) = (delete, &run_dir) {
                    storage::delete_all(dir);
                }
                JobStatus::Canceled
            }
            Err(_) => {
                self.identity.set_status(RunStatus::Failed);
                JobStatus::Failed
            }
        };
        self.shared.end_with(status);
        outcome.map(|()| JobExecutionResult {
            job_name: self.spec.graph.name.clone(),
            net_runtime: started.elapsed(),
            counters: self.counters.values(),
            operator_metrics: self.counters.operator_metrics(),
            operator_gauges: self.counters.operator_gauges(),
        })
    }

    /// Runs the job once, from `self.restored`; keeps the latest completed
    /// checkpoint in `self.restored` for the next attempt.
    async fn run_attempt(
        &mut self,
        external: &mut CancelSignal,
        requests: &mut mpsc::UnboundedReceiver<ControlRequest>,
    ) -> Result<()> {
        let restoring = match self.restored.take() {
            None => None,
            Some(point) => {
                let (restoring, keep) = point.load()?;
                self.restored = Some(keep);
                Some(restoring)
            }
        };
        let restored_id = self.restored.as_ref().map_or(0, RestartPoint::id);
        let next_id = restored_id + 1;
        let checkpointing = self.checkpointing.clone();
        let store = checkpointing
            .as_ref()
            .map(|_| StateStore::new(self.identity.run_dir(), self.attempt));
        let job_id = self.identity.job_id;
        let exactly_once = checkpointing
            .as_ref()
            .is_none_or(|c| c.mode == CheckpointingMode::ExactlyOnce);
        let (to_job_master, mut events) = mpsc::unbounded_channel();
        let mut deployments = plan::deployments(&self.spec.graph, job_id, self.attempt - 1);
        if let Some(Restoring::Disk { id, dir, entries }) = &restoring {
            for tdd in &mut deployments {
                tdd.restore = Some(task_restore(&self.spec.graph, *id, dir, entries, tdd));
            }
        }
        let (gateway, task_executor) = match self.cluster.clone() {
            None => {
                let (to_task_executor, inbox) = mpsc::unbounded_channel();
                let task_executor = TaskExecutor::new(
                    TaskExecutorSetup {
                        spec: self.spec.clone(),
                        config: self.config.clone(),
                        clock: self.clock.clone(),
                        counters: self.counters.clone(),
                        store: store.clone(),
                        restored: match &restoring {
                            Some(Restoring::Memory(state)) => Some(state.clone()),
                            _ => None,
                        },
                        exactly_once,
                        run: RunContext {
                            job_id,
                            lineage: self.identity.lineage.clone(),
                            attempt: self.attempt,
                        },
                        network: None,
                        report_metrics: false,
                    },
                    to_job_master,
                )?;
                (
                    Gateway::Local(to_task_executor),
                    Some(tokio::spawn(task_executor.run(inbox))),
                )
            }
            Some(rm) => {
                let setup = self.attempt_setup(exactly_once)?;
                let gateway = tokio::select! {
                    gateway = Gateway::lease(&rm, setup, &mut deployments, to_job_master) => gateway?,
                    _ = external.cancelled() => return Err(Error::Cancelled),
                };
                (gateway, None)
            }
        };
        let num_tasks = deployments.len();
        let tasks = Tasks::new(&self.spec.graph, &deployments);
        for tdd in deployments {
            gateway.send(ToTaskExecutor::DeployTask(tdd));
        }
        let cancel_tasks = |ended: &HashSet<ExecutionAttemptId>| {
            for &attempt in tasks.index.keys().filter(|a| !ended.contains(a)) {
                gateway.send(ToTaskExecutor::CancelTask(CancelTask { job_id, attempt }));
            }
        };
        let mut ended: HashSet<ExecutionAttemptId> = HashSet::new();
        // What each remote operator counter reported so far in this attempt.
        let mut reported = RemoteCounts::default();
        let mut first_error: Option<Error> = None;
        let mut stopped = false;

        let mut coordinator = checkpointing.as_ref().map(|c| {
            Coordinator::new(num_tasks, next_id, c.max_concurrent, c.min_pause, c.timeout)
        });
        let interval = checkpointing
            .as_ref()
            .map_or(Duration::from_secs(3600), |c| c.interval);
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut expiry = tokio::time::interval(Duration::from_millis(20));
        let mut finished_sources: HashSet<ExecutionAttemptId> = HashSet::new();
        let mut started_at: HashMap<u64, Instant> = HashMap::new();
        let mut waiting_savepoints: HashMap<u64, (ControlRequest, Option<PathBuf>)> =
            HashMap::new();
        let mut failures = FailedCheckpoints {
            consecutive: 0,
            tolerable: checkpointing.as_ref().map_or(0, |c| c.tolerable_failed),
            counter: self.counters.counter("numberOfFailedCheckpoints"),
        };
        let mut writes = WriteQueue::default();
        // Once a stop-with-savepoint is requested no other checkpoint may complete:
        // its commits would hold records after the savepoint.
        let mut stopping = false;
        let completed_counter = self.counters.counter("numberOfCompletedCheckpoints");
        let duration_counter = self.counters.counter("lastCheckpointDuration");
        let size_counter = self.counters.counter("lastCheckpointSize");

        let job_slug = storage::slug(&self.spec.graph.name);
        let shared = self.shared.clone();
        // Triggers a checkpoint, or a savepoint into a new directory under
        // `savepoint`, whose path is returned with the id.
        let trigger = |coordinator: &mut Option<Coordinator>,
                       started_at: &mut HashMap<u64, Instant>,
                       finished_sources: &HashSet<ExecutionAttemptId>,
                       savepoint: Option<&Path>,
                       stop: Option<bool>|
         -> Option<(u64, Option<PathBuf>)> {
            let is_final = finished_sources.len() == tasks.sources.len();
            let c = coordinator.as_mut()?;
            let timestamp = now_millis();
            let is_savepoint = savepoint.is_some();
            let id = c.trigger(Instant::now(), timestamp, is_savepoint)?;
            started_at.insert(id, Instant::now());
            shared.checkpoints(|stats| stats.triggered(id, timestamp, is_savepoint, num_tasks));
            let target =
                savepoint.map(|dir| dir.join(format!("savepoint-{job_slug}-{id}-{timestamp:x}")));
            let kind = match (is_savepoint, stop) {
                (false, _) => CheckpointKind::Checkpoint,
                (true, None) => CheckpointKind::Savepoint,
                (true, Some(drain)) => CheckpointKind::StopWithSavepoint { drain },
            };
            for &attempt in &tasks.sources {
                gateway.send(ToTaskExecutor::TriggerCheckpoint(TriggerCheckpoint {
                    job_id,
                    attempt,
                    checkpoint_id: CheckpointId(id),
                    timestamp,
                    kind,
                    is_final,
                    target: target.as_ref().map(|t| t.display().to_string()),
                }));
            }
            Some((id, target))
        };

        // Every input ended and the final checkpoint, which commits all output, is
        // still to be triggered (it waits while another checkpoint is in progress).
        let mut final_due = false;
        loop {
            if final_due && !stopping {
                final_due = trigger(
                    &mut coordinator,
                    &mut started_at,
                    &finished_sources,
                    None,
                    None,
                )
                .is_none();
            }
            tokio::select! {
                Some(event) = events.recv() => match event {
                    ToJobMaster::TaskState(TaskExecutionState { attempt, state, failure, .. }) => {
                        if !state.is_terminal() || !ended.insert(attempt) {
                            continue;
                        }
                        if let Some(cause) = failure {
                            record_failure(&mut first_error, cause.into_error());
                            cancel_tasks(&ended);
                        } else if state == ExecutionState::Canceled {
                            record_failure(&mut first_error, Error::Cancelled);
                        }
                        if ended.len() == num_tasks {
                            break;
                        }
                    }
                    ToJobMaster::AcknowledgeCheckpoint(ack) => {
                        let Some(c) = coordinator.as_mut() else { continue };
                        let id = ack.checkpoint_id.0;
                        let stats = task_checkpoint(&ack);
                        self.shared.checkpoints(|s| s.acknowledged(id, stats));
                        let ack = match tasks.ack(ack) {
                            Ok(ack) => ack,
                            Err(e) => {
                                record_failure(&mut first_error, e);
                                cancel_tasks(&ended);
                                continue;
                            }
                        };
                        if let Outcome::Complete(checkpoint) = c.acknowledge(ack, Instant::now()) {
                            // `_metadata` is written off the control loop: failures,
                            // savepoint requests and cancellation are handled meanwhile.
                            let started = started_at.remove(&checkpoint.id).unwrap_or_else(Instant::now);
                            let request = waiting_savepoints.remove(&checkpoint.id);
                            let newer = checkpoint.id;
                            for subsumed in writes.push(checkpoint, request, started) {
                                c.written(subsumed, false, Instant::now());
                                let why = format!("subsumed by checkpoint {newer} before it was written");
                                self.shared.checkpoint_failed(subsumed, &why);
                                if let Some(store) = &store {
                                    store.forget(subsumed);
                                }
                            }
                            writes.start_next(self, store.as_ref());
                        }
                    }
                    ToJobMaster::DeclineCheckpoint(CheckpointDecline { checkpoint_id, attempt: task, cause, .. }) => {
                        let (checkpoint_id, error) = (checkpoint_id.0, cause.into_error());
                        let Some(c) = coordinator.as_mut() else { continue };
                        if !c.pending_ids().contains(&checkpoint_id) {
                            continue;
                        }
                        c.abort(checkpoint_id);
                        started_at.remove(&checkpoint_id);
                        if let Some(store) = &store {
                            store.forget(checkpoint_id);
                        }
                        let why = format!("task {task} could not write its state: {error}");
                        self.shared.say(format!("checkpoint {checkpoint_id} failed: {why}"));
                        self.shared.checkpoint_failed(checkpoint_id, &why);
                        if let Some(e) = failures.failed(checkpoint_id, &why) {
                            record_failure(&mut first_error, e);
                            cancel_tasks(&ended);
                        } else if finished_sources.len() == tasks.sources.len() && !tasks.sources.is_empty() {
                            // The final checkpoint must complete for the output to commit.
                            final_due = true;
                        }
                        if let Some((request, _)) = waiting_savepoints.remove(&checkpoint_id) {
                            let _ = request.reply.send(Err(error));
                        }
                    }
                    ToJobMaster::InputEnded(TaskInputEnded { attempt, .. }) => {
                        finished_sources.insert(attempt);
                        final_due = finished_sources.len() == tasks.sources.len() && coordinator.is_some();
                    }
                    ToJobMaster::Metrics(snapshot) => self.counters.add_remote(&mut reported, snapshot),
                },
                Some(joined) = writes.in_flight.join_next(), if !writes.in_flight.is_empty() => {
                    writes.start_next(self, store.as_ref());
                    let Written { checkpoint_id, took, request, result } = match joined {
                        Ok(written) => written,
                        Err(e) => {
                            record_failure(&mut first_error, Error::Other(format!("the checkpoint writer failed: {e}")));
                            cancel_tasks(&ended);
                            continue;
                        }
                    };
                    if let Some(c) = coordinator.as_mut() {
                        c.written(checkpoint_id, result.is_ok(), Instant::now());
                    }
                    if let Some(store) = &store {
                        store.forget(checkpoint_id);
                    }
                    match result {
                        Ok(done) => {
                            self.identity.retired_ancestors |= done.retired;
                            failures.consecutive = 0;
                            completed_counter.fetch_add(1, Ordering::Relaxed);
                            duration_counter.store(took.as_millis() as u64, Ordering::Relaxed);
                            size_counter.store(done.size, Ordering::Relaxed);
                            self.shared.checkpoint_completed(checkpoint_id, done.size, done.path.clone(), took);
                            if done.is_savepoint {
                                self.shared.say(savepoint_completed(checkpoint_id, done.path.as_deref()));
                            }
                            let stop = request.as_ref().and_then(|(r, _)| match r.operation {
                                Operation::Savepoint { stop, .. } => stop,
                                Operation::Checkpoint => None,
                            });
                            let path = done.path.clone();
                            self.keep_newest(done);
                            // Never backwards: writes may finish out of order.
                            for &attempt in tasks.index.keys() {
                                gateway.send(ToTaskExecutor::CheckpointComplete(CheckpointComplete {
                                    job_id,
                                    attempt,
                                    checkpoint_id: CheckpointId(checkpoint_id),
                                }));
                            }
                            if let Some((request, _)) = request {
                                let _ = request.reply.send(Ok(CompletedOperation { checkpoint_id, path }));
                            }
                            if stop == Some(false) {
                                stopped = true;
                                cancel_tasks(&ended);
                            }
                        }
                        Err(e) => {
                            self.shared.say(format!("checkpoint {checkpoint_id} could not be written: {e}"));
                            let why = format!("it could not be written: {e}");
                            self.shared.checkpoint_failed(checkpoint_id, &why);
                            if let Some(error) = failures.failed(checkpoint_id, &e.to_string()) {
                                record_failure(&mut first_error, error);
                                cancel_tasks(&ended);
                            } else if finished_sources.len() == tasks.sources.len() && !tasks.sources.is_empty() {
                                // The final checkpoint must complete for the output to commit.
                                final_due = true;
                            }
                            if let Some((request, _)) = request {
                                let _ = request.reply.send(Err(e));
                            }
                        }
                    }
                }
                _ = ticker.tick(), if coordinator.is_some() && !stopping => {
                    trigger(&mut coordinator, &mut started_at, &finished_sources, None, None);
                }
                _ = expiry.tick(), if coordinator.is_some() => {
                    let expired = coordinator.as_mut().map(|c| c.expire(Instant::now())).unwrap_or_default();
                    for id in expired {
                        started_at.remove(&id);
                        if let Some(store) = &store {
                            store.forget(id);
                        }
                        if let Some((request, _)) = waiting_savepoints.remove(&id) {
                            let _ = request.reply.send(Err(Error::Other(format!("checkpoint {id} timed out"))));
                        }
                        self.shared.checkpoint_failed(id, "it expired before completing");
                        if let Some(e) = failures.failed(id, "it expired before completing") {
                            record_failure(&mut first_error, e);
                            cancel_tasks(&ended);
                        }
                        if finished_sources.len() == tasks.sources.len() && !tasks.sources.is_empty() {
                            final_due = true;
                        }
                    }
                }
                Some(request) = requests.recv() => {
                    let what = match request.operation {
                        Operation::Savepoint { .. } => "savepoints",
                        Operation::Checkpoint => "checkpoints",
                    };
                    if coordinator.is_none() {
                        let _ = request.reply.send(Err(Error::InvalidConfig {
                            key: eddy_core::checkpointing::keys::INTERVAL.into(),
                            message: format!("{what} need checkpointing to be configured"),
                        }));
                        continue;
                    }
                    if stopping {
                        let _ = request.reply.send(Err(Error::Other("the job is stopping".into())));
                        continue;
                    }
                    let (dir, stop) = match &request.operation {
                        Operation::Savepoint { dir, stop } => (Some(dir.clone()), *stop),
                        Operation::Checkpoint => (None, None),
                    };
                    if stop.is_some() {
                        stopping = true;
                        // Checkpoints already in flight must not complete after it.
                        if let Some(c) = coordinator.as_mut() {
                            for id in c.pending_ids() {
                                c.abort(id);
                                self.shared.checkpoint_failed(id, "aborted: the job stops with a savepoint");
                            }
                        }
                    }
                    match trigger(&mut coordinator, &mut started_at, &finished_sources, dir.as_deref(), stop) {
                        Some((id, target)) => {
                            waiting_savepoints.insert(id, (request, target));
                        }
                        None => {
                            let why = format!("the {} could not be triggered (another one is in progress or the minimum pause has not passed)", &what[..what.len() - 1]);
                            let _ = request.reply.send(Err(Error::Other(why)));
                        }
                    }
                }
                _ = external.cancelled(), if first_error.is_none() => {
                    first_error = Some(Error::Cancelled);
                    cancel_tasks(&ended);
                }
            }
        }
        // Writes still in flight finish: a checkpoint they complete is where the
        // next attempt restarts from; and no task's write of this attempt goes on
        // into the next.
        writes.start_next(self, store.as_ref());
        while let Some(joined) = writes.in_flight.join_next().await {
            writes.start_next(self, store.as_ref());
            if let Ok(Written {
                result,
                request,
                took,
                ..
            }) = joined
            {
                let reply = match result {
                    Ok(done) => {
                        let (checkpoint_id, path) = (done.id, done.path.clone());
                        self.shared.checkpoint_completed(
                            checkpoint_id,
                            done.size,
                            path.clone(),
                            took,
                        );
                        if done.is_savepoint {
                            self.shared
                                .say(savepoint_completed(checkpoint_id, path.as_deref()));
                        }
                        self.keep_newest(done);
                        Ok(CompletedOperation {
                            checkpoint_id,
                            path,
                        })
                    }
                    Err(e) => Err(e),
                };
                if let Some((request, _)) = request {
                    let _ = request.reply.send(reply);
                }
            }
        }
        for (_, (request, _)) in waiting_savepoints.drain() {
            let _ = request.reply.send(Err(Error::Other(
                "the job stopped before the savepoint completed".into(),
            )));
        }
        self.shared
            .checkpoints(|stats| stats.fail_in_progress(now_millis(), "the job attempt ended"));
        if let Some(store) = &store {
            store.idle().await;
        }
        // Every task ended: the TaskExecutor stops once it is hung up on (on a
        // cluster, the lease ends the attempt on its TaskManagers).
        drop(gateway);
        if let Some(task_executor) = task_executor {
            let _ = task_executor.await;
        }
        // Stopped with a savepoint: the tasks were cancelled, and a task that
        // saw its neighbour go first reports that, not a failure.
        if stopped && first_error.as_ref().is_none_or(is_secondary) {
            return Ok(());
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// What the TaskManagers of this attempt are told about it.
    fn attempt_setup(&self, exactly_once: bool) -> Result<AttemptSetup> {
        let artifact = self.spec.artifact.clone().ok_or_else(|| {
            Error::InvalidGraph("a job on a cluster needs an artifact to build it from".into())
        })?;
        // Every process must find the same directory, whatever its own cwd.
        let run_dir = match self.identity.run_dir() {
            Some(dir) if eddy_fs::is_remote(&dir) => Some(dir.display().to_string()),
            Some(dir) => Some(
                std::path::absolute(&dir)
                    .map_err(|e| Error::io(dir, e))?
                    .display()
                    .to_string(),
            ),
            None => None,
        };
        Ok(AttemptSetup {
            job_id: self.identity.job_id,
            attempt: self.attempt,
            lineage: self.identity.lineage.clone(),
            artifact,
            config: self.config.to_map(),
            graph: self.spec.graph.clone(),
            run_dir,
            checkpointing: self.checkpointing.is_some(),
            exactly_once,
        })
    }

    /// Completes a checkpoint whose state the tasks wrote: writes its `_metadata`
    /// into its directory (the run's `chk-<id>`, or the savepoint's own), then
    /// prunes old checkpoints, and retires the lineage's older runs once this one
    /// holds enough complete checkpoints. A job without a checkpoint directory takes
    /// the state from memory instead.
    fn persist(
        &self,
        acked: AcknowledgedCheckpoint,
        savepoint_target: Option<PathBuf>,
        store: Option<&StateStore>,
    ) -> impl std::future::Future<Output = Result<Persisted>> + Send + 'static {
        let job = self.spec.graph.name.clone();
        let job_id = self.identity.job_id.to_string();
        let mut checkpoint = CompletedCheckpoint {
            id: acked.id,
            timestamp: acked.timestamp,
            is_savepoint: acked.is_savepoint,
            states: Vec::new(),
            lineage: self.identity.lineage.clone(),
            operators: self
                .spec
                .graph
                .vertices
                .iter()
                .map(|v| OperatorEntry {
                    uid: v.uid.clone(),
                    parallelism: v.parallelism,
                    source: v.kind == VertexKind::Source,
                })
                .collect(),
        };
        let run_dir = self.identity.run_dir();
        let target = savepoint_target.or_else(|| {
            run_dir
                .as_ref()
                .map(|dir| storage::checkpoint_dir(dir, acked.id))
        });
        let keep = self.checkpointing.as_ref().map_or(1, |c| c.num_retained);
        let retire = (!self.identity.retired_ancestors)
            .then(|| self.identity.record.clone())
            .flatten();
        let size = acked.state_size();
        let store = store.cloned();
        let write = tokio::task::spawn_blocking(move || {
            let Some(path) = target else {
                // Kept in memory: the tasks' finished snapshots.
                let mut states = store
                    .map(|s| s.take_in_memory(acked.id))
                    .unwrap_or_default();
                states.sort_by(|a, b| (&a.uid, a.subtask).cmp(&(&b.uid, b.subtask)));
                checkpoint.states = states;
                return Ok(Persisted {
                    id: acked.id,
                    is_savepoint: acked.is_savepoint,
                    in_memory: Some(checkpoint),
                    path: None,
                    size,
                    retired: false,
                });
            };
            let metadata = storage::Metadata::of(&job, &job_id, &checkpoint, acked.subtasks);
            storage::write_metadata(&path, &metadata)?;
            let mut retired = false;
            if let (false, Some(run_dir)) = (acked.is_savepoint, run_dir) {
                let complete = storage::prune(&run_dir, keep);
                if let (true, Some((base, record))) = (complete >= keep, retire) {
                    runs::retire_ancestors(&base, &record);
                    retired = true;
                }
            }
            Ok(Persisted {
                id: acked.id,
                is_savepoint: acked.is_savepoint,
                in_memory: None,
                path: Some(path),
                size,
                retired,
            })
        });
        async move {
            write
                .await
                .map_err(|e| Error::Other(format!("checkpoint writer failed: {e}")))?
        }
    }

    /// Keeps a completed checkpoint as the one the next attempt restarts from, if
    /// it is a checkpoint newer than the one kept (writes may finish out of
    /// order). A checkpoint written to a directory is kept by its path only, and
    /// read back if a restart needs it.
    fn keep_newest(&mut self, done: Persisted) {
        let newer = self.restored.as_ref().is_none_or(|r| r.id() < done.id);
        if done.is_savepoint || !newer {
            return;
        }
        self.restored = match (done.path, done.in_memory) {
            (Some(path), _) => Some(RestartPoint::Disk { id: done.id, path }),
            (None, Some(checkpoint)) => Some(RestartPoint::Memory { checkpoint }),
            (None, None) => return,
        };
    }
}

/// A completed checkpoint, with where it went.
struct Persisted {
    id: u64,
    is_savepoint: bool,
    /// The state of a job without a checkpoint directory.
    in_memory: Option<CompletedCheckpoint>,
    /// Its directory.
    path: Option<PathBuf>,
    /// The size of its state.
    size: u64,
    /// Whether the lineage's older runs were retired.
    retired: bool,
}

/// Counts failed checkpoints against
/// `execution.checkpointing.tolerable-failed-checkpoints`.
struct FailedCheckpoints {
    consecutive: u32,
    tolerable: u32,
    counter: Arc<AtomicU64>,
}

impl FailedCheckpoints {
    /// Records that checkpoint `id` failed because of `why`; returns the error
    /// that fails the job when more failed in a row than tolerated.
    fn failed(&mut self, id: u64, why: &str) -> Option<Error> {
        self.counter.fetch_add(1, Ordering::Relaxed);
        self.consecutive += 1;
        (self.consecutive > self.tolerable)
            .then(|| too_many_failed(id, why, self.consecutive, self.tolerable))
    }
}

/// Where the next attempt of a job restarts from.
enum RestartPoint {
    /// A checkpoint of a job without a checkpoint directory, kept in memory.
    Memory { checkpoint: CompletedCheckpoint },
    /// A checkpoint or savepoint in a directory: its tasks read their own state
    /// files from there, and the JobMaster only its `_metadata`. A long job keeps
    /// no copy of its state in memory for restarts.
    Disk { id: u64, path: PathBuf },
}

/// What an attempt restores from.
enum Restoring {
    /// The state itself, handed to the tasks in memory.
    Memory(Arc<RestoredState>),
    /// The checkpoint's directory and its `_metadata` entries, from which every
    /// task gets the handles of its own state files.
    Disk {
        id: u64,
        dir: PathBuf,
        entries: Vec<storage::SubtaskEntry>,
    },
}

impl RestartPoint {
    /// Its id and where it was written.
    fn origin(&self) -> (u64, Option<PathBuf>) {
        match self {
            RestartPoint::Memory { checkpoint } => (checkpoint.id, None),
            RestartPoint::Disk { id, path } => (*id, Some(path.clone())),
        }
    }

    fn id(&self) -> u64 {
        match self {
            RestartPoint::Memory { checkpoint } => checkpoint.id,
            RestartPoint::Disk { id, .. } => *id,
        }
    }

    /// What the attempt restores from, and what to keep for the next restart.
    fn load(self) -> Result<(Restoring, RestartPoint)> {
        match self {
            RestartPoint::Memory { checkpoint } => Ok((
                Restoring::Memory(Arc::new(RestoredState::new(&checkpoint))),
                RestartPoint::Memory { checkpoint },
            )),
            RestartPoint::Disk { id, path } => {
                let (dir, metadata) = storage::read_metadata(&path)?;
                let restoring = Restoring::Disk {
                    id,
                    dir,
                    entries: metadata.subtasks,
                };
                Ok((restoring, RestartPoint::Disk { id, path }))
            }
        }
    }
}

/// The restore of the task `tdd` deploys: the handles of its own state files.
fn task_restore(
    graph: &JobGraph,
    id: u64,
    dir: &Path,
    entries: &[storage::SubtaskEntry],
    tdd: &TaskDeploymentDescriptor,
) -> TaskRestore {
    let chain: Vec<(&str, u32, u32)> = plan::chain_of(graph, tdd.attempt.vertex)
        .into_iter()
        .filter_map(|v| graph.vertex(v))
        .map(|v| (v.uid.as_str(), v.parallelism, v.max_parallelism))
        .collect();
    restore::task_restore(id, entries, dir, &chain, tdd.attempt.subtask)
}

/// A checkpoint completion that finished, with what it must do next.
struct Written {
    checkpoint_id: u64,
    /// From the trigger to the end of the write.
    took: Duration,
    request: Option<(ControlRequest, Option<PathBuf>)>,
    result: Result<Persisted>,
}

/// A complete checkpoint waiting for its `_metadata`, with its savepoint request
/// (and target directory) and trigger time.
type Waiting = (
    AcknowledgedCheckpoint,
    Option<(ControlRequest, Option<PathBuf>)>,
    Instant,
);

/// Checkpoints whose `_metadata` is to be written, one at a time and in order (a
/// write prunes the checkpoints older than its own), off the control loop.
#[derive(Default)]
struct WriteQueue {
    waiting: std::collections::VecDeque<Waiting>,
    in_flight: tokio::task::JoinSet<Written>,
}

impl WriteQueue {
    /// Queues a complete checkpoint triggered at `started`. A regular checkpoint
    /// still waiting is subsumed by a newer one (notifying the newer commits what
    /// the older one pre-committed too): returns the ids of those dropped.
    fn push(
        &mut self,
        checkpoint: AcknowledgedCheckpoint,
        request: Option<(ControlRequest, Option<PathBuf>)>,
        started: Instant,
    ) -> Vec<u64> {
        let mut subsumed = Vec::new();
        if request.is_none() && !checkpoint.is_savepoint {
            self.waiting.retain(|(c, r, _)| {
                let keep = r.is_some() || c.is_savepoint;
                if !keep {
                    subsumed.push(c.id);
                }
                keep
            });
        }
        self.waiting.push_back((checkpoint, request, started));
        subsumed
    }

    /// Starts the next write if none is in flight.
    fn start_next(&mut self, run: &JobRun, store: Option<&StateStore>) {
        if !self.in_flight.is_empty() {
            return;
        }
        let Some((checkpoint, request, started)) = self.waiting.pop_front() else {
            return;
        };
        let checkpoint_id = checkpoint.id;
        let target = request.as_ref().and_then(|(_, target)| target.clone());
        let write = run.persist(checkpoint, target, store);
        self.in_flight.spawn(async move {
            let result = write.await;
            Written {
                checkpoint_id,
                took: started.elapsed(),
                request,
                result,
            }
        });
    }
}

/// The error that fails a job whose checkpoints keep failing.
fn too_many_failed(id: u64, why: &str, failures: u32, tolerable: u32) -> Error {
    Error::Other(format!(
        "checkpoint {id} failed: {why}; {failures} checkpoint(s) failed in a row, more than \
         execution.checkpointing.tolerable-failed-checkpoints = {tolerable}"
    ))
}

/// Counts how often in a row a job failed with the same error from the same
/// checkpoint: a deterministic failure (a bad input record, a bug) that a restart
/// cannot cure.
#[derive(Default)]
struct RepeatedFailure {
    last: Option<(u64, String)>,
    count: u32,
}

impl RepeatedFailure {
    /// How many times in a row it takes before restarting is given up.
    const LIMIT: u32 = 3;

    /// Records a failure from checkpoint `from` (0: the beginning); true once the
    /// same one repeated [`Self::LIMIT`] times.
    fn record(&mut self, from: u64, error: &Error) -> bool {
        let this = (from, error.to_string());
        if self.last.as_ref() == Some(&this) {
            self.count += 1;
        } else {
            self.last = Some(this);
            self.count = 1;
        }
        self.count >= Self::LIMIT
    }
}

/// Keeps the root cause: the first real error wins over the cancellations and
/// disconnections it caused in other tasks.
fn record_failure(slot: &mut Option<Error>, error: Error) {
    match slot {
        None => *slot = Some(error),
        Some(existing) if is_secondary(existing) && !is_secondary(&error) => *slot = Some(error),
        Some(_) => {}
    }
}

/// Whether `e` only follows from another task's end: a cancellation, or a
/// channel whose other side went away.
fn is_secondary(e: &Error) -> bool {
    matches!(e, Error::Cancelled)
        || matches!(e, Error::Other(m) if m.contains("stopped without finishing") || m.contains("stopped before its input ended"))
}

/// A task's acknowledgement as the checkpoint statistics keep it.
fn task_checkpoint(ack: &CheckpointAck) -> TaskCheckpoint {
    TaskCheckpoint {
        head: ack.attempt.vertex,
        subtask: ack.attempt.subtask,
        ack_timestamp: now_millis(),
        sync_duration_ms: ack.sync_duration_ms,
        async_duration_ms: ack.async_duration_ms,
        alignment_duration_ms: ack.alignment_duration_ms,
        start_delay_ms: ack.start_delay_ms,
        state_sizes: ack
            .state
            .iter()
            .map(|h| (h.uid.clone(), h.handles.iter().map(|f| f.size).sum()))
            .collect(),
    }
}

/// What a completed savepoint reports (as Flink's CLI does).
fn savepoint_completed(id: u64, path: Option<&Path>) -> String {
    let path = path.map_or_else(|| "(in memory)".to_string(), |p| p.display().to_string());
    format!("savepoint {id} completed. Path: {path}")
}

/// The JobMaster's view of the tasks of one attempt: their order (the
/// coordinator's task numbers) and the source tasks, which checkpoints start at.
struct Tasks {
    index: HashMap<ExecutionAttemptId, usize>,
    sources: Vec<ExecutionAttemptId>,
}

impl Tasks {
    fn new(graph: &JobGraph, deployments: &[TaskDeploymentDescriptor]) -> Self {
        let index = deployments
            .iter()
            .enumerate()
            .map(|(i, tdd)| (tdd.attempt, i))
            .collect();
        let sources = deployments
            .iter()
            .map(|tdd| tdd.attempt)
            .filter(|a| {
                graph
                    .vertex(a.vertex)
                    .is_some_and(|v| v.kind == VertexKind::Source)
            })
            .collect();
        Tasks { index, sources }
    }

    /// The coordinator's form of a task's acknowledgement.
    fn ack(&self, ack: CheckpointAck) -> Result<TaskAck> {
        let task = *self.index.get(&ack.attempt).ok_or_else(|| {
            Error::Other(format!(
                "checkpoint acknowledged by unknown task {}",
                ack.attempt
            ))
        })?;
        Ok(TaskAck {
            checkpoint_id: ack.checkpoint_id.0,
            task,
            states: ack
                .state
                .into_iter()
                .map(|h| h.into_entry())
                .collect::<Result<_>>()?,
        })
    }
}
