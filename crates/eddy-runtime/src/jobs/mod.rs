//! The jobs of this process, as their observers see them: the registry that the
//! REST API reads, and the handle through which it controls a job.
//!
//! Every job a [`MiniCluster`](crate::MiniCluster) starts is registered in
//! [`JobRegistry::global`] with a [`JobHandle`]. The handle shows what the job is
//! (id, name, graph, configuration), how it is doing (status, counters, operator
//! metrics, checkpoint statistics, exception history) and takes requests
//! (savepoint, stop with a savepoint, checkpoint, cancel). Requests go to the job's
//! control loop as messages and are answered through a [`PendingOperation`], so an
//! HTTP handler never blocks a thread on them.
//!
//! ```text
//!  MiniCluster::execute_async ──register──▶ JobRegistry::global()
//!        │ control loop                          │ jobs(), job(id)
//!        │◀── ControlRequest (savepoint, ...) ── JobHandle ◀── REST API
//!        │── stats, status, exceptions ─────────▶ (shared, read any time)
//! ```

mod stats;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use eddy_core::checkpointing::CheckpointingOptions;
use eddy_core::graph::JobGraph;
use eddy_core::time::now_millis;
use eddy_core::{Config, Error, JobId, JobStatus, Result};
use tokio::sync::{mpsc, oneshot};

pub(crate) use stats::ExceptionHistory;
pub use stats::{
    CheckpointRecord, CheckpointState, CheckpointStats, JobException, RestoredCheckpoint,
    TaskCheckpoint, EXCEPTION_HISTORY_SIZE, HISTORY_SIZE,
};

use crate::metrics::{Counters, OperatorGauge, OperatorMetric};
use crate::task::CancelHandle;

/// Ended jobs the registry keeps for their observers (Flink keeps finished jobs in
/// its job store for an hour; eddy keeps the newest ones).
pub const ENDED_JOBS_KEPT: usize = 100;

/// What a job is: fixed when it starts.
#[derive(Clone, Debug)]
pub struct JobInfo {
    /// The job's id.
    pub id: JobId,
    /// The job's name.
    pub name: String,
    /// When it started (ms since the epoch).
    pub start_time: i64,
    /// Its graph.
    pub graph: JobGraph,
    /// The configuration it runs with.
    pub config: Config,
    /// Its checkpointing options (`None`: checkpointing is off).
    pub checkpointing: Option<CheckpointingOptions>,
}

/// What the job's control loop and its observers share.
pub(crate) struct Shared {
    pub(crate) info: JobInfo,
    status: Mutex<JobStatus>,
    pub(crate) counters: Counters,
    messages: Mutex<Vec<String>>,
    end_time: Mutex<Option<i64>>,
    pub(crate) checkpoints: Mutex<CheckpointStats>,
    exceptions: Mutex<ExceptionHistory>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub(crate) fn new(info: JobInfo, counters: Counters) -> Self {
        Shared {
            info,
            status: Mutex::new(JobStatus::Created),
            counters,
            messages: Mutex::new(Vec::new()),
            end_time: Mutex::new(None),
            checkpoints: Mutex::new(CheckpointStats::default()),
            exceptions: Mutex::new(ExceptionHistory::default()),
        }
    }

    pub(crate) fn status(&self) -> JobStatus {
        *lock(&self.status)
    }

    /// Moves the job to `to` if the state machine allows it. An illegal transition
    /// is a bug in the MiniCluster: it is reported on stderr and the job keeps its
    /// status.
    pub(crate) fn set_status(&self, to: JobStatus) {
        let mut status = lock(&self.status);
        match status.transition(to) {
            Ok(next) => {
                tracing::info!(
                    job_id = %self.info.id,
                    "Job {} ({}) switched from state {} to {}.",
                    self.info.name,
                    self.info.id,
                    *status,
                    next
                );
                *status = next;
            }
            Err(e) => {
                tracing::error!(job_id = %self.info.id, "bug: {e}; the job stays {}", *status);
                eprintln!("eddy: bug: {e}; the job stays {}", *status);
            }
        }
        if status.is_terminal() {
            lock(&self.end_time).get_or_insert_with(now_millis);
        }
    }

