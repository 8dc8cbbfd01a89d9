//! The metric reporters of `eddy sql`: a real Prometheus scrapes its Prometheus
//! endpoint and answers queries for the job's series under Flink's names and
//! labels (the test installs Prometheus, Debian's package, when it is missing,
//! starts it on 127.0.0.1 and stops it by PID); the StatsD reporter sends the
//! same metrics to a UDP socket and the log reporter writes them to the log,
//! both under Flink's scope formats.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{eddy, raw_get, Shell};
use serde_json::Value;

/// Prometheus' binary, installed with apt-get if it is missing.
fn prometheus_binary() -> PathBuf {
    let binary = PathBuf::from("/usr/bin/prometheus");
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
    };
    if !binary.exists() {
        let mut install = apt(&["install", "-y", "--no-install-recommends", "prometheus"]).unwrap();
        if !binary.exists() {
            // A new machine may have no package lists yet.
            let _ = apt(&["update"]);
            install = apt(&["install", "-y", "--no-install-recommends", "prometheus"]).unwrap();
        }
        assert!(
            binary.exists(),
            "Prometheus is needed (apt-get install prometheus) and could not be installed: {}",
            String::from_utf8_lossy(&install.stderr)
        );
    }
    binary
}

/// A Prometheus server on 127.0.0.1, stopped by PID when dropped.
struct Prometheus {
    child: Child,
    addr: String,
}

impl Prometheus {
    fn start(dir: &Path, target: &str) -> Prometheus {
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: eddy\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new(prometheus_binary())
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Prometheus { child, addr }
    }

