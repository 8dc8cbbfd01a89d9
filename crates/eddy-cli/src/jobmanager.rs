//! `eddy jobmanager`: a long-running process that takes jobs over its REST API
//! (SQL through the SQL Gateway resources, `eddy run -m`) and runs them itself, a
//! cluster of one. It serves until it is stopped (SIGTERM or Ctrl-C).

use std::process::ExitCode;
use std::sync::Arc;

use eddy::cli::Args;

use crate::gateway::Gateway;

/// Usage of `eddy jobmanager`.
pub const USAGE: &str =
    "usage: eddy jobmanager [-D key=value]...   (REST on rest.port, default 8081)";

/// Runs the JobManager until the process is stopped.
pub fn run(argv: Vec<String>) -> ExitCode {
    let args = match Args::parse(argv, &[]) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("eddy: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut config = args.job_config();
    if config.get_str(eddy::rest::REST_PORT).is_none() {
        config.set(eddy::rest::REST_PORT, "8081");
    }
    if let Err(e) = eddy::core::config::validate::check(&config) {
        eprintln!("[ERROR] {e}");
        return ExitCode::FAILURE;
    }
    crate::kafka_tables::register();
    eddy::rest::set_sql_gateway(Arc::new(Gateway::new(config.clone())));
    let started =
        eddy::logging::init(&config, "jobmanager").and_then(|_| eddy::rest::start(&config));
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
