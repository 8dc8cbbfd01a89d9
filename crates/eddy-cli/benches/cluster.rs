//! The cluster, measured: the same SQL jobs at p=2 in one process (`eddy sql`)
//! and on two TaskManagers of one slot each (`eddy jobmanager`, `eddy
//! taskmanager`, `eddy run -m`), whole jobs timed from submission to their
//! end; the bytes the jobs sent over loopback; and the time a job needs to run
//! again after a TaskManager is killed (connection reset) or frozen (heartbeat
//! timeout).
//!
//! ```sh
//! cargo bench -p eddy-cli --bench cluster              # 3 M Nexmark events
//! cargo bench -p eddy-cli --bench cluster -- --quick   # 1 M events
//! ```
//!
//! Cases (Nexmark events generated in the job, a blackhole sink):
//! - `exchange`: every bid through a hash exchange on its auction, counted per
//!   auction;
//! - `window`: bids counted per auction and 10-second tumbling window;
//! - `join`: auctions joined with their bids;
//! - `exchange` again on a cluster whose connections use mutual TLS
//!   (`security.ssl.internal.enabled`, certificates made by the bench).
//!
//! Each case prints events/s in one process and on the cluster, the ratio, and
//! the megabytes the loopback interface carried during the cluster run (TCP
//! and framing included; `/proc/net/dev`).

#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../tests/common/certs.rs"]
mod certs;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const EDDY: &str = env!("CARGO_BIN_EXE_eddy");

const SOURCE: &str = "CREATE TABLE datagen (
    event_type INT,
    person ROW<id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR, state VARCHAR, `dateTime` TIMESTAMP(3), extra VARCHAR>,
    auction ROW<id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT, `dateTime` TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR>,
    bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, `dateTime` TIMESTAMP(3), extra VARCHAR>,
    `dateTime` AS CASE WHEN event_type = 0 THEN person.`dateTime` WHEN event_type = 1 THEN auction.`dateTime` ELSE bid.`dateTime` END,
    WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND
) WITH ('connector' = 'nexmark', 'events.num' = '${EVENTS}'${RATE});
CREATE VIEW bid AS SELECT bid.auction, bid.bidder, bid.price, `dateTime` FROM datagen WHERE event_type = 2;
CREATE VIEW auction AS SELECT auction.id, auction.seller FROM datagen WHERE event_type = 1;
";

/// A case: name, sink columns, query.
const CASES: &[(&str, &str, &str)] = &[
    (
        "exchange",
        "auction BIGINT, n BIGINT",
        "SELECT auction, COUNT(*) FROM bid GROUP BY auction",
    ),
    (
        "window",
        "auction BIGINT, window_start TIMESTAMP(3), n BIGINT",
        "SELECT auction, window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND)) GROUP BY auction, window_start, window_end",
    ),
    (
        "join",
        "auction BIGINT, seller BIGINT, price BIGINT",
        "SELECT a.id, a.seller, b.price FROM auction a JOIN bid b ON a.id = b.auction",
    ),
];

