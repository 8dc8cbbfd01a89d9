//! The Web UI in a real browser: `eddy sql -f` runs two unbounded jobs with its REST
//! API, and `webui/check.mjs` drives Debian's Chromium headless through
//! `playwright-core` over the overview, the job graph, a vertex's subtasks, the
//! tabs (watermarks and backpressure among them), the JobManager and TaskManager
//! pages, an API error, a savepoint taken from the form, the SQL editor (queries,
//! an error's position, an INSERT that becomes a job), stop with a savepoint
//! (one job) and cancel (the other, which ends the process); `webui/login.mjs`
//! signs in to a server whose REST API needs a token.
//!
//! What is missing is installed by the test: Chromium with apt-get, and
//! `playwright-core` with npm into `$HOME/.cache/eddy-webui-test` (never into the
//! repository). The screenshots land in `<target>/tmp/webui`.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Shell;

/// The Playwright version the check script is written against.
const PLAYWRIGHT: &str = "1.65.1";
/// Debian's Chromium.
const CHROMIUM: &str = "/usr/bin/chromium";

/// Installs Debian's Chromium with apt-get when it is missing.
fn ensure_chromium() {
    if Path::new(CHROMIUM).exists() {
        return;
    }
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .unwrap()
    };
    let mut install = apt(&["install", "-y", "--no-install-recommends", "chromium"]);
    if !Path::new(CHROMIUM).exists() {
        // A new machine may have no package lists yet.
        apt(&["update"]);
        install = apt(&["install", "-y", "--no-install-recommends", "chromium"]);
    }
    assert!(
        Path::new(CHROMIUM).exists(),
        "Chromium is needed (apt-get install chromium) and could not be installed: {}",
        String::from_utf8_lossy(&install.stderr)
    );
}

/// A directory whose `node_modules` holds `playwright-core`, installed with npm into
/// the user's cache when missing.
fn ensure_playwright() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = home
        .join(".cache/eddy-webui-test")
        .join(format!("playwright-core-{PLAYWRIGHT}"));
    if dir
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        return dir;
    }
    // Installed beside and renamed into place, so a half-done install is never used.
    let partial = dir.with_extension(format!("partial-{}", std::process::id()));
    std::fs::create_dir_all(&partial).unwrap();
    let install = Command::new("npm")
        .args([
            "install",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--prefix",
        ])
        .arg(&partial)
        .arg(format!("playwright-core@{PLAYWRIGHT}"))
        .output()
        .expect("npm is needed to install playwright-core");
    assert!(
        install.status.success(),
        "npm install playwright-core@{PLAYWRIGHT} failed: {}",
        String::from_utf8_lossy(&install.stderr)
    );
    if std::fs::rename(&partial, &dir).is_err() {
        // Another run installed it meanwhile.
        let _ = std::fs::remove_dir_all(&partial);
    }
    assert!(dir
        .join("node_modules/playwright-core/package.json")
        .exists());
    dir
}

/// Chromium and `playwright-core`, installed once for the tests of this file
/// (which run side by side): the directory with `node_modules`.
fn browser() -> PathBuf {
    static READY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    READY
        .get_or_init(|| {
            ensure_chromium();
            ensure_playwright()
        })
        .clone()
}

/// The longest the browser checks may take before they are stopped.
const CHECK_LIMIT: Duration = Duration::from_secs(120);

/// Runs `command` to its end, or kills it after `limit`; returns whether it
/// succeeded and what it printed (stdout, then stderr).
fn run_with_limit(command: &mut Command, limit: Duration) -> (bool, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node is needed to run the browser check");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut output = stdout.join().unwrap();
    output.push_str(&stderr.join().unwrap());
    if status.is_none() {
        output.push_str(&format!("\nstopped after {limit:?}\n"));
    }
    (status.is_some_and(|s| s.success()), output)
}

