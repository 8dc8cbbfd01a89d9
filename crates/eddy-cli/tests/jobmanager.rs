//! `eddy jobmanager` with a TaskManager, and the CLI against it: `eddy run -m`
//! submits a SQL script and returns, `eddy list` shows the job, `eddy stop` takes
//! a savepoint, `eddy run -s` resumes from it, and the output equals a run without
//! interruption; bad scripts are errors naming file and line; the SQL Gateway
//! resources page a query's rows.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::{committed_keys, eddy, raw_get};
use serde_json::Value;

/// A JobManager with one TaskManager of two slots, killed when dropped.
struct JobManager {
    cluster: Cluster,
    addr: String,
}

impl JobManager {
    fn start(args: &[&str]) -> JobManager {
        let protected = args.iter().any(|a| a.starts_with("rest.auth.token"));
        // A protected REST API cannot be polled for the slots; the tests that
        // protect it run no job.
        let cluster = Cluster::start(args, if protected { &[] } else { &[2] });
        JobManager {
            addr: cluster.rest.clone(),
            cluster,
        }
    }

    fn rest(&self) -> common::Shell {
        self.cluster.rest()
    }
}

fn submitted(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("Job has been submitted with JobID "))
        .unwrap_or_else(|| panic!("{stdout}"))
        .trim()
        .to_string()
}

