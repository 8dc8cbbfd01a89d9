//! Jobs: the list, one job's details, plan, configuration, exceptions and metrics.

use std::collections::BTreeMap;

use axum::extract::{Path, Query};
use axum::Json;
use eddy_core::graph::{Partitioning, Vertex};
use eddy_core::time::now_millis;
use eddy_core::JobStatus;
use eddy_runtime::{JobHandle, JobRegistry};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::ids::vertex_id;
use crate::routes::find_job;

/// Flink's execution states, in the order its `tasks` objects list them.
pub const EXECUTION_STATES: [&str; 10] = [
    "CREATED",
    "SCHEDULED",
    "DEPLOYING",
    "INITIALIZING",
    "RUNNING",
    "FINISHED",
    "CANCELING",
    "CANCELED",
    "FAILED",
    "RECONCILING",
];

/// The execution state of the job's tasks, as far as the job's status tells it.
pub fn task_state(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Created => "CREATED",
        JobStatus::Running => "RUNNING",
        JobStatus::Finished => "FINISHED",
        JobStatus::Failing | JobStatus::Cancelling | JobStatus::Restarting => "CANCELING",
        JobStatus::Canceled | JobStatus::Suspended => "CANCELED",
        JobStatus::Failed => "FAILED",
    }
}

/// Counts of tasks by execution state: `total` tasks, all in `state`.
pub fn task_counts(total: u64, state: &str, lower_case: bool) -> Value {
    let mut counts = serde_json::Map::new();
    for s in EXECUTION_STATES {
        let key = if lower_case {
            s.to_ascii_lowercase()
        } else {
            s.to_string()
        };
        counts.insert(key, json!(if s == state { total } else { 0 }));
    }
    if lower_case {
        counts.insert("total".into(), json!(total));
    }
    Value::Object(counts)
}

/// Start, end (-1 while running) and duration of a job, in ms.
pub fn times(job: &JobHandle) -> (i64, i64, i64) {
    let start = job.info().start_time;
    let end = job.end_time();
    let duration = end.unwrap_or_else(now_millis) - start;
    (start, end.unwrap_or(-1), duration.max(0))
}

fn total_tasks(job: &JobHandle) -> u64 {
    job.info()
        .graph
        .vertices
        .iter()
        .map(|v| u64::from(v.parallelism))
        .sum()
}

/// `GET /jobs`: every job's id and status.
pub async fn list() -> Json<Value> {
    let jobs: Vec<Value> = JobRegistry::global()
        .jobs()
        .iter()
        .map(|j| json!({ "id": j.id().to_string(), "status": j.status().as_str() }))
        .collect();
    Json(json!({ "jobs": jobs }))
}

/// `GET /jobs/overview`: every job with name, times, state and tasks.
pub async fn overview() -> Json<Value> {
    let jobs: Vec<Value> = JobRegistry::global()
        .jobs()
        .iter()
        .rev()
        .map(|job| {
            let (start, end, duration) = times(job);
            let status = job.status();
            json!({
                "jid": job.id().to_string(),
                "name": job.info().name,
                "start-time": start,
                "end-time": end,
                "duration": duration,
                "state": status.as_str(),
                "last-modification": if end >= 0 { end } else { start },
                "tasks": task_counts(total_tasks(job), task_state(status), true),
            })
        })
        .collect();
    Json(json!({ "jobs": jobs }))
}

/// The read and write counters of an operator, summed over its subtasks, or of one
/// subtask.
pub fn io_metrics(job: &JobHandle, uid: &str, subtask: Option<u32>) -> Value {
    let (mut read, mut written, mut read_bytes, mut written_bytes) = (0u64, 0u64, 0u64, 0u64);
    for m in job.operator_metrics() {
        if m.uid != uid || subtask.is_some_and(|s| s != m.subtask) {
            continue;
        }
        match m.metric.as_str() {
            "numRecordsIn" => read += m.value,
            "numRecordsOut" => written += m.value,
            "numBytesIn" => read_bytes += m.value,
            "numBytesOut" => written_bytes += m.value,
            _ => {}
        }
    }
    json!({
        "read-bytes": read_bytes,
        "read-bytes-complete": true,
        "write-bytes": written_bytes,
        "write-bytes-complete": true,
        "read-records": read,
        "read-records-complete": true,
        "write-records": written,
        "write-records-complete": true,
        "accumulated-backpressured-time": 0,
        "accumulated-idle-time": 0,
        "accumulated-busy-time": "NaN",
    })
}

fn vertex_summary(job: &JobHandle, vertex: &Vertex) -> Value {
    let (start, end, duration) = times(job);
    let state = task_state(job.status());
    json!({
        "id": vertex_id(&vertex.uid),
        "name": vertex.name,
        "maxParallelism": vertex.max_parallelism,
        "parallelism": vertex.parallelism,
        "status": state,
        "start-time": start,
        "end-time": end,
        "duration": duration,
        "tasks": task_counts(u64::from(vertex.parallelism), state, false),
        "metrics": io_metrics(job, &vertex.uid, None),
    })
}

/// Flink's name of a partitioning, as the plan shows it.
fn ship_strategy(partitioning: Partitioning) -> &'static str {
    match partitioning {
        Partitioning::Forward => "FORWARD",
        Partitioning::Rebalance => "REBALANCE",
        Partitioning::Rescale => "RESCALE",
        Partitioning::Hash => "HASH",
        Partitioning::Broadcast => "BROADCAST",
    }
}

