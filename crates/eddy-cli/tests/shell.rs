//! The interactive shell (`eddy sql` without `-f`), driven through its standard
//! input: an INSERT is submitted and returns its job id, SHOW JOBS lists it, Ctrl-C
//! (SIGINT) cancels a running SELECT and the shell lives on, STOP JOB stops the job
//! with a savepoint, history is saved after every statement, and jobs still running
//! at exit are cancelled.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

struct Shell {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Shell {
    fn start(home: &std::path::Path, args: &[&str]) -> Shell {
        let mut child = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .arg("sql")
            .args(args)
            .env("HOME", home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let stdin = child.stdin.take().unwrap();
        Shell {
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, statement: &str) {
        writeln!(self.stdin, "{statement}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Reads output lines until one contains `text`; returns it.
    fn expect(&self, text: &str) -> String {
        let started = Instant::now();
        let mut seen = Vec::new();
        loop {
            let left = Duration::from_secs(60).saturating_sub(started.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(line) => seen.push(line),
                Err(_) => panic!(
                    "no line with '{text}'; the shell printed:\n{}",
                    seen.join("\n")
                ),
            }
        }
    }

    fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

#[test]
fn insert_returns_a_job_id_ctrl_c_cancels_a_query_and_stop_job_takes_a_savepoint() {
    let tmp = tempfile::tempdir().unwrap();
    let savepoints = tmp.path().join("savepoints");
    let mut shell = Shell::start(
        tmp.path(),
        &["-D", "execution.checkpointing.interval=200ms"],
    );
    shell.send(
        "CREATE TABLE ticks (k BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '50', \
         'fields.k.kind' = 'sequence', 'fields.k.start' = '1', 'fields.k.end' = '1000000');",
    );
    shell.send("CREATE TABLE sink (k BIGINT) WITH ('connector' = 'blackhole');");
    shell.send("INSERT INTO sink SELECT k FROM ticks;");
    let line = shell.expect("Job ID: ");
    let job = line.split("Job ID: ").nth(1).unwrap().trim().to_string();
    assert_eq!(job.len(), 32, "{line}");

    shell.send("SHOW JOBS;");
    let listed = shell.expect(&job);
    assert!(listed.contains("insert-into_sink"), "{listed}");

    // A query that never ends streams rows until Ctrl-C cancels it.
    shell.send("SELECT k * 10 AS tens FROM ticks;");
    shell.expect("| +I |");
    shell.interrupt();
    shell.expect("[ERROR] the query was cancelled");

    // The shell lives on, and the INSERT's job still runs.
    shell.send("SHOW JOBS;");
    let listed = shell.expect(&job);
    assert!(listed.contains("RUNNING"), "{listed}");

    // STOP JOB without a savepoint directory is an error; with one, a savepoint.
    shell.send(&format!("STOP JOB '{job}' WITH SAVEPOINT;"));
    shell.expect("needs a savepoint directory");
    shell.send(&format!(
        "SET 'execution.checkpointing.savepoint-dir' = '{}';",
        savepoints.display()
    ));
    shell.send(&format!("STOP JOB '{job}' WITH SAVEPOINT;"));
    shell.expect("savepoint path");
    let path = shell.expect(savepoints.to_str().unwrap());
    let path = path.trim_matches(|c: char| c == '|' || c.is_whitespace());
    assert!(
        std::path::Path::new(path).join("_metadata").exists(),
        "{path}"
    );
    shell.send("SHOW JOBS;");
    let listed = shell.expect(&job);
    assert!(listed.contains("FINISHED"), "{listed}");

    // A second INSERT still runs when the shell exits: it is cancelled.
    shell.send("INSERT INTO sink SELECT k FROM ticks;");
    shell.expect("Job ID: ");
    shell.send("QUIT;");
    shell.expect("cancelled 1 job(s) still running");
    let status = shell.child.wait().unwrap();
    assert!(status.success());
    let history = std::fs::read_to_string(tmp.path().join(".eddy_sql_history")).unwrap();
    assert!(history.contains("STOP JOB"), "{history}");
}

#[test]
fn a_script_with_dml_sync_off_waits_for_its_jobs_at_the_end() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let script = tmp.path().join("job.sql");
    std::fs::write(
        &script,
        format!(
            "SET 'table.dml-sync' = 'false';\n\
             CREATE TABLE ticks (k BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '1000', \
             'fields.k.kind' = 'sequence', 'fields.k.start' = '1', 'fields.k.end' = '500');\n\
             CREATE TABLE o (k BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\n\
             INSERT INTO o SELECT k FROM ticks;\n",
            out.display()
        ),
    )
    .unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["sql", "-f"])
        .arg(&script)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("Job ID: "), "{stdout}");
    let mut keys: Vec<u64> = Vec::new();
    for entry in std::fs::read_dir(&out).unwrap().flatten() {
        if !entry.file_name().to_string_lossy().starts_with('.') {
            for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
                keys.push(line.parse().unwrap());
            }
        }
    }
    keys.sort_unstable();
    assert_eq!(keys, (1..=500).collect::<Vec<u64>>());
}
