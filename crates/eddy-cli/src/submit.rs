//! `eddy run [-m HOST:PORT] [-p N] [-s PATH] [-n] [-D key=value]... FILE.sql`
//! (without `-m`, `rest.address`:`rest.port` of the settings):
//! submits a SQL script to a JobManager through its SQL Gateway resources, one
//! statement after the other, and prints the id of every job it starts (detached:
//! the jobs run on after the command returns).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy::cli::Args;
use eddy::core::Config;
use serde_json::{json, Value};

use crate::http::Endpoint;

/// Usage of `eddy run`.
pub const USAGE: &str =
    "usage: eddy run [-m HOST:PORT] [-p N] [-s PATH] [-n] [-D key=value]... FILE.sql";

/// How long one statement may take to answer.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(600);

/// Submits the script; the error is what to print.
pub fn run(argv: Vec<String>) -> Result<(), String> {
    let mut argv = argv;
    let address = take_address(&mut argv)?;
    let file = match argv.last() {
        Some(f) if !f.starts_with('-') => argv.pop().unwrap_or_default(),
        _ => return Err(format!("missing the SQL file\n{USAGE}")),
    };
    let args = Args::parse(argv, &[]).map_err(|e| format!("{e}\n{USAGE}"))?;
    let config = args.job_config();
    let address = address.unwrap_or_else(|| crate::http::default_address(&config));
    run_file(&address, &config, &file)
}

/// Takes `-m HOST:PORT` (or `--jobmanager`) out of `argv`.
pub fn take_address(argv: &mut Vec<String>) -> Result<Option<String>, String> {
    let Some(at) = argv.iter().position(|a| a == "-m" || a == "--jobmanager") else {
        return Ok(None);
    };
    let address = argv
        .get(at + 1)
        .cloned()
        .ok_or_else(|| format!("-m needs a value\n{USAGE}"))?;
    argv.drain(at..=at + 1);
    Ok(Some(address))
}

/// Submits the statements of `file` one after the other to the JobManager at
/// `address`; an error names the file, line and column.
pub fn run_file(address: &str, config: &Config, file: &str) -> Result<(), String> {
    let script = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let statements = eddy_sql::script::split(&script).map_err(|e| format!("{file}: {e}"))?;
    let session = RemoteSession::open(address, config)?;
    let result = statements.iter().try_for_each(|statement| {
        session
            .execute(&statement.text)
            .map_err(|e| format!("{file}:{}:{}: {e}", statement.line, statement.column))
    });
    session.close();
    result
}

/// A session of the JobManager's SQL Gateway: statements run there, jobs on
/// its cluster, and what they print comes back.
pub struct RemoteSession {
    endpoint: Endpoint,
    handle: String,
    /// Set (by a Ctrl-C handler) to stop waiting for the statement that runs.
    interrupt: Arc<AtomicBool>,
}

impl RemoteSession {
    /// Opens a session at `address` with `config` as its properties (the REST
    /// token, if any, is sent, not stored).
    pub fn open(address: &str, config: &Config) -> Result<RemoteSession, String> {
        let endpoint = Endpoint::parse(address)?.configured(config)?;
        let properties: BTreeMap<String, String> = config
            .iter()
            .filter(|(k, _)| !k.starts_with("rest.auth."))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let opened = endpoint.expect(
            "POST",
            "/v1/sessions",
            Some(&json!({ "properties": properties })),
        )?;
        let handle = opened["sessionHandle"]
            .as_str()
            .ok_or_else(|| format!("the JobManager opened no session: {opened}"))?
            .to_string();
        Ok(RemoteSession {
            endpoint,
            handle,
            interrupt: Arc::default(),
        })
    }

    /// The flag a Ctrl-C handler sets to stop waiting for a statement.
    pub fn interrupt_flag(&self) -> Arc<AtomicBool> {
        self.interrupt.clone()
    }

    /// Runs one statement and prints what it gives: the job it submitted, or
    /// its rows as CSV lines.
    pub fn execute(&self, statement: &str) -> Result<(), String> {
        let body = json!({ "statement": statement });
        let answer = self.endpoint.expect(
            "POST",
            &format!("/v1/sessions/{}/statements", self.handle),
            Some(&body),
        )?;
        let operation = answer["operationHandle"]
            .as_str()
            .ok_or_else(|| format!("the JobManager started no operation: {answer}"))?;
        self.interrupt.store(false, Ordering::SeqCst);
        fetch(&self.endpoint, &self.handle, operation, &self.interrupt)
    }

    /// Closes the session; its jobs run on.
    pub fn close(&self) {
        let _ = self
            .endpoint
            .call("DELETE", &format!("/v1/sessions/{}", self.handle), None);
    }
}

/// Fetches a statement's results to their end; prints the jobs it started and
/// the rows of a query.
fn fetch(
    endpoint: &Endpoint,
    session: &str,
    operation: &str,
    interrupt: &AtomicBool,
) -> Result<(), String> {
    let started = Instant::now();
    let mut next = format!("/v1/sessions/{session}/operations/{operation}/result/0");
    loop {
        let page = endpoint.expect("GET", &next, None)?;
        match page["resultType"].as_str() {
            Some("EOS") => return Ok(()),
            Some("PAYLOAD") => print_page(&page),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
        if interrupt.swap(false, Ordering::SeqCst) {
            // What still runs of the statement (a query's job) is cancelled; a
            // job an INSERT submitted runs on.
            let cancel = format!("/v1/sessions/{session}/operations/{operation}/cancel");
            endpoint.expect("POST", &cancel, None)?;
            return Err("the statement was cancelled (a job it submitted runs on)".into());
        }
        if started.elapsed() > STATEMENT_TIMEOUT {
            return Err(format!("no answer within {STATEMENT_TIMEOUT:?}"));
        }
        next = match page["nextResultUri"].as_str() {
            Some(uri) => uri.to_string(),
            None => return Ok(()),
        };
    }
}

fn print_page(page: &Value) {
    let rows = page["results"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if let Some(job) = page["jobID"].as_str() {
        println!("Job has been submitted with JobID {job}");
        return;
    }
    for row in rows {
        let fields: Vec<String> = row["fields"]
            .as_array()
            .map(|f| {
                f.iter()
                    .map(|v| v.as_str().map_or_else(|| "NULL".to_string(), String::from))
                    .collect()
            })
            .unwrap_or_default();
        println!("{}", fields.join(","));
    }
}
