//! What the CLI tests share: an `eddy sql -f` process with its REST API, and a
//! small HTTP client.

#![allow(clippy::unwrap_used, dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod certs;
pub mod cluster;
pub mod registry;

/// A running `eddy sql -f` process and the address of its REST API.
pub struct Shell {
    /// The process (`None` for a client of a process started elsewhere).
    pub child: Option<Child>,
    /// The REST API's `host:port`.
    pub addr: String,
    stderr: mpsc::Receiver<String>,
}

impl Shell {
    /// Starts `eddy sql -f script -D rest.port=0 args...` and waits for its REST
    /// address.
    pub fn start(script: &Path, args: &[&str]) -> Shell {
        Shell::start_with(script, args, &mut Vec::new())
    }

    /// [`Shell::start`], keeping the stderr lines printed before the address in
    /// `early`.
    pub fn start_with(script: &Path, args: &[&str], early: &mut Vec<String>) -> Shell {
        let mut child = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args(["sql", "-f"])
            .arg(script)
            .args(["-D", "rest.port=0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, stderr) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let started = Instant::now();
        let addr = loop {
            let line = stderr
                .recv_timeout(Duration::from_secs(30))
                .expect("eddy sql printed no REST address");
            let address = line
                .strip_prefix("eddy: REST API at http://")
                .or_else(|| line.strip_prefix("eddy: REST API at https://"));
            if let Some(at) = address {
                break at.trim().to_string();
            }
            early.push(line);
            assert!(started.elapsed() < Duration::from_secs(30));
        };
        Shell {
            child: Some(child),
            addr,
            stderr,
        }
    }

    /// A client of the REST API at `addr` of a process started elsewhere.
    pub fn attach(addr: &str) -> Shell {
        let (_, stderr) = mpsc::channel();
        Shell {
            child: None,
            addr: addr.to_string(),
            stderr,
        }
    }

    /// Sends a request; returns the status and the JSON body.
    pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        self.try_call(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Sends a request; an error if the server cannot be reached.
    pub fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> std::io::Result<(u16, Value)> {
        let mut stream = TcpStream::connect(&self.addr)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let body = body.unwrap_or("");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
        let json = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {body}"));
        Ok((status, json))
    }

    pub fn get(&self, path: &str) -> Value {
        let (status, body) = self.call("GET", path, None);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Opens a SQL Gateway session with `properties` (a JSON object); its handle.
    pub fn open_session(&self, properties: &str) -> String {
        let body = format!(r#"{{"properties": {properties}}}"#);
        let (status, session) = self.call("POST", "/v1/sessions", Some(&body));
        assert_eq!(status, 200, "{session}");
        session["sessionHandle"].as_str().unwrap().to_string()
    }

    /// Sends `statement` to SQL Gateway session `session`; its operation handle.
    pub fn statement(&self, session: &str, statement: &str) -> String {
        let body = serde_json::json!({ "statement": statement }).to_string();
        let path = format!("/v1/sessions/{session}/statements");
        let (status, op) = self.call("POST", &path, Some(&body));
        assert_eq!(status, 200, "{op}");
        op["operationHandle"].as_str().unwrap().to_string()
    }

    /// Polls `path` until `done` holds for its body.
    pub fn wait_for(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let body = self.get(path);
            if done(&body) {
                return body;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "GET {path} never got there: {body}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The id of the one running job.
    pub fn running_job(&self) -> String {
        let jobs = self.wait_for("/jobs", |b| {
            b["jobs"]
                .as_array()
                .is_some_and(|j| j.iter().any(|j| j["status"] == "RUNNING"))
        });
        let job = jobs["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["status"] == "RUNNING")
            .unwrap();
        job["id"].as_str().unwrap().to_string()
    }

    /// Polls a trigger until it completes; returns its `operation`.
    pub fn operation(&self, path: &str) -> Value {
        let done = self.wait_for(path, |b| b["status"]["id"] == "COMPLETED");
        done["operation"].clone()
    }

    /// Waits for the process to end; returns whether it succeeded and its stderr.
    pub fn finish(self) -> (bool, String) {
        let mut child = self.child.expect("a process started by Shell::start");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(60) {
                child.kill().unwrap();
                panic!("eddy sql did not end");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(100));
        let stderr: Vec<String> = self.stderr.try_iter().collect();
        (status.success(), stderr.join("\n"))
    }
}

/// Runs `eddy <args>`; returns whether it succeeded, stdout and stderr.
pub fn eddy(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The first field (a number) of every line of the committed output files under
/// `dir` (not the in-progress ones, whose names start with `.`), sorted.
pub fn committed_keys(dir: &Path) -> Vec<u64> {
    let mut keys = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
            keys.push(line.split(',').next().unwrap().parse().unwrap());
        }
    }
    keys.sort_unstable();
    keys
}

/// `GET path` on `addr` with extra `headers` (each ending in `\r\n`): the
/// response's head and body as text.
pub fn raw_get(addr: &str, path: &str, headers: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

/// The runs (job ids) under the checkpoint directory `dir` with at least one
/// complete checkpoint, sorted.
pub fn runs_with_checkpoints(dir: &Path) -> Vec<String> {
    let Ok(runs) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = runs
        .flatten()
        .filter(|run| {
            std::fs::read_dir(run.path()).is_ok_and(|c| {
                c.flatten().any(|c| {
                    c.file_name().to_string_lossy().starts_with("chk-")
                        && c.path().join("_metadata").exists()
                })
            })
        })
        .map(|run| run.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// Runs `eddy sql -f script` once per round, at the parallelism `parallelism`
/// gives the round, resuming with `-s latest` after the first, and kills each
/// run with SIGKILL `pause(round)` after it completed a checkpoint of its own
/// under `checkpoints`. Returns the number of kills.
pub fn kill_and_resume(
    script: &Path,
    checkpoints: &Path,
    rounds: u64,
    parallelism: impl Fn(u64) -> &'static str,
    pause: impl Fn(u64) -> Duration,
) -> u64 {
    let mut kills = 0;
    for round in 0..rounds {
        let mut command = eddy_command();
        command
            .args(["sql", "-f"])
            .arg(script)
            .args(["-p", parallelism(round)]);
        if round > 0 {
            command.args(["-s", "latest"]);
        }
        let seen = runs_with_checkpoints(checkpoints);
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        // Killed only once this run has completed a checkpoint of its own.
        while runs_with_checkpoints(checkpoints) == seen
            && started.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(pause(round));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
    }
    kills
}

/// The `eddy` command of this build, to run as one likes.
pub fn eddy_command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_eddy"))
}

/// Writes `script` to `dir/name` and runs it with `eddy sql -f`.
pub fn run_script(dir: &Path, name: &str, script: &str) -> std::process::Output {
    let path = dir.join(name);
    std::fs::write(&path, script).unwrap();
    eddy_command()
        .args(["sql", "-f"])
        .arg(&path)
        .output()
        .unwrap()
}
