//! A TaskManager process: registers its slots with the JobManager, keeps the
//! heartbeat, runs a TaskExecutor per job attempt it is given, and serves its
//! channels to the other TaskManagers on its data port.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy_core::config::options;
use eddy_core::time::SystemClock;
use eddy_core::{Config, Error, JobId, Result};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::log_files;
use super::messages::{AttemptSetup, LogAnswer, Registration, ToResourceManager, ToTaskManager};
use super::ProcessStatus;
use crate::checkpoint::store::StateStore;
use crate::factory::JobSpec;
use crate::network::secure::ClusterSecurity;
use crate::network::wire;
use crate::network::{DataClient, DataServer, Providers};
use crate::operator::RunContext;
use crate::protocol::{
    decode_message, encode_message, ExecutionState, FailureCause, JobArtifact, TaskExecutionState,
    ToJobMaster, ToTaskExecutor,
};
use crate::task_executor::{RemoteChannels, TaskExecutor, TaskExecutorSetup};

/// Builds a job from its artifact and configuration, in the TaskManager (the
/// SQL planner, for SQL jobs).
pub type JobLoader = Arc<dyn Fn(&JobArtifact, &Config) -> Result<JobSpec> + Send + Sync>;

/// How long to wait before registering again after the JobManager was lost or
/// could not be reached.
const RETRY: Duration = Duration::from_secs(1);

/// A TaskManager with its data port bound.
pub struct TaskManager {
    config: Config,
    loader: JobLoader,
    id: String,
    slots: u32,
    data_address: SocketAddr,
    providers: Providers,
    security: ClusterSecurity,
}

/// How a session with the JobManager ended.
enum Ended {
    /// The JobManager refused the registration; registering again cannot help.
    Refused(String),
    /// The connection broke or went silent.
    Lost(String),
    /// The JobManager told this TaskManager to stop.
    Shutdown(String),
}

