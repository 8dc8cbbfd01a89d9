//! `eddy run -m HOST:PORT [-p N] [-s PATH] [-n] [-D key=value]... FILE.sql`:
//! submits a SQL script to a JobManager through its SQL Gateway resources, one
//! statement after the other, and prints the id of every job it starts (detached:
//! the jobs run on after the command returns).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use eddy::cli::Args;
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
    let mut address = "localhost:8081".to_string();
    if let Some(at) = argv.iter().position(|a| a == "-m" || a == "--jobmanager") {
        address = argv
            .get(at + 1)
            .cloned()
            .ok_or_else(|| format!("-m needs a value\n{USAGE}"))?;
        argv.drain(at..=at + 1);
    }
    let file = match argv.last() {
        Some(f) if !f.starts_with('-') => argv.pop().unwrap_or_default(),
        _ => return Err(format!("missing the SQL file\n{USAGE}")),
    };
    let args = Args::parse(argv, &[]).map_err(|e| format!("{e}\n{USAGE}"))?;
    let script = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let statements = eddy_sql::script::split(&script).map_err(|e| format!("{file}: {e}"))?;
    let config = args.job_config();
    let endpoint = Endpoint::parse(&address)?.with_token_from(&config)?;
    let properties: BTreeMap<String, String> = config
        .iter()
        .filter(|(k, _)| !k.starts_with("rest.auth."))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let session = endpoint.expect(
        "POST",
        "/v1/sessions",
        Some(&json!({ "properties": properties })),
    )?;
    let session = session["sessionHandle"]
        .as_str()
        .ok_or_else(|| format!("the JobManager opened no session: {session}"))?
        .to_string();
    let result = statements.iter().try_for_each(|statement| {
        let body = json!({ "statement": statement.text });
        let answer = endpoint.expect(
            "POST",
            &format!("/v1/sessions/{session}/statements"),
            Some(&body),
        )?;
        let operation = answer["operationHandle"]
            .as_str()
            .ok_or_else(|| format!("the JobManager started no operation: {answer}"))?;
        fetch(&endpoint, &session, operation)
            .map_err(|e| format!("{file}:{}:{}: {e}", statement.line, statement.column))
    });
    let _ = endpoint.call("DELETE", &format!("/v1/sessions/{session}"), None);
    result
}

/// Fetches a statement's results to their end; prints the jobs it started and
/// the rows of a query.
fn fetch(endpoint: &Endpoint, session: &str, operation: &str) -> Result<(), String> {
    let started = Instant::now();
    let mut next = format!("/v1/sessions/{session}/operations/{operation}/result/0");
    loop {
        let page = endpoint.expect("GET", &next, None)?;
        match page["resultType"].as_str() {
            Some("EOS") => return Ok(()),
            Some("PAYLOAD") => print_page(&page),
            _ => std::thread::sleep(Duration::from_millis(50)),
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
