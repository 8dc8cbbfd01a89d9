//! One checkpoint in detail, from its tasks' acknowledgements: per vertex
//! (`GET /jobs/:jobid/checkpoints/details/:checkpointid`, its `tasks`) and per
//! subtask (`.../details/:checkpointid/subtasks/:vertexid`), in Flink's shapes.
//!
//! A task acknowledges for its whole chain: a chained vertex shows its task's
//! timing (ack time, sync and async parts, alignment, start delay) and its own
//! operator's state size. eddy's barriers are aligned and its snapshots full,
//! so the in-flight data figures are 0 and the checkpointed size is the full
//! size.

use std::collections::HashMap;

use axum::extract::Path;
use axum::Json;
use eddy_core::time::now_millis;
use eddy_core::{JobGraph, Vertex, VertexId};
use eddy_runtime::jobs::{CheckpointRecord, CheckpointState, TaskCheckpoint};
use eddy_runtime::plan;
use serde_json::{json, Value};

use crate::checkpoints::{record, summary};
use crate::error::{ApiError, ApiResult};
use crate::ids::vertex_id;
use crate::routes::find_job;
use crate::vertices::find_vertex;

/// The vertex heading the task that runs each vertex.
fn heads(graph: &JobGraph) -> HashMap<VertexId, VertexId> {
    let mut heads = HashMap::new();
    for head in plan::heads(graph) {
        for v in plan::chain_of(graph, head) {
            heads.insert(v, head);
        }
    }
    heads
}

/// One subtask of `vertex` in checkpoint `r`: its task's acknowledgement and
/// the vertex's state size in it.
struct Acked<'a> {
    ack: &'a TaskCheckpoint,
    size: u64,
}

/// The acknowledgements of `vertex`'s subtasks in `r`, by subtask.
fn acked<'a>(r: &'a CheckpointRecord, graph: &JobGraph, vertex: &Vertex) -> Vec<Acked<'a>> {
    let head = heads(graph).get(&vertex.id).copied().unwrap_or(vertex.id);
    let mut acked: Vec<Acked<'a>> = r
        .acknowledgements
        .iter()
        .filter(|a| a.head == head)
        .map(|ack| Acked {
            ack,
            size: ack
                .state_sizes
                .iter()
                .filter(|(uid, _)| *uid == vertex.uid)
                .map(|(_, size)| size)
                .sum(),
        })
        .collect();
    acked.sort_by_key(|a| a.ack.subtask);
    acked
}

fn status(r: &CheckpointRecord) -> &'static str {
    r.state.as_str()
}

/// Flink's `TaskCheckpointStatistics` of `vertex` in `r`.
fn vertex_stats(r: &CheckpointRecord, vertex: &Vertex, acked: &[Acked<'_>]) -> Value {
    let latest = acked.iter().map(|a| a.ack.ack_timestamp).max();
    let size: u64 = acked.iter().map(|a| a.size).sum();
    json!({
        "id": r.id,
        "status": status(r),
        "latest_ack_timestamp": latest.unwrap_or(-1),
        "checkpointed_size": size,
        "state_size": size,
        "end_to_end_duration": latest.map_or(0, |t| (t - r.trigger_timestamp).max(0)),
        "alignment_buffered": 0,
        "processed_data": 0,
        "persisted_data": 0,
        "num_subtasks": vertex.parallelism,
        "num_acknowledged_subtasks": acked.len(),
    })
}

/// Checkpoint `wanted` of job `id`, and the job's graph.
fn find(id: &str, wanted: &str) -> ApiResult<(CheckpointRecord, JobGraph)> {
    let job = find_job(id)?;
    let wanted: u64 = wanted
        .parse()
        .map_err(|_| ApiError::bad_request(format!("bad checkpoint id '{wanted}'")))?;
    let stats = job.checkpoint_stats();
    let found = stats.newest().find(|r| r.id == wanted).cloned();
    let record = found.ok_or_else(|| {
        ApiError::not_found(format!(
            "Could not find checkpointing statistics for checkpoint {wanted}."
        ))
    })?;
    Ok((record, job.info().graph.clone()))
}

/// `GET /jobs/:jobid/checkpoints/details/:checkpointid`: one checkpoint of the
/// history, with its statistics per vertex.
pub async fn details(Path((id, checkpoint)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    let (r, graph) = find(&id, &checkpoint)?;
    let mut value = record(&r, now_millis());
    let tasks: serde_json::Map<String, Value> = graph
        .vertices
        .iter()
        .map(|v| {
            let acked = acked(&r, &graph, v);
            (vertex_id(&v.uid), vertex_stats(&r, v, &acked))
        })
        .collect();
    value["tasks"] = Value::Object(tasks);
    Ok(Json(value))
}

/// `GET /jobs/:jobid/checkpoints/details/:checkpointid/subtasks/:vertexid`:
/// one vertex's subtasks in the checkpoint, and their summary.
pub async fn subtasks(
    Path((id, checkpoint, vertex)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let (_, v) = find_vertex(&id, &vertex)?;
    let (r, graph) = find(&id, &checkpoint)?;
    let acked = acked(&r, &graph, &v);
    let by_subtask: HashMap<u32, &Acked<'_>> = acked.iter().map(|a| (a.ack.subtask, a)).collect();
    let subtasks: Vec<Value> = (0..v.parallelism)
        .map(|index| match by_subtask.get(&index) {
            Some(a) => json!({
                "index": index,
                "status": "completed",
                "ack_timestamp": a.ack.ack_timestamp,
                "end_to_end_duration": (a.ack.ack_timestamp - r.trigger_timestamp).max(0),
                "persisted_data": 0,
                "processed_data": 0,
                "state_size": a.size,
                "checkpointed_size": a.size,
                "checkpoint": { "sync": a.ack.sync_duration_ms, "async": a.ack.async_duration_ms },
                "alignment": {
                    "buffered": 0, "processed": 0, "persisted": 0,
                    "duration": a.ack.alignment_duration_ms,
                },
                "start_delay": a.ack.start_delay_ms,
                "unaligned_checkpoint": false,
                "aborted": r.state == CheckpointState::Failed,
            }),
            None => json!({ "index": index, "status": "pending_or_failed" }),
        })
        .collect();
    let figure = |f: fn(&Acked<'_>) -> u64| summary(acked.iter().map(f).collect());
    let mut value = vertex_stats(&r, &v, &acked);
    value["summary"] = json!({
        "checkpointed_size": figure(|a| a.size),
        "state_size": figure(|a| a.size),
        "end_to_end_duration": summary(
            acked
                .iter()
                .map(|a| (a.ack.ack_timestamp - r.trigger_timestamp).max(0) as u64)
                .collect()
        ),
        "checkpoint_duration": {
            "sync": figure(|a| a.ack.sync_duration_ms),
            "async": figure(|a| a.ack.async_duration_ms),
        },
        "alignment": {
            "buffered": summary(Vec::new()),
            "processed": summary(Vec::new()),
            "persisted": summary(Vec::new()),
            "duration": figure(|a| a.ack.alignment_duration_ms),
        },
        "start_delay": figure(|a| a.ack.start_delay_ms),
    });
    value["subtasks"] = Value::Array(subtasks);
    Ok(Json(value))
}
