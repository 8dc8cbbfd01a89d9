//! The Prometheus reporter: the metrics of this process's running jobs in
//! Prometheus' text format, named and labelled as Flink's `PrometheusReporter`
//! names them, so dashboards built for Flink read them unchanged.
//!
//! Configured as in Flink:
//!
//! ```yaml
//! metrics.reporter.prom.factory.class: org.apache.flink.metrics.prometheus.PrometheusReporterFactory
//! metrics.reporter.prom.port: 9249        # a port, 0 for any, or a range 9250-9260
//! ```
//!
//! | scope | name | labels |
//! |---|---|---|
//! | operator | `flink_taskmanager_job_task_operator_<metric>` | `host`, `tm_id`, `job_id`, `job_name`, `task_id`, `task_name`, `task_attempt_num`, `operator_id`, `operator_name`, `subtask_index` |
//! | task | `flink_taskmanager_job_task_<metric>` | the same without the operator's |
//! | job | `flink_jobmanager_job_<metric>` | `host`, `job_id`, `job_name` |
//! | process | `flink_taskmanager_Status_...` | `host`, `tm_id` |
//!
//! Every value is a gauge, as Flink exports its counters. Operators are eddy's
//! vertices, so a task and its operator carry the same figures.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use axum::routing::get;
use axum::Router;
use eddy_core::time::now_millis;
use eddy_core::{Config, Result};
use eddy_runtime::{JobHandle, JobRegistry};

use crate::ids::vertex_id;
use crate::rates::{Rates, METERED, TIMED};

/// The reporter's name in `metrics.reporter.<name>.*` keys that eddy looks for
/// first; any name whose factory class is Prometheus' works.
const FACTORY_SUFFIX: &str = "PrometheusReporterFactory";
/// Flink's default port of the Prometheus reporter.
const DEFAULT_PORT: &str = "9249";

/// The port of the configured Prometheus reporter (`None`: no reporter), and the
/// key it came from.
fn configured(config: &Config) -> Option<(String, String)> {
    config.iter().find_map(|(key, value)| {
        let name = key
            .strip_prefix("metrics.reporter.")?
            .strip_suffix(".factory.class")?;
        value.trim().ends_with(FACTORY_SUFFIX).then(|| {
            let port_key = format!("metrics.reporter.{name}.port");
            let port = config
                .get_str(&port_key)
                .unwrap_or(DEFAULT_PORT)
                .to_string();
            (port_key, port)
        })
    })
}

/// Starts the Prometheus endpoint if a Prometheus reporter is configured; its
/// address.
pub fn start(config: &Config) -> Result<Option<SocketAddr>> {
    let Some((key, port)) = configured(config) else {
        return Ok(None);
    };
    let listener = crate::bind_listener(&key, "0.0.0.0", &port)?;
    let addr = crate::local_addr(&listener)?;
    Rates::global();
    let app = Router::new().fallback(get(|| async { render() }));
    crate::serve_router(listener, app, "eddy-prometheus")?;
    eprintln!("eddy: Prometheus metrics at http://{addr}/metrics");
    Ok(Some(addr))
}

