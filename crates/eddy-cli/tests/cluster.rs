//! A standalone cluster of separate processes on loopback: `eddy jobmanager`
//! and `eddy taskmanager`s, SQL jobs submitted with `eddy run -m`.
//!
//! - Nexmark queries (a window aggregation, a join, an unbounded aggregation)
//!   at p=4 over three TaskManagers give the embedded run's result.
//! - TaskManagers killed with SIGKILL while a checkpointed job runs, ten times,
//!   each replaced by a new one: the committed output equals the failure-free
//!   result record for record.
//! - Bad set-ups are clear errors: too few slots, a wrong cluster secret, a
//!   port in use, an unreachable JobManager.
//! - A TaskManager in a network namespace whose link is cut is found lost
//!   within the heartbeat timeout, and its job recovers exactly once.
//! - With `security.ssl.internal.enabled`, registration and data go over
//!   mutual TLS; a TaskManager without it, or with a foreign certificate, is
//!   refused.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::cluster::Cluster;
use common::eddy;
use serde_json::Value;

const NEXMARK: &str = "CREATE TABLE datagen (
    event_type INT,
    person ROW<id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR, state VARCHAR, `dateTime` TIMESTAMP(3), extra VARCHAR>,
    auction ROW<id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT, `dateTime` TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR>,
    bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, `dateTime` TIMESTAMP(3), extra VARCHAR>,
    `dateTime` AS CASE WHEN event_type = 0 THEN person.`dateTime` WHEN event_type = 1 THEN auction.`dateTime` ELSE bid.`dateTime` END,
    WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND
) WITH ('connector' = 'nexmark', 'events.num' = '60000');
CREATE VIEW bid AS SELECT bid.auction, bid.price, `dateTime` FROM datagen WHERE event_type = 2;
CREATE VIEW auction AS SELECT auction.id, auction.seller, auction.category FROM datagen WHERE event_type = 1;
";

/// The Nexmark script writing under `out`.
fn nexmark(out: &Path) -> String {
    format!(
        "{NEXMARK}CREATE TABLE counts (auction BIGINT, window_start TIMESTAMP(3), n BIGINT, total BIGINT) WITH ('connector' = 'filesystem', 'path' = '{o}/counts', 'format' = 'json');
CREATE TABLE joined (auction BIGINT, seller BIGINT, price BIGINT) WITH ('connector' = 'filesystem', 'path' = '{o}/joined', 'format' = 'csv');
CREATE TABLE totals (auction BIGINT, n BIGINT, top BIGINT) WITH ('connector' = 'filesystem', 'path' = '{o}/totals', 'format' = 'debezium-json');
INSERT INTO counts SELECT auction, window_start, COUNT(*), SUM(price) FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '1' SECOND)) GROUP BY auction, window_start, window_end;
INSERT INTO joined SELECT a.id, a.seller, b.price FROM auction a JOIN bid b ON a.id = b.auction;
INSERT INTO totals SELECT auction, COUNT(*), MAX(price) FROM bid GROUP BY auction;
",
        o = out.display()
    )
}

/// The committed lines of the part files under `dir`, sorted.
fn lines(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with('.') {
            continue;
        }
        out.extend(
            std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .map(String::from),
        );
    }
    out.sort();
    out
}

/// The rows a debezium-json changelog under `dir` leaves, with their
/// multiplicity; a row retracted more often than inserted is a failure.
fn folded(dir: &Path) -> BTreeMap<String, i64> {
    let mut rows: BTreeMap<String, i64> = BTreeMap::new();
    for line in lines(dir) {
        let change: Value = serde_json::from_str(&line).unwrap();
        if !change["before"].is_null() {
            *rows.entry(change["before"].to_string()).or_default() -= 1;
        }
        if !change["after"].is_null() {
            *rows.entry(change["after"].to_string()).or_default() += 1;
        }
    }
    rows.retain(|_, n| *n != 0);
    assert!(rows.values().all(|&n| n == 1), "{rows:?}");
    rows
}

/// The ids of the jobs `eddy run` said it submitted.
fn submitted(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Job has been submitted with JobID "))
        .map(|id| id.trim().to_string())
        .collect()
}

