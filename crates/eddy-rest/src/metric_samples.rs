//! The metrics every reporter reports, read at one moment: the running jobs'
//! job, task and operator metrics and this process's, each with its scope and
//! the variables Flink's scopes name (`<host>`, `<job_name>`,
//! `<operator_name>`, ...).
//!
//! The Prometheus reporter turns a sample into a series named
//! `flink_<scope>_<metric>` labelled with the variables; the push reporters
//! (StatsD, log) into an identifier built from the scope's format
//! (`metrics.scope.operator`, ...) and the metric name.

use std::collections::BTreeMap;

use eddy_core::time::now_millis;
use eddy_core::Config;
use eddy_runtime::cluster::process_status::recent_cpu_load;
use eddy_runtime::cluster::ProcessStatus;
use eddy_runtime::{JobHandle, JobRegistry};

use crate::ids::vertex_id;
use crate::rates::{Rates, METERED, TIMED};
use crate::vertex_metrics::watermark_lag;

/// Where a metric lives, as Flink scopes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// A job, in the JobManager.
    Job,
    /// A task subtask.
    Task,
    /// An operator subtask.
    Operator,
    /// The process (a TaskManager).
    Process,
}

/// Flink's operator and task names are cut to this length in scopes.
const NAME_MAX: usize = 80;

impl Scope {
    /// The part of a Prometheus name after `flink_`.
    pub fn prometheus_prefix(self) -> &'static str {
        match self {
            Scope::Job => "jobmanager_job",
            Scope::Task => "taskmanager_job_task",
            Scope::Operator => "taskmanager_job_task_operator",
            Scope::Process => "taskmanager",
        }
    }

    /// The configuration key of the scope's format and Flink's default.
    pub fn format_option(self) -> (&'static str, &'static str) {
        match self {
            Scope::Job => ("metrics.scope.jm-job", "<host>.jobmanager.<job_name>"),
            Scope::Task => (
                "metrics.scope.task",
                "<host>.taskmanager.<tm_id>.<job_name>.<task_name>.<subtask_index>",
            ),
            Scope::Operator => (
                "metrics.scope.operator",
                "<host>.taskmanager.<tm_id>.<job_name>.<operator_name>.<subtask_index>",
            ),
            Scope::Process => ("metrics.scope.tm", "<host>.taskmanager.<tm_id>"),
        }
    }

    /// The scope's format in `config` (the key Flink 1.x used for the job scope
    /// works too).
    pub fn format(self, config: &Config) -> String {
        let (key, default) = self.format_option();
        let legacy = (self == Scope::Job).then(|| config.get_str("metrics.scope.jm.job"));
        config
            .get_str(key)
            .or(legacy.flatten())
            .unwrap_or(default)
            .to_string()
    }
}

/// A sample's variables, in order: (name without brackets, value).
pub type Variables = Vec<(&'static str, String)>;

/// One metric's value at the moment of reading.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Its scope.
    pub scope: Scope,
    /// The metric, e.g. `numRecordsIn` or `Status.JVM.Threads.Count`.
    pub name: String,
    /// The scope's variables.
    pub variables: Variables,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// The scope `format` with this sample's variables filled in, each passed
    /// through `filter`, joined to the metric name by `delimiter`.
    pub fn identifier(
        &self,
        format: &str,
        delimiter: char,
        filter: impl Fn(&str) -> String,
    ) -> String {
        let mut scope = String::new();
        for (i, part) in format.split('.').enumerate() {
            if i > 0 {
                scope.push(delimiter);
            }
            let variable = part.strip_prefix('<').and_then(|p| p.strip_suffix('>'));
            match variable {
                Some(name) => {
                    let value = self
                        .variables
                        .iter()
                        .find(|(k, _)| *k == name)
                        .map_or(part, |(_, v)| v.as_str());
                    scope.push_str(&filter(value));
                }
                None => scope.push_str(part),
            }
        }
        format!("{scope}{delimiter}{}", filter(&self.name))
    }
}

/// This machine's name.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Every running job's metrics and the process's.
pub fn collect() -> Vec<Sample> {
    let host = host();
    let mut samples = Vec::new();
    for job in JobRegistry::global().jobs() {
        if !job.status().is_terminal() {
            job_samples(&job, &host, &mut samples);
        }
    }
    process_samples(&host, &mut samples);
    samples
}

fn cut(name: &str) -> String {
    name.chars().take(NAME_MAX).collect()
}