/// Keeps the characters Prometheus allows in a name (`[a-zA-Z0-9_:]`).
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A series' labels, in order.
type Labels = Vec<(&'static str, String)>;

/// Series by metric name: labels and value.
#[derive(Default)]
struct Families {
    series: BTreeMap<String, Vec<(Labels, f64)>>,
}

impl Families {
    fn add(&mut self, name: String, labels: Labels, value: f64) {
        self.series.entry(name).or_default().push((labels, value));
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for (name, series) in &self.series {
            let _ = writeln!(out, "# HELP {name} {name} (scope: eddy)");
            let _ = writeln!(out, "# TYPE {name} gauge");
            for (labels, value) in series {
                let labels: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                    .collect();
                let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
            }
        }
        out
    }
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Every running job's metrics and the process's, in Prometheus' text format.
pub fn render() -> String {
    let host = host();
    let mut families = Families::default();
    for job in JobRegistry::global().jobs() {
        if !job.status().is_terminal() {
            job_metrics(&job, &host, &mut families);
        }
    }
    process_metrics(&host, &mut families);
    families.render()
}

fn job_metrics(job: &JobHandle, host: &str, families: &mut Families) {
    let info = job.info();
    let job_id = info.id.to_string();
    let counters = job.counters();
    let attempt = counters
        .get("numRestarts")
        .copied()
        .unwrap_or(0)
        .to_string();
    let job_labels = || {
        vec![
            ("host", host.to_string()),
            ("job_id", job_id.clone()),
            ("job_name", info.name.clone()),
        ]
    };
    // Job scope: the job's own counters, uptime and checkpoints in progress.
    for (name, value) in counters.iter().filter(|(k, _)| !k.contains('.')) {
        let name = match name.as_str() {
            "lastCheckpointSize" => {
                let full = "flink_jobmanager_job_lastCheckpointFullSize".to_string();
                families.add(full, job_labels(), *value as f64);
                name.clone()
            }
            other => other.to_string(),
        };
        families.add(
            format!("flink_jobmanager_job_{}", sanitize(&name)),
            job_labels(),
            *value as f64,
        );
    }
    let uptime = (now_millis() - info.start_time).max(0);
    families.add(
        "flink_jobmanager_job_uptime".into(),
        job_labels(),
        uptime as f64,
    );
    let in_progress = job.checkpoint_stats().in_progress.len();
    families.add(
        "flink_jobmanager_job_numberOfInProgressCheckpoints".into(),
        job_labels(),
        in_progress as f64,
    );
    // Task and operator scope.
    let vertices: BTreeMap<&str, &str> = info
        .graph
        .vertices
        .iter()
        .map(|v| (v.uid.as_str(), v.name.as_str()))
        .collect();
    let rates = Rates::global();
    let labels = |uid: &str, fallback: &str, subtask: u32| {
        let name = vertices.get(uid).copied().unwrap_or(fallback);
        let id = vertex_id(uid);
        let task = vec![
            ("host", host.to_string()),
            ("tm_id", "local".to_string()),
            ("job_id", job_id.clone()),
            ("job_name", info.name.clone()),
            ("task_id", id.clone()),
            ("task_name", name.to_string()),
            ("task_attempt_num", attempt.clone()),
            ("subtask_index", subtask.to_string()),
        ];
        let mut operator = task.clone();
        operator.insert(7, ("operator_id", id));
        operator.insert(8, ("operator_name", name.to_string()));
        (task, operator)
    };
    for m in job.operator_metrics() {
        let (task, operator) = labels(&m.uid, &m.name, m.subtask);
        let metric = sanitize(&m.metric);
        if METERED.contains(&m.metric.as_str()) {
            families.add(
                format!("flink_taskmanager_job_task_{metric}"),
                task.clone(),
                m.value as f64,
            );
            let rate = rates.rate(info.id, &m.uid, m.subtask, &m.metric);
            families.add(
                format!("flink_taskmanager_job_task_{metric}PerSecond"),
                task.clone(),
                rate,
            );
            families.add(
                format!("flink_taskmanager_job_task_operator_{metric}PerSecond"),
                operator.clone(),
                rate,
            );
        }
        families.add(
            format!("flink_taskmanager_job_task_operator_{metric}"),
            operator,
            m.value as f64,
        );
    }
    // Gauges: watermarks per operator, the task's times per task.
    for g in job.operator_gauges() {
        let (task, operator) = labels(&g.uid, &g.name, g.subtask);
        let metric = sanitize(&g.metric);
        if g.metric.contains("Watermark") {
            families.add(
                format!("flink_taskmanager_job_task_operator_{metric}"),
                operator,
                g.value as f64,
            );
            continue;
        }
        if g.metric == TIMED[0].0 {
            if let Some(times) = rates.task_times(info.id, &g.uid, g.subtask) {
                let values = [times.busy, times.idle, times.backpressured];
                for ((_, name), value) in TIMED.iter().zip(values) {
                    families.add(
                        format!("flink_taskmanager_job_task_{name}"),
                        task.clone(),
                        value,
                    );
                }
            }
        }
        families.add(
            format!("flink_taskmanager_job_task_{metric}"),
            task,
            g.value as f64,
        );
    }
}

/// CPU time, resident memory and threads of this process, from `/proc`.
fn process_metrics(host: &str, families: &mut Families) {
    let labels = || vec![("host", host.to_string()), ("tm_id", "local".to_string())];
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
        };
        if let Some(threads) = field("Threads:") {
            families.add(
                "flink_taskmanager_Status_JVM_Threads_Count".into(),
                labels(),
                threads,
            );
        }
        if let Some(rss_kb) = field("VmRSS:") {
            families.add(
                "flink_taskmanager_Status_Process_Memory_RSS".into(),
                labels(),
                rss_kb * 1024.0,
            );
        }
    }
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the command name: utime and stime are the 12th and 13th.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        if let (Some(utime), Some(stime)) = (fields.get(11), fields.get(12)) {
            if let (Ok(u), Ok(s)) = (utime.parse::<f64>(), stime.parse::<f64>()) {
                // Clock ticks are 100 a second on Linux; Flink reports nanoseconds.
                families.add(
                    "flink_taskmanager_Status_JVM_CPU_Time".into(),
                    labels(),
                    (u + s) * 1e7,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_are_prometheus_safe() {
        assert_eq!(sanitize("numRecordsIn"), "numRecordsIn");
        assert_eq!(sanitize("my.counter-1"), "my_counter_1");
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let mut families = Families::default();
        families.add(
            "flink_x".into(),
            vec![("job_name", "q\"1".into()), ("subtask_index", "0".into())],
            3.0,
        );
        assert_eq!(
            families.render(),
            "# HELP flink_x flink_x (scope: eddy)\n# TYPE flink_x gauge\n\
             flink_x{job_name=\"q\\\"1\",subtask_index=\"0\"} 3\n"
        );
    }

    #[test]
    fn the_reporter_is_on_when_its_factory_is_prometheus() {
        let mut config = Config::new();
        assert_eq!(configured(&config), None);
        config.set(
            "metrics.reporter.prom.factory.class",
            "org.apache.flink.metrics.prometheus.PrometheusReporterFactory",
        );
        assert_eq!(
            configured(&config),
            Some(("metrics.reporter.prom.port".into(), "9249".into()))
        );
        config.set("metrics.reporter.prom.port", "9300-9310");
        assert_eq!(configured(&config).unwrap().1, "9300-9310");
    }
}
