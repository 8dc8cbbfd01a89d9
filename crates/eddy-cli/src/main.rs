//! The `eddy` command.
//!
//! ```text
//! eddy sql -f FILE [-p N] [-s latest|PATH] [--allow-non-restored-state] [-D key=value]...
//! eddy sql          (an interactive shell)
//! eddy jobmanager [-D key=value]...          (serves REST and runs submitted jobs)
//! eddy run -m HOST:PORT [-p N] [-s PATH] [-D key=value]... FILE.sql
//! eddy list | cancel | savepoint | stop ...   (a running process's REST API, -m HOST:PORT)
//! ```

use std::process::ExitCode;

use eddy::cli::Args;
use eddy_sql::{render, Session, Tableau};

const USAGE: &str = "usage: eddy sql [-f FILE] [-p N] [-s latest|PATH] [--allow-non-restored-state] [-D key=value]...";

/// `eddy --help`.
const HELP: &str = "\
eddy: a stateful stream processor.

Commands:
  sql        run a SQL script (-f FILE) or an interactive SQL shell
  jobmanager serve the REST API and run the jobs submitted to it (a cluster of one)
  run        submit a SQL script to a JobManager (-m HOST:PORT)
  list       list the jobs of a process serving the REST API
  savepoint  take a savepoint of a job (or dispose of one with --dispose PATH)
  stop       stop a job with a savepoint
  cancel     cancel a job

Run 'eddy <command> --help' for a command's options; 'eddy --version' for the version.";

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
    let args = match Args::parse(argv, &["-f", "--file"]) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("eddy: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    kafka_tables::register();
    let config = args.job_config();
    // With rest.port set, the jobs of this shell are watched and controlled
    // over the REST API.
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
        Some(path) => run_file(&mut session, &path),
        None => shell::run(&mut session),
    };
    // An answer the REST API holds (a stop's savepoint path) is given out
    // before the process, and the API with it, ends.
    eddy::rest::linger(std::time::Duration::from_secs(3));
    code
}

fn run_file(session: &mut Session, path: &str) -> ExitCode {
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
        return ExitCode::FAILURE;
    }
    // Jobs submitted with table.dml-sync = false run in this process: the
    // script ends when they do.
    let failures = session.wait_for_background_jobs();
    for (id, error) in &failures {
        eprintln!("[ERROR] {path}: job {id}: {error}");
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

mod gateway;
mod http;
mod jobmanager;
mod kafka_tables;
mod remote;
mod shell;
mod submit;
