//! Starting cluster processes: a process's configuration, the JobManager's RPC
//! endpoint, and a TaskManager serving until it is stopped. The `eddy`
//! command's `jobmanager` and `taskmanager` and a program's own
//! [`application`](crate::application) roles start the same way.
//!
//! ```text
//!  --config-dir DIR (default conf/) ─▶ DIR/config.yaml ─┐
//!  -D key=value ...                                     ├▶ Config (checked; unknown keys warned)
//!                                                       ┘
//!  JobManager:  start_resource_manager(config)  RPC at jobmanager.rpc.port
//!  TaskManager: serve_task_manager(config, loader, role)  registers, runs tasks
//! ```

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use eddy_core::config::options;
use eddy_core::{Config, Error, Result};
use eddy_runtime::cluster::{JobLoader, ResourceManager, TaskManager};

use crate::cli::Args;

/// The option naming the configuration directory.
pub const CONFIG_DIR: &str = "--config-dir";

/// The environment variable naming the role a process logs as (its log file's
/// name), set by `eddy cluster start` to tell its TaskManagers apart.
pub const LOG_ROLE: &str = "EDDY_LOG_ROLE";

/// The configuration of a cluster process from its arguments (`--config-dir
/// DIR`, `-D key=value`); on a bad argument or configuration it prints why
/// (with `usage` for the former) and gives the exit code.
pub fn config_of_process(argv: Vec<String>, usage: &str) -> std::result::Result<Config, ExitCode> {
    let args = Args::parse(argv, &[CONFIG_DIR]).map_err(|e| {
        eprintln!("eddy: {e}\n{usage}");
        ExitCode::from(2)
    })?;
    load_config(&args).map_err(|e| {
        eprintln!("[ERROR] {e}");
        ExitCode::FAILURE
    })
}

/// Flink's `config.yaml` in the configuration directory (`--config-dir DIR`,
/// default `conf/`, which may be missing), then the `-D key=value` overrides.
/// Unknown keys are warned about (with the nearest known key); an invalid
/// value is an error naming its key. The error is what to print.
pub fn load_config(args: &Args) -> std::result::Result<Config, String> {
    let (dir, explicit) = match args.get(CONFIG_DIR) {
        Some(dir) => (dir, true),
        None => ("conf", false),
    };
    let file = Path::new(dir).join("config.yaml");
    let mut config = Config::new();
    match std::fs::read_to_string(&file) {
        Ok(text) => config
            .merge_yaml(&text, &file.display().to_string())
            .map_err(|e| e.to_string())?,
        Err(e) if explicit || e.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!("cannot read {}: {e}", file.display()))
        }
        Err(_) => {}
    }
    for (key, value) in args.job_config().iter() {
        config.set(key, value);
    }
    eddy_core::config::validate::check(&config).map_err(|e| e.to_string())?;
    for (key, nearest) in eddy_core::config::validate::unknown_keys(&config, &[]) {
        let hint = nearest
            .map(|k| format!(" (did you mean '{k}'?)"))
            .unwrap_or_default();
        eprintln!("eddy: warning: unknown configuration key '{key}'{hint}; it has no effect");
    }
    Ok(config)
}

/// Starts the JobManager's RPC endpoint (`jobmanager.rpc.address`:
/// `jobmanager.rpc.port`), where TaskManagers register, and installs its
/// ResourceManager for the REST API. The endpoint lives as long as the
/// process.
pub fn start_resource_manager(config: &Config) -> Result<Arc<ResourceManager>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("eddy-rpc")
        .enable_all()
        .build()
        .map_err(|e| Error::Other(format!("cannot start the RPC runtime: {e}")))?;
    let started = runtime.block_on(ResourceManager::start(config));
    // Its tasks serve until the process ends: the runtime is never dropped.
    std::mem::forget(runtime);
    let (rm, addr) = started?;
    ResourceManager::install(rm.clone());
    eprintln!("eddy: JobManager RPC at {addr}");
    Ok(rm)
}

/// Runs a TaskManager that builds jobs with `loader` until the process is
/// stopped, the JobManager refuses it or shuts it down. `role` names its log
/// file (`env.log.dir`), unless `EDDY_LOG_ROLE` names another.
pub fn serve_task_manager(mut config: Config, loader: JobLoader, role: &str) -> ExitCode {
    if config.get_str(options::LOCAL_THREADS.key).is_none() {
        // Flink's default: one slot.
        config.set(options::LOCAL_THREADS.key, "1");
    }
    let role = std::env::var(LOG_ROLE).unwrap_or_else(|_| role.to_string());
    if let Err(e) = crate::logging::init_or_stderr(&config, &role) {
        eprintln!("[ERROR] {e}");
        return ExitCode::FAILURE;
    }
    let slots = config.get(&options::LOCAL_THREADS).unwrap_or(1).max(1);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        // One thread per slot: a slot's tasks take a thread's share of the
        // machine, as a task is a thread in Flink. (More threads than cores
        // measured slower on the cluster bench.)
        .worker_threads(slots)
        .thread_name("eddy-task")
        .thread_stack_size(eddy_runtime::mini_cluster::TASK_STACK)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("[ERROR] cannot start the task runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
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
