//! The MiniCluster: runs a whole job in this process on a tokio runtime.
//!
//! Executing a [`JobSpec`] expands its graph into subtasks, chains forward edges,
//! creates a bounded channel for every (producer, consumer) pair of the other edges,
//! and spawns one async task per chain and subtask. The first failure cancels every
//! other task; the job then fails with that first error.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eddy_core::config::options;
use eddy_core::time::{Clock, SystemClock};
use eddy_core::{Config, Error, Result, VertexId};

use crate::factory::{AnyBox, JobSpec};
use crate::operator::{Counters, OperatorContext};
use crate::output::SideOutputs;
use crate::plan::{consumers_of, is_chained};
use crate::task::{cancel_pair, CancelHandle, Task, TaskSettings};

/// The lifecycle state of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobStatus {
    /// Tasks are running.
    Running,
    /// Every task finished (bounded input).
    Finished,
    /// A task failed.
    Failed,
    /// The job was cancelled.
    Canceled,
}

/// What a finished job reports: its runtime and counters.
#[derive(Clone, Debug)]
pub struct JobExecutionResult {
    /// The job's name.
    pub job_name: String,
    /// Wall-clock time from start to finish.
    pub net_runtime: Duration,
    /// Counters summed over subtasks: `<operator>.numRecordsIn`,
    /// `<operator>.numRecordsOut`, and user and connector counters.
    pub counters: BTreeMap<String, u64>,
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
}

struct Shared {
    status: Mutex<JobStatus>,
    counters: Counters,
}

/// A handle to a running job: status, counters, cancel, wait.
pub struct JobClient {
    shared: Arc<Shared>,
    cancel: CancelHandle,
    thread: Option<std::thread::JoinHandle<Result<JobExecutionResult>>>,
}

impl JobClient {
    /// The job's current status.
    pub fn status(&self) -> JobStatus {
        *self.shared.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The counters so far.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        self.shared.counters.values()
    }

    /// Asks the job to stop; [`JobClient::wait`] then returns
    /// [`Error::Cancelled`].
    pub fn cancel(&self) {
        self.cancel.cancel();
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
            self.cancel.cancel();
        }
    }
}

impl MiniCluster {
    /// A MiniCluster with a configuration.
    pub fn new(config: Config) -> Self {
        MiniCluster {
            config: Arc::new(config),
            clock: Arc::new(SystemClock),
            counters: Counters::default(),
        }
    }

    /// Reports into `counters` (shared with user functions that count).
    pub fn with_counters(mut self, counters: Counters) -> Self {
        self.counters = counters;
        self
    }

    /// Uses `clock` for processing time (timers, TTL, periodic watermarks).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Runs a job to its end.
    pub fn execute(&self, spec: JobSpec) -> Result<JobExecutionResult> {
        self.execute_async(spec)?.wait()
    }

