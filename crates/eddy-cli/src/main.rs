//! The `eddy` command.
//!
//! ```text
//! eddy sql -f FILE [-p N] [-s latest|PATH] [--allow-non-restored-state] [-D key=value]...
//! eddy sql          (an interactive shell)
//! eddy sql -m HOST:PORT [-f FILE]            (statements run on a JobManager's cluster)
//! eddy jobmanager [-D key=value]...          (serves REST and RPC, schedules jobs)
//! eddy taskmanager [-D key=value]...         (registers its slots, runs tasks)
//! eddy cluster start [--taskmanagers N] | stop (a local standalone cluster)
//! eddy run -m HOST:PORT [-p N] [-s PATH] [-D key=value]... FILE.sql
//! eddy list | cancel | savepoint | stop ...   (a running process's REST API, -m HOST:PORT)
//! ```

use std::process::ExitCode;
use std::sync::Arc;

use eddy::cli::Args;
use eddy_sql::{render, Session, Tableau};

const USAGE: &str = "usage: eddy sql [-m HOST:PORT] [-f FILE] [-p N] [-s latest|PATH] [--allow-non-restored-state] [-D key=value]...";

/// `eddy --help`.
const HELP: &str = "\
eddy: a stateful stream processor.

Commands:
  sql        run a SQL script (-f FILE) or an interactive SQL shell
  jobmanager serve the REST API and run the submitted jobs on the TaskManagers
  taskmanager offer task slots to a JobManager and run the tasks it deploys
  cluster    start or stop a JobManager and TaskManagers in the background
  run        submit a SQL script to a JobManager (-m HOST:PORT)
  info       print the job graph of each INSERT of a SQL script, as JSON
  list       list the jobs of a process serving the REST API
  savepoint  take a savepoint of a job (or dispose of one with --dispose PATH)
  stop       stop a job with a savepoint
  cancel     cancel a job

Run 'eddy <command> --help' for a command's options; 'eddy --version' for the version.";

/// Registers the SQL connectors of client libraries (`kafka`, `upsert-kafka`,
/// `jdbc`) with eddy-sql, which links none of them.
fn register_connectors() {
    kafka_tables::register();
    jdbc_tables::register();
}

#[global_allocator]
static ALLOCATOR: eddy::Allocator = eddy::Allocator;

fn main() -> ExitCode {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    let command = argv.first().cloned().unwrap_or_default();
    match command.as_str() {
        "sql" => {}
        "-h" | "--help" | "help" => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        "-v" | "--version" => {
            println!("eddy {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        "jobmanager" => {
            argv.remove(0);
            if argv.iter().any(|a| a == "-h" || a == "--help") {
                println!("{}", jobmanager::USAGE);
                return ExitCode::SUCCESS;
            }
            return jobmanager::run(argv);
        }
        "cluster" => {
            argv.remove(0);
            if argv.iter().any(|a| a == "-h" || a == "--help") {
                println!("{}", cluster::USAGE);
                return ExitCode::SUCCESS;
            }
            return match cluster::run(argv) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("[ERROR] {e}");
                    ExitCode::FAILURE
                }
            };
        }
        "taskmanager" => {
            argv.remove(0);
            if argv.iter().any(|a| a == "-h" || a == "--help") {
                println!("{}", taskmanager::USAGE);
                return ExitCode::SUCCESS;
            }
            return taskmanager::run(argv);
        }
        "run" => {
            argv.remove(0);
            if argv.iter().any(|a| a == "-h" || a == "--help") {
                println!("{}", submit::USAGE);
                return ExitCode::SUCCESS;
            }
            return match submit::run(argv) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("[ERROR] {e}");
                    ExitCode::FAILURE
                }
            };
        }
        "info" => {
            argv.remove(0);
            if argv.iter().any(|a| a == "-h" || a == "--help") {
                println!("{INFO_USAGE}");
                return ExitCode::SUCCESS;
            }
            return info(argv);
        }
        "list" | "cancel" | "savepoint" | "stop" => {
            argv.remove(0);
            if argv.iter().any(|a| a == "-h" || a == "--help") {
                println!("usage:\n{}", remote::USAGE);
                return ExitCode::SUCCESS;
            }
            return match remote::run(&command, argv) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("[ERROR] {e}");
                    ExitCode::FAILURE
                }
            };
        }
        other => {
            if !other.is_empty() {
                eprintln!("eddy: unknown command '{other}'");
            }
            eprintln!("{HELP}");
            return ExitCode::from(2);
        }
    }
    argv.remove(0);
    if argv.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let address = match submit::take_address(&mut argv) {
        Ok(address) => address,
        Err(e) => {
            eprintln!("eddy: {e}");
            return ExitCode::from(2);
        }
    };
    let args = match Args::parse(argv, &["-f", "--file"]) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("eddy: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Some(address) = address {
        return remote_sql(&address, &args);
    }
    register_connectors();
    let config = args.job_config();
    // With rest.port set, the jobs of this shell are watched and controlled
    // over the REST API, and more statements come through its SQL Gateway
    // (the Web UI's SQL editor).
    let gateway = Arc::new(gateway::Gateway::new(config.clone()));
    eddy::rest::set_sql_gateway(gateway.clone());
    if let Err(e) =
        eddy::logging::init(&config, "sql-client").and_then(|_| eddy::rest::start(&config))
    {
        eprintln!("[ERROR] {e}");
        return ExitCode::FAILURE;
    }
    let mut session = Session::new(config);
    // SELECT results print as they arrive (an unbounded query never ends).
    session.set_result_listener(Some(Tableau::listener()));
    let file = args
        .get("-f")
        .or_else(|| args.get("--file"))
        .map(String::from);
    let code = match file {
        Some(path) => run_file(&mut session, &gateway, &path),
        None => {
            let code = shell::run(&mut session);
            let cancelled = gateway.cancel_jobs();
            if cancelled > 0 {
                eprintln!(
                    "eddy: cancelled {cancelled} job(s) submitted over REST as the shell exits"
                );
            }
            code
        }
    };
    // An answer the REST API holds (a stop's savepoint path) is given out
    // before the process, and the API with it, ends.
    eddy::rest::linger(std::time::Duration::from_secs(3));
    code
}