fn job_samples(job: &JobHandle, host: &str, out: &mut Vec<Sample>) {
    let info = job.info();
    let job_id = info.id.to_string();
    let counters = job.counters();
    let attempt = counters
        .get("numRestarts")
        .copied()
        .unwrap_or(0)
        .to_string();
    let job_variables = || {
        vec![
            ("host", host.to_string()),
            ("job_id", job_id.clone()),
            ("job_name", info.name.clone()),
        ]
    };
    let mut add = |scope, name: &str, variables, value| {
        out.push(Sample {
            scope,
            name: name.to_string(),
            variables,
            value,
        })
    };
    // Job scope: the job's own counters, uptime and checkpoints in progress.
    for (name, value) in counters.iter().filter(|(k, _)| !k.contains('.')) {
        if name == "lastCheckpointSize" {
            add(
                Scope::Job,
                "lastCheckpointFullSize",
                job_variables(),
                *value as f64,
            );
        }
        add(Scope::Job, name, job_variables(), *value as f64);
    }
    let uptime = (now_millis() - info.start_time).max(0);
    add(Scope::Job, "uptime", job_variables(), uptime as f64);
    let in_progress = job.checkpoint_stats().in_progress.len();
    add(
        Scope::Job,
        "numberOfInProgressCheckpoints",
        job_variables(),
        in_progress as f64,
    );
    // Task and operator scope: eddy's vertices are both.
    let vertices: BTreeMap<&str, &str> = info
        .graph
        .vertices
        .iter()
        .map(|v| (v.uid.as_str(), v.name.as_str()))
        .collect();
    let rates = Rates::global();
    let variables = |uid: &str, fallback: &str, subtask: u32| {
        let name = cut(vertices.get(uid).copied().unwrap_or(fallback));
        let id = vertex_id(uid);
        let task = vec![
            ("host", host.to_string()),
            ("tm_id", "local".to_string()),
            ("job_id", job_id.clone()),
            ("job_name", info.name.clone()),
            ("task_id", id.clone()),
            ("task_name", name.clone()),
            ("task_attempt_num", attempt.clone()),
            ("subtask_index", subtask.to_string()),
        ];
        let mut operator = task.clone();
        operator.insert(7, ("operator_id", id));
        operator.insert(8, ("operator_name", name));
        (task, operator)
    };
    for m in job.operator_metrics() {
        let (task, operator) = variables(&m.uid, &m.name, m.subtask);
        if METERED.contains(&m.metric.as_str()) {
            let rate = rates.rate(info.id, &m.uid, m.subtask, &m.metric);
            let per_second = format!("{}PerSecond", m.metric);
            add(Scope::Task, &m.metric, task.clone(), m.value as f64);
            add(Scope::Task, &per_second, task, rate);
            add(Scope::Operator, &per_second, operator.clone(), rate);
        }
        add(Scope::Operator, &m.metric, operator, m.value as f64);
    }
    // Gauges: watermarks per operator, the task's times per task.
    for g in job.operator_gauges() {
        let (task, operator) = variables(&g.uid, &g.name, g.subtask);
        if g.metric.contains("Watermark") {
            if let Some(lag) = watermark_lag(&g.metric, g.value, now_millis()) {
                add(
                    Scope::Operator,
                    "watermarkLag",
                    operator.clone(),
                    lag as f64,
                );
            }
            add(Scope::Operator, &g.metric, operator, g.value as f64);
            continue;
        }
        if g.metric == TIMED[0].0 {
            if let Some(times) = rates.task_times(info.id, &g.uid, g.subtask) {
                let values = [times.busy, times.idle, times.backpressured];
                for ((_, name), value) in TIMED.iter().zip(values) {
                    add(Scope::Task, name, task.clone(), value);
                }
            }
        }
        add(Scope::Task, &g.metric, task, g.value as f64);
    }
}

/// CPU time, resident memory and threads of this process, from `/proc`.
fn process_samples(host: &str, out: &mut Vec<Sample>) {
    let mut add = |name: &str, value| {
        out.push(Sample {
            scope: Scope::Process,
            name: name.to_string(),
            variables: vec![("host", host.to_string()), ("tm_id", "local".to_string())],
            value,
        })
    };
    let status = ProcessStatus::read();
    add("Status.JVM.Threads.Count", f64::from(status.threads));
    add("Status.Process.Memory.RSS", status.resident_memory as f64);
    // Flink reports CPU time in nanoseconds.
    add("Status.JVM.CPU.Time", status.cpu_time_ms as f64 * 1e6);
    if let Some(load) = recent_cpu_load(&status) {
        add("Status.JVM.CPU.Load", load);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identifier_fills_the_scope_format_with_the_variables() {
        let sample = Sample {
            scope: Scope::Operator,
            name: "numRecordsIn".into(),
            variables: vec![
                ("host", "vm".into()),
                ("tm_id", "local".into()),
                ("job_name", "insert-into_out".into()),
                ("operator_name", "Calc(a:b)".into()),
                ("subtask_index", "1".into()),
            ],
            value: 3.0,
        };
        let format = Scope::Operator.format(&Config::new());
        let colons = |s: &str| s.replace(':', "-");
        assert_eq!(
            sample.identifier(&format, '.', colons),
            "vm.taskmanager.local.insert-into_out.Calc(a-b).1.numRecordsIn"
        );
        let mut config = Config::new();
        config.set("metrics.scope.operator", "eddy.<job_name>.<operator_id>.x");
        let format = Scope::Operator.format(&config);
        // A variable the sample lacks stays as written.
        assert_eq!(
            sample.identifier(&format, '_', str::to_string),
            "eddy_insert-into_out_<operator_id>_x_numRecordsIn"
        );
    }
}
