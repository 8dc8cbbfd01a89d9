//! The `eddy` command.
//!
//! ```text
//! eddy sql -f FILE [-p N] [-s latest|PATH] [--allow-non-restored-state] [-D key=value]...
//! eddy sql          (an interactive shell)
//! ```

use std::process::ExitCode;

use eddy::cli::Args;
use eddy_sql::{render, Session, Tableau};

const USAGE: &str = "usage: eddy sql [-f FILE] [-p N] [-s latest|PATH] [--allow-non-restored-state] [-D key=value]...";

fn main() -> ExitCode {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) != Some("sql") {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
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
    let mut session = Session::new(config);
    // SELECT results print as they arrive (an unbounded query never ends).
    session.set_result_listener(Some(Tableau::listener()));
    let file = args
        .get("-f")
        .or_else(|| args.get("--file"))
        .map(String::from);
    match file {
        Some(path) => run_file(&mut session, &path),
        None => shell::run(&mut session),
    }
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
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("[ERROR] {path}: {e}");
            ExitCode::FAILURE
        }
    }
}

mod kafka_tables;
mod shell;
