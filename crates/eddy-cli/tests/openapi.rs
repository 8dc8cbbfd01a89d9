//! The OpenAPI document against the answers: `schemathesis` (from PyPI) sends
//! generated requests to every operation of a JobManager running a job, and
//! checks that none is answered with a 5xx, that every status and content type
//! is one the document names, and that every answer matches its schema. The
//! path parameters carry the running job's real ids as examples, so the
//! answers about a job, its vertices, checkpoints, savepoints, logs and SQL
//! sessions are checked as well as the errors.
//!
//! What is missing is installed by the test: `schemathesis` with pip into a
//! virtual environment under `$HOME/.cache/eddy-schemathesis` (never into the
//! repository), and Debian's `python3-venv` with apt-get if there is no way to
//! make one.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::cluster::Cluster;
use common::eddy;
use serde_json::{json, Value};

/// The schemathesis version the checks are written against.
const SCHEMATHESIS: &str = "4.32.5";

/// Makes a virtual environment at `dir`, installing Debian's venv module first
/// if Python cannot.
fn make_venv(dir: &Path) {
    let venv = || {
        Command::new("python3")
            .args(["-m", "venv"])
            .arg(dir)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if venv() {
        return;
    }
    let _ = std::fs::remove_dir_all(dir);
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
    };
    let _ = apt(&["update"]);
    let _ = apt(&[
        "install",
        "-y",
        "--no-install-recommends",
        "python3",
        "python3-venv",
    ]);
    assert!(
        venv(),
        "python3 -m venv is needed and could not be installed"
    );
}

/// The `schemathesis` command, installed with pip into the user's cache when
/// missing.
fn schemathesis() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = home
        .join(".cache/eddy-schemathesis")
        .join(format!("schemathesis-{SCHEMATHESIS}"));
    let command = dir.join("bin/schemathesis");
    if command.exists() {
        return command;
    }
    // Installed beside and renamed into place, so a half-done install is never
    // used. A virtual environment's scripts name its path, so it is made where
    // it stays and marked done only once pip succeeded.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    make_venv(&dir);
    let install = Command::new(dir.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("schemathesis=={SCHEMATHESIS}"))
        .output()
        .unwrap();
    assert!(
        install.status.success() && command.exists(),
        "pip install schemathesis=={SCHEMATHESIS} failed: {}",
        String::from_utf8_lossy(&install.stderr)
    );
    command
}

/// `POST` of `body` to `path`; the JSON answer.
fn post(rest: &common::Shell, path: &str, body: &str) -> Value {
    let (status, answer) = rest.call("POST", path, Some(body));
    assert!(status < 300, "POST {path}: {status} {answer}");
    answer
}

/// The example of each path parameter: the running job's real ids.
struct Examples {
    values: Vec<(&'static str, Value)>,
    savepoint_trigger: String,
    checkpoint_trigger: String,
}

impl Examples {
    fn of(&self, path: &str, name: &str) -> Value {
        if name == "triggerid" {
            let trigger = if path.contains("/savepoints/") {
                &self.savepoint_trigger
            } else {
                &self.checkpoint_trigger
            };
            return json!(trigger);
        }
        let found = self.values.iter().find(|(n, _)| *n == name);
        found
            .unwrap_or_else(|| panic!("no example for {name}"))
            .1
            .clone()
    }

