//! Helpers shared by the process-level recovery tests: the `window_count`
//! example as a command, its input, its committed output, and a seeded RNG.

#![allow(clippy::unwrap_used, dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples")
        .join(name)
}

/// Committed result lines (hidden in-progress and pending files excluded), sorted.
pub fn committed(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in eddy_fs::list(dir).into_iter().flatten() {
        let name = entry.name;
        if entry.is_dir || name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let bytes = eddy_fs::read(&dir.join(&name)).unwrap();
        lines.extend(
            String::from_utf8(bytes)
                .unwrap()
                .lines()
                .map(str::to_string),
        );
    }
    lines.sort();
    lines
}

/// A small deterministic RNG; the seed is printed so a failure can be replayed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

pub fn write_input(path: &Path, rows: u64) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut text = String::with_capacity(rows as usize * 12);
    for i in 0..rows {
        let ts = (i * 3) as i64 - (rng.next() % 900) as i64;
        text.push_str(&format!("{},k{}\n", ts.max(0), rng.next() % 1000));
    }
    std::fs::write(path, text).unwrap();
}

pub fn window_count(input: &Path, output: &Path, p: u32, extra: &[String]) -> Command {
    let mut cmd = Command::new(example("window_count"));
    cmd.args([
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "-p",
        &p.to_string(),
    ]);
    cmd.args(extra);
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    cmd
}

pub fn checkpointing(dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "-D".to_string(),
        "execution.checkpointing.interval=150ms".to_string(),
        "-D".to_string(),
        format!("execution.checkpointing.dir={}", dir.display()),
    ];
    for e in extra {
        args.push("-D".into());
        args.push(e.to_string());
    }
    args
}

pub fn wait_with_timeout(mut child: Child, limit: Duration) -> (bool, String) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut stderr);
            }
            return (status.success(), stderr);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("window_count did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn reference(input: &Path, work: &Path) -> Vec<String> {
    let output = work.join("reference");
    let (ok, stderr) = wait_with_timeout(
        window_count(input, &output, 1, &[]).spawn().unwrap(),
        Duration::from_secs(120),
    );
    assert!(ok, "{stderr}");
    committed(&output)
}

pub fn seed() -> u64 {
    std::env::var("EDDY_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| eddy::core::time::now_millis() as u64 | 1)
}

/// The run directories (`<checkpoints>/<job id>/`) under a checkpoint directory.
pub fn run_dirs(checkpoints: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(checkpoints)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("_job").exists())
        .collect()
}

/// The complete checkpoints (`chk-<n>` with `_metadata`) of every run under a
/// checkpoint directory, oldest first.
pub fn complete_checkpoints(checkpoints: &Path) -> Vec<(u64, PathBuf)> {
    let mut found: Vec<(u64, PathBuf)> = run_dirs(checkpoints)
        .iter()
        .flat_map(|run| std::fs::read_dir(run).into_iter().flatten().flatten())
        .filter(|e| e.path().join("_metadata").exists())
        .filter_map(|e| {
            let id = e
                .file_name()
                .to_string_lossy()
                .strip_prefix("chk-")?
                .parse()
                .ok()?;
            Some((id, e.path()))
        })
        .collect();
    found.sort();
    found
}

/// Waits until `ready` holds or `limit` passes.
pub fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// Whether `dir` holds a committed part file (cheaper than reading them all).
pub fn has_committed(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            !name.starts_with('.') && !name.starts_with('_')
        })
}

/// Asserts that the committed output equals the failure-free run's, record for
/// record; `log` says what happened on the way.
pub fn assert_exact(got: &[String], expected: &[String], log: &str) {
    assert_eq!(got.len(), expected.len(), "record count differs\n{log}");
    assert!(
        got == expected,
        "output differs from the failure-free run\n{log}"
    );
}
