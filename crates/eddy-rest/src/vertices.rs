//! One vertex of a job: its subtasks and their metrics.

use std::collections::BTreeMap;

use axum::extract::{Path, Query};
use axum::Json;
use eddy_core::graph::Vertex;
use eddy_core::time::now_millis;
use eddy_runtime::JobHandle;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::ids::vertex_id;
use crate::jobs::{answer_metrics, io_metrics, task_state, times, MetricQuery};
use crate::rates::{Rates, METERED};
use crate::routes::find_job;

/// The job and its vertex with REST id `vertex`.
fn find_vertex(job: &str, vertex: &str) -> ApiResult<(JobHandle, Vertex)> {
    let job = find_job(job)?;
    let found = job
        .info()
        .graph
        .vertices
        .iter()
        .find(|v| vertex_id(&v.uid) == vertex)
        .cloned()
        .ok_or_else(|| {
            ApiError::not_found(format!("Vertex {vertex} not found in job {}", job.id()))
        })?;
    Ok((job, found))
}

/// `GET /jobs/:jobid/vertices/:vertexid`: the vertex and its subtasks.
pub async fn details(Path((job, vertex)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    let (job, vertex) = find_vertex(&job, &vertex)?;
    let (start, end, duration) = times(&job);
    let state = task_state(job.status());
    let subtasks: Vec<Value> = (0..vertex.parallelism)
        .map(|subtask| {
            json!({
                "subtask": subtask,
                "status": state,
                "attempt": job.counters().get("numRestarts").copied().unwrap_or(0),
                "endpoint": "localhost",
                "taskmanager-id": "local",
                "start-time": start,
                "end-time": end,
                "duration": duration,
                "metrics": io_metrics(&job, &vertex.uid, Some(subtask)),
            })
        })
        .collect();
    Ok(Json(json!({
        "id": vertex_id(&vertex.uid),
        "name": vertex.name,
        "parallelism": vertex.parallelism,
        "maxParallelism": vertex.max_parallelism,
        "now": now_millis(),
        "subtasks": subtasks,
    })))
}

/// The vertex's metrics by subtask, as `<subtask>.<metric>`, with the
/// per-second rates of the metered ones.
fn by_subtask(job: &JobHandle, uid: &str) -> BTreeMap<String, String> {
    let rates = Rates::global();
    let mut metrics = BTreeMap::new();
    for m in job.operator_metrics().into_iter().filter(|m| m.uid == uid) {
        if METERED.contains(&m.metric.as_str()) {
            let rate = rates.rate(job.id(), uid, m.subtask, &m.metric);
            metrics.insert(
                format!("{}.{}PerSecond", m.subtask, m.metric),
                rate.to_string(),
            );
        }
        metrics.insert(format!("{}.{}", m.subtask, m.metric), m.value.to_string());
    }
    metrics
}

/// `GET /jobs/:jobid/vertices/:vertexid/metrics[?get=0.numRecordsIn,...]`.
pub async fn metrics(
    Path((job, vertex)): Path<(String, String)>,
    Query(query): Query<MetricQuery>,
) -> ApiResult<Json<Value>> {
    let (job, vertex) = find_vertex(&job, &vertex)?;
    Ok(Json(answer_metrics(&by_subtask(&job, &vertex.uid), &query)))
}

/// `GET /jobs/:jobid/vertices/:vertexid/subtasks/metrics[?get=numRecordsIn,...]`:
/// each metric aggregated over the subtasks (min, max, avg, sum).
pub async fn subtask_metrics(
    Path((job, vertex)): Path<(String, String)>,
    Query(query): Query<MetricQuery>,
) -> ApiResult<Json<Value>> {
    let (job, vertex) = find_vertex(&job, &vertex)?;
    let mut values: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for m in job
        .operator_metrics()
        .into_iter()
        .filter(|m| m.uid == vertex.uid)
    {
        values.entry(m.metric).or_default().push(m.value);
    }
    let answer = match query.names() {
        None => values.keys().map(|k| json!({ "id": k })).collect(),
        Some(names) => names
            .iter()
            .filter_map(|name| {
                let v = values.get(*name)?;
                let sum: u64 = v.iter().sum();
                Some(json!({
                    "id": name,
                    "min": v.iter().min(),
                    "max": v.iter().max(),
                    "avg": sum as f64 / v.len().max(1) as f64,
                    "sum": sum,
                    "skew": 0,
                }))
            })
            .collect(),
    };
    Ok(Json(Value::Array(answer)))
}
