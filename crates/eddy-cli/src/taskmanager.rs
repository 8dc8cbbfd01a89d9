//! `eddy taskmanager`: a process that offers its slots to a JobManager and runs
//! the tasks of the SQL jobs it is given, planning each job again from its
//! statements. It registers at `jobmanager.rpc.address`:`jobmanager.rpc.port`,
//! keeps retrying while the JobManager cannot be reached, and serves until it
//! is stopped (SIGTERM or Ctrl-C).

use std::process::ExitCode;
use std::sync::Arc;

use eddy::core::config::options;
use eddy::runtime::cluster::{JobLoader, TaskManager};

/// Usage of `eddy taskmanager`.
pub const USAGE: &str = "usage: eddy taskmanager [--config-dir DIR] [-D key=value]...   \
(registers at jobmanager.rpc.address:jobmanager.rpc.port, default localhost:6123, \
with taskmanager.numberOfTaskSlots slots)";

/// Runs the TaskManager until the process is stopped or the JobManager
/// refuses it.
pub fn run(argv: Vec<String>) -> ExitCode {
    let mut config = match crate::conf::of_process(argv, USAGE) {
        Ok(config) => config,
        Err(code) => return code,
    };
    if config.get_str(options::LOCAL_THREADS.key).is_none() {
        // Flink's default: one slot.
        config.set(options::LOCAL_THREADS.key, "1");
    }
    let role = std::env::var(crate::cluster::LOG_ROLE).unwrap_or_else(|_| "taskmanager".into());
    if let Err(e) = eddy::logging::init_or_stderr(&config, &role) {
        eprintln!("[ERROR] {e}");
        return ExitCode::FAILURE;
    }
    crate::register_connectors();
    let slots = config.get(&options::LOCAL_THREADS).unwrap_or(1).max(1);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        // One thread per slot: a slot's tasks take a thread's share of the
        // machine, as a task is a thread in Flink. (More threads than cores
        // measured slower on the cluster bench.)
        .worker_threads(slots)
        .thread_name("eddy-task")
        .thread_stack_size(eddy::runtime::mini_cluster::TASK_STACK)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("[ERROR] cannot start the task runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let loader: JobLoader = Arc::new(eddy_sql::cluster_job::load);
    let jobmanager = format!(
        "{}:{}",
        config
            .get(&options::JOBMANAGER_RPC_ADDRESS)
            .unwrap_or_default(),
        config
            .get(&options::JOBMANAGER_RPC_PORT)
            .unwrap_or_default()
    );
    let outcome = runtime.block_on(async move {
        let task_manager = TaskManager::bind(config, loader).await?;
        eprintln!(
            "eddy: TaskManager {} with {slots} slots, data port {}, registering at {jobmanager}",
            task_manager.id(),
            task_manager.data_address()
        );
        task_manager.run().await
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("[ERROR] {e}");
            ExitCode::FAILURE
        }
    }
}
