//! A standalone cluster of processes on loopback: one `eddy jobmanager` and
//! any number of `eddy taskmanager`s, each killed when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// A running JobManager and its TaskManagers.
pub struct Cluster {
    jobmanager: Child,
    /// The JobManager's own arguments, to start it again.
    args: Vec<String>,
    /// The REST address (`HOST:PORT`), for `-m`.
    pub rest: String,
    /// The RPC port TaskManagers register at.
    pub rpc_port: String,
    /// The TaskManagers, in start order; `None` once killed.
    pub taskmanagers: Vec<Option<Child>>,
    /// Everything the JobManager wrote to stderr so far.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Cluster {
    /// Starts a JobManager with `args` and one TaskManager per entry of
    /// `slots`, and waits until they registered.
    pub fn start(args: &[&str], slots: &[u32]) -> Cluster {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let (jobmanager, rest, rpc_port, log) = start_jobmanager(&args, "0");
        let mut cluster = Cluster {
            jobmanager,
            args,
            rest,
            rpc_port,
            taskmanagers: Vec::new(),
            log,
        };
        for &n in slots {
            cluster.add_taskmanager(n, &[]);
        }
        if !slots.is_empty() {
            cluster.await_slots(slots.iter().sum());
        }
        cluster
    }

    /// Kills the JobManager with SIGKILL.
    pub fn kill_jobmanager(&mut self) {
        let _ = self.jobmanager.kill();
        let _ = self.jobmanager.wait();
    }

    /// Starts the JobManager again with its arguments and RPC port; its
    /// TaskManagers register again by themselves.
    pub fn restart_jobmanager(&mut self) {
        let (jobmanager, rest, _, log) = start_jobmanager(&self.args, &self.rpc_port);
        self.jobmanager = jobmanager;
        self.rest = rest;
        self.log = log;
    }

    /// Starts another TaskManager with `slots` slots and `args`.
    pub fn add_taskmanager(&mut self, slots: u32, args: &[&str]) {
        let child = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args(["taskmanager", "-D"])
            .arg(format!("jobmanager.rpc.port={}", self.rpc_port))
            .arg("-D")
            .arg(format!("taskmanager.numberOfTaskSlots={slots}"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.taskmanagers.push(Some(child));
    }

    /// Kills TaskManager `index` with SIGKILL.
    pub fn kill_taskmanager(&mut self, index: usize) {
        if let Some(mut child) = self.taskmanagers[index].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` (`STOP`, `CONT`) to TaskManager `index`.
    pub fn signal_taskmanager(&self, index: usize, signal: &str) {
        let pid = self.taskmanagers[index].as_ref().unwrap().id();
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{signal} {pid}");
    }

    /// The REST API.
    pub fn rest(&self) -> super::Shell {
        super::Shell::attach(&self.rest)
    }

    /// Waits until the registered TaskManagers offer `total` slots.
    pub fn await_slots(&self, total: u32) {
        self.rest().wait_for("/overview", |o| {
            o["slots-total"].as_u64() == Some(u64::from(total))
        });
    }

    /// Whether the JobManager's log has a line containing `text`.
    pub fn logged(&self, text: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(text))
    }
}

/// Starts `eddy jobmanager` with `args` on RPC port `rpc_port`; returns it,
/// its REST address, its RPC port and its stderr as it comes.
fn start_jobmanager(
    args: &[String],
    rpc_port: &str,
) -> (Child, String, String, Arc<Mutex<Vec<String>>>) {
    let mut jobmanager = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["jobmanager", "-D", "rest.port=0", "-D"])
        .arg(format!("jobmanager.rpc.port={rpc_port}"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(jobmanager.stderr.take().unwrap()).lines();
    let mut rpc = String::new();
    let mut early = Vec::new();
    let rest = loop {
        let line = lines.next().expect("the JobManager ended").unwrap();
        if let Some(at) = line.strip_prefix("eddy: JobManager RPC at ") {
            rpc = at.rsplit(':').next().unwrap().trim().to_string();
        }
        if let Some(at) = line.strip_prefix("eddy: JobManager serving at http://") {
            break at.trim().to_string();
        }
        early.push(line);
    };
    let log = Arc::new(Mutex::new(early));
    let kept = log.clone();
    // Keep reading stderr so the process never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            kept.lock().unwrap().push(line);
        }
    });
    (jobmanager, rest, rpc, log)
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.taskmanagers.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = self.jobmanager.kill();
        let _ = self.jobmanager.wait();
    }
}
