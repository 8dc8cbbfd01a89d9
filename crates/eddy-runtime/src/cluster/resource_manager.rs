//! The JobManager's ResourceManager: the registered TaskManagers, their slots
//! and heartbeats, the slot leases of job attempts, and the routing of task
//! messages between JobMasters and TaskManagers.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use eddy_core::config::options;
use eddy_core::{Config, Error, ExecutionAttemptId, JobId, Result};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Notify};
use tracing::{info, warn};

use super::messages::{AttemptSetup, LogAnswer, Registration, ToResourceManager, ToTaskManager};
use super::{process_status, ProcessStatus};
use crate::network::constant_time_eq;
use crate::network::secure::ClusterSecurity;
use crate::network::wire::{self, network};
use crate::protocol::{
    decode_message, encode_message, ExecutionState, FailureCause, TaskExecutionState, ToJobMaster,
    ToTaskExecutor,
};

/// A registered TaskManager, as the REST API shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskManagerInfo {
    /// Its id.
    pub id: String,
    /// Its data address.
    pub data_address: String,
    /// Its slots.
    pub slots: u32,
    /// Its slots no job attempt holds.
    pub free_slots: u32,
    /// Milliseconds since it was last heard from.
    pub since_heartbeat_ms: u64,
    /// Its machine and process, as of its last heartbeat.
    pub status: ProcessStatus,
    /// The share of its machine's CPU it used between its last heartbeats at
    /// least a second apart (Flink's `Status.JVM.CPU.Load`), once known.
    pub cpu_load: Option<f64>,
}

struct Registered {
    slots: u32,
    free: u32,
    data_address: String,
    out: mpsc::UnboundedSender<Vec<u8>>,
    /// Tells this registration from a later one of the same TaskManager.
    connection: u64,
    last_heard: Instant,
    status: ProcessStatus,
    /// The reading the next CPU load is measured from: when, and the CPU
    /// time then; and the latest load.
    load_since: (Instant, u64),
    cpu_load: Option<f64>,
}

/// Where a job attempt's task messages go, and which of its tasks run where.
struct Route {
    events: mpsc::UnboundedSender<ToJobMaster>,
    tasks: HashMap<String, HashSet<ExecutionAttemptId>>,
}

#[derive(Default)]
struct State {
    task_managers: BTreeMap<String, Registered>,
    attempts: HashMap<(JobId, u32), Route>,
    /// Requests for log files waiting for their TaskManager's answer, by
    /// request: the TaskManager asked and where the answer goes.
    log_requests: HashMap<u64, (String, oneshot::Sender<LogAnswer>)>,
    /// Why the cluster is shutting down, once it is: TaskManagers are told to
    /// stop, and those that register are told at once.
    shutting_down: Option<String>,
}

/// How long a TaskManager may take to answer a request for its logs.
const LOG_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The JobManager's registry of TaskManagers and slots.
pub struct ResourceManager {
    state: Mutex<State>,
    changed: Notify,
    connections: AtomicU64,
    /// Numbers the requests for log files.
    requests: AtomicU64,
    security: ClusterSecurity,
    heartbeat_interval: Duration,
    heartbeat_timeout: Duration,
    slot_timeout: Duration,
}

impl std::fmt::Debug for ResourceManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceManager")
            .field("task_managers", &self.lock().task_managers.len())
            .finish()
    }
}

static INSTALLED: OnceLock<Arc<ResourceManager>> = OnceLock::new();