    /// The result of an instant query (empty while Prometheus is starting).
    fn query(&self, query: &str) -> Vec<Value> {
        let Ok(mut stream) = TcpStream::connect(&self.addr) else {
            return Vec::new();
        };
        write!(
            stream,
            "GET /api/v1/query?query={query} HTTP/1.0\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut response = String::new();
        if stream.read_to_string(&mut response).is_err() {
            return Vec::new();
        }
        let Some((_, body)) = response.split_once("\r\n\r\n") else {
            return Vec::new();
        };
        serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v["data"]["result"].as_array().cloned())
            .unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn prometheus_scrapes_the_jobs_series_under_flinks_names() {
    let tmp = tempfile::tempdir().unwrap();
    let script = ticks_script(tmp.path());
    let mut early = Vec::new();
    let shell = Shell::start_with(
        &script,
        &[
            "-p",
            "2",
            "-D",
            "metrics.reporter.prom.factory.class=org.apache.flink.metrics.prometheus.PrometheusReporterFactory",
            "-D",
            "metrics.reporter.prom.port=0",
        ],
        &mut early,
    );
    let endpoint = early
        .iter()
        .find_map(|l| l.strip_prefix("eddy: Prometheus metrics at http://"))
        .unwrap_or_else(|| panic!("no Prometheus address in {early:?}"))
        .trim_end_matches("/metrics")
        .replace("0.0.0.0", "127.0.0.1");
    let job = shell.running_job();

    // The endpoint itself: Flink's names, labels and gauges.
    let started = Instant::now();
    let text = loop {
        let text = raw_get(&endpoint, "/metrics", "").1;
        // The task times need two samples, a second apart.
        if text.contains("flink_taskmanager_job_task_operator_numRecordsOutPerSecond{")
            && text.contains("flink_taskmanager_job_task_busyTimeMsPerSecond{")
        {
            break text;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{text}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        text.contains("# TYPE flink_taskmanager_job_task_operator_numRecordsIn gauge"),
        "{text}"
    );
    assert!(text.contains("flink_jobmanager_job_uptime{host="), "{text}");
    assert!(
        text.contains(&format!("job_id=\"{job}\",job_name=\"insert-into_sink\"")),
        "{text}"
    );
    assert!(
        text.contains("flink_taskmanager_Status_JVM_Threads_Count{"),
        "{text}"
    );
    for name in [
        "flink_taskmanager_job_task_idleTimeMsPerSecond{",
        "flink_taskmanager_job_task_backPressuredTimeMsPerSecond{",
        "flink_taskmanager_job_task_isBackPressured{",
        "flink_taskmanager_job_task_operator_currentOutputWatermark{",
    ] {
        assert!(text.contains(name), "no {name} in {text}");
    }

    // A real Prometheus scrapes it and answers for the source's records.
    let prometheus = Prometheus::start(tmp.path(), &endpoint);
    let started = Instant::now();
    let series = loop {
        let result = prometheus.query("flink_taskmanager_job_task_operator_numRecordsOut");
        let sources: Vec<Value> = result
            .into_iter()
            .filter(|s| {
                s["metric"]["operator_name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("TableSourceScan"))
            })
            .collect();
        if sources.len() == 2 && sources.iter().all(|s| s["value"][1] != "0") {
            break sources;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "Prometheus has no source series: {sources:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let mut subtasks: Vec<&str> = series
        .iter()
        .map(|s| s["metric"]["subtask_index"].as_str().unwrap())
        .collect();
    subtasks.sort_unstable();
    assert_eq!(subtasks, vec!["0", "1"]);
    for s in &series {
        let labels = &s["metric"];
        assert_eq!(labels["job_name"], "insert-into_sink");
        assert_eq!(labels["job_id"], job.as_str());
        assert_eq!(labels["job"], "eddy");
        assert_eq!(labels["tm_id"], "local");
        assert_eq!(labels["task_id"], labels["operator_id"]);
    }
    let uptime = prometheus.query("flink_jobmanager_job_uptime");
    assert_eq!(uptime.len(), 1, "{uptime:?}");
    // The source's tasks spend most of each second waiting: 2,000 rows a second
    // are little work.
    let idle = prometheus.query("flink_taskmanager_job_task_idleTimeMsPerSecond");
    let source_idle: Vec<f64> = idle
        .iter()
        .filter(|s| {
            s["metric"]["task_name"]
                .as_str()
                .is_some_and(|n| n.starts_with("TableSourceScan"))
        })
        .map(|s| s["value"][1].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(source_idle.len(), 2, "{idle:?}");
    assert!(
        source_idle.iter().all(|ms| (0.0..=1000.0).contains(ms)),
        "{source_idle:?}"
    );
    drop(prometheus);

    let (status, _) = shell.call("PATCH", &format!("/jobs/{job}?mode=cancel"), None);
    assert_eq!(status, 202);
    let (ok, stderr) = shell.finish();
    assert!(!ok && stderr.contains("cancelled"), "{stderr}");
}

/// A job reading 2,000 rows a second into a blackhole.
fn ticks_script(dir: &Path) -> PathBuf {
    let script = dir.join("job.sql");
    std::fs::write(
        &script,
        "CREATE TABLE ticks (k BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '2000', \
         'fields.k.kind' = 'sequence', 'fields.k.start' = '1', 'fields.k.end' = '100000000');\n\
         CREATE TABLE sink (k BIGINT) WITH ('connector' = 'blackhole');\n\
         INSERT INTO sink SELECT k FROM ticks WHERE MOD(k, 2) = 0;\n",
    )
    .unwrap();
    script
}

#[test]
fn statsd_and_log_reporters_push_the_jobs_metrics_under_flinks_scopes() {
    let tmp = tempfile::tempdir().unwrap();
    let statsd = UdpSocket::bind("127.0.0.1:0").unwrap();
    statsd
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let port = statsd.local_addr().unwrap().port();
    let log_dir = tmp.path().join("log");
    let args = [
        "metrics.reporter.stsd.factory.class=org.apache.flink.metrics.statsd.StatsDReporterFactory"
            .to_string(),
        "metrics.reporter.stsd.host=127.0.0.1".to_string(),
        format!("metrics.reporter.stsd.port={port}"),
        "metrics.reporter.stsd.interval=200ms".to_string(),
        "metrics.reporter.log.factory.class=org.apache.flink.metrics.slf4j.Slf4jReporterFactory"
            .to_string(),
        "metrics.reporter.log.interval=300ms".to_string(),
        format!("env.log.dir={}", log_dir.display()),
    ];
    let args: Vec<&str> = args.iter().flat_map(|a| ["-D", a.as_str()]).collect();
    let shell = Shell::start(&ticks_script(tmp.path()), &args);
    let job = shell.running_job();

    // StatsD: `<host>.taskmanager.<tm_id>.<job_name>.<operator_name>.<subtask>.<metric>`
    // for operators, `<host>.jobmanager.<job_name>.<metric>` for the job.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host = host.trim();
    let source = format!(
        "{host}.taskmanager.local.insert-into_sink.TableSourceScan(table=[ticks], connector=[datagen]).0.numRecordsOut:"
    );
    let uptime = format!("{host}.jobmanager.insert-into_sink.uptime:");
    let (mut counted, mut up) = (None, false);
    let started = Instant::now();
    let mut buffer = [0u8; 65536];
    while counted.is_none() || !up {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no StatsD datagram for {source} and {uptime}"
        );
        let Ok(n) = statsd.recv(&mut buffer) else {
            continue;
        };
        let datagram = String::from_utf8_lossy(&buffer[..n]).into_owned();
        assert!(datagram.ends_with("|g"), "{datagram}");
        if let Some(value) = datagram.strip_prefix(&source) {
            let value: u64 = value.trim_end_matches("|g").parse().unwrap();
            counted = (value > 0).then_some(value);
        }
        up |= datagram.starts_with(&uptime);
    }

    // The log: a report with the same identifiers.
    let started = Instant::now();
    let report = loop {
        let logs: Vec<PathBuf> = std::fs::read_dir(&log_dir)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        let text: String = logs
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect();
        if text.contains("Finished metrics report") && text.contains(&source.replace(':', ": ")) {
            break text;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{text}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(report.contains("Starting metrics report"), "{report}");

    let (status, _) = shell.call("PATCH", &format!("/jobs/{job}?mode=cancel"), None);
    assert_eq!(status, 202);
    let (ok, stderr) = shell.finish();
    assert!(!ok && stderr.contains("cancelled"), "{stderr}");
}

#[test]
fn a_statsd_reporter_without_a_port_is_an_error_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let script = ticks_script(tmp.path());
    let (ok, _, stderr) = eddy(&[
        "sql",
        "-f",
        script.to_str().unwrap(),
        "-D",
        "metrics.reporter.stsd.factory.class=org.apache.flink.metrics.statsd.StatsDReporterFactory",
        "-D",
        "metrics.reporter.stsd.host=127.0.0.1",
    ]);
    assert!(!ok);
    assert!(stderr.contains("metrics.reporter.stsd.port"), "{stderr}");
}