#[test]
fn the_sql_client_in_session_mode_submits_to_the_cluster() {
    let cluster = Cluster::start(&[], &[2]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let statements = format!(
        "{}SELECT 40 + 2 AS answer;\nQUIT;\n",
        each_key_once(&out, 300).replace("'1000'", "'100000'")
    );
    // The interactive client, its statements piped in.
    let mut shell = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["sql", "-m", &cluster.rest])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(shell.stdin.as_mut().unwrap(), statements.as_bytes()).unwrap();
    let said = shell.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&said.stdout);
    assert!(
        said.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&said.stderr)
    );
    let job = submitted(&stdout).remove(0);
    assert!(stdout.lines().any(|l| l.trim() == "42"), "{stdout}");
    await_state(&cluster, &job, "FINISHED");
    assert_each_key_once(&out, 300);

    // A script, and an error in it naming file and line.
    let script = tmp.path().join("bad.sql");
    std::fs::write(&script, "SELECT 1;\nSELECT nope FROM nowhere;\n").unwrap();
    let (ok, said, stderr) = eddy(&["sql", "-m", &cluster.rest, "-f", script.to_str().unwrap()]);
    assert!(!ok);
    assert!(said.lines().any(|l| l.trim() == "1"), "{said}");
    assert!(stderr.contains("bad.sql:2:"), "{stderr}");
}