impl ResourceManager {
    /// Binds `jobmanager.rpc.address`:`jobmanager.rpc.port` and accepts
    /// TaskManagers until the process ends; returns the bound address.
    pub async fn start(config: &Config) -> Result<(Arc<Self>, SocketAddr)> {
        let address = format!(
            "{}:{}",
            config.get(&options::JOBMANAGER_RPC_ADDRESS)?,
            config.get(&options::JOBMANAGER_RPC_PORT)?
        );
        let rm = Arc::new(ResourceManager {
            state: Mutex::default(),
            changed: Notify::new(),
            connections: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            security: ClusterSecurity::from_config(config)?,
            heartbeat_interval: config.get(&options::HEARTBEAT_INTERVAL)?,
            heartbeat_timeout: config.get(&options::HEARTBEAT_TIMEOUT)?,
            slot_timeout: config.get(&options::SLOT_REQUEST_TIMEOUT)?,
        });
        let listener = TcpListener::bind(&address)
            .await
            .map_err(|e| network(format!("binding the RPC port {address}"), e))?;
        let local = listener
            .local_addr()
            .map_err(|e| network("reading the RPC port's address", e))?;
        let accepting = rm.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        tokio::spawn(accepting.clone().serve(stream, peer));
                    }
                    Err(e) => {
                        warn!("the RPC port {local} cannot accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        Ok((rm, local))
    }

    /// Makes `rm` the process's ResourceManager, which the REST API and the
    /// JobManager's jobs use.
    pub fn install(rm: Arc<ResourceManager>) {
        let _ = INSTALLED.set(rm);
    }

    /// The process's ResourceManager, in a JobManager.
    pub fn installed() -> Option<Arc<ResourceManager>> {
        INSTALLED.get().cloned()
    }

    /// The registered TaskManagers.
    pub fn task_managers(&self) -> Vec<TaskManagerInfo> {
        self.lock()
            .task_managers
            .iter()
            .map(|(id, tm)| TaskManagerInfo {
                id: id.clone(),
                data_address: tm.data_address.clone(),
                slots: tm.slots,
                free_slots: tm.free,
                since_heartbeat_ms: tm.last_heard.elapsed().as_millis() as u64,
                status: tm.status.clone(),
                cpu_load: tm.cpu_load,
            })
            .collect()
    }

    /// Tells every TaskManager to stop (an application cluster whose program
    /// ended) and waits up to `wait` for them to hang up. TaskManagers that
    /// register later are told the same at once.
    pub fn shut_down_task_managers(&self, reason: &str, wait: Duration) {
        let mut state = self.lock();
        state.shutting_down = Some(reason.to_string());
        for tm in state.task_managers.values() {
            send(&tm.out, &ToTaskManager::Shutdown(reason.to_string()));
        }
        drop(state);
        let deadline = Instant::now() + wait;
        while !self.lock().task_managers.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks TaskManager `tm` for its log files (`file` = `None`) or for one
    /// of them (its last `tail` bytes with `tail`). An error when the
    /// TaskManager is not registered, is lost before it answers, or does not
    /// answer within 10 s.
    pub async fn task_manager_logs(
        &self,
        tm: &str,
        file: Option<String>,
        tail: Option<u64>,
    ) -> Result<LogAnswer> {
        let request = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.lock();
            let Some(registered) = state.task_managers.get(tm) else {
                return Err(Error::Other(format!("TaskManager {tm} not found")));
            };
            let out = registered.out.clone();
            state.log_requests.insert(request, (tm.to_string(), tx));
            send(
                &out,
                &ToTaskManager::Logs {
                    request,
                    file,
                    tail,
                },
            );
        }
        let answer = tokio::time::timeout(LOG_REQUEST_TIMEOUT, rx).await;
        self.lock().log_requests.remove(&request);
        match answer {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err(Error::Other(format!(
                "TaskManager {tm} was lost before it sent its logs"
            ))),
            Err(_) => Err(Error::Other(format!(
                "TaskManager {tm} did not send its logs within {LOG_REQUEST_TIMEOUT:?}"
            ))),
        }
    }

    /// Hands a TaskManager's answer to the request that waits for it.
    fn answer_logs(&self, tm: &str, request: u64, answer: LogAnswer) {
        let mut state = self.lock();
        if state
            .log_requests
            .get(&request)
            .is_some_and(|(to, _)| to == tm)
        {
            if let Some((_, waiting)) = state.log_requests.remove(&request) {
                let _ = waiting.send(answer);
            }
        }
    }

    /// Leases `slots` slots for attempt `attempt` of `job_id`, spread over the
    /// TaskManagers, waiting up to `slot.request.timeout` for them.
    pub async fn allocate(
        self: &Arc<Self>,
        job_id: JobId,
        attempt: u32,
        slots: u32,
    ) -> Result<SlotLease> {
        let deadline = tokio::time::Instant::now() + self.slot_timeout;
        loop {
            let changed = self.changed.notified();
            let (free, total) = {
                let mut state = self.lock();
                let free: u32 = state.task_managers.values().map(|t| t.free).sum();
                if free >= slots {
                    let mut taken = Vec::with_capacity(slots as usize);
                    // One slot at a time from each TaskManager in turn.
                    while taken.len() < slots as usize {
                        for (id, tm) in state.task_managers.iter_mut() {
                            if tm.free > 0 && taken.len() < slots as usize {
                                tm.free -= 1;
                                taken.push((id.clone(), tm.connection));
                            }
                        }
                    }
                    taken.sort();
                    return Ok(SlotLease {
                        rm: self.clone(),
                        job_id,
                        attempt,
                        slots: taken,
                    });
                }
                (
                    free,
                    state.task_managers.values().map(|t| t.slots).sum::<u32>(),
                )
            };
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Err(Error::Other(format!(
                    "job {job_id} needs {slots} slots, but the cluster had {free} free of {total} \
                     for slot.request.timeout ({:?})",
                    self.slot_timeout
                )));
            }
        }
    }

