//! `env.log.dir`: the process writes its log file there (state changes,
//! checkpoints, failures with their cause) and the REST API lists and serves it;
//! a bad level is an error naming the key.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{raw_get, Shell};

fn log_text(dir: &std::path::Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        text.push_str(&std::fs::read_to_string(entry.path()).unwrap());
    }
    text
}

#[test]
fn the_log_file_holds_state_changes_and_checkpoints_and_is_served_over_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("log");
    let script = tmp.path().join("job.sql");
    std::fs::write(
        &script,
        "CREATE TABLE ticks (k BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '100', \
         'fields.k.kind' = 'sequence', 'fields.k.start' = '1', 'fields.k.end' = '1000000');\n\
         CREATE TABLE sink (k BIGINT) WITH ('connector' = 'blackhole');\n\
         INSERT INTO sink SELECT k FROM ticks;\n",
    )
    .unwrap();
    let log_dir = format!("env.log.dir={}", logs.display());
    let shell = Shell::start(
        &script,
        &[
            "-D",
            &log_dir,
            "-D",
            "execution.checkpointing.interval=100ms",
        ],
    );
    let job = shell.running_job();
    shell.wait_for(&format!("/jobs/{job}/checkpoints"), |b| {
        b["counts"]["completed"].as_u64().is_some_and(|c| c > 0)
    });
    let listed = shell.get("/jobmanager/logs");
    let name = listed["logs"][0]["name"].as_str().unwrap().to_string();
    assert!(
        name.starts_with("eddy-sql-client-") && name.ends_with(".log"),
        "{listed}"
    );
    assert_eq!(shell.get("/taskmanagers/local/logs"), listed);
    // The file itself is text, not JSON: fetched through the raw client.
    let (head, text) = raw_get(&shell.addr, &format!("/jobmanager/logs/{name}"), "");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain"),
        "{head}"
    );
    assert!(
        text.contains(&format!("({job}) switched from state CREATED to RUNNING")),
        "{text}"
    );
    assert!(
        text.contains(&format!("Completed checkpoint 1 for job {job}")),
        "{text}"
    );
    // The tail of a log: at most that many bytes, from the first whole line.
    let (_, tail) = raw_get(
        &shell.addr,
        &format!("/jobmanager/logs/{name}?tail=300"),
        "",
    );
    assert!(!tail.is_empty() && tail.len() <= 300, "{tail}");
    assert!(tail.starts_with("20"), "not from a line's start: {tail}");
    let (_, local) = raw_get(
        &shell.addr,
        &format!("/taskmanagers/local/logs/{name}?tail=300"),
        "",
    );
    assert!(local.starts_with("20") && local.len() <= 300, "{local}");
    let (status, _) = shell.call("GET", &format!("/taskmanagers/other/logs/{name}"), None);
    assert_eq!(status, 404);
    // The process's own metrics.
    let metrics = shell.get("/jobmanager/metrics?get=Status.Process.Threads.Count,numRunningJobs");
    assert_eq!(metrics[1]["value"], "1", "{metrics}");
    let threads: u64 = metrics[0]["value"].as_str().unwrap().parse().unwrap();
    assert!(threads >= 2, "{metrics}");
    // Only log files are served.
    let (status, _) = shell.call("GET", "/jobmanager/logs/passwd", None);
    assert_eq!(status, 404);
    let (status, _) = shell.call("GET", "/jobmanager/logs/..%2F..%2Fetc%2Fpasswd", None);
    assert_eq!(status, 404);

    shell.call("PATCH", &format!("/jobs/{job}?mode=cancel"), None);
    let (ok, stderr) = shell.finish();
    assert!(!ok, "{stderr}");
    let text = log_text(&logs);
    assert!(
        text.contains("switched from state CANCELLING to CANCELED"),
        "{text}"
    );
}

#[test]
fn a_failure_is_logged_with_its_cause_and_a_bad_level_names_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("log");
    let data = tmp.path().join("in.csv");
    std::fs::write(&data, "a,1\nb,not-a-number\n").unwrap();
    let script = tmp.path().join("job.sql");
    std::fs::write(
        &script,
        format!(
            "CREATE TABLE t (k STRING, v INT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\n\
             CREATE TABLE o (k STRING, v INT) WITH ('connector' = 'blackhole');\n\
             INSERT INTO o SELECT k, v FROM t;\n",
            data.display()
        ),
    )
    .unwrap();
    let log_dir = format!("env.log.dir={}", logs.display());
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["sql", "-f"])
        .arg(&script)
        .args(["-D", &log_dir, "-D", "restart-strategy.type=none"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = log_text(&logs);
    let failure = text
        .lines()
        .find(|l| l.contains("ERROR") && l.contains("failed"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(failure.contains("in.csv"), "{failure}");

    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["sql", "-f"])
        .arg(&script)
        .args(["-D", &log_dir, "-D", "rootLogger.level=LOUD"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rootLogger.level"), "{stderr}");
}
