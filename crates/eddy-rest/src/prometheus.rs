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
use eddy_core::{Config, Result};

use crate::metric_samples::{collect, Variables};
use crate::rates::Rates;

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
    crate::serve(listener, app, None, "eddy-prometheus")?;
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

/// Series by metric name: labels and value.
#[derive(Default)]
struct Families {
    series: BTreeMap<String, Vec<(Variables, f64)>>,
}

impl Families {
    fn add(&mut self, name: String, labels: Variables, value: f64) {
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

/// Every running job's metrics and the process's, in Prometheus' text format.
pub fn render() -> String {
    let mut families = Families::default();
    for sample in collect() {
        let name = format!(
            "flink_{}_{}",
            sample.scope.prometheus_prefix(),
            sanitize(&sample.name)
        );
        families.add(name, sample.variables, sample.value);
    }
    families.render()
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
