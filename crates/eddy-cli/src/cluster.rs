//! `eddy cluster start [--taskmanagers N]` / `eddy cluster stop`: a standalone
//! cluster on this machine in the background, as Flink's `start-cluster.sh` and
//! `stop-cluster.sh`.
//!
//! `start` launches one `eddy jobmanager` and N `eddy taskmanager`s (one by
//! default) with the same `--config-dir` and `-D` options, each with its pid file and
//! its output file (`eddy-jobmanager.pid`, `eddy-jobmanager.out`,
//! `eddy-taskmanager-1.pid`, ...) and its log (`eddy-<role>-<host>.log`) in
//! the log directory (`env.log.dir`, default `log/`); it returns once the
//! JobManager serves. `stop` ends every process it finds a pid file for
//! (SIGTERM, then SIGKILL after ten seconds) and removes the pid files.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eddy::cli::Args;

/// Usage of `eddy cluster`.
pub const USAGE: &str = "usage: eddy cluster start [--taskmanagers N] [--config-dir DIR] [-D key=value]...\n       eddy cluster stop [--config-dir DIR] [-D key=value]...";

/// How long `start` waits for the JobManager to serve.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `stop` waits for a process to end after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `eddy cluster ...`; the error is what to print.
pub fn run(mut argv: Vec<String>) -> Result<(), String> {
    let command = if argv.is_empty() {
        String::new()
    } else {
        argv.remove(0)
    };
    let args = Args::parse(argv.clone(), &[eddy::process::CONFIG_DIR, "--taskmanagers"])
        .map_err(|e| format!("{e}\n{USAGE}"))?;
    let config = eddy::process::load_config(&args)?;
    let log_dir = PathBuf::from(config.get_str(eddy::logging::LOG_DIR).unwrap_or("log"));
    match command.as_str() {
        "start" => {
            let taskmanagers: usize = args
                .number("--taskmanagers", 1)
                .map_err(|e| format!("{e}\n{USAGE}"))?;
            // What every process is started with: the same options, and the
            // log directory.
            let mut passed: Vec<String> = strip(&argv, "--taskmanagers");
            passed.extend([
                "-D".to_string(),
                format!("env.log.dir={}", log_dir.display()),
            ]);
            start(&log_dir, taskmanagers, &passed)
        }
        "stop" => stop(&log_dir),
        _ => Err(USAGE.to_string()),
    }
}

/// `argv` without option `name` and its value.
fn strip(argv: &[String], name: &str) -> Vec<String> {
    let mut kept = Vec::new();
    let mut skip = false;
    for arg in argv {
        if skip {
            skip = false;
        } else if arg == name {
            skip = true;
        } else {
            kept.push(arg.clone());
        }
    }
    kept
}

fn pid_file(log_dir: &Path, role: &str) -> PathBuf {
    log_dir.join(format!("eddy-{role}.pid"))
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.split(") ").nth(1).is_some_and(|r| r.starts_with('Z')))
}

/// The processes with pid files in `log_dir`: role and pid.
fn running(log_dir: &Path) -> Vec<(String, u32, PathBuf)> {
    let mut found: Vec<(String, u32, PathBuf)> = std::fs::read_dir(log_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let role = name
                .strip_prefix("eddy-")?
                .strip_suffix(".pid")?
                .to_string();
            let pid = std::fs::read_to_string(entry.path())
                .ok()?
                .trim()
                .parse()
                .ok()?;
            Some((role, pid, entry.path()))
        })
        .collect();
    // TaskManagers first, the JobManager last.
    found.sort_by_key(|(role, _, _)| (role == "jobmanager", role.clone()));
    found
}

fn start(log_dir: &Path, taskmanagers: usize, passed: &[String]) -> Result<(), String> {
    std::fs::create_dir_all(log_dir)
        .map_err(|e| format!("cannot create the log directory {}: {e}", log_dir.display()))?;
    if let Some((role, pid, _)) = running(log_dir).into_iter().find(|(_, pid, _)| alive(*pid)) {
        return Err(format!(
            "a cluster is already running here ({role}, pid {pid}); run 'eddy cluster stop' first"
        ));
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the eddy binary: {e}"))?;
    println!("Starting cluster.");
    let out = log_dir.join("eddy-jobmanager.out");
    let pid = spawn(&exe, "jobmanager", "jobmanager", passed, log_dir, &out)?;
    let address = await_line(&out, "eddy: JobManager serving at ", pid)?;
    println!("Starting standalonesession daemon (pid {pid}): JobManager at {address}");
    for i in 1..=taskmanagers {
        let role = format!("taskmanager-{i}");
        let out = log_dir.join(format!("eddy-{role}.out"));
        let pid = spawn(&exe, "taskmanager", &role, passed, log_dir, &out)?;
        println!("Starting taskexecutor daemon (pid {pid}) on this host.");
    }
    Ok(())
}

/// Starts `eddy <command>` in the background, its output in `out`, its pid in
/// its pid file.
fn spawn(
    exe: &Path,
    command: &str,
    role: &str,
    passed: &[String],
    log_dir: &Path,
    out: &Path,
) -> Result<u32, String> {
    let output = File::create(out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    let errors = output
        .try_clone()
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    let child = Command::new(exe)
        .arg(command)
        .args(passed)
        .env(eddy::process::LOG_ROLE, role)
        .stdin(Stdio::null())
        .stdout(output)
        .stderr(errors)
        .spawn()
        .map_err(|e| format!("cannot start the {role}: {e}"))?;
    let pid = child.id();
    let file = pid_file(log_dir, role);
    std::fs::write(&file, format!("{pid}\n"))
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    // The process outlives this command; it is stopped by its pid file.
    std::mem::forget(child);
    Ok(pid)
}

/// Waits until `out` has a line starting with `prefix` and returns the rest;
/// an error with the output if the process `pid` ends first.
fn await_line(out: &Path, prefix: &str, pid: u32) -> Result<String, String> {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(out).unwrap_or_default();
        if let Some(rest) = text.lines().find_map(|l| l.strip_prefix(prefix)) {
            return Ok(rest.trim().to_string());
        }
        if !alive(pid) || started.elapsed() > START_TIMEOUT {
            return Err(format!(
                "the JobManager did not start (see {}):\n{}",
                out.display(),
                text.trim_end()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stop(log_dir: &Path) -> Result<(), String> {
    let processes = running(log_dir);
    if processes.is_empty() {
        println!("No cluster to stop in {}.", log_dir.display());
        return Ok(());
    }
    for (role, pid, file) in processes {
        let daemon = if role == "jobmanager" {
            "standalonesession"
        } else {
            "taskexecutor"
        };
        if alive(pid) {
            println!("Stopping {daemon} daemon (pid: {pid}).");
            signal(pid, "TERM");
            let asked = Instant::now();
            while alive(pid) && asked.elapsed() < STOP_TIMEOUT {
                std::thread::sleep(Duration::from_millis(20));
            }
            if alive(pid) {
                signal(pid, "KILL");
            }
        } else {
            println!("No {daemon} daemon (pid: {pid}) is running anymore.");
        }
        let _ = std::fs::remove_file(file);
    }
    Ok(())
}

fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status();
}