/// The job's plan: its vertices with their inputs.
fn plan_of(job: &JobHandle) -> Value {
    let graph = &job.info().graph;
    let nodes: Vec<Value> = graph
        .vertices
        .iter()
        .map(|vertex| {
            let inputs: Vec<Value> = graph
                .edges
                .iter()
                .filter(|e| e.target == vertex.id)
                .enumerate()
                .filter_map(|(num, edge)| {
                    let source = graph.vertices.iter().find(|v| v.id == edge.source)?;
                    Some(json!({
                        "num": num,
                        "id": vertex_id(&source.uid),
                        "ship_strategy": ship_strategy(edge.partitioning),
                        "exchange": "pipelined_bounded",
                        "side_output": edge.side_output,
                    }))
                })
                .collect();
            json!({
                "id": vertex_id(&vertex.uid),
                "uid": vertex.uid,
                "parallelism": vertex.parallelism,
                "operator": "",
                "operator_strategy": "",
                "description": vertex.name,
                "inputs": inputs,
                "optimizer_properties": {},
            })
        })
        .collect();
    json!({
        "jid": job.id().to_string(),
        "name": job.info().name,
        "type": "STREAMING",
        "nodes": nodes,
    })
}

/// `GET /jobs/:jobid`: the job with its vertices and plan.
pub async fn details(Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let job = find_job(&id)?;
    let (start, end, duration) = times(&job);
    let status = job.status();
    let vertices: Vec<Value> = job
        .info()
        .graph
        .vertices
        .iter()
        .map(|v| vertex_summary(&job, v))
        .collect();
    let mut timestamps = serde_json::Map::new();
    timestamps.insert("CREATED".into(), json!(start));
    timestamps.insert("RUNNING".into(), json!(start));
    if end >= 0 {
        timestamps.insert(status.as_str().into(), json!(end));
    }
    Ok(Json(json!({
        "jid": job.id().to_string(),
        "name": job.info().name,
        "isStoppable": false,
        "state": status.as_str(),
        "job-type": "STREAMING",
        "start-time": start,
        "end-time": end,
        "duration": duration,
        "maxParallelism": -1,
        "now": now_millis(),
        "timestamps": timestamps,
        "vertices": vertices,
        "status-counts": task_counts(total_tasks(&job), task_state(status), false),
        "plan": plan_of(&job),
    })))
}

/// `GET /jobs/:jobid/plan`.
pub async fn plan(Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let job = find_job(&id)?;
    Ok(Json(json!({ "plan": plan_of(&job) })))
}

/// `GET /jobs/:jobid/config`: the job's execution configuration.
pub async fn config(Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let job = find_job(&id)?;
    let config = &job.info().config;
    let user: BTreeMap<&str, &str> = config.iter().collect();
    let parallelism = config.get_str("parallelism.default").unwrap_or("1");
    Ok(Json(json!({
        "jid": job.id().to_string(),
        "name": job.info().name,
        "execution-config": {
            "execution-mode": "PIPELINED",
            "restart-strategy": config.get_str("restart-strategy.type").unwrap_or(
                if job.info().checkpointing.is_some() { "exponential-delay" } else { "disable" }
            ),
            "job-parallelism": parallelism.parse::<i64>().unwrap_or(1),
            "object-reuse-mode": false,
            "user-config": user,
        }
    })))
}

/// `GET /jobs/:jobid/exceptions`: the exception history, newest first.
pub async fn exceptions(Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let job = find_job(&id)?;
    let entries: Vec<Value> = job
        .exceptions()
        .iter()
        .map(|e| {
            json!({
                "exceptionName": "eddy.JobFailure",
                "stacktrace": e.message,
                "timestamp": e.timestamp,
                "taskName": null,
                "endpoint": null,
                "taskManagerId": null,
                "failureLabels": { "restarted": e.restarted.to_string() },
                "concurrentExceptions": [],
            })
        })
        .collect();
    let truncated = entries.len() >= eddy_runtime::jobs::EXCEPTION_HISTORY_SIZE;
    Ok(Json(json!({
        "exceptionHistory": { "entries": entries, "truncated": truncated }
    })))
}

/// The `get` query parameter of the metrics resources.
#[derive(Debug, Default, Deserialize)]
pub struct MetricQuery {
    /// Comma-separated metric names.
    pub get: Option<String>,
}

impl MetricQuery {
    /// The names asked for (`None`: list the available ones).
    pub fn names(&self) -> Option<Vec<&str>> {
        self.get.as_deref().map(|g| {
            g.split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .collect()
        })
    }
}

/// Answers a metrics request over `available` (name, value): without `get`, the
/// names; with it, the values of those that exist.
pub fn answer_metrics(available: &BTreeMap<String, String>, query: &MetricQuery) -> Value {
    match query.names() {
        None => Value::Array(available.keys().map(|k| json!({ "id": k })).collect()),
        Some(names) => Value::Array(
            names
                .iter()
                .filter_map(|n| available.get(*n).map(|v| json!({ "id": n, "value": v })))
                .collect(),
        ),
    }
}

/// `GET /jobs/:jobid/metrics[?get=a,b]`: job-scoped metrics.
pub async fn metrics(
    Path(id): Path<String>,
    Query(query): Query<MetricQuery>,
) -> ApiResult<Json<Value>> {
    let job = find_job(&id)?;
    let names: BTreeMap<String, String> = job
        .counters()
        .into_iter()
        .filter(|(k, _)| !k.contains('.'))
        .map(|(k, v)| (k, v.to_string()))
        .collect();
    Ok(Json(answer_metrics(&names, &query)))
}