    /// Serves one TaskManager's connection until it breaks or goes silent.
    async fn serve(self: Arc<Self>, stream: TcpStream, peer: SocketAddr) {
        let Some(stream) = self.security.accept(stream, peer, "a connection").await else {
            return;
        };
        let (mut reader, writer) = tokio::io::split(stream);
        let (out, frames) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let _ = wire::write_frames(writer, frames).await;
        });
        let mut buf = Vec::new();
        let registration = match wire::read_hello(&mut reader, &mut buf).await {
            Ok(true) => match decode_message::<ToResourceManager>(&buf) {
                Ok(ToResourceManager::Register(r)) => r,
                _ => return warn!("refused a connection from {peer}: it did not register"),
            },
            _ => return warn!("refused a connection from {peer}: it did not register"),
        };
        if !constant_time_eq(
            registration.secret.as_bytes(),
            self.security.secret.as_bytes(),
        ) {
            warn!(
                "refused TaskManager {} from {peer}: wrong cluster secret",
                registration.id
            );
            send(
                &out,
                &ToTaskManager::Refused("wrong security.cluster.secret".into()),
            );
            return;
        }
        if let Some(reason) = self.lock().shutting_down.clone() {
            info!(
                "told TaskManager {} from {peer} to stop: {reason}",
                registration.id
            );
            send(&out, &ToTaskManager::Shutdown(reason));
            return;
        }
        let id = registration.id.clone();
        let connection = self.register(registration, out.clone());
        info!("TaskManager {id} registered from {peer}");
        send(
            &out,
            &ToTaskManager::Registered {
                heartbeat_interval_ms: self.heartbeat_interval.as_millis() as u64,
                heartbeat_timeout_ms: self.heartbeat_timeout.as_millis() as u64,
            },
        );
        let reason = loop {
            let read = tokio::time::timeout(
                self.heartbeat_timeout,
                wire::read_frame(&mut reader, &mut buf),
            );
            match read.await {
                Err(_) => break format!("no heartbeat for {:?}", self.heartbeat_timeout),
                Ok(Err(e)) => break format!("its connection broke: {e}"),
                Ok(Ok(false)) => break "it closed its connection".to_string(),
                Ok(Ok(true)) => {}
            }
            match decode_message::<ToResourceManager>(&buf) {
                Ok(ToResourceManager::Heartbeat(status)) => {
                    self.heard(&id, connection);
                    self.update_status(&id, connection, status);
                    send(&out, &ToTaskManager::Heartbeat);
                }
                Ok(ToResourceManager::Task {
                    job_id,
                    attempt,
                    message,
                }) => {
                    self.heard(&id, connection);
                    self.route(&id, job_id, attempt, message);
                }
                Ok(ToResourceManager::Logs { request, answer }) => {
                    self.heard(&id, connection);
                    self.answer_logs(&id, request, answer);
                }
                Ok(ToResourceManager::Register(_)) => break "it registered twice".to_string(),
                Err(e) => break format!("it sent a corrupt message: {e}"),
            }
        };
        self.lost(&id, connection, &reason);
    }

    fn register(&self, registration: Registration, out: mpsc::UnboundedSender<Vec<u8>>) -> u64 {
        let connection = self.connections.fetch_add(1, Ordering::Relaxed) + 1;
        let id = registration.id.clone();
        if self.lock().task_managers.contains_key(&id) {
            self.lost(&id, 0, "it registered again");
        }
        self.lock().task_managers.insert(
            id,
            Registered {
                slots: registration.slots,
                free: registration.slots,
                data_address: registration.data_address,
                out,
                connection,
                last_heard: Instant::now(),
                load_since: (Instant::now(), registration.status.cpu_time_ms),
                status: registration.status,
                cpu_load: None,
            },
        );
        self.changed.notify_waiters();
        connection
    }

    fn heard(&self, id: &str, connection: u64) {
        if let Some(tm) = self.lock().task_managers.get_mut(id) {
            if tm.connection == connection {
                tm.last_heard = Instant::now();
            }
        }
    }

    fn update_status(&self, id: &str, connection: u64, status: ProcessStatus) {
        if let Some(tm) = self.lock().task_managers.get_mut(id) {
            if tm.connection == connection {
                let (since, cpu_ms) = tm.load_since;
                let wall = since.elapsed();
                if wall >= Duration::from_secs(1) {
                    tm.cpu_load = Some(process_status::cpu_load(cpu_ms, &status, wall));
                    tm.load_since = (Instant::now(), status.cpu_time_ms);
                }
                tm.status = status;
            }
        }
    }

    /// Passes a task's message to its JobMaster.
    fn route(&self, tm: &str, job_id: JobId, attempt: u32, mut message: ToJobMaster) {
        if let ToJobMaster::Metrics(snapshot) = &mut message {
            // The JobMaster adds up job counters per TaskManager.
            snapshot.reporter = tm.to_string();
        }
        let mut state = self.lock();
        let Some(route) = state.attempts.get_mut(&(job_id, attempt)) else {
            return;
        };
        if let ToJobMaster::TaskState(s) = &message {
            if s.state.is_terminal() {
                if let Some(tasks) = route.tasks.get_mut(tm) {
                    tasks.remove(&s.attempt);
                }
            }
        }
        let _ = route.events.send(message);
    }

    /// Forgets TaskManager `id` (of registration `connection`, or any when 0):
    /// the tasks that ran on it fail.
    fn lost(&self, id: &str, connection: u64, reason: &str) {
        let mut state = self.lock();
        match state.task_managers.get(id) {
            Some(tm) if connection == 0 || tm.connection == connection => {}
            _ => return,
        }
        let tm = state.task_managers.remove(id).expect("present");
        // Requests for its logs end unanswered.
        state.log_requests.retain(|_, (to, _)| to != id);
        if state.shutting_down.is_some() {
            info!("TaskManager {id} ({}) stopped: {reason}", tm.data_address);
        } else {
            warn!("TaskManager {id} ({}) is lost: {reason}", tm.data_address);
        }
        let cause = format!("TaskManager {id} ({}) was lost: {reason}", tm.data_address);
        for (&(job_id, _), route) in state.attempts.iter_mut() {
            for attempt in route.tasks.remove(id).unwrap_or_default() {
                fail(&route.events, job_id, attempt, &cause);
            }
        }
        drop(state);
        self.changed.notify_waiters();
    }
}