#[test]
fn run_list_stop_and_resume_against_a_jobmanager() {
    let tmp = tempfile::tempdir().unwrap();
    let checkpoints = format!(
        "execution.checkpointing.dir={}",
        tmp.path().join("ck").display()
    );
    let jm = JobManager::start(&[
        "-D",
        "execution.checkpointing.interval=200ms",
        "-D",
        &checkpoints,
    ]);
    let rest = jm.rest();
    let out = tmp.path().join("out");
    let script = tmp.path().join("job.sql");
    std::fs::write(
        &script,
        format!(
            "CREATE TABLE ticks (k BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '1000', \
             'fields.k.kind' = 'sequence', 'fields.k.start' = '1', 'fields.k.end' = '5000');\n\
             CREATE TABLE o (k BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\n\
             INSERT INTO o SELECT k FROM ticks;\n",
            out.display()
        ),
    )
    .unwrap();

    // Submitted, detached: the command returns while the job runs.
    let (ok, said, stderr) = eddy(&["run", "-m", &jm.addr, "-p", "2", script.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let job = submitted(&said);
    let (ok, listed, _) = eddy(&["list", "-m", &jm.addr]);
    assert!(
        ok && listed.contains(&format!("{job} : insert-into_o (RUNNING)")),
        "{listed}"
    );
    let details = rest.get(&format!("/jobs/{job}"));
    assert_eq!(details["vertices"][0]["parallelism"], 2);
    rest.wait_for(&format!("/jobs/{job}/checkpoints"), |b| {
        b["counts"]["completed"].as_u64().is_some_and(|c| c > 0)
    });

    // Stop with a savepoint, then resume from it at another parallelism.
    let savepoints = tmp.path().join("sp");
    let (ok, said, stderr) = eddy(&[
        "stop",
        "-m",
        &jm.addr,
        "--savepointPath",
        savepoints.to_str().unwrap(),
        &job,
    ]);
    assert!(ok, "{stderr}");
    let path = said
        .lines()
        .find_map(|l| l.strip_prefix("Savepoint completed. Path: "))
        .unwrap()
        .to_string();
    let stopped = rest.get(&format!("/jobs/{job}"));
    assert_eq!(stopped["state"], "FINISHED");
    let (ok, said, stderr) = eddy(&["run", "-m", &jm.addr, "-s", &path, script.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let resumed = submitted(&said);
    assert_ne!(resumed, job);
    rest.wait_for(&format!("/jobs/{resumed}"), |b| b["state"] == "FINISHED");
    assert_eq!(committed_keys(&out), (1..=5000).collect::<Vec<u64>>());
    let checkpoints = rest.get(&format!("/jobs/{resumed}/checkpoints"));
    assert_eq!(
        checkpoints["latest"]["restored"]["external_path"],
        path.as_str()
    );

    // A job cancelled from the CLI ends CANCELED; the JobManager lives on.
    let (ok, said, _) = eddy(&["run", "-m", &jm.addr, script.to_str().unwrap()]);
    assert!(ok);
    let third = submitted(&said);
    let (ok, _, stderr) = eddy(&["cancel", "-m", &jm.addr, &third]);
    assert!(ok, "{stderr}");
    rest.wait_for(&format!("/jobs/{third}"), |b| b["state"] == "CANCELED");

    // A bad statement is an error naming the file and line.
    let bad = tmp.path().join("bad.sql");
    std::fs::write(
        &bad,
        "CREATE TABLE t (k BIGINT) WITH ('connector' = 'datagen');\nSELECT nope FROM t;\n",
    )
    .unwrap();
    let (ok, _, stderr) = eddy(&["run", "-m", &jm.addr, bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("bad.sql:2:1") && stderr.contains("nope"),
        "{stderr}"
    );
}

#[test]
fn the_sql_gateway_pages_a_querys_rows() {
    let jm = JobManager::start(&[]);
    let rest = jm.rest();
    let session = rest.open_session(r#"{"parallelism.default": "1"}"#);
    let run = |statement: &str| rest.statement(&session, statement);
    run(
        "CREATE TABLE v (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '2500', \
         'fields.a.kind' = 'sequence', 'fields.a.start' = '1', 'fields.a.end' = '2500')",
    );
    let op = run("SELECT a FROM v");
    let mut values = Vec::new();
    let mut next = format!("/v1/sessions/{session}/operations/{op}/result/0");
    let started = Instant::now();
    loop {
        let page: Value = rest.get(&next);
        match page["resultType"].as_str().unwrap() {
            "EOS" => break,
            "PAYLOAD" => {
                assert_eq!(page["results"]["columns"][0]["name"], "a");
                for row in page["results"]["data"].as_array().unwrap() {
                    assert_eq!(row["kind"], "INSERT");
                    values.push(row["fields"][0].as_str().unwrap().parse::<u64>().unwrap());
                }
            }
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
        next = page["nextResultUri"].as_str().unwrap().to_string();
        assert!(started.elapsed() < Duration::from_secs(60));
    }
    values.sort_unstable();
    assert_eq!(values, (1..=2500).collect::<Vec<u64>>());
    let status = rest.get(&format!("/v1/sessions/{session}/operations/{op}/status"));
    assert_eq!(status["status"], "FINISHED");
    // A page asked for again gives the same rows; a token not given out is an error.
    let first = |token: u32| -> Value {
        rest.get(&format!(
            "/v1/sessions/{session}/operations/{op}/result/{token}"
        ))["results"]["data"]
            .clone()
    };
    assert_eq!(first(0), first(0));
    let (status, answer) = rest.call(
        "GET",
        &format!("/v1/sessions/{session}/operations/{op}/result/99"),
        None,
    );
    assert_eq!(status, 400, "{answer}");

    // A failing statement: its result is the error.
    let op = run("SELECT nope FROM v");
    let started = Instant::now();
    let error = loop {
        let (status, answer) = rest.call(
            "GET",
            &format!("/v1/sessions/{session}/operations/{op}/result/0"),
            None,
        );
        if status == 400 {
            break answer["errors"][0].as_str().unwrap().to_string();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{answer}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(error.contains("nope"), "{error}");
    let (status, _) = rest.call("DELETE", &format!("/v1/sessions/{session}"), None);
    assert_eq!(status, 200);
    let (status, _) = rest.call(
        "POST",
        &format!("/v1/sessions/{session}/statements"),
        Some(r#"{"statement": "SELECT 1"}"#),
    );
    assert_eq!(status, 404);
}

#[test]
fn a_token_protects_the_rest_api() {
    let jm = JobManager::start(&["-D", "rest.auth.token=s3cret"]);
    assert!(raw_get(&jm.addr, "/overview", "").0.contains("401"));
    assert!(
        raw_get(&jm.addr, "/overview", "Authorization: Bearer wrong\r\n")
            .0
            .contains("401")
    );
    assert!(
        raw_get(&jm.addr, "/overview", "Authorization: Bearer s3cret\r\n")
            .0
            .contains("200")
    );
    // The Web UI's files hold no data: they load, and the page asks for the token.
    assert!(raw_get(&jm.addr, "/ui/app.js", "").0.contains("200"));
    assert!(raw_get(&jm.addr, "/", "").0.contains("200"));
    assert!(raw_get(&jm.addr, "/no/such/resource", "").0.contains("401"));
    let (status, answer) = jm.rest().call("GET", "/jobs", None);
    assert_eq!(status, 401);
    assert!(answer["errors"][0]
        .as_str()
        .unwrap()
        .contains("Unauthorized"));

    let (ok, _, stderr) = eddy(&["list", "-m", &jm.addr]);
    assert!(!ok && stderr.contains("Unauthorized"), "{stderr}");
    let (ok, listed, stderr) = eddy(&["list", "-m", &jm.addr, "-D", "rest.auth.token=s3cret"]);
    assert!(ok, "{stderr}");
    assert!(listed.contains("No running jobs"), "{listed}");
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["list", "-m", &jm.addr])
        .env("EDDY_REST_TOKEN", "s3cret")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