fn script(events: u64, rate: &str, columns: &str, query: &str, extra: &str) -> String {
    format!(
        "{extra}{}CREATE TABLE sink ({columns}) WITH ('connector' = 'blackhole');\nINSERT INTO sink {query};\n",
        SOURCE
            .replace("${EVENTS}", &events.to_string())
            .replace("${RATE}", rate)
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let events: u64 = if quick { 1_000_000 } else { 3_000_000 };
    let tmp = tempfile::tempdir().unwrap();
    println!("eddy cluster bench: {events} Nexmark events, p=2; cluster = 2 TaskManagers x 1 slot on loopback");
    println!(
        "{:<12} {:>12} {:>12} {:>12} {:>12} {:>7} {:>10} {:>8}",
        "case", "embedded s", "events/s", "cluster s", "events/s", "ratio", "lo MB", "MB/s"
    );
    let cluster = Cluster::start(&[], &[1, 1]);
    let mut runs: Vec<(String, &str, &str, &Cluster)> = CASES
        .iter()
        .map(|(name, columns, query)| (name.to_string(), *columns, *query, &cluster))
        .collect();
    // The exchange again, over TLS.
    let certs = certs::certificates(tmp.path());
    let tls = [
        "-D".to_string(),
        "security.ssl.internal.enabled=true".into(),
        "-D".into(),
        format!("security.ssl.internal.keystore={}", certs.cluster.display()),
        "-D".into(),
        format!("security.ssl.internal.truststore={}", certs.ca.display()),
    ];
    let tls: Vec<&str> = tls.iter().map(String::as_str).collect();
    let tls_cluster = Cluster::start_with(&tls, &tls, &[1, 1]);
    let (name, columns, query) = CASES[0];
    runs.push((format!("{name}+tls"), columns, query, &tls_cluster));
    for (name, columns, query, cluster) in runs {
        let file = tmp.path().join(format!("{name}.sql"));
        std::fs::write(&file, script(events, "", columns, query, "")).unwrap();
        let started = Instant::now();
        let out = Command::new(EDDY)
            .args(["sql", "-p", "2", "-f", file.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let embedded = started.elapsed().as_secs_f64();

        let bytes = loopback_bytes();
        let started = Instant::now();
        let job = cluster.submit(&file);
        cluster.await_state(&job, "FINISHED");
        let distributed = started.elapsed().as_secs_f64();
        let megabytes = (loopback_bytes() - bytes) as f64 / 1e6;
        println!(
            "{name:<12} {embedded:>12.2} {:>12.0} {distributed:>12.2} {:>12.0} {:>7.2} {megabytes:>10.1} {:>8.1}",
            events as f64 / embedded,
            events as f64 / distributed,
            embedded / distributed,
            megabytes / distributed
        );
    }
    drop(tls_cluster);
    drop(cluster);
    recovery(tmp.path());
}

/// Time from a TaskManager's loss to the job running again and completing a
/// checkpoint, for a kill (the connection resets) and a freeze (the heartbeat
/// times out).
fn recovery(tmp: &Path) {
    let ck = format!("execution.checkpointing.dir={}", tmp.join("ck").display());
    let cluster = Cluster::start(
        &[
            "-D",
            "execution.checkpointing.interval=100ms",
            "-D",
            &ck,
            "-D",
            "heartbeat.interval=100ms",
            "-D",
            "heartbeat.timeout=1s",
            "-D",
            "restart-strategy.type=fixed-delay",
            "-D",
            "restart-strategy.fixed-delay.attempts=100",
            "-D",
            "restart-strategy.fixed-delay.delay=0ms",
        ],
        &[1, 1, 1, 1],
    );
    let file = tmp.join("recovery.sql");
    let (_, columns, query) = CASES[0];
    std::fs::write(
        &file,
        script(
            1_000_000_000,
            ", 'rows-per-second' = '100000'",
            columns,
            query,
            "",
        ),
    )
    .unwrap();
    let job = cluster.submit(&file);
    println!("\nrecovery after a TaskManager loss (heartbeat.timeout = 1 s, restart delay 0):");
    println!(
        "{:<22} {:>14} {:>22}",
        "loss", "running again", "first checkpoint after"
    );
    for how in ["SIGKILL (reset)", "SIGSTOP (timeout)"] {
        cluster.await_checkpoints(&job, 3);
        let busy = cluster.busy_taskmanager();
        let restarts = cluster.job(&job)["restarts"].as_u64().unwrap_or(0);
        let lost_at = Instant::now();
        if how.starts_with("SIGKILL") {
            cluster.signal(busy, "KILL");
        } else {
            cluster.signal(busy, "STOP");
        }
        // Running again: the restart counter moved and the job is RUNNING.
        loop {
            let state = cluster.job(&job);
            if state["restarts"].as_u64().unwrap_or(0) > restarts && state["state"] == "RUNNING" {
                break;
            }
            assert!(
                lost_at.elapsed() < Duration::from_secs(60),
                "no recovery: {state}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        let running = lost_at.elapsed();
        let before = cluster.completed_checkpoints(&job);
        while cluster.completed_checkpoints(&job) <= before {
            assert!(lost_at.elapsed() < Duration::from_secs(60), "no checkpoint");
            std::thread::sleep(Duration::from_millis(2));
        }
        println!(
            "{how:<22} {:>12} ms {:>20} ms",
            running.as_millis(),
            lost_at.elapsed().as_millis()
        );
        if how.starts_with("SIGSTOP") {
            cluster.signal(busy, "KILL");
        }
    }
}

/// Bytes sent on the loopback interface so far.
fn loopback_bytes() -> u64 {
    let dev = std::fs::read_to_string("/proc/net/dev").unwrap_or_default();
    dev.lines()
        .find_map(|l| l.trim_start().strip_prefix("lo:"))
        .and_then(|rest| rest.split_whitespace().nth(8))
        .and_then(|tx| tx.parse().ok())
        .unwrap_or(0)
}

/// A JobManager and TaskManagers, killed when dropped.
struct Cluster {
    jobmanager: Child,
    rest: String,
    /// Each TaskManager with its id.
    taskmanagers: Vec<(Child, String)>,
}

impl Cluster {
    fn start(args: &[&str], slots: &[u32]) -> Cluster {
        Cluster::start_with(args, &[], slots)
    }

    /// A JobManager with `args` and TaskManagers with `tm_args`, one per
    /// entry of `slots`.
    fn start_with(args: &[&str], tm_args: &[&str], slots: &[u32]) -> Cluster {
        let mut jobmanager = Command::new(EDDY)
            .args([
                "jobmanager",
                "-D",
                "rest.port=0",
                "-D",
                "jobmanager.rpc.port=0",
            ])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(jobmanager.stderr.take().unwrap()).lines();
        let mut rpc = String::new();
        let rest = loop {
            let line = lines.next().expect("the JobManager ended").unwrap();
            if let Some(at) = line.strip_prefix("eddy: JobManager RPC at ") {
                rpc = at.rsplit(':').next().unwrap().to_string();
            }
            if let Some(at) = line.strip_prefix("eddy: JobManager serving at http://") {
                break at.trim().to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        let mut taskmanagers = Vec::new();
        for n in slots {
            let mut child = Command::new(EDDY)
                .args(["taskmanager", "-D"])
                .arg(format!("jobmanager.rpc.port={rpc}"))
                .arg("-D")
                .arg(format!("taskmanager.numberOfTaskSlots={n}"))
                .args(tm_args)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
            let first = lines.next().unwrap().unwrap();
            let id = first
                .strip_prefix("eddy: TaskManager ")
                .and_then(|r| r.split(' ').next())
                .unwrap()
                .to_string();
            std::thread::spawn(move || for _ in lines {});
            taskmanagers.push((child, id));
        }
        let cluster = Cluster {
            jobmanager,
            rest,
            taskmanagers,
        };
        let total: u32 = slots.iter().sum();
        while cluster.get("/overview")["slots-total"].as_u64() != Some(u64::from(total)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        cluster
    }

    fn get(&self, path: &str) -> Value {
        let mut stream = TcpStream::connect(&self.rest).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.rest
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        serde_json::from_str(body).unwrap_or(Value::Null)
    }

    fn submit(&self, file: &Path) -> String {
        let out = Command::new(EDDY)
            .args(["run", "-m", &self.rest, "-p", "2", file.to_str().unwrap()])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        said.lines()
            .find_map(|l| l.strip_prefix("Job has been submitted with JobID "))
            .unwrap_or_else(|| panic!("{said}{}", String::from_utf8_lossy(&out.stderr)))
            .trim()
            .to_string()
    }

    fn job(&self, id: &str) -> Value {
        let mut job = self.get(&format!("/jobs/{id}"));
        let restarts = self.get(&format!("/jobs/{id}/metrics?get=numRestarts"));
        if let Some(value) = restarts[0]["value"].as_str() {
            job["restarts"] = value.parse::<u64>().unwrap_or(0).into();
        }
        job
    }

    fn await_state(&self, id: &str, state: &str) {
        loop {
            let job = self.get(&format!("/jobs/{id}"));
            if job["state"] == state {
                return;
            }
            assert!(job["state"] != "FAILED", "job {id} failed");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn completed_checkpoints(&self, id: &str) -> u64 {
        self.get(&format!("/jobs/{id}/checkpoints"))["counts"]["completed"]
            .as_u64()
            .unwrap_or(0)
    }

    fn await_checkpoints(&self, id: &str, more: u64) {
        let start = self.completed_checkpoints(id);
        while self.completed_checkpoints(id) < start + more {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A TaskManager that runs tasks now.
    fn busy_taskmanager(&self) -> usize {
        let listed = self.get("/taskmanagers");
        let busy = listed["taskmanagers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["freeSlots"] == 0)
            .map(|t| t["id"].as_str().unwrap().to_string())
            .expect("a busy TaskManager");
        self.taskmanagers
            .iter()
            .position(|(_, id)| *id == busy)
            .unwrap()
    }

    fn signal(&self, index: usize, signal: &str) {
        let pid = self.taskmanagers[index].0.id();
        Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .unwrap();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (child, _) in &mut self.taskmanagers {
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(child.id().to_string())
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = self.jobmanager.kill();
        let _ = self.jobmanager.wait();
    }
}