impl TaskManager {
    /// Binds the data port (`taskmanager.host`:`taskmanager.data.port`); a bad
    /// configuration or a port in use is an error here.
    pub async fn bind(config: Config, loader: JobLoader) -> Result<TaskManager> {
        let host = config.get(&options::TASKMANAGER_HOST)?;
        let port = config.get(&options::TASKMANAGER_DATA_PORT)?;
        let security = ClusterSecurity::from_config(&config)?;
        let slots = match config.get(&options::LOCAL_THREADS)? {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()) as u32,
            n => n as u32,
        };
        let providers = Providers::default();
        let data_address = DataServer::bind(
            &format!("{host}:{port}"),
            providers.clone(),
            security.clone(),
        )
        .await?;
        let id = format!(
            "{host}:{}-{}",
            data_address.port(),
            &JobId::generate().to_string()[..6]
        );
        Ok(TaskManager {
            config,
            loader,
            id,
            slots,
            data_address,
            providers,
            security,
        })
    }

    /// The TaskManager's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where its data port listens.
    pub fn data_address(&self) -> SocketAddr {
        self.data_address
    }

    /// Registers with the JobManager and serves it, registering again whenever
    /// it is lost; returns only when the JobManager refuses the registration
    /// (an error) or tells it to stop.
    pub async fn run(self) -> Result<()> {
        let jobmanager = format!(
            "{}:{}",
            self.config.get(&options::JOBMANAGER_RPC_ADDRESS)?,
            self.config.get(&options::JOBMANAGER_RPC_PORT)?
        );
        let mut failures = 0u32;
        loop {
            match TcpStream::connect(&jobmanager).await {
                Ok(stream) => match self.session(stream, &jobmanager).await {
                    Ended::Refused(reason) => {
                        return Err(Error::Other(format!(
                            "the JobManager at {jobmanager} refused TaskManager {}: {reason}",
                            self.id
                        )))
                    }
                    Ended::Shutdown(reason) => {
                        info!("TaskManager {} stops: {reason}", self.id);
                        return Ok(());
                    }
                    Ended::Lost(reason) => {
                        warn!("lost the JobManager at {jobmanager}: {reason}; registering again");
                        failures = 0;
                    }
                },
                Err(e) => {
                    // Said at once, then every half minute.
                    if failures.is_multiple_of(30) {
                        warn!("cannot reach the JobManager at {jobmanager}: {e}; retrying");
                    }
                    failures += 1;
                }
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    /// One registration: serves the JobManager until it is lost. The attempts
    /// it started end with it.
    async fn session(&self, stream: TcpStream, jobmanager: &str) -> Ended {
        let stream = match self.security.connect(stream).await {
            Ok(stream) => stream,
            Err(e) => return Ended::Lost(format!("TLS failed: {e}")),
        };
        let (mut reader, writer) = tokio::io::split(stream);
        let (out, frames) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let _ = wire::write_frames(writer, frames).await;
        });
        send(
            &out,
            &ToResourceManager::Register(Registration {
                id: self.id.clone(),
                secret: self.security.secret.clone(),
                slots: self.slots,
                data_address: self.data_address.to_string(),
                status: ProcessStatus::read(),
            }),
        );
        // Reading is not cancel-safe: it runs on its own and hands messages over.
        let (inbound_tx, mut inbound) = mpsc::unbounded_channel();
        let reading = tokio::spawn(async move {
            let mut buf = Vec::new();
            let end = loop {
                match wire::read_frame(&mut reader, &mut buf).await {
                    Ok(true) => match decode_message::<ToTaskManager>(&buf) {
                        Ok(message) => {
                            if inbound_tx.send(Ok(message)).is_err() {
                                return;
                            }
                        }
                        Err(e) => break format!("a corrupt message: {e}"),
                    },
                    Ok(false) => break "the JobManager closed the connection".to_string(),
                    Err(e) => break e.to_string(),
                }
            };
            let _ = inbound_tx.send(Err(end));
        });
        // Until the JobManager says its own, this process's settings hold.
        let mut heartbeat_timeout = self
            .config
            .get(&options::HEARTBEAT_TIMEOUT)
            .unwrap_or(Duration::from_secs(50));
        let mut heartbeat = tokio::time::interval(Duration::from_millis(100));
        let mut last_heard = Instant::now();
        let mut registered = false;
        let mut attempts: HashMap<(JobId, u32), mpsc::UnboundedSender<ToTaskExecutor>> =
            HashMap::new();
        let ended = loop {
            tokio::select! {
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() > heartbeat_timeout {
                        break Ended::Lost(format!("no heartbeat for {heartbeat_timeout:?}"));
                    }
                    if registered {
                        send(&out, &ToResourceManager::Heartbeat(ProcessStatus::read()));
                    }
                }
                message = inbound.recv() => {
                    let message = match message {
                        Some(Ok(message)) => message,
                        Some(Err(reason)) => break Ended::Lost(reason),
                        None => break Ended::Lost("the connection ended".into()),
                    };
                    last_heard = Instant::now();
                    match message {
                        ToTaskManager::Registered { heartbeat_interval_ms, heartbeat_timeout_ms } => {
                            registered = true;
                            heartbeat_timeout = Duration::from_millis(heartbeat_timeout_ms);
                            heartbeat = tokio::time::interval(
                                Duration::from_millis(heartbeat_interval_ms.max(10)),
                            );
                            info!(
                                "TaskManager {} registered at the JobManager {jobmanager} with {} slots",
                                self.id, self.slots
                            );
                        }
                        ToTaskManager::Refused(reason) => break Ended::Refused(reason),
                        ToTaskManager::Shutdown(reason) => break Ended::Shutdown(reason),
                        ToTaskManager::Heartbeat => {}
                        ToTaskManager::StartAttempt(setup) => {
                            let (tx, rx) = mpsc::unbounded_channel();
                            attempts.insert((setup.job_id, setup.attempt), tx);
                            tokio::spawn(self.run_attempt(*setup, rx, out.clone()));
                        }
                        ToTaskManager::Task { job_id, attempt, message } => {
                            if let Some(tx) = attempts.get(&(job_id, attempt)) {
                                let _ = tx.send(*message);
                            }
                        }
                        ToTaskManager::EndAttempt { job_id, attempt } => {
                            // Hanging up cancels what still runs of it.
                            attempts.remove(&(job_id, attempt));
                        }
                        ToTaskManager::Logs { request, file, tail } => {
                            let (config, out) = (self.config.clone(), out.clone());
                            tokio::task::spawn_blocking(move || {
                                let answer = log_answer(&config, file, tail);
                                send(&out, &ToResourceManager::Logs { request, answer });
                            });
                        }
                    }
                }
            }
        };
        reading.abort();
        if !attempts.is_empty() {
            warn!(
                "cancelling {} job attempts of the lost JobManager",
                attempts.len()
            );
        }
        ended
    }

    /// Builds the job of `setup` and runs its TaskExecutor until the
    /// JobManager ends the attempt.
    fn run_attempt(
        &self,
        setup: AttemptSetup,
        mut inbox: mpsc::UnboundedReceiver<ToTaskExecutor>,
        out: mpsc::UnboundedSender<Vec<u8>>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let loader = self.loader.clone();
        let providers = self.providers.clone();
        let security = self.security.clone();
        async move {
            let (job_id, attempt) = (setup.job_id, setup.attempt);
            let (to_job_master, mut from_tasks) = mpsc::unbounded_channel::<ToJobMaster>();
            tokio::spawn(async move {
                while let Some(message) = from_tasks.recv().await {
                    send(
                        &out,
                        &ToResourceManager::Task {
                            job_id,
                            attempt,
                            message,
                        },
                    );
                }
            });
            let config = Config::from_map(setup.config.clone());
            let built = load(loader, &setup, &config).await.and_then(|spec| {
                let run_dir = setup.run_dir.as_ref().map(PathBuf::from);
                if setup.checkpointing && run_dir.is_none() {
                    return Err(Error::InvalidConfig {
                        key: "execution.checkpointing.dir".into(),
                        message: "a job on a cluster checkpoints into a directory every TaskManager can reach; set it".into(),
                    });
                }
                // The job's own code counts where the loader built it.
                let counters = spec.counters.clone();
                TaskExecutor::new(
                    TaskExecutorSetup {
                        spec: Arc::new(spec),
                        config: Arc::new(config),
                        clock: Arc::new(SystemClock),
                        counters,
                        store: setup.checkpointing.then(|| StateStore::new(run_dir, attempt)),
                        restored: None,
                        exactly_once: setup.exactly_once,
                        run: RunContext {
                            job_id,
                            lineage: setup.lineage.clone(),
                            attempt,
                        },
                        network: Some(RemoteChannels {
                            client: DataClient::new(job_id, attempt, security),
                            providers,
                        }),
                        report_metrics: true,
                    },
                    to_job_master.clone(),
                )
            });
            match built {
                Ok(task_executor) => task_executor.run(inbox).await,
                Err(e) => {
                    warn!("attempt {attempt} of job {job_id} cannot run here: {e}");
                    let cause = FailureCause::of(e);
                    // Every task deployed to this attempt fails with the reason.
                    while let Some(message) = inbox.recv().await {
                        if let ToTaskExecutor::DeployTask(tdd) = message {
                            let _ =
                                to_job_master.send(ToJobMaster::TaskState(TaskExecutionState {
                                    job_id,
                                    attempt: tdd.attempt,
                                    state: ExecutionState::Failed,
                                    failure: Some(cause.clone()),
                                }));
                        }
                    }
                }
            }
        }
    }
}