    /// Ends the job in a terminal status, through FAILING or CANCELLING where the
    /// current status cannot go there directly (RUNNING -> FAILING -> FAILED,
    /// RUNNING -> CANCELLING -> CANCELED, but RESTARTING -> CANCELED).
    pub(crate) fn end_with(&self, terminal: JobStatus) {
        let via = match terminal {
            JobStatus::Failed => Some(JobStatus::Failing),
            JobStatus::Canceled => Some(JobStatus::Cancelling),
            _ => None,
        };
        let current = self.status();
        if let Some(via) = via.filter(|_| !current.can_transition_to(terminal)) {
            self.set_status(via);
        }
        self.set_status(terminal);
    }

    /// Reports `message` on stderr and keeps it for the job's client.
    pub(crate) fn say(&self, message: String) {
        tracing::info!(job_id = %self.info.id, "{message}");
        eprintln!("eddy: {message}");
        lock(&self.messages).push(message);
    }

    pub(crate) fn messages(&self) -> Vec<String> {
        lock(&self.messages).clone()
    }

    /// Records a failure in the exception history and the log, with its causes.
    pub(crate) fn failed(&self, error: &Error, restarted: bool) {
        let mut chain = error.to_string();
        let mut cause = std::error::Error::source(error);
        while let Some(c) = cause {
            chain.push_str(&format!("\n  caused by: {c}"));
            cause = c.source();
        }
        tracing::error!(
            job_id = %self.info.id,
            "Job {} ({}) failed{}: {chain}",
            self.info.name,
            self.info.id,
            if restarted { "; restarting" } else { "" }
        );
        lock(&self.exceptions).push(JobException {
            timestamp: now_millis(),
            message: error.to_string(),
            restarted,
        });
    }

    /// Counts a completed checkpoint and logs it.
    pub(crate) fn checkpoint_completed(
        &self,
        id: u64,
        size: u64,
        path: Option<PathBuf>,
        took: std::time::Duration,
    ) {
        tracing::info!(
            job_id = %self.info.id,
            "Completed checkpoint {id} for job {} ({size} bytes, checkpointDuration={} ms).",
            self.info.id,
            took.as_millis()
        );
        self.checkpoints(|stats| stats.completed(id, now_millis(), size, path));
    }

    /// Counts a failed checkpoint and logs why.
    pub(crate) fn checkpoint_failed(&self, id: u64, why: &str) {
        tracing::warn!(
            job_id = %self.info.id,
            "Checkpoint {id} of job {} failed: {why}",
            self.info.id
        );
        self.checkpoints(|stats| stats.failed(id, now_millis(), why));
    }

    /// Updates the checkpoint statistics.
    pub(crate) fn checkpoints<R>(&self, update: impl FnOnce(&mut CheckpointStats) -> R) -> R {
        update(&mut lock(&self.checkpoints))
    }
}

/// What a request to a job's control loop asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    /// A savepoint into a new directory under `dir`; with `stop`, the job stops
    /// after it (`Some(true)`: draining its input first).
    Savepoint { dir: PathBuf, stop: Option<bool> },
    /// A checkpoint now.
    Checkpoint,
}

/// A request to a job's control loop, answered on `reply`.
pub(crate) struct ControlRequest {
    pub(crate) operation: Operation,
    pub(crate) reply: oneshot::Sender<Result<CompletedOperation>>,
}

/// A savepoint or checkpoint that completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletedOperation {
    /// The checkpoint's id.
    pub checkpoint_id: u64,
    /// Where it was written (a savepoint's directory; a checkpoint's, when the
    /// job has a checkpoint directory).
    pub path: Option<PathBuf>,
}

/// A request a job is working on; [`PendingOperation::wait`] gives its outcome.
pub struct PendingOperation {
    answer: std::result::Result<oneshot::Receiver<Result<CompletedOperation>>, Error>,
}

impl PendingOperation {
    /// Waits for the outcome.
    pub async fn wait(self) -> Result<CompletedOperation> {
        let answer = self.answer?;
        answer.await.map_err(|_| ended_early())?
    }

    /// Waits for the outcome, blocking this thread (not inside an async task).
    pub fn wait_blocking(self) -> Result<CompletedOperation> {
        let answer = self.answer?;
        answer.blocking_recv().map_err(|_| ended_early())?
    }
}

fn ended_early() -> Error {
    Error::Other("the job ended before the operation completed".into())
}

/// A job as its observers see it: what it is, how it is doing, and requests to it.
/// Cheap to clone; it does not keep the job running.
#[derive(Clone)]
pub struct JobHandle {
    pub(crate) shared: Arc<Shared>,
    cancel: Arc<CancelHandle>,
    requests: mpsc::UnboundedSender<ControlRequest>,
}