/// Reports task `attempt` failed with `cause`.
fn fail(
    events: &mpsc::UnboundedSender<ToJobMaster>,
    job_id: JobId,
    attempt: ExecutionAttemptId,
    cause: &str,
) {
    let _ = events.send(ToJobMaster::TaskState(TaskExecutionState {
        job_id,
        attempt,
        state: ExecutionState::Failed,
        failure: Some(FailureCause::of(Error::Other(cause.to_string()))),
    }));
}

fn send(out: &mpsc::UnboundedSender<Vec<u8>>, message: &ToTaskManager) {
    match encode_message(message) {
        Ok(bytes) => {
            let _ = out.send(wire::frame(&bytes));
        }
        Err(e) => warn!("a message to a TaskManager could not be encoded: {e}"),
    }
}

/// The slots one job attempt holds, one per subtask index. Dropping it ends
/// the attempt on its TaskManagers and frees the slots.
pub struct SlotLease {
    rm: Arc<ResourceManager>,
    job_id: JobId,
    attempt: u32,
    /// The TaskManager (and its registration) of each slot.
    slots: Vec<(String, u64)>,
}

impl SlotLease {
    /// The TaskManager that runs subtask `index` of every vertex.
    pub fn task_manager(&self, index: u32) -> &str {
        &self.slots[index as usize % self.slots.len()].0
    }

