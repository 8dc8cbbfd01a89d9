//! `eddy sql` jobs that cannot succeed end with their cause instead of running
//! forever: a deterministic failure under the default (unbounded) restart
//! strategy, and a checkpoint directory that cannot be written.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `eddy sql -f script` with `args`, killing it after `limit`.
fn run(script: &std::path::Path, args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["sql", "-f"])
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "eddy sql still running after {limit:?}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn script(dir: &std::path::Path, input: &str) -> std::path::PathBuf {
    let data = dir.join("in.csv");
    std::fs::write(&data, input).unwrap();
    let script = dir.join("job.sql");
    std::fs::write(
        &script,
        format!(
            "CREATE TABLE t (k STRING, v INT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\n\
             CREATE TABLE o (k STRING, v INT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\n\
             INSERT INTO o SELECT k, v FROM t;\n",
            data.display(),
            dir.join("out").display()
        ),
    )
    .unwrap();
    script
}

#[test]
fn a_failure_that_repeats_from_the_same_checkpoint_stops_the_job() {
    let tmp = tempfile::tempdir().unwrap();
    let script = script(tmp.path(), "a,1\nb,not-a-number\nc,3\n");
    let checkpoints = format!(
        "execution.checkpointing.dir={}",
        tmp.path().join("ck").display()
    );
    let out = run(
        &script,
        &[
            "-D",
            "execution.checkpointing.interval=100ms",
            "-D",
            &checkpoints,
            "-D",
            "restart-strategy.exponential-delay.initial-backoff=10ms",
        ],
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("3 times in a row"), "{stderr}");
    assert!(stderr.contains("in.csv:2"), "{stderr}");
}

#[test]
fn an_unwritable_checkpoint_directory_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let script = script(tmp.path(), "a,1\n");
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    for dir in [file.clone(), file.join("below"), "/proc/eddy-x".into()] {
        let checkpoints = format!("execution.checkpointing.dir={}", dir.display());
        let out = run(
            &script,
            &[
                "-D",
                "execution.checkpointing.interval=100ms",
                "-D",
                &checkpoints,
            ],
            Duration::from_secs(30),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(&dir.display().to_string()), "{stderr}");
    }
}

#[test]
fn set_checks_values_and_warns_about_keys_nothing_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("set.sql");
    for (statement, says) in [
        (
            "SET 'table.exec.state.ttl' = 'forever';",
            "invalid configuration for 'table.exec.state.ttl': 'forever'",
        ),
        (
            "SET 'pipeline.max-parallelism' = '100000000';",
            "'pipeline.max-parallelism'",
        ),
        (
            "SET 'table.exec.sink.not-null-enforcer' = 'MAYBE';",
            "'table.exec.sink.not-null-enforcer': 'MAYBE' is not ERROR or DROP",
        ),
    ] {
        std::fs::write(&script, format!("{statement}\n")).unwrap();
        let out = run(&script, &[], Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{statement}: {stderr}");
        assert!(stderr.contains(says), "{statement}: {stderr}");
    }
    std::fs::write(&script, "SET 'execution.checkpointing.intervall' = '1s';\n").unwrap();
    let out = run(&script, &[], Duration::from_secs(30));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("did you mean 'execution.checkpointing.interval'?"),
        "{all}"
    );
}

#[test]
fn latest_never_takes_another_script_writing_a_table_of_the_same_name() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("in.csv"), "a,1\nb,2\n").unwrap();
    let job = |query: &str, out: &str| {
        let script = tmp.path().join(format!("{out}.sql"));
        std::fs::write(
            &script,
            format!(
                "CREATE TABLE t (k STRING, v INT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\n\
                 CREATE TABLE o (k STRING, v INT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\n\
                 INSERT INTO o {query};\n",
                tmp.path().join("in.csv").display(),
                tmp.path().join(out).display()
            ),
        )
        .unwrap();
        script
    };
    let checkpoints = format!(
        "execution.checkpointing.dir={}",
        tmp.path().join("ck").display()
    );
    let args = [
        "-D",
        "execution.checkpointing.interval=100ms",
        "-D",
        &checkpoints,
    ];
    // Script 1 (job 'insert-into_o') finishes.
    let out = run(
        &job("SELECT k, v FROM t", "o1"),
        &args,
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Script 2 writes a table of the same name with other operators: its
    // `-s latest` is not script 1's finished run.
    let mut resume = args.to_vec();
    resume.extend(["-s", "latest"]);
    let out = run(
        &job("SELECT k, v * 10 FROM t WHERE v > 1", "o2"),
        &resume,
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("starting from the beginning"), "{stderr}");
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(tmp.path().join("o2")).unwrap().flatten() {
        if !entry.file_name().to_string_lossy().starts_with('.') {
            lines.push(std::fs::read_to_string(entry.path()).unwrap());
        }
    }
    assert_eq!(lines.concat(), "b,20\n");
}