/// `eddy sql -m HOST:PORT [-f FILE]`: the statements run in a session of
/// that JobManager's SQL Gateway, each INSERT as a job on its cluster.
fn remote_sql(address: &str, args: &Args) -> ExitCode {
    let config = args.job_config();
    let file = args.get("-f").or_else(|| args.get("--file"));
    let outcome = match file {
        Some(file) => submit::run_file(address, &config, file),
        None => match submit::RemoteSession::open(address, &config) {
            Ok(mut session) => return shell::run_remote(&mut session),
            Err(e) => Err(e),
        },
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("[ERROR] {e}");
            ExitCode::FAILURE
        }
    }
}

/// Usage of `eddy info`.
const INFO_USAGE: &str =
    "usage: eddy info [-p N] [-D key=value]... FILE.sql   (prints each INSERT's job graph as JSON)";

/// `eddy info FILE.sql`: the job graph of every `INSERT` of the script, as
/// JSON, without running anything (Flink's `flink info`).
fn info(mut argv: Vec<String>) -> ExitCode {
    let file = match argv.pop() {
        Some(f) if !f.starts_with('-') => f,
        _ => {
            eprintln!("eddy: missing the SQL file\n{INFO_USAGE}");
            return ExitCode::from(2);
        }
    };
    let args = match Args::parse(argv, &[]) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("eddy: {e}\n{INFO_USAGE}");
            return ExitCode::from(2);
        }
    };
    register_connectors();
    let script = match std::fs::read_to_string(&file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("eddy: cannot read {file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut session = Session::new(args.job_config());
    let statements = match eddy_sql::script::split(&script) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("[ERROR] {file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    for statement in &statements {
        match session.job_plan(statement) {
            Ok(Some(plan)) => println!("{plan}"),
            Ok(None) => {}
            Err(e) => {
                eprintln!("[ERROR] {file}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn run_file(session: &mut Session, gateway: &gateway::Gateway, path: &str) -> ExitCode {
    let script = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("eddy: cannot read {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = session.execute_script(&script, |output| print!("{}", render(output)));
    if let Err(e) = result {
        eprintln!("[ERROR] {path}: {e}");
        session.cancel_background_jobs();
        gateway.cancel_jobs();
        return ExitCode::FAILURE;
    }
    // Jobs submitted with table.dml-sync = false run in this process, and so
    // do those submitted over REST: the script ends when they do.
    let mut failures = session.wait_for_background_jobs();
    failures.extend(gateway.wait_for_jobs());
    for (id, error) in &failures {
        eprintln!("[ERROR] {path}: job {id}: {error}");
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

mod cluster;
mod gateway;
mod http;
mod jdbc_tables;
mod jobmanager;
mod kafka_formats;
mod kafka_tables;
mod remote;
mod shell;
mod submit;
mod table_options;
mod taskmanager;
