//! Application mode: a DataStream program that is its own cluster.
//!
//! A program hands the function that builds and executes its job to [`run`];
//! its binary then plays three roles, chosen by its first argument:
//!
//! ```text
//!  program ARGS...          the job runs in this process, as without run()
//!
//!  program jobmanager [--config-dir DIR] [-D key=value]... [-- ARGS...]
//!      RPC at jobmanager.rpc.port (6123), REST at rest.port (8081); runs the
//!      program with ARGS, whose execute() runs the job on the TaskManagers;
//!      when the program ends, it stops the TaskManagers and exits with the
//!      program's outcome
//!
//!  program taskmanager [--config-dir DIR] [-D key=value]...
//!      registers its slots at the JobManager; for every attempt of the job it
//!      runs the program again with the job's ARGS, up to execute(), which
//!      there only builds the job (checked equal to the JobManager's graph),
//!      and runs its tasks
//! ```
//!
//! This is Flink's application mode: the program's code is never shipped,
//! because every process runs the same binary. The rules that follow:
//!
//! - a program runs one job: one `execute`;
//! - the code before `execute` runs in every process, once per job attempt in
//!   a TaskManager, so it should only build the job (no output of its own);
//! - the configuration of the cluster (`config.yaml`, `-D`) is the base of the
//!   job's, as Flink's `getExecutionEnvironment()` gives it;
//! - records that cross TaskManagers (behind `key_by`, `rebalance`,
//!   `broadcast`) need a serializable type, registered with
//!   [`register_type`](crate::StreamExecutionEnvironment::register_type); the
//!   JobManager refuses a job that lacks one, naming the edge;
//! - with `high-availability.storageDir` and a checkpoint directory, a
//!   JobManager started again with the same arguments resumes the job from its
//!   latest checkpoint instead of starting it afresh.
//!
//! ```no_run
//! use eddy::prelude::*;
//!
//! fn job(args: Vec<String>) -> Result<()> {
//!     let args = eddy::cli::Args::parse(args, &[])?;
//!     let env = StreamExecutionEnvironment::with_config(args.job_config());
//!     env.from_collection(vec![("a".to_string(), 1u64), ("b".to_string(), 2)])
//!         .key_by(|(key, _)| key.clone())
//!         .reduce(|a, b| (a.0, a.1 + b.1))
//!         .print();
//!     env.execute("sums")?;
//!     Ok(())
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     eddy::application::run(job)
//! }
//! ```

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use eddy_core::checkpointing::CheckpointingOptions;
use eddy_core::{Config, Error, Partitioning, Result};
use eddy_runtime::cluster::ha::JobStore;
use eddy_runtime::cluster::{JobLoader, ResourceManager};
use eddy_runtime::protocol::JobArtifact;
use eddy_runtime::{JobClient, JobSpec, MiniCluster};

use crate::process;

/// The artifact kind of application jobs: their statements are the program's
/// arguments.
pub const KIND: &str = "application";

/// How long a finished application waits for its TaskManagers to stop.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

/// Runs `program` in the role the command line names (see the module docs)
/// and gives the process's exit code. `program` gets the arguments meant for
/// it; its error is printed.
pub fn run<F>(program: F) -> ExitCode
where
    F: Fn(Vec<String>) -> Result<()> + Send + Sync + 'static,
{
    let mut argv = std::env::args();
    let name = argv
        .next()
        .as_deref()
        .and_then(|p| {
            std::path::Path::new(p)
                .file_name()?
                .to_str()
                .map(String::from)
        })
        .unwrap_or_else(|| "program".into());
    let mut argv: Vec<String> = argv.collect();
    match argv.first().map(String::as_str) {
        Some("jobmanager") => {
            argv.remove(0);
            job_manager(&name, program, argv)
        }
        Some("taskmanager") => {
            argv.remove(0);
            task_manager(&name, program, argv)
        }
        _ => outcome(&name, program(argv)),
    }
}

