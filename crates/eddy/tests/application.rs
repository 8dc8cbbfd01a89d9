//! Application mode: the `window_count` example started as its own
//! JobManager and TaskManagers, separate processes on loopback, against the
//! same program run in one process. A TaskManager and the JobManager are
//! killed with SIGKILL on the way; the committed output must equal the
//! failure-free run's, record for record.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{assert_exact, committed, complete_checkpoints, example, wait_until, write_input};

/// A process of the application whose stderr is collected line by line.
struct Process {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Process {
    fn start(args: &[String]) -> Process {
        let mut child = Command::new(example("window_count"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
                sink.lock().unwrap().push(line);
            }
        });
        Process { child, lines }
    }

    fn log(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// The rest of the first line that starts with `prefix`, waiting for it.
    fn await_line(&self, prefix: &str) -> String {
        let mut found = None;
        let seen = wait_until(Duration::from_secs(30), || {
            found = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find_map(|l| l.strip_prefix(prefix).map(str::to_string));
            found.is_some()
        });
        assert!(seen, "no line '{prefix}...' in:\n{}", self.log());
        found.unwrap()
    }

    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The reader thread may still hold the last lines.
                std::thread::sleep(Duration::from_millis(50));
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "the process did not end within {limit:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// The JobManager of `window_count` over `input` into `output` at `-p 2`,
/// with `options` (`-D key=value`) and its RPC port (0: any).
fn jobmanager(rpc_port: &str, options: &[String], input: &Path, output: &Path) -> Process {
    let mut args = strings(&["jobmanager", "-D"]);
    args.push(format!("jobmanager.rpc.port={rpc_port}"));
    args.extend(strings(&["-D", "rest.port=0"]));
    args.extend(options.iter().cloned());
    args.push("--".into());
    args.extend(strings(&[
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "-p",
        "2",
    ]));
    Process::start(&args)
}

/// The port in "eddy: JobManager RPC at HOST:PORT".
fn rpc_port(jobmanager: &Process) -> String {
    let address = jobmanager.await_line("eddy: JobManager RPC at ");
    address.rsplit(':').next().unwrap().to_string()
}

fn taskmanager(rpc_port: &str) -> Process {
    Process::start(&[
        "taskmanager".into(),
        "-D".into(),
        format!("jobmanager.rpc.port={rpc_port}"),
        "-D".into(),
        "heartbeat.timeout=2000".into(),
        "-D".into(),
        "heartbeat.interval=200".into(),
    ])
}

/// The same job in one process.
fn local_run(input: &Path, output: &Path) -> (Vec<String>, String) {
    let run = Command::new(example("window_count"))
        .args(["--input", input.to_str().unwrap()])
        .args(["--output", output.to_str().unwrap(), "-p", "2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr).to_string();
    assert!(run.status.success(), "{stderr}");
    (committed(output), stderr)
}

#[test]
fn a_program_is_its_own_cluster_and_computes_what_it_computes_alone() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.csv");
    write_input(&input, 20_000);
    // Malformed lines, which both TaskManagers' sources meet and count.
    let mut text = std::fs::read_to_string(&input).unwrap();
    text.insert_str(0, "not,a timestamp\n");
    text.push_str("12,\nno comma\n");
    std::fs::write(&input, text).unwrap();
    let (expected, alone) = local_run(&input, &dir.path().join("alone"));
    assert!(alone.contains("3 malformed lines skipped"), "{alone}");

    let output = dir.path().join("cluster");
    let mut jm = jobmanager("0", &[], &input, &output);
    let port = rpc_port(&jm);
    let mut tms = [taskmanager(&port), taskmanager(&port)];
    let status = jm.wait(Duration::from_secs(120));
    let log = jm.log();
    assert!(status.success(), "{log}");
    assert!(log.contains("Job ID: "), "{log}");
    // The counters of both TaskManagers add up in the program's result.
    assert!(
        log.contains("20003 lines read, 3 malformed lines skipped"),
        "{log}"
    );
    assert_exact(&committed(&output), &expected, &log);
    // The finished application stops its TaskManagers.
    for tm in &mut tms {
        let status = tm.wait(Duration::from_secs(20));
        assert!(status.success(), "{}", tm.log());
        assert!(tm.log().contains("the application window_count finished"));
    }
}

#[test]
fn a_failing_job_ends_the_application_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.csv");
    let mut jm = jobmanager("0", &[], &missing, &dir.path().join("out"));
    let port = rpc_port(&jm);
    let mut tms = [taskmanager(&port), taskmanager(&port)];
    let status = jm.wait(Duration::from_secs(60));
    let log = jm.log();
    assert!(!status.success(), "{log}");
    assert!(log.contains("missing.csv"), "{log}");
    for tm in &mut tms {
        assert!(tm.wait(Duration::from_secs(20)).success(), "{}", tm.log());
    }

    // Arguments the program refuses end the JobManager at once.
    let mut bad = Process::start(&strings(&[
        "jobmanager",
        "-D",
        "jobmanager.rpc.port=0",
        "-D",
        "rest.port=0",
        "--",
        "--window-ms",
        "0",
    ]));
    assert!(!bad.wait(Duration::from_secs(30)).success());
    assert!(
        bad.log().contains("missing required option --input"),
        "{}",
        bad.log()
    );
    // And so do the JobManager's own.
    let mut bad = Process::start(&strings(&["jobmanager", "--input", "x"]));
    assert_eq!(bad.wait(Duration::from_secs(30)).code(), Some(2));
    assert!(
        bad.log().contains("usage: window_count jobmanager"),
        "{}",
        bad.log()
    );
}

#[test]
fn the_job_survives_a_killed_taskmanager_and_a_killed_jobmanager() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.csv");
    // Long enough (some seconds) that both kills land while the job runs.
    write_input(&input, 1_500_000);
    let (expected, _) = local_run(&input, &dir.path().join("alone"));

    let checkpoints = dir.path().join("checkpoints");
    let options = vec![
        "-D".to_string(),
        "execution.checkpointing.interval=150ms".into(),
        "-D".into(),
        format!("execution.checkpointing.dir={}", checkpoints.display()),
        "-D".into(),
        format!(
            "high-availability.storageDir={}",
            dir.path().join("ha").display()
        ),
        "-D".into(),
        "heartbeat.timeout=2000".into(),
        "-D".into(),
        "heartbeat.interval=200".into(),
    ];
    let output = dir.path().join("cluster");
    let mut jm = jobmanager("0", &options, &input, &output);
    let port = rpc_port(&jm);
    let mut tms = vec![taskmanager(&port), taskmanager(&port)];
    let mut history = String::new();

    // A TaskManager dies after a checkpoint; a new one takes its place.
    let newest = || complete_checkpoints(&checkpoints).last().map_or(0, |c| c.0);
    let checkpointed = |after: u64| wait_until(Duration::from_secs(60), || newest() > after);
    assert!(checkpointed(0), "no checkpoint:\n{}", jm.log());
    tms[0].kill();
    history.push_str("killed a TaskManager\n");
    tms.push(taskmanager(&port));

    // Then the JobManager dies after the job checkpointed again, and is
    // started again with the same arguments: it resumes the job.
    let done = newest();
    assert!(
        checkpointed(done),
        "no checkpoint after the restart:\n{}",
        jm.log()
    );
    assert!(
        jm.log().contains("restart 1 in"),
        "the job did not restart:\n{}",
        jm.log()
    );
    jm.kill();
    history.push_str(&format!("killed the JobManager\n{}\n", jm.log()));
    let mut jm = jobmanager(&port, &options, &input, &output);
    let status = jm.wait(Duration::from_secs(180));
    let log = format!("{history}--- the JobManager started again:\n{}", jm.log());
    assert!(status.success(), "{log}");
    assert!(log.contains("resuming job"), "{log}");
    assert_exact(&committed(&output), &expected, &log);
}