/// Submits the one job of `script` at parallelism `p` to the JobManager at
/// `rest`: its id.
fn run_job(rest: &str, p: &str, script: &Path) -> String {
    let (ok, said, stderr) = eddy(&["run", "-m", rest, "-p", p, script.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    submitted(&said).remove(0)
}

/// Waits until job `id` reaches `state`.
fn await_state(cluster: &Cluster, id: &str, state: &str) -> Value {
    let rest = cluster.rest();
    let started = Instant::now();
    loop {
        let job = rest.get(&format!("/jobs/{id}"));
        if job["state"] == state {
            return job;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180) && job["state"] != "FAILED",
            "job {id} is {}, not {state}: {:?}",
            job["state"],
            rest.get(&format!("/jobs/{id}/exceptions"))
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn nexmark_on_three_taskmanagers_gives_the_embedded_result() {
    let tmp = tempfile::tempdir().unwrap();
    let embedded = tmp.path().join("embedded");
    let script = tmp.path().join("embedded.sql");
    std::fs::write(&script, nexmark(&embedded)).unwrap();
    let (ok, _, stderr) = eddy(&["sql", "-p", "4", "-f", script.to_str().unwrap()]);
    assert!(ok, "{stderr}");

    let cluster = Cluster::start(&[], &[2, 1, 1]);
    let distributed = tmp.path().join("cluster");
    let script = tmp.path().join("cluster.sql");
    std::fs::write(&script, nexmark(&distributed)).unwrap();
    let (ok, said, stderr) = eddy(&[
        "run",
        "-m",
        &cluster.rest,
        "-p",
        "4",
        script.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let jobs = submitted(&said);
    assert_eq!(jobs.len(), 3, "{said}");
    // The three jobs share the four slots one after the other.
    let mut finished = Vec::new();
    for job in &jobs {
        let done = await_state(&cluster, job, "FINISHED");
        assert_eq!(done["vertices"][0]["parallelism"], 4);
        finished.push(done);
    }
    for (table, job) in ["counts", "joined"].into_iter().zip(&finished) {
        let (want, got) = (
            lines(&embedded.join(table)),
            lines(&distributed.join(table)),
        );
        assert!(!want.is_empty());
        assert_eq!(got.len(), want.len(), "{table}");
        assert!(got == want, "{table} differs from the embedded run");
        // The TaskManagers' counters reach the JobManager: the sink read
        // every row it wrote.
        let vertices = job["vertices"].as_array().unwrap();
        let sink = vertices.last().unwrap();
        assert!(sink["name"].as_str().unwrap().contains("Sink"), "{sink}");
        assert_eq!(
            sink["metrics"]["read-records"],
            want.len() as u64,
            "{table}"
        );
    }
    let want = folded(&embedded.join("totals"));
    assert!(!want.is_empty());
    assert_eq!(folded(&distributed.join("totals")), want);

    // The TaskManagers as the REST API shows them, from their heartbeats.
    let rest = cluster.rest();
    let listed = rest.get("/taskmanagers");
    let listed = listed["taskmanagers"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    let mut slots: Vec<u64> = listed
        .iter()
        .map(|t| t["slotsNumber"].as_u64().unwrap())
        .collect();
    slots.sort_unstable();
    assert_eq!(slots, [1, 1, 2]);
    for tm in listed {
        assert!(tm["hardware"]["cpuCores"].as_u64().unwrap() >= 1, "{tm}");
        assert!(
            tm["hardware"]["physicalMemory"].as_u64().unwrap() > 0,
            "{tm}"
        );
        let id = tm["id"].as_str().unwrap();
        let detail = rest.get(&format!("/taskmanagers/{id}"));
        assert!(
            detail["metrics"]["residentMemory"].as_u64().unwrap() > 0,
            "{detail}"
        );
        let metrics = rest.get(&format!(
            "/taskmanagers/{id}/metrics?get=Status.Slots.Total"
        ));
        assert_eq!(metrics[0]["value"], tm["slotsNumber"].to_string());
    }
    let (status, _) = rest.call("GET", "/taskmanagers/nobody", None);
    assert_eq!(status, 404);
}

/// A small random generator, seeded from the clock (the seed is printed).
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn taskmanagers_killed_mid_job_leave_exactly_once_output() {
    let tmp = tempfile::tempdir().unwrap();
    let ck = format!(
        "execution.checkpointing.dir={}",
        tmp.path().join("ck").display()
    );
    let mut cluster = Cluster::start(
        &[
            "-D",
            "execution.checkpointing.interval=150ms",
            "-D",
            &ck,
            "-D",
            "restart-strategy.type=fixed-delay",
            "-D",
            "restart-strategy.fixed-delay.attempts=1000",
            "-D",
            "restart-strategy.fixed-delay.delay=100ms",
        ],
        &[2, 2],
    );
    let out = tmp.path().join("out");
    let script = tmp.path().join("job.sql");
    // Every key once through a hash exchange: the committed changelog must
    // hold exactly one insert per key, nothing lost and nothing twice.
    let keys = 16_000u64;
    std::fs::write(&script, each_key_once(&out, keys)).unwrap();
    let job = run_job(&cluster.rest, "4", &script);

    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("kill schedule seed {seed}");
    let mut random = XorShift(seed);
    let rest = cluster.rest();
    for kill in 0..10 {
        std::thread::sleep(Duration::from_millis(300 + random.below(900)));
        let alive: Vec<usize> = (0..cluster.taskmanagers.len())
            .filter(|&i| cluster.taskmanagers[i].is_some())
            .collect();
        let victim = alive[random.below(alive.len() as u64) as usize];
        cluster.kill_taskmanager(victim);
        cluster.add_taskmanager(2, &[]);
        let state = rest.get(&format!("/jobs/{job}"))["state"].clone();
        assert!(
            state != "FINISHED" || kill > 6,
            "the job ended before kill {kill}"
        );
    }
    await_state(&cluster, &job, "FINISHED");
    assert!(cluster.logged("was lost"), "no TaskManager loss was seen");
    assert_each_key_once(&out, keys);
}

/// The cluster's own connections over mutual TLS
/// (`security.ssl.internal.*`): TaskManagers register and exchange a job's
/// data through TLS, with one certificate for every process; a TaskManager
/// without TLS, or with a certificate another CA signed, is refused.
#[test]
fn cluster_connections_speak_mutual_tls_when_configured() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = common::certs::certificates(tmp.path());
    let setting = |key: &str, path: &Path| format!("{key}={}", path.display());
    let tls = |keystore: &Path| {
        vec![
            "-D".to_string(),
            "security.ssl.internal.enabled=true".into(),
            "-D".into(),
            setting("security.ssl.internal.keystore", keystore),
            "-D".into(),
            setting("security.ssl.internal.truststore", &certs.ca),
        ]
    };
    let ours = tls(&certs.cluster);
    let ours: Vec<&str> = ours.iter().map(String::as_str).collect();
    let mut cluster = Cluster::start(&ours, &[]);
    cluster.add_taskmanager(1, &ours);
    cluster.add_taskmanager(1, &ours);
    cluster.await_slots(2);
    let out = tmp.path().join("out");
    let script = tmp.path().join("job.sql");
    std::fs::write(&script, each_key_once(&out, 2_000)).unwrap();
    let job = run_job(&cluster.rest, "2", &script);
    await_state(&cluster, &job, "FINISHED");
    assert_each_key_once(&out, 2_000);

    // Neither plain TCP nor a foreign certificate gets in.
    cluster.add_taskmanager(1, &[]);
    let foreign = tls(&certs.foreign_cluster);
    let foreign: Vec<&str> = foreign.iter().map(String::as_str).collect();
    cluster.add_taskmanager(1, &foreign);
    let started = Instant::now();
    while !(cluster.logged("TLS failed") && started.elapsed() > Duration::from_secs(2)) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no refusal was logged"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(cluster.rest().get("/overview")["taskmanagers"], 2);
}

/// A network namespace joined to this one by a veth pair: `host` is this
/// side's address, `inner` the namespace's. Removed when dropped.
struct Netns {
    name: String,
    link: String,
    host: String,
    inner: String,
}

impl Netns {
    fn ip(args: &[&str]) {
        let out = Command::new("ip")
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("`ip` (iproute2) is needed to cut a TaskManager off: {e}"));
        assert!(
            out.status.success(),
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn create() -> Netns {
        if Command::new("ip").arg("-V").output().is_err() {
            // A new machine may lack iproute2, or the package lists.
            let apt = |args: &[&str]| {
                Command::new("apt-get")
                    .args(args)
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .output()
                    .is_ok_and(|o| o.status.success())
            };
            let install = ["install", "-y", "--no-install-recommends", "iproute2"];
            if !apt(&install) {
                apt(&["update"]);
                apt(&install);
            }
        }
        let id = std::process::id();
        let subnet = format!("10.213.{}", id % 250);
        let ns = Netns {
            name: format!("eddy-tm-{id}"),
            link: format!("eh{id}"),
            host: format!("{subnet}.1"),
            inner: format!("{subnet}.2"),
        };
        let peer = format!("en{id}");
        Netns::ip(&["netns", "add", &ns.name]);
        Netns::ip(&[
            "link", "add", &ns.link, "type", "veth", "peer", "name", &peer,
        ]);
        Netns::ip(&["link", "set", &peer, "netns", &ns.name]);
        Netns::ip(&["addr", "add", &format!("{}/30", ns.host), "dev", &ns.link]);
        Netns::ip(&["link", "set", &ns.link, "up"]);
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &ns.name, "ip"];
            all.extend_from_slice(args);
            Netns::ip(&all);
        };
        inside(&["addr", "add", &format!("{}/30", ns.inner), "dev", &peer]);
        inside(&["link", "set", &peer, "up"]);
        inside(&["link", "set", "lo", "up"]);
        ns
    }

    /// Cuts the namespace off: its packets go nowhere, no connection is reset.
    fn cut(&self) {
        Netns::ip(&["link", "set", &self.link, "down"]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.link])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// The JobManager settings of the failover tests: checkpoints every 150 ms
/// under `dir`, a TaskManager lost after 1.5 s of silence, restarts 100 ms
/// apart.
fn failover_settings(dir: &Path) -> Vec<String> {
    let ck = format!("execution.checkpointing.dir={}", dir.join("ck").display());
    [
        "execution.checkpointing.interval=150ms",
        &ck,
        "heartbeat.interval=200ms",
        "heartbeat.timeout=1500ms",
        "restart-strategy.fixed-delay.delay=100ms",
    ]
    .into_iter()
    .flat_map(|setting| ["-D".to_string(), setting.to_string()])
    .collect()
}

/// A TaskManager in a network namespace whose link is then cut (no reset, the
/// packets are dropped): the JobManager finds it lost within the heartbeat
/// timeout and the job recovers on a TaskManager started in its place, with
/// every key once in the committed output.
#[test]
fn a_taskmanager_cut_off_by_a_network_namespace_is_lost_and_the_job_recovers() {
    let netns = Netns::create();
    let tmp = tempfile::tempdir().unwrap();
    let rpc_address = format!("jobmanager.rpc.address={}", netns.host);
    let on_host = format!("taskmanager.host={}", netns.host);
    let mut settings = failover_settings(tmp.path());
    settings.extend(["-D".to_string(), rpc_address.clone()]);
    let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
    let mut cluster = Cluster::start(&settings, &[]);
    cluster.add_taskmanager(1, &["-D", &rpc_address, "-D", &on_host]);
    // The other TaskManager runs inside the namespace.
    let inside = Command::new("ip")
        .args(["netns", "exec", &netns.name])
        .arg(env!("CARGO_BIN_EXE_eddy"))
        .args(["taskmanager", "-D"])
        .arg(format!("jobmanager.rpc.port={}", cluster.rpc_port))
        .args(["-D", &rpc_address, "-D"])
        .arg(format!("taskmanager.host={}", netns.inner))
        .args(["-D", "taskmanager.numberOfTaskSlots=1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    cluster.taskmanagers.push(Some(inside));
    cluster.await_slots(2);

    let out = tmp.path().join("out");
    let script = tmp.path().join("job.sql");
    let keys = 4_000u64;
    std::fs::write(&script, each_key_once(&out, keys)).unwrap();
    let job = run_job(&cluster.rest, "2", &script);
    await_state(&cluster, &job, "RUNNING");
    std::thread::sleep(Duration::from_millis(1500));
    netns.cut();
    let cut = Instant::now();
    let rest = cluster.rest();
    rest.wait_for("/overview", |o| o["taskmanagers"] == 1);
    let detected = cut.elapsed();
    assert!(detected < Duration::from_secs(5), "lost after {detected:?}");
    cluster.add_taskmanager(1, &["-D", &rpc_address, "-D", &on_host]);
    await_state(&cluster, &job, "FINISHED");
    assert!(cluster.logged("was lost"), "no TaskManager loss was seen");
    assert_each_key_once(&out, keys);
    println!("cut off TaskManager found lost after {detected:?}");
}

/// A script counting each of `keys` keys once through a hash exchange into
/// a debezium-json table under `out`.
fn each_key_once(out: &Path, keys: u64) -> String {
    format!(
        "CREATE TABLE ticks (k BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '1000', \
         'fields.k.kind' = 'sequence', 'fields.k.start' = '1', 'fields.k.end' = '{keys}');\n\
         CREATE TABLE o (k BIGINT, n BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'debezium-json');\n\
         INSERT INTO o SELECT k, COUNT(*) FROM ticks GROUP BY k;\n",
        out.display()
    )
}

/// Checks that the changelog under `out` holds exactly one insert of count 1
/// for every key from 1 to `keys`.
fn assert_each_key_once(out: &Path, keys: u64) {
    let rows = folded(out);
    assert_eq!(lines(out).len() as u64, keys, "every key exactly once");
    let expected: BTreeMap<String, i64> = (1..=keys)
        .map(|k| (format!("{{\"k\":{k},\"n\":1}}"), 1))
        .collect();
    assert!(
        rows == expected,
        "the committed rows differ from the failure-free result"
    );
}

/// The ids of the registered TaskManagers.
fn taskmanager_ids(cluster: &Cluster) -> Vec<String> {
    let listed = cluster.rest().get("/taskmanagers");
    let listed = listed["taskmanagers"].as_array().unwrap().iter();
    listed
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

/// TaskManager `tm`'s log files come through the JobManager's REST API: its
/// log is listed, read whole and by its tail; another name is a 404.
fn check_taskmanager_logs(rest: &common::Shell, tm: &str) {
    let listed = rest.get(&format!("/taskmanagers/{tm}/logs"));
    let files = listed["logs"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{listed}");
    let name = files[0]["name"].as_str().unwrap();
    assert!(name.starts_with("eddy-taskmanager"), "{name}");
    let (head, whole) = common::raw_get(&rest.addr, &format!("/taskmanagers/{tm}/logs/{name}"), "");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(whole.contains("registered at the JobManager"), "{whole}");
    let path = format!("/taskmanagers/{tm}/logs/{name}?tail=200");
    let (_, tail) = common::raw_get(&rest.addr, &path, "");
    assert!(!tail.is_empty() && tail.len() <= 200, "{tail}");
    assert!(whole.contains(&tail));
    let (status, answer) = rest.call("GET", &format!("/taskmanagers/{tm}/logs/passwd"), None);
    assert_eq!(status, 404, "{answer}");
    let (status, _) = rest.call("GET", "/taskmanagers/nobody/logs", None);
    assert_eq!(status, 404);
}

#[test]
fn a_silent_taskmanager_is_lost_after_the_heartbeat_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let settings = failover_settings(tmp.path());
    let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
    let mut cluster = Cluster::start(&settings, &[2]);
    let out = tmp.path().join("out");
    let script = tmp.path().join("job.sql");
    std::fs::write(&script, each_key_once(&out, 5000)).unwrap();
    let job = run_job(&cluster.rest, "2", &script);
    let first = taskmanager_ids(&cluster);
    let logs = format!("env.log.dir={}", tmp.path().join("tm-log").display());
    cluster.add_taskmanager(2, &["-D", &logs]);
    cluster.await_slots(4);
    let second = taskmanager_ids(&cluster)
        .into_iter()
        .find(|id| !first.contains(id))
        .unwrap();
    let rest = cluster.rest();
    check_taskmanager_logs(&rest, &second);
    std::thread::sleep(Duration::from_millis(1500));
    // Frozen, the first TaskManager keeps its connection open but says nothing.
    cluster.signal_taskmanager(0, "STOP");
    let frozen = Instant::now();
    // A request for its logs ends when it is found lost, with a 404.
    let (status, answer) = rest.call("GET", &format!("/taskmanagers/{}/logs", first[0]), None);
    assert_eq!(status, 404, "{answer}");
    assert!(frozen.elapsed() < Duration::from_secs(5));
    rest.wait_for("/overview", |o| o["taskmanagers"] == 1);
    let detected = frozen.elapsed();
    assert!(detected < Duration::from_secs(5), "lost after {detected:?}");
    await_state(&cluster, &job, "FINISHED");
    assert_each_key_once(&out, 5000);
    cluster.signal_taskmanager(0, "CONT");
}

#[test]
fn a_killed_jobmanager_resumes_its_jobs_when_started_again() {
    let tmp = tempfile::tempdir().unwrap();
    let ck = format!(
        "execution.checkpointing.dir={}",
        tmp.path().join("ck").display()
    );
    let ha = format!(
        "high-availability.storageDir={}",
        tmp.path().join("ha").display()
    );
    let mut cluster = Cluster::start(
        &[
            "-D",
            "execution.checkpointing.interval=150ms",
            "-D",
            &ck,
            "-D",
            &ha,
        ],
        &[2, 2],
    );
    let out = tmp.path().join("out");
    let script = tmp.path().join("job.sql");
    let keys = 8000;
    std::fs::write(&script, each_key_once(&out, keys)).unwrap();
    let job = run_job(&cluster.rest, "4", &script);
    cluster
        .rest()
        .wait_for(&format!("/jobs/{job}/checkpoints"), |c| {
            c["counts"]["completed"].as_u64().is_some_and(|n| n > 3)
        });
    cluster.kill_jobmanager();
    std::thread::sleep(Duration::from_millis(300));
    cluster.restart_jobmanager();
    let line = cluster
        .log
        .lock()
        .unwrap()
        .iter()
        .find(|l| l.contains(&format!("({job}) as ")))
        .cloned()
        .unwrap_or_else(|| panic!("job {job} was not recovered: {:?}", cluster.log));
    let resumed = line.rsplit(' ').next().unwrap().to_string();
    cluster.await_slots(4);
    let done = await_state(&cluster, &resumed, "FINISHED");
    assert_eq!(done["vertices"][0]["parallelism"], 4);
    let checkpoints = cluster.rest().get(&format!("/jobs/{resumed}/checkpoints"));
    assert!(
        checkpoints["latest"]["restored"]["id"]
            .as_u64()
            .is_some_and(|id| id > 0),
        "{checkpoints}"
    );
    assert_each_key_once(&out, keys);
    // A finished job leaves the store: the next start recovers nothing.
    cluster.kill_jobmanager();
    cluster.restart_jobmanager();
    assert!(!cluster.logged("recovered job"), "{:?}", cluster.log);
}

/// Runs `command` to its end, which must come within 30 s: its status and
/// stderr.
fn finished(command: &mut Command) -> (bool, String) {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reading = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not end: {}", reading.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.success(), reading.join().unwrap())
}

/// The records vertex 0 of `job` wrote so far, as the JobManager knows them.
fn source_written(cluster: &Cluster, job: &str) -> u64 {
    let details = cluster.rest().get(&format!("/jobs/{job}"));
    details["vertices"][0]["metrics"]["write-records"]
        .as_u64()
        .unwrap_or(0)
}

/// The resident memory of process `pid`, in KiB.
fn resident_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn backpressure_from_a_frozen_taskmanager_stops_the_sources_of_the_other() {
    let cluster = Cluster::start(&[], &[1, 1]);
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("job.sql");
    std::fs::write(
        &script,
        "CREATE TABLE ticks (k BIGINT) WITH ('connector' = 'datagen', \
         'fields.k.kind' = 'sequence', 'fields.k.start' = '1', 'fields.k.end' = '1000000000000');\n\
         CREATE TABLE o (k BIGINT, n BIGINT) WITH ('connector' = 'blackhole');\n\
         INSERT INTO o SELECT k % 1000, COUNT(*) FROM ticks GROUP BY k % 1000;\n",
    )
    .unwrap();
    let job = run_job(&cluster.rest, "2", &script);
    // Flowing: both sources write, each to both aggregations.
    let started = Instant::now();
    while source_written(&cluster, &job) < 200_000 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the job does not flow"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = source_written(&cluster, &job);
    std::thread::sleep(Duration::from_secs(2));
    let rate = (source_written(&cluster, &job) - before) / 2;
    assert!(rate > 10_000, "{rate} records/s");

    // The second TaskManager stops taking anything: the first one's source,
    // which feeds an aggregation there, must stop too, with its memory bounded.
    let live = cluster.taskmanagers[0].as_ref().unwrap().id();
    cluster.signal_taskmanager(1, "STOP");
    std::thread::sleep(Duration::from_millis(2500));
    let (written, memory) = (source_written(&cluster, &job), resident_kib(live));
    std::thread::sleep(Duration::from_secs(3));
    let (later, memory_later) = (source_written(&cluster, &job), resident_kib(live));
    // The JobManager's REST API shows it: the live TaskManager's source has
    // spent the last seconds waiting for room (the frozen one reports nothing).
    let details = cluster.rest().get(&format!("/jobs/{job}"));
    let source = details["vertices"][0]["id"].as_str().unwrap().to_string();
    let pressure = cluster
        .rest()
        .get(&format!("/jobs/{job}/vertices/{source}/backpressure"));
    cluster.signal_taskmanager(1, "CONT");
    let subtasks = pressure["subtasks"].as_array().unwrap();
    assert!(
        subtasks
            .iter()
            .any(|s| s["backpressure-level"] == "high" && s["ratio"].as_f64().unwrap() > 0.5),
        "{pressure}"
    );
    assert!(
        later - written < rate / 20,
        "the sources wrote {} records in 3 s while their consumer was frozen ({rate}/s before)",
        later - written
    );
    assert!(
        memory_later < memory + 64 * 1024,
        "the live TaskManager grew from {memory} KiB to {memory_later} KiB"
    );
    // Unfrozen, it flows again.
    let resumed = source_written(&cluster, &job);
    let started = Instant::now();
    while source_written(&cluster, &job) < resumed + rate {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the job does not flow again"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = eddy(&["cancel", "-m", &cluster.rest, &job]);
}

/// A free port on loopback (taken by nobody when this returns).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn cluster_start_and_stop_serve_a_job_from_a_config_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("config.yaml"),
        format!(
            "# Flink's nested form\njobmanager:\n  rpc:\n    address: localhost\n    port: {}\nrest:\n  port: 0\n\
             taskmanager.numberOfTaskSlots: 2\n",
            free_port()
        ),
    )
    .unwrap();
    let cluster = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .arg("cluster")
            .args(args)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        said
    };
    let said = cluster(&["start", "--taskmanagers", "2", "--config-dir", "conf"]);
    let rest = said
        .lines()
        .find_map(|l| l.split("JobManager at http://").nth(1))
        .unwrap_or_else(|| panic!("{said}"))
        .to_string();
    let log = tmp.path().join("log");
    let pids: Vec<u32> = ["jobmanager", "taskmanager-1", "taskmanager-2"]
        .iter()
        .map(|role| {
            let file = log.join(format!("eddy-{role}.pid"));
            std::fs::read_to_string(file)
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    let shell = common::Shell::attach(&rest);
    shell.wait_for("/overview", |o| o["slots-total"] == 4);
    let out = tmp.path().join("out");
    let script = tmp.path().join("job.sql");
    std::fs::write(
        &script,
        each_key_once(&out, 2000).replace("'1000'", "'100000'"),
    )
    .unwrap();
    let job = run_job(&rest, "4", &script);
    shell.wait_for(&format!("/jobs/{job}"), |j| j["state"] == "FINISHED");
    assert_each_key_once(&out, 2000);
    // Each process logs to its own file.
    for role in ["jobmanager", "taskmanager-1", "taskmanager-2"] {
        let found = std::fs::read_dir(&log).unwrap().flatten().any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(&format!("eddy-{role}-")) && name.ends_with(".log")
        });
        assert!(found, "no log of the {role}");
    }

    let said = cluster(&["stop", "--config-dir", "conf"]);
    assert_eq!(said.matches("Stopping").count(), 3, "{said}");
    for pid in pids {
        // Ended, or a zombie nobody reaps (its parent, `eddy cluster start`,
        // is gone).
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = state.split(") ").nth(1).is_some_and(|r| r.starts_with('Z'));
        assert!(state.is_empty() || zombie, "{pid} still runs: {state}");
    }
    assert!(!log.join("eddy-jobmanager.pid").exists());
}

#[test]
fn bad_cluster_setups_are_clear_errors() {
    // A job needing more slots than the cluster has fails, saying so.
    let cluster = Cluster::start(&["-D", "slot.request.timeout=1s"], &[1]);
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("job.sql");
    std::fs::write(
        &script,
        "CREATE TABLE s (k BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '10');\n\
         CREATE TABLE o (k BIGINT) WITH ('connector' = 'blackhole');\n\
         INSERT INTO o SELECT k FROM s;\n",
    )
    .unwrap();
    let job = run_job(&cluster.rest, "3", &script);
    let rest = cluster.rest();
    let failed = rest.wait_for(&format!("/jobs/{job}"), |j| j["state"] == "FAILED");
    assert_eq!(failed["state"], "FAILED");
    let exceptions = rest.get(&format!("/jobs/{job}/exceptions"));
    assert!(
        exceptions
            .to_string()
            .contains("needs 3 slots, but the cluster had 1 free of 1"),
        "{exceptions}"
    );

    // A TaskManager with the wrong secret is refused and stops.
    let secured = Cluster::start(&["-D", "security.cluster.secret=right"], &[]);
    let (ok, stderr) = finished(
        Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args([
                "taskmanager",
                "-D",
                &format!("jobmanager.rpc.port={}", secured.rpc_port),
            ])
            .args(["-D", "security.cluster.secret=wrong"]),
    );
    assert!(!ok);
    assert!(
        stderr.contains("refused") && stderr.contains("secret"),
        "{stderr}"
    );

    // A JobManager whose RPC port is taken says which.
    let (ok, stderr) = finished(
        Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args(["jobmanager", "-D", "rest.port=0"])
            .args(["-D", &format!("jobmanager.rpc.port={}", secured.rpc_port)]),
    );
    assert!(!ok);
    assert!(
        stderr.contains(&format!(":{}", secured.rpc_port)),
        "{stderr}"
    );

    // A malformed config file and an invalid value are errors naming where.
    let conf = tmp.path().join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("config.yaml"),
        "rest.port: 0\njobmanager rpc port 1\n",
    )
    .unwrap();
    let (ok, stderr) = finished(Command::new(env!("CARGO_BIN_EXE_eddy")).args([
        "jobmanager",
        "--config-dir",
        conf.to_str().unwrap(),
    ]));
    assert!(!ok);
    assert!(stderr.contains("config.yaml:2"), "{stderr}");
    let (ok, stderr) = finished(Command::new(env!("CARGO_BIN_EXE_eddy")).args([
        "taskmanager",
        "-D",
        "heartbeat.timeout=soon",
    ]));
    assert!(!ok);
    assert!(stderr.contains("heartbeat.timeout"), "{stderr}");

    // A TaskManager that cannot reach its JobManager says so and keeps trying.
    let closed = free_port();
    let mut waiting = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args([
            "taskmanager",
            "-D",
            &format!("jobmanager.rpc.port={closed}"),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(waiting.stderr.take().unwrap()).lines();
    let said = lines
        .find(|l| {
            l.as_ref()
                .is_ok_and(|l| l.contains("cannot reach the JobManager"))
        })
        .expect("the TaskManager said why it waits")
        .unwrap();
    assert!(said.contains(&format!(":{closed}")), "{said}");
    assert!(waiting.try_wait().unwrap().is_none(), "it keeps retrying");
    let _ = waiting.kill();
    let _ = waiting.wait();
}

#[test]
fn a_streaming_querys_rows_come_through_the_sql_gateway_as_they_are_produced() {
    let cluster = Cluster::start(&[], &[1]);
    let rest = cluster.rest();
    let session = rest.open_session("{}");
    let run = |statement: &str| rest.statement(&session, statement);
    run(
        "CREATE TABLE slow (a BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '20', \
         'fields.a.kind' = 'sequence', 'fields.a.start' = '1', 'fields.a.end' = '1000000')",
    );
    let op = run("SELECT a FROM slow");
    // The first page holds the rows so far, far fewer than a full page of 1,000.
    let started = Instant::now();
    let mut next = format!("/v1/sessions/{session}/operations/{op}/result/0");
    let mut seen = Vec::new();
    while seen.len() < 40 {
        let page: Value = rest.get(&next);
        if page["resultType"] == "PAYLOAD" {
            let rows = page["results"]["data"].as_array().unwrap();
            assert!(rows.len() < 1000, "{} rows in a page", rows.len());
            for row in rows {
                seen.push(row["fields"][0].as_str().unwrap().parse::<u64>().unwrap());
            }
        }
        next = page["nextResultUri"].as_str().unwrap().to_string();
        assert!(started.elapsed() < Duration::from_secs(60), "{page}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Every row once, in order, across the pages.
    assert_eq!(seen, (1..=seen.len() as u64).collect::<Vec<u64>>());
}