/// Two unbounded jobs submitted side by side over a table with a watermark:
/// `insert-into_counts` (a FORWARD and a HASH exchange) and `insert-into_copies`
/// (to stop).
fn script(dir: &Path) -> PathBuf {
    let script = dir.join("job.sql");
    std::fs::write(
        &script,
        "SET 'table.dml-sync' = 'false';\n\
         CREATE TABLE clicks (user_id BIGINT, url STRING, ts TIMESTAMP(3), \
         WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'datagen', \
         'rows-per-second' = '500', 'fields.user_id.min' = '1', 'fields.user_id.max' = '20');\n\
         CREATE TABLE counts (user_id BIGINT, n BIGINT) WITH ('connector' = 'blackhole');\n\
         CREATE TABLE copies (user_id BIGINT, url STRING) WITH ('connector' = 'blackhole');\n\
         INSERT INTO counts SELECT user_id, COUNT(*) AS n FROM clicks WHERE user_id > 2 GROUP BY user_id;\n\
         INSERT INTO copies SELECT user_id, url FROM clicks;\n",
    )
    .unwrap();
    script
}

#[test]
fn the_web_ui_shows_and_controls_a_running_job_in_chromium() {
    let installing = Instant::now();
    let modules = browser();
    eprintln!(
        "browser and playwright-core ready in {:?}",
        installing.elapsed()
    );

    let tmp = tempfile::tempdir().unwrap();
    let checkpoints = format!(
        "execution.checkpointing.dir={}",
        tmp.path().join("ck").display()
    );
    let logs = format!("env.log.dir={}", tmp.path().join("log").display());
    let args = [
        "-p",
        "2",
        "-D",
        "execution.checkpointing.interval=200ms",
        "-D",
        &checkpoints,
        "-D",
        &logs,
    ];
    let shell = Shell::start(&script(tmp.path()), &args);
    let overview = shell.wait_for("/jobs/overview", |b| {
        b["jobs"]
            .as_array()
            .is_some_and(|jobs| jobs.iter().filter(|j| j["state"] == "RUNNING").count() == 2)
    });
    let id_of = |name: &str| {
        let jobs = overview["jobs"].as_array().unwrap();
        let job = jobs.iter().find(|j| j["name"] == name).unwrap();
        job["jid"].as_str().unwrap().to_string()
    };
    let job = id_of("insert-into_counts");
    let stopped = id_of("insert-into_copies");

    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("webui");
    let _ = std::fs::remove_dir_all(&out);
    let check = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/webui/check.mjs");
    let started = Instant::now();
    let (passed, output) = run_with_limit(
        Command::new("node")
            .arg(&check)
            .arg(format!("http://{}", shell.addr))
            .arg(&job)
            .arg(&stopped)
            .arg(&out)
            .env("EDDY_WEBUI_MODULES", &modules),
        CHECK_LIMIT,
    );
    eprintln!("{output}browser checks took {:?}", started.elapsed());
    if !passed {
        if let Some(mut child) = shell.child {
            let _ = child.kill();
        }
        panic!("the Web UI checks failed:\n{output}");
    }
    assert!(
        out.join("job.png").exists(),
        "no screenshot of the job page"
    );

    // The job was cancelled from the page: the script's process ends with it.
    let (_, stderr) = shell.finish();
    assert!(stderr.contains("job was cancelled"), "{stderr}");
}

#[test]
fn the_web_ui_signs_in_with_the_rest_token_in_chromium() {
    let modules = browser();
    let tmp = tempfile::tempdir().unwrap();
    let shell = Shell::start(&script(tmp.path()), &["-D", "rest.auth.token=s3cret"]);
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("webui-login");
    let check = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/webui/login.mjs");
    let (passed, output) = run_with_limit(
        Command::new("node")
            .arg(&check)
            .arg(format!("http://{}", shell.addr))
            .arg("s3cret")
            .arg(&out)
            .env("EDDY_WEBUI_MODULES", &modules),
        CHECK_LIMIT,
    );
    eprintln!("{output}");
    if let Some(mut child) = shell.child {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(passed, "the sign-in checks failed:\n{output}");
}