impl std::fmt::Debug for JobHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobHandle")
            .field("id", &self.shared.info.id)
            .field("name", &self.shared.info.name)
            .field("status", &self.status())
            .finish()
    }
}

impl JobHandle {
    pub(crate) fn new(
        shared: Arc<Shared>,
        cancel: CancelHandle,
        requests: mpsc::UnboundedSender<ControlRequest>,
    ) -> Self {
        JobHandle {
            shared,
            cancel: Arc::new(cancel),
            requests,
        }
    }

    /// What the job is: id, name, start time, graph, configuration.
    pub fn info(&self) -> &JobInfo {
        &self.shared.info
    }

    /// The job's id.
    pub fn id(&self) -> JobId {
        self.shared.info.id
    }

    /// The job's current status.
    pub fn status(&self) -> JobStatus {
        self.shared.status()
    }

    /// When the job reached a terminal status (ms since the epoch).
    pub fn end_time(&self) -> Option<i64> {
        *lock(&self.shared.end_time)
    }

    /// Job counters and every operator metric summed by operator name.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        self.shared.counters.values()
    }

    /// Every operator subtask's metrics, scoped by operator uid.
    pub fn operator_metrics(&self) -> Vec<OperatorMetric> {
        self.shared.counters.operator_metrics()
    }

    /// Every operator subtask's gauges (watermarks, task times), scoped by
    /// operator uid.
    pub fn operator_gauges(&self) -> Vec<OperatorGauge> {
        self.shared.counters.operator_gauges()
    }

    /// The checkpoint statistics so far.
    pub fn checkpoint_stats(&self) -> CheckpointStats {
        lock(&self.shared.checkpoints).clone()
    }

    /// The newest failures, newest first.
    pub fn exceptions(&self) -> Vec<JobException> {
        lock(&self.shared.exceptions)
            .entries
            .iter()
            .cloned()
            .collect()
    }

    /// What the job reported about restores and restarts.
    pub fn messages(&self) -> Vec<String> {
        self.shared.messages()
    }

    /// Asks the job to stop; it ends CANCELED.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Takes a savepoint into a new directory under `dir`; with `stop`, the job
    /// stops after it (`Some(true)`: its sources end their input first, so every
    /// window and timer fires before the savepoint).
    pub fn savepoint(&self, dir: impl AsRef<Path>, stop: Option<bool>) -> PendingOperation {
        self.request(Operation::Savepoint {
            dir: dir.as_ref().to_path_buf(),
            stop,
        })
    }

    /// Takes a checkpoint now (needs checkpointing to be configured).
    pub fn checkpoint(&self) -> PendingOperation {
        self.request(Operation::Checkpoint)
    }

    fn request(&self, operation: Operation) -> PendingOperation {
        let (reply, answer) = oneshot::channel();
        let sent = self
            .requests
            .send(ControlRequest { operation, reply })
            .map(|()| answer)
            .map_err(|_| Error::Other("the job is not running".into()));
        PendingOperation { answer: sent }
    }
}

/// The jobs of this process, running and recently ended.
#[derive(Debug, Default)]
pub struct JobRegistry {
    jobs: Mutex<Vec<JobHandle>>,
}

impl JobRegistry {
    /// The registry every MiniCluster of this process registers its jobs in.
    pub fn global() -> &'static JobRegistry {
        static GLOBAL: OnceLock<JobRegistry> = OnceLock::new();
        GLOBAL.get_or_init(JobRegistry::default)
    }

    /// Adds a job; the oldest ended jobs beyond [`ENDED_JOBS_KEPT`] are forgotten.
    pub fn register(&self, job: JobHandle) {
        let mut jobs = lock(&self.jobs);
        jobs.push(job);
        let ended = jobs.iter().filter(|j| j.status().is_terminal()).count();
        if ended > ENDED_JOBS_KEPT {
            let mut excess = ended - ENDED_JOBS_KEPT;
            jobs.retain(|j| {
                let drop = excess > 0 && j.status().is_terminal();
                excess -= usize::from(drop);
                !drop
            });
        }
    }

    /// Every job, in the order they started.
    pub fn jobs(&self) -> Vec<JobHandle> {
        lock(&self.jobs).clone()
    }

    /// The job with this id.
    pub fn job(&self, id: JobId) -> Option<JobHandle> {
        lock(&self.jobs).iter().find(|j| j.id() == id).cloned()
    }
}
