//! `eddy taskmanager`: a process that offers its slots to a JobManager and runs
//! the tasks of the SQL jobs it is given, planning each job again from its
//! statements. It registers at `jobmanager.rpc.address`:`jobmanager.rpc.port`,
//! keeps retrying while the JobManager cannot be reached, and serves until it
//! is stopped (SIGTERM or Ctrl-C).

use std::process::ExitCode;
use std::sync::Arc;

use eddy::runtime::cluster::JobLoader;

/// Usage of `eddy taskmanager`.
pub const USAGE: &str = "usage: eddy taskmanager [--config-dir DIR] [-D key=value]...   \
(registers at jobmanager.rpc.address:jobmanager.rpc.port, default localhost:6123, \
with taskmanager.numberOfTaskSlots slots)";

/// Runs the TaskManager until the process is stopped or the JobManager
/// refuses it.
pub fn run(argv: Vec<String>) -> ExitCode {
    let config = match eddy::process::config_of_process(argv, USAGE) {
        Ok(config) => config,
        Err(code) => return code,
    };
    crate::register_connectors();
    let loader: JobLoader = Arc::new(eddy_sql::cluster_job::load);
    eddy::process::serve_task_manager(config, loader, "taskmanager")
}
