//! A job's checkpoints: counts, summary, latest and history; the configuration.
//! One checkpoint's details are in [`crate::checkpoint_details`].

use axum::extract::Path;
use axum::Json;
use eddy_core::checkpointing::{CheckpointRetention, CheckpointingMode};
use eddy_core::time::now_millis;
use eddy_runtime::jobs::{CheckpointRecord, CheckpointState, RestoredCheckpoint};
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::routes::find_job;

/// Flink's checkpoint statistics of one checkpoint.
pub(crate) fn record(r: &CheckpointRecord, now: i64) -> Value {
    let mut value = json!({
        "className": match r.state {
            CheckpointState::InProgress => "in_progress",
            CheckpointState::Completed => "completed",
            CheckpointState::Failed => "failed",
        },
        "id": r.id,
        "status": r.state.as_str(),
        "is_savepoint": r.is_savepoint,
        "savepoint_format": if r.is_savepoint { json!("CANONICAL") } else { Value::Null },
        "trigger_timestamp": r.trigger_timestamp,
        "latest_ack_timestamp": r.end_timestamp.unwrap_or(-1),
        "checkpointed_size": r.state_size,
        "state_size": r.state_size,
        "end_to_end_duration": r.duration_ms(now),
        "alignment_buffered": 0,
        "processed_data": 0,
        "persisted_data": 0,
        "num_subtasks": r.num_subtasks,
        "num_acknowledged_subtasks": if r.state == CheckpointState::Completed { r.num_subtasks } else { 0 },
        "checkpoint_type": if r.is_savepoint { "SAVEPOINT" } else { "CHECKPOINT" },
        "tasks": {},
    });
    let fields = value.as_object_mut().expect("a JSON object");
    match r.state {
        CheckpointState::Completed => {
            fields.insert(
                "external_path".into(),
                json!(r.external_path.as_ref().map(|p| p.display().to_string())),
            );
            fields.insert("discarded".into(), json!(false));
        }
        CheckpointState::Failed => {
            fields.insert("failure_timestamp".into(), json!(r.end_timestamp));
            fields.insert("failure_message".into(), json!(r.failure));
        }
        CheckpointState::InProgress => {}
    }
    value
}

fn restored(r: &RestoredCheckpoint) -> Value {
    json!({
        "id": r.id,
        "restore_timestamp": r.restore_timestamp,
        "is_savepoint": r.is_savepoint,
        "external_path": r.external_path.as_ref().map(|p| p.display().to_string()),
    })
}

/// Min, max, average and percentiles of `values`.
pub(crate) fn summary(mut values: Vec<u64>) -> Value {
    if values.is_empty() {
        return json!({ "min": 0, "max": 0, "avg": 0, "p50": 0, "p90": 0, "p95": 0, "p99": 0, "p999": 0 });
    }
    values.sort_unstable();
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    let sum: u64 = values.iter().sum();
    json!({
        "min": values[0],
        "max": values[values.len() - 1],
        "avg": sum / values.len() as u64,
        "p50": at(0.5),
        "p90": at(0.9),
        "p95": at(0.95),
        "p99": at(0.99),
        "p999": at(0.999),
    })
}

/// `GET /jobs/:jobid/checkpoints`.
pub async fn overview(Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let job = find_job(&id)?;
    let stats = job.checkpoint_stats();
    let now = now_millis();
    let sizes: Vec<u64> = stats.completed_figures.iter().map(|(s, _)| *s).collect();
    let durations: Vec<u64> = stats.completed_figures.iter().map(|(_, d)| *d).collect();
    let history: Vec<Value> = stats.newest().map(|r| record(r, now)).collect();
    Ok(Json(json!({
        "counts": {
            "restored": stats.restored,
            "total": stats.total(),
            "in_progress": stats.in_progress.len(),
            "completed": stats.completed,
            "failed": stats.failed,
        },
        "summary": {
            "checkpointed_size": summary(sizes.clone()),
            "state_size": summary(sizes),
            "end_to_end_duration": summary(durations),
            "alignment_buffered": summary(Vec::new()),
            "processed_data": summary(Vec::new()),
            "persisted_data": summary(Vec::new()),
        },
        "latest": {
            "completed": stats.latest_completed.as_ref().map(|r| record(r, now)),
            "savepoint": stats.latest_savepoint.as_ref().map(|r| record(r, now)),
            "failed": stats.latest_failed.as_ref().map(|r| record(r, now)),
            "restored": stats.latest_restored.as_ref().map(restored),
        },
        "history": history,
    })))
}

/// `GET /jobs/:jobid/checkpoints/config`.
pub async fn config(Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let job = find_job(&id)?;
    let Some(c) = &job.info().checkpointing else {
        return Err(ApiError::not_found(
            "Checkpointing is not enabled for this job",
        ));
    };
    let ms = |d: std::time::Duration| d.as_millis() as u64;
    Ok(Json(json!({
        "mode": match c.mode {
            CheckpointingMode::ExactlyOnce => "exactly_once",
            CheckpointingMode::AtLeastOnce => "at_least_once",
        },
        "interval": ms(c.interval),
        "timeout": ms(c.timeout),
        "min_pause": ms(c.min_pause),
        "max_concurrent": c.max_concurrent,
        "externalization": {
            "enabled": c.dir.is_some(),
            "delete_on_cancellation": c.retention == CheckpointRetention::DeleteOnCancellation,
        },
        "state_backend": "HashMapStateBackend",
        "checkpoint_storage": if c.dir.is_some() { "FileSystemCheckpointStorage" } else { "JobManagerCheckpointStorage" },
        "checkpoint_directory": c.dir.as_ref().map(|d| d.display().to_string()),
        "unaligned_checkpoints": false,
        "tolerable_failed_checkpoints": c.tolerable_failed,
        "aligned_checkpoint_timeout": 0,
        "checkpoints_after_tasks_finish": true,
        "state_changelog_enabled": false,
    })))
}