    /// The data address of TaskManager `id`, if it is still registered.
    pub fn data_address(&self, id: &str) -> Option<String> {
        self.rm
            .lock()
            .task_managers
            .get(id)
            .map(|tm| tm.data_address.clone())
    }

    /// Starts the attempt on every TaskManager of the lease; their tasks'
    /// messages go to `events`.
    pub fn open(&self, setup: AttemptSetup, events: mpsc::UnboundedSender<ToJobMaster>) {
        let mut state = self.rm.lock();
        state.attempts.insert(
            (self.job_id, self.attempt),
            Route {
                events,
                tasks: HashMap::new(),
            },
        );
        let message = ToTaskManager::StartAttempt(Box::new(setup));
        for id in self.task_managers() {
            if let Some(tm) = state.task_managers.get(&id) {
                send(&tm.out, &message);
            }
        }
    }

    fn task_managers(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.slots.iter().map(|(id, _)| id.clone()).collect();
        ids.dedup();
        ids
    }

    /// Sends `message` to the attempt's TaskExecutor on TaskManager `tm`. A task
    /// deployed to a TaskManager that is gone fails at once.
    pub fn send(&self, tm: &str, message: ToTaskExecutor) {
        let mut state = self.rm.lock();
        let State {
            task_managers,
            attempts,
            ..
        } = &mut *state;
        let Some(route) = attempts.get_mut(&(self.job_id, self.attempt)) else {
            return;
        };
        let connection = self.slots.iter().find(|(id, _)| id == tm).map(|s| s.1);
        match task_managers.get(tm) {
            Some(registered) if Some(registered.connection) == connection => {
                if let ToTaskExecutor::DeployTask(tdd) = &message {
                    route
                        .tasks
                        .entry(tm.to_string())
                        .or_default()
                        .insert(tdd.attempt);
                }
                send(
                    &registered.out,
                    &ToTaskManager::Task {
                        job_id: self.job_id,
                        attempt: self.attempt,
                        message: Box::new(message),
                    },
                );
            }
            _ => {
                if let ToTaskExecutor::DeployTask(tdd) = &message {
                    fail(
                        &route.events,
                        self.job_id,
                        tdd.attempt,
                        &format!("TaskManager {tm} is gone"),
                    );
                }
            }
        }
    }
}

impl Drop for SlotLease {
    fn drop(&mut self) {
        let mut state = self.rm.lock();
        state.attempts.remove(&(self.job_id, self.attempt));
        let end = ToTaskManager::EndAttempt {
            job_id: self.job_id,
            attempt: self.attempt,
        };
        for id in self.task_managers() {
            if let Some(tm) = state.task_managers.get(&id) {
                send(&tm.out, &end);
            }
        }
        for (id, connection) in &self.slots {
            if let Some(tm) = state.task_managers.get_mut(id) {
                if tm.connection == *connection {
                    tm.free = (tm.free + 1).min(tm.slots);
                }
            }
        }
        drop(state);
        self.rm.changed.notify_waiters();
    }
}