fn outcome(name: &str, result: Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The JobManager role: serves RPC and REST, runs the program, whose job runs
/// on the TaskManagers, then stops them.
fn job_manager<F>(name: &str, program: F, argv: Vec<String>) -> ExitCode
where
    F: Fn(Vec<String>) -> Result<()>,
{
    let usage = format!(
        "usage: {name} jobmanager [--config-dir DIR] [-D key=value]... [-- PROGRAM ARGS...]"
    );
    let (own, program_args) = match argv.iter().position(|a| a == "--") {
        Some(at) => (argv[..at].to_vec(), argv[at + 1..].to_vec()),
        None => (argv, Vec::new()),
    };
    let mut config = match process::config_of_process(own, &usage) {
        Ok(config) => config,
        Err(code) => return code,
    };
    if config.get_str(eddy_rest::REST_PORT).is_none() {
        config.set(eddy_rest::REST_PORT, "8081");
    }
    if let Err(e) = crate::logging::init_or_stderr(&config, "jobmanager") {
        eprintln!("[ERROR] {e}");
        return ExitCode::FAILURE;
    }
    let rm = match process::start_resource_manager(&config) {
        Ok(rm) => rm,
        Err(e) => {
            eprintln!("[ERROR] {e}");
            return ExitCode::FAILURE;
        }
    };
    match eddy_rest::start(&config) {
        Ok(Some(addr)) => eprintln!("eddy: JobManager serving at http://{addr}"),
        Ok(None) => {}
        Err(e) => {
            eprintln!("[ERROR] {e}");
            return ExitCode::FAILURE;
        }
    }
    let role = JobManagerRole {
        config,
        rm: rm.clone(),
        args: program_args.clone(),
        submitted: AtomicBool::new(false),
    };
    if JOB_MANAGER.set(role).is_err() {
        eprintln!("[ERROR] {name} is a JobManager already");
        return ExitCode::FAILURE;
    }
    let result = program(program_args);
    rm.shut_down_task_managers(&format!("the application {name} finished"), SHUTDOWN_WAIT);
    outcome(name, result)
}

/// The TaskManager role: builds each job attempt by running the program.
fn task_manager<F>(name: &str, program: F, argv: Vec<String>) -> ExitCode
where
    F: Fn(Vec<String>) -> Result<()> + Send + Sync + 'static,
{
    let usage = format!("usage: {name} taskmanager [--config-dir DIR] [-D key=value]...");
    let config = match process::config_of_process(argv, &usage) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let name = name.to_string();
    let loader: JobLoader = Arc::new(move |artifact, config| {
        if artifact.kind != KIND {
            return Err(Error::InvalidGraph(format!(
                "this TaskManager runs the application {name}; it cannot build a '{}' job",
                artifact.kind
            )));
        }
        build(&program, artifact.statements.clone(), config)
    });
    process::serve_task_manager(config, loader, "taskmanager")
}

/// The JobManager of this process, in the JobManager role.
struct JobManagerRole {
    /// The cluster's configuration: the base of the job's.
    config: Config,
    rm: Arc<ResourceManager>,
    /// The program's arguments: the job's artifact.
    args: Vec<String>,
    submitted: AtomicBool,
}

static JOB_MANAGER: OnceLock<JobManagerRole> = OnceLock::new();

/// A job being built in a TaskManager: the configuration the JobManager sent,
/// and the job once `execute` handed it over.
struct Building {
    config: Config,
    spec: Option<JobSpec>,
}

thread_local! {
    static BUILDING: RefCell<Option<Building>> = const { RefCell::new(None) };
}

/// What `execute` says in a TaskManager, where the job is only built.
const BUILT_HERE: &str = "the job was built for this TaskManager, which runs its tasks; \
                          execute() does not run it here";

/// Runs `program` with `args` up to its `execute`, which hands the job over.
fn build<F>(program: &F, args: Vec<String>, config: &Config) -> Result<JobSpec>
where
    F: Fn(Vec<String>) -> Result<()>,
{
    BUILDING.with(|b| {
        *b.borrow_mut() = Some(Building {
            config: config.clone(),
            spec: None,
        })
    });
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| program(args)));
    let built = BUILDING
        .with(|b| b.borrow_mut().take())
        .and_then(|b| b.spec);
    match (built, outcome) {
        (Some(spec), _) => Ok(spec),
        (None, Ok(Ok(()))) => Err(Error::InvalidGraph(
            "the program ended without calling execute()".into(),
        )),
        (None, Ok(Err(e))) => Err(e),
        (None, Err(panic)) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(Error::Other(format!(
                "the program panicked while building the job: {message}"
            )))
        }
    }
}

/// The configuration a new environment starts from: the cluster's in an
/// application's JobManager, the job's as the JobManager sent it while a
/// TaskManager builds the job; `None` in a plain program.
pub(crate) fn base_config() -> Option<Config> {
    BUILDING
        .with(|b| b.borrow().as_ref().map(|b| b.config.clone()))
        .or_else(|| JOB_MANAGER.get().map(|jm| jm.config.clone()))
}

/// Whether a job executes in this process: not in an application's
/// JobManager or while a TaskManager builds the job.
pub(crate) fn runs_here() -> bool {
    BUILDING.with(|b| b.borrow().is_none()) && JOB_MANAGER.get().is_none()
}

