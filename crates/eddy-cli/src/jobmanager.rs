//! `eddy jobmanager`: a long-running process that takes jobs over its REST API
//! (SQL through the SQL Gateway resources, `eddy run -m`) and runs their tasks
//! on the TaskManagers registered at its RPC port (`jobmanager.rpc.port`,
//! default 6123). A query's rows (`SELECT`) are computed in the JobManager
//! itself, where the client fetches them. It serves until it is stopped
//! (SIGTERM or Ctrl-C).

use std::process::ExitCode;
use std::sync::Arc;

use std::sync::Mutex;

use eddy::core::checkpointing::CheckpointingOptions;
use eddy::core::Config;
use eddy::runtime::cluster::ha::JobStore;
use eddy::runtime::cluster::ResourceManager;
use eddy::runtime::{JobClient, MiniCluster};

use crate::gateway::Gateway;

/// Usage of `eddy jobmanager`.
pub const USAGE: &str = "usage: eddy jobmanager [--config-dir DIR] [-D key=value]...   \
(REST on rest.port, default 8081; TaskManagers register at jobmanager.rpc.port, default 6123)";

/// Runs the JobManager until the process is stopped.
pub fn run(argv: Vec<String>) -> ExitCode {
    let mut config = match eddy::process::config_of_process(argv, USAGE) {
        Ok(config) => config,
        Err(code) => return code,
    };
    if config.get_str(eddy::rest::REST_PORT).is_none() {
        config.set(eddy::rest::REST_PORT, "8081");
    }
    crate::register_connectors();
    if let Err(e) = eddy::logging::init_or_stderr(&config, "jobmanager") {
        eprintln!("[ERROR] {e}");
        return ExitCode::FAILURE;
    }
    match eddy::process::start_resource_manager(&config) {
        Ok(rm) => {
            if let Err(e) = recover(&config, rm) {
                eprintln!("[ERROR] {e}");
                return ExitCode::FAILURE;
            }
        }
        Err(e) => {
            eprintln!("[ERROR] {e}");
            return ExitCode::FAILURE;
        }
    }
    eddy::rest::set_sql_gateway(Arc::new(Gateway::new(config.clone())));
    let started = eddy::rest::start(&config);
    match started {
        Ok(Some(addr)) => eprintln!("eddy: JobManager serving at http://{addr}"),
        Ok(None) => {
            eprintln!("[ERROR] the JobManager has no REST port");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("[ERROR] {e}");
            return ExitCode::FAILURE;
        }
    }
    loop {
        std::thread::park();
    }
}

/// Resumes the jobs the job store (`high-availability.storageDir`) kept: those
/// that ran when this JobManager was last stopped or died. Each starts from
/// its run's newest complete checkpoint, as a new run of the same lineage.
fn recover(config: &Config, rm: Arc<ResourceManager>) -> eddy::core::Result<()> {
    static RECOVERED: Mutex<Vec<JobClient>> = Mutex::new(Vec::new());
    let Some(store) = JobStore::from_config(config)? else {
        return Ok(());
    };
    for job in store.jobs() {
        let job_config = Config::from_map(job.config.clone());
        let resumed =
            eddy_sql::cluster_job::load(&job.artifact, &job_config).and_then(|mut spec| {
                spec.artifact = Some(job.artifact.clone());
                let checkpoints = CheckpointingOptions::from_config(&job_config)?
                    .is_some_and(|c| c.dir.is_some());
                let mut cluster =
                    MiniCluster::new(job_config.clone()).with_resource_manager(Some(rm.clone()));
                if checkpoints {
                    cluster = cluster.recovering(job.job_id.clone());
                }
                cluster.execute_async(spec)
            });
        // The resumed job keeps its own entry; the old one is done with.
        store.remove(&job.job_id);
        match resumed {
            Ok(client) => {
                eprintln!(
                    "eddy: recovered job '{}' ({}) as {}",
                    job.name,
                    job.job_id,
                    client.job_id()
                );
                RECOVERED
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(client);
            }
            Err(e) => eprintln!(
                "[ERROR] job '{}' ({}) could not be recovered: {e}",
                job.name, job.job_id
            ),
        }
    }
    Ok(())
}
