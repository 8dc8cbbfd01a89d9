//! A standalone cluster of processes on loopback: one `eddy jobmanager` and
//! any number of `eddy taskmanager`s, each killed when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// A running JobManager and its TaskManagers.
pub struct Cluster {
    jobmanager: Child,
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
        let mut jobmanager = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args(["jobmanager", "-D", "rest.port=0", "-D", "jobmanager.rpc.port=0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(jobmanager.stderr.take().unwrap()).lines();
        let mut rpc_port = String::new();
        let rest = loop {
            let line = lines.next().expect("the JobManager ended").unwrap();
            if let Some(at) = line.strip_prefix("eddy: JobManager RPC at ") {
                rpc_port = at.rsplit(':').next().unwrap().trim().to_string();
            }
            if let Some(at) = line.strip_prefix("eddy: JobManager serving at http://") {
                break at.trim().to_string();
            }
        };
        let log = Arc::new(Mutex::new(Vec::new()));
        let kept = log.clone();
        // Keep reading stderr so the process never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        let mut cluster = Cluster {
            jobmanager,
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