/// Executes `spec` where this process's role wants it: on the cluster in an
/// application's JobManager; in a TaskManager, it keeps the job (the first,
/// if the program executes twice) to run it there and gives the program an
/// error. Only for processes where the job does not [`runs_here`].
pub(crate) fn execute(spec: JobSpec, cluster: &MiniCluster) -> Result<JobClient> {
    let building = BUILDING.with(|b| match b.borrow_mut().as_mut() {
        Some(building) => {
            building.spec.get_or_insert(spec);
            None
        }
        None => Some(spec),
    });
    match (building, JOB_MANAGER.get()) {
        (Some(spec), Some(jm)) => jm.submit(spec, cluster.clone()),
        _ => Err(Error::Other(BUILT_HERE.into())),
    }
}

impl JobManagerRole {
    /// Runs the program's job on the cluster's TaskManagers.
    fn submit(&self, mut spec: JobSpec, cluster: MiniCluster) -> Result<JobClient> {
        if self.submitted.swap(true, Ordering::SeqCst) {
            return Err(Error::Other(
                "an application runs one job: the program called execute() again".into(),
            ));
        }
        check_edges(&spec)?;
        let artifact = JobArtifact {
            kind: KIND.into(),
            statements: self.args.clone(),
        };
        spec.artifact = Some(artifact.clone());
        let mut cluster = cluster.with_resource_manager(Some(self.rm.clone()));
        if let Some(job_id) = self.resumable(&artifact, &spec)? {
            eprintln!("eddy: resuming job {job_id} from its latest checkpoint");
            cluster = cluster.recovering(job_id);
        }
        let client = cluster.execute_async(spec)?;
        eprintln!("Job ID: {}", client.job_id());
        Ok(client)
    }

    /// The run of this application that a JobManager before this one left
    /// running in the job store, when it has checkpoints to resume from. The
    /// store forgets it: the new run takes its place.
    fn resumable(&self, artifact: &JobArtifact, spec: &JobSpec) -> Result<Option<String>> {
        let Some(store) = JobStore::from_config(&self.config)? else {
            return Ok(None);
        };
        let Some(job) = store
            .jobs()
            .into_iter()
            .find(|job| &job.artifact == artifact && job.name == spec.graph.name)
        else {
            return Ok(None);
        };
        store.remove(&job.job_id);
        let config = Config::from_map(job.config.clone());
        let checkpoints =
            CheckpointingOptions::from_config(&config)?.is_some_and(|c| c.dir.is_some());
        Ok(checkpoints.then_some(job.job_id))
    }
}

/// Every edge whose producer and consumer may run in different TaskManagers
/// (all but forward edges: subtask `i` of every vertex shares slot `i`) needs
/// a codec for its records.
fn check_edges(spec: &JobSpec) -> Result<()> {
    let name = |id: eddy_core::VertexId| {
        spec.graph
            .vertices
            .iter()
            .find(|v| v.id == id)
            .map_or_else(|| format!("{id:?}"), |v| v.name.clone())
    };
    for (edge, factory) in spec.graph.edges.iter().zip(&spec.edges) {
        if edge.partitioning != Partitioning::Forward && !factory.crosses_processes() {
            return Err(Error::InvalidGraph(format!(
                "the records from '{}' to '{}' ({:?}) cannot cross TaskManagers: their type \
                 {} is not registered; call env.register_type::<T>() for it",
                name(edge.source),
                name(edge.target),
                edge.partitioning,
                record_type(factory.batch_type()),
            )));
        }
    }
    Ok(())
}

/// The record type inside a batch type's name (`Vec<StreamRecord<T>>` → `T`).
fn record_type(batch: &str) -> &str {
    match batch.find("StreamRecord<") {
        Some(at) => batch[at + "StreamRecord<".len()..]
            .strip_suffix(">>")
            .unwrap_or(batch),
        None => batch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StreamExecutionEnvironment;

    #[test]
    fn an_edge_between_task_managers_needs_a_registered_type() {
        let env = StreamExecutionEnvironment::new();
        env.from_collection(vec![1u8, 2, 3])
            .rebalance()
            .map(|x| x as u32)
            .name("Widen")
            .discard();
        let error = check_edges(&env.job_spec("j").unwrap()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid job graph: the records from 'Collection Source' to 'Widen' (Rebalance) \
             cannot cross TaskManagers: their type u8 is not registered; call \
             env.register_type::<T>() for it"
        );
        env.register_type::<u8>();
        check_edges(&env.job_spec("j").unwrap()).unwrap();
    }

    #[test]
    fn record_types_are_named_without_their_batch() {
        assert_eq!(
            record_type(
                "alloc::vec::Vec<eddy_core::batch::StreamRecord<(alloc::string::String, u64)>>"
            ),
            "(alloc::string::String, u64)"
        );
        assert_eq!(record_type("arrow::RecordBatch"), "arrow::RecordBatch");
    }
}