    /// Starts a job and returns a client for it.
    pub fn execute_async(&self, spec: JobSpec) -> Result<JobClient> {
        spec.graph.validate()?;
        let counters = self.counters.clone();
        let tasks = build_tasks(&spec, &self.config, &self.clock, &counters)?;
        let threads = match self.config.get(&options::LOCAL_THREADS)? {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("eddy-task")
            .enable_all()
            .build()
            .map_err(|e| Error::Other(format!("cannot start the task runtime: {e}")))?;
        let shared = Arc::new(Shared {
            status: Mutex::new(JobStatus::Running),
            counters: counters.clone(),
        });
        let (cancel, signal) = cancel_pair();
        let job_name = spec.graph.name.clone();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("eddy-job".into())
            .spawn(move || {
                let started = Instant::now();
                let outcome = runtime.block_on(run_tasks(tasks, signal));
                runtime.shutdown_timeout(Duration::from_secs(1));
                let status = match &outcome {
                    Ok(()) => JobStatus::Finished,
                    Err(Error::Cancelled) => JobStatus::Canceled,
                    Err(_) => JobStatus::Failed,
                };
                *thread_shared
                    .status
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = status;
                outcome.map(|()| JobExecutionResult {
                    job_name,
                    net_runtime: started.elapsed(),
                    counters: thread_shared.counters.values(),
                })
            })
            .map_err(|e| Error::Other(format!("cannot start the job thread: {e}")))?;
        Ok(JobClient {
            shared,
            cancel,
            thread: Some(thread),
        })
    }
}

async fn run_tasks(tasks: Vec<Box<dyn Task>>, signal: crate::task::CancelSignal) -> Result<()> {
    let (internal_cancel, internal_signal) = cancel_pair();
    let mut set = tokio::task::JoinSet::new();
    for task in tasks {
        set.spawn(task.run(internal_signal.clone()));
    }
    let mut external = signal;
    let mut first_error: Option<Error> = None;
    loop {
        tokio::select! {
            joined = set.join_next() => match joined {
                None => break,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => {
                    record_failure(&mut first_error, e);
                    internal_cancel.cancel();
                }
                Some(Err(join_error)) => {
                    let message = if join_error.is_panic() {
                        crate::chain::panic_message(join_error.into_panic().as_ref())
                    } else {
                        "task aborted".to_string()
                    };
                    record_failure(&mut first_error, Error::Other(format!("a task panicked: {message}")));
                    internal_cancel.cancel();
                }
            },
            _ = external.cancelled(), if first_error.is_none() => {
                first_error = Some(Error::Cancelled);
                internal_cancel.cancel();
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Keeps the root cause: the first real error wins over the cancellations and
/// disconnections it caused in other tasks.
fn record_failure(slot: &mut Option<Error>, error: Error) {
    let secondary = |e: &Error| {
        matches!(e, Error::Cancelled)
            || matches!(e, Error::Other(m) if m.contains("stopped without finishing") || m.contains("stopped before its input ended"))
    };
    match slot {
        None => *slot = Some(error),
        Some(existing) if secondary(existing) && !secondary(&error) => *slot = Some(error),
        Some(_) => {}
    }
}

struct Builder<'a> {
    spec: &'a JobSpec,
    config: &'a Config,
    clock: &'a Arc<dyn Clock>,
    counters: &'a Counters,
    config_arc: Arc<Config>,
    batch_size: usize,
    /// For each non-chained edge index and producer subtask: the senders.
    senders: HashMap<(usize, usize), Vec<AnyBox>>,
    /// For each consumer vertex, subtask and input index: the receivers.
    receivers: HashMap<(VertexId, usize, u8), Vec<AnyBox>>,
}

impl Builder<'_> {
    fn context(&self, id: VertexId, subtask: usize) -> Result<OperatorContext> {
        let v = self
            .spec
            .graph
            .vertex(id)
            .ok_or_else(|| Error::InvalidGraph(format!("missing vertex {id}")))?;
        Ok(OperatorContext {
            name: v.name.clone(),
            uid: v.uid.clone(),
            subtask,
            parallelism: v.parallelism as usize,
            max_parallelism: v.max_parallelism,
            clock: self.clock.clone(),
            config: self.config_arc.clone(),
            counters: self.counters.clone(),
        })
    }

    /// The main output of vertex `id` in `subtask`, as a `Box<dyn Output<Out>>`.
    fn output(&mut self, id: VertexId, subtask: usize) -> Result<AnyBox> {
        let edges: Vec<usize> = (0..self.spec.graph.edges.len())
            .filter(|&i| {
                let e = &self.spec.graph.edges[i];
                e.source == id && e.side_output.is_none()
            })
            .collect();
        let mut outputs = Vec::with_capacity(edges.len());
        for &i in &edges {
            outputs.push(self.edge_output(i, subtask)?);
        }
        match outputs.len() {
            0 => Ok(self.vertex_factory(id)?.discard()),
            1 => Ok(outputs.remove(0)),
            _ => self.spec.edges[edges[0]].fan_out(outputs),
        }
    }

    fn side_outputs(&mut self, id: VertexId, subtask: usize) -> Result<SideOutputs> {
        let mut by_tag: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, e) in self.spec.graph.edges.iter().enumerate() {
            if let (true, Some(tag)) = (e.source == id, &e.side_output) {
                by_tag.entry(tag.clone()).or_default().push(i);
            }
        }
        let mut sides = SideOutputs::default();
        for (tag, edges) in by_tag {
            let mut outputs = Vec::new();
            for &i in &edges {
                outputs.push(self.edge_output(i, subtask)?);
            }
            let factory = self.spec.edges[edges[0]].clone();
            let output = if outputs.len() == 1 {
                outputs.remove(0)
            } else {
                factory.fan_out(outputs)?
            };
            sides.insert(tag, factory.side_output(output)?);
        }
        Ok(sides)
    }

    fn edge_output(&mut self, edge_index: usize, subtask: usize) -> Result<AnyBox> {
        let edge = &self.spec.graph.edges[edge_index];
        if is_chained(&self.spec.graph, edge) {
            let target = edge.target;
            let next = self.output(target, subtask)?;
            let sides = self.side_outputs(target, subtask)?;
            let ctx = self.context(target, subtask)?;
            self.vertex_factory(target)?.chain_node(ctx, next, sides)
        } else {
            let senders = self
                .senders
                .remove(&(edge_index, subtask))
                .unwrap_or_default();
            let name = self
                .spec
                .graph
                .vertex(edge.source)
                .map(|v| v.name.clone())
                .unwrap_or_default();
            let counter = self.counters.counter(&format!("{name}.numRecordsOut"));
            self.spec.edges[edge_index].writer(
                senders,
                edge.partitioning,
                subtask,
                self.batch_size,
                counter,
            )
        }
    }

    fn vertex_factory(&self, id: VertexId) -> Result<Arc<dyn crate::factory::VertexFactory>> {
        self.spec
            .vertices
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::InvalidGraph(format!("vertex {id} has no operator")))
    }

    fn settings(&self) -> Result<TaskSettings> {
        Ok(TaskSettings {
            buffer_timeout: self.config.get(&options::BUFFER_TIMEOUT)?,
            clock: self.clock.clone(),
        })
    }
}

fn build_tasks(
    spec: &JobSpec,
    config: &Arc<Config>,
    clock: &Arc<dyn Clock>,
    counters: &Counters,
) -> Result<Vec<Box<dyn Task>>> {
    if spec.edges.len() != spec.graph.edges.len() {
        return Err(Error::InvalidGraph(
            "every edge needs exactly one edge factory".into(),
        ));
    }
    let capacity = config.get(&options::BUFFERS_PER_CHANNEL)?;
    let mut builder = Builder {
        spec,
        config,
        clock,
        counters,
        config_arc: config.clone(),
        batch_size: config.get(&options::BATCH_SIZE)?,
        senders: HashMap::new(),
        receivers: HashMap::new(),
    };
    for (i, edge) in spec.graph.edges.iter().enumerate() {
        if is_chained(&spec.graph, edge) {
            continue;
        }
        let (Some(source), Some(target)) = (
            spec.graph.vertex(edge.source),
            spec.graph.vertex(edge.target),
        ) else {
            return Err(Error::InvalidGraph(format!(
                "edge {i} names a missing vertex"
            )));
        };
        let (p, c) = (source.parallelism as usize, target.parallelism as usize);
        for producer in 0..p {
            for consumer in consumers_of(edge.partitioning, producer, p, c) {
                let (tx, rx) = spec.edges[i].channel(capacity);
                builder.senders.entry((i, producer)).or_default().push(tx);
                builder
                    .receivers
                    .entry((edge.target, consumer, edge.input))
                    .or_default()
                    .push(rx);
            }
        }
    }
    let heads: Vec<VertexId> = spec
        .graph
        .vertices
        .iter()
        .filter(|v| !spec.graph.inputs(v.id).any(|e| is_chained(&spec.graph, e)))
        .map(|v| v.id)
        .collect();
    let settings = builder.settings()?;
    let mut tasks = Vec::new();
    for id in heads {
        let Some(vertex) = spec.graph.vertex(id) else {
            continue;
        };
        for subtask in 0..vertex.parallelism as usize {
            let inputs: Vec<Vec<AnyBox>> = (0..2u8)
                .map(|input| {
                    builder
                        .receivers
                        .remove(&(id, subtask, input))
                        .unwrap_or_default()
                })
                .collect();
            let next = builder.output(id, subtask)?;
            let sides = builder.side_outputs(id, subtask)?;
            let ctx = builder.context(id, subtask)?;
            let factory = builder.vertex_factory(id)?;
            tasks.push(factory.head_task(ctx, inputs, next, sides, settings.clone())?);
        }
    }
    Ok(tasks)
}