    /// Sets the example of every path parameter of `document`.
    fn apply(&self, document: &mut Value) {
        for (path, item) in document["paths"].as_object_mut().unwrap() {
            for operation in item.as_object_mut().unwrap().values_mut() {
                for parameter in operation["parameters"].as_array_mut().unwrap() {
                    if parameter["in"] == "path" {
                        let name = parameter["name"].as_str().unwrap().to_string();
                        parameter["example"] = self.of(path, &name);
                    }
                }
            }
        }
    }
}

#[test]
fn every_answer_of_a_running_cluster_matches_the_openapi_document() {
    let schemathesis = schemathesis();
    let tmp = tempfile::tempdir().unwrap();
    let logs = format!("env.log.dir={}", tmp.path().join("log").display());
    let ck = format!(
        "execution.checkpointing.dir={}",
        tmp.path().join("ck").display()
    );
    let savepoints = format!(
        "execution.checkpointing.savepoint-dir={}",
        tmp.path().join("sp").display()
    );
    let jm_args = [
        "-D",
        &logs,
        "-D",
        &ck,
        "-D",
        &savepoints,
        "-D",
        "execution.checkpointing.interval=300ms",
    ];
    let mut cluster = Cluster::start(&jm_args, &[]);
    cluster.add_taskmanager(4, &["-D", &logs]);
    cluster.await_slots(4);
    let rest = cluster.rest();

    let script = tmp.path().join("job.sql");
    std::fs::write(
        &script,
        "CREATE TABLE clicks (user_id BIGINT, url STRING, ts TIMESTAMP(3), \
         WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'datagen', \
         'rows-per-second' = '200', 'fields.user_id.min' = '1', 'fields.user_id.max' = '20');\n\
         CREATE TABLE counts (user_id BIGINT, n BIGINT) WITH ('connector' = 'blackhole');\n\
         INSERT INTO counts SELECT user_id, COUNT(*) AS n FROM clicks GROUP BY user_id;\n",
    )
    .unwrap();
    let (ok, said, stderr) = eddy(&["run", "-m", &rest.addr, "-p", "2", script.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let job = said
        .lines()
        .find_map(|l| l.strip_prefix("Job has been submitted with JobID "))
        .unwrap()
        .trim()
        .to_string();
    let checkpoints = rest.wait_for(&format!("/jobs/{job}/checkpoints"), |c| {
        c["counts"]["completed"].as_u64() >= Some(1)
    });
    let details = rest.get(&format!("/jobs/{job}"));
    let savepoint = post(&rest, &format!("/jobs/{job}/savepoints"), "{}");
    let checkpoint = post(&rest, &format!("/jobs/{job}/checkpoints"), "{}");
    let session = rest.open_session("{}");
    let operation = rest.statement(&session, "SHOW TABLES");
    let taskmanager = rest.get("/taskmanagers")["taskmanagers"][0]["id"].clone();
    let log = rest.get("/jobmanager/logs")["logs"][0]["name"].clone();
    let examples = Examples {
        values: vec![
            ("jobid", json!(job)),
            ("vertexid", details["vertices"][0]["id"].clone()),
            (
                "checkpointid",
                checkpoints["latest"]["completed"]["id"].clone(),
            ),
            ("tmid", taskmanager),
            ("file", log),
            ("session", json!(session)),
            ("operation", json!(operation)),
            ("token", json!(0)),
        ],
        savepoint_trigger: savepoint["request-id"].as_str().unwrap().to_string(),
        checkpoint_trigger: checkpoint["request-id"].as_str().unwrap().to_string(),
    };
    let mut document = rest.get("/openapi.json");
    examples.apply(&mut document);
    // A savepoint's directory is any path the server may write: generated
    // ones would land anywhere on this machine. Here the savepoints and stops
    // go without a body, into the configured directory under the test's.
    for path in ["/jobs/{jobid}/savepoints", "/jobs/{jobid}/stop"] {
        let operation = document["paths"][path]["post"].as_object_mut().unwrap();
        assert!(operation.remove("requestBody").is_some(), "{path}");
    }
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    let file = tmp.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_string_pretty(&document).unwrap()).unwrap();

    let started = Instant::now();
    let run = Command::new(&schemathesis)
        .arg("run")
        .arg(&file)
        .args(["--url", &format!("http://{}", rest.addr)])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples",
            "10",
            "--workers",
            "2",
            "--seed",
            "20261203",
            "--request-timeout",
            "20",
            "--generation-database",
            "none",
        ])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let output = String::from_utf8_lossy(&run.stdout);
    let summary: String = output
        .lines()
        .skip_while(|l| !l.contains("SUMMARY"))
        .collect::<Vec<_>>()
        .join("\n");
    eprintln!("{summary}\nschemathesis took {:?}", started.elapsed());
    assert!(
        run.status.success(),
        "schemathesis found answers the document does not describe:\n{output}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        output.contains(&format!("Tested: {operations}")),
        "{output}"
    );
}