/// Builds the job of `setup` off the async threads and checks that it is the
/// job the JobManager planned.
async fn load(loader: JobLoader, setup: &AttemptSetup, config: &Config) -> Result<JobSpec> {
    let artifact = setup.artifact.clone();
    // The job's S3 settings (from the JobManager) over this process's own.
    eddy_fs::configure(config.iter());
    eddy_fs::configure(setup.config.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let config = config.clone();
    let spec = tokio::task::spawn_blocking(move || loader(&artifact, &config))
        .await
        .map_err(|e| Error::Other(format!("building the job failed: {e}")))??;
    if spec.graph != setup.graph {
        return Err(Error::InvalidGraph(format!(
            "the TaskManager planned job '{}' differently from the JobManager",
            setup.graph.name
        )));
    }
    Ok(spec)
}

/// The answer to a request for the log files (`file` = `None`) or one of them.
fn log_answer(config: &Config, file: Option<String>, tail: Option<u64>) -> LogAnswer {
    match file {
        None => LogAnswer::Files(log_files::list(config)),
        Some(name) => match log_files::read(config, &name, tail, log_files::MAX_REMOTE_BYTES) {
            Ok(text) => LogAnswer::Text(text),
            Err(why) => LogAnswer::NotFound(why),
        },
    }
}

fn send(out: &mpsc::UnboundedSender<Vec<u8>>, message: &ToResourceManager) {
    match encode_message(message) {
        Ok(bytes) => {
            let _ = out.send(wire::frame(&bytes));
        }
        Err(e) => warn!("a message to the JobManager could not be encoded: {e}"),
    }
}
