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
use crate::routes::find_job;
use crate::vertex_metrics::by_subtask;

/// The job and its vertex with REST id `vertex`.
pub(crate) fn find_vertex(job: &str, vertex: &str) -> ApiResult<(JobHandle, Vertex)> {
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
    let mut values: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for m in job
        .operator_metrics()
        .into_iter()
        .filter(|m| m.uid == vertex.uid)
    {
        let value = i64::try_from(m.value).unwrap_or(i64::MAX);
        values.entry(m.metric).or_default().push(value);
    }
    for g in job
        .operator_gauges()
        .into_iter()
        .filter(|g| g.uid == vertex.uid)
    {
        values.entry(g.metric).or_default().push(g.value);
    }
    let answer = match query.names() {
        None => values.keys().map(|k| json!({ "id": k })).collect(),
        Some(names) => names
            .iter()
            .filter_map(|name| {
                let v = values.get(*name)?;
                let sum = v.iter().fold(0i64, |sum, x| sum.saturating_add(*x));
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
