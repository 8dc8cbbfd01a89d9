//! A vertex's metrics per subtask, and the two views Flink's Web UI builds from
//! them: its watermarks and its backpressure.
//!
//! Each subtask has its counters (`numRecordsIn`, ...) with their per-second
//! rates, its gauges (`currentInputWatermark`, `currentOutputWatermark`,
//! `isBackPressured`, the task's accumulated times) and the per-second task
//! times (`busyTimeMsPerSecond`, `idleTimeMsPerSecond`,
//! `backPressuredTimeMsPerSecond`). `watermarkLag` is how far the watermark the
//! subtask emits is behind the wall clock.

use std::collections::BTreeMap;

use axum::extract::Path;
use axum::Json;
use eddy_core::time::now_millis;
use eddy_core::MAX_WATERMARK;
use eddy_runtime::task_metrics::NO_WATERMARK;
use eddy_runtime::JobHandle;
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::rates::{Rates, TaskTimes, METERED, TIMED};
use crate::vertices::find_vertex;

/// `watermarkLag` at `now` from the gauge `metric` valued `value`: how far the
/// watermark a subtask emits is behind the wall clock (none before the first
/// watermark or after the last).
pub(crate) fn watermark_lag(metric: &str, value: i64, now: i64) -> Option<i64> {
    (metric == "currentOutputWatermark" && value != NO_WATERMARK && value != MAX_WATERMARK)
        .then(|| (now - value).max(0))
}

/// Every metric of the vertex `uid`, as `<subtask>.<metric>`, valued as Flink's
/// REST API values them (text).
pub fn by_subtask(job: &JobHandle, uid: &str) -> BTreeMap<String, String> {
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
    let now = now_millis();
    for g in job.operator_gauges().into_iter().filter(|g| g.uid == uid) {
        let value = match g.metric.as_str() {
            "isBackPressured" => (g.value != 0).to_string(),
            _ => g.value.to_string(),
        };
        if let Some(lag) = watermark_lag(&g.metric, g.value, now) {
            metrics.insert(format!("{}.watermarkLag", g.subtask), lag.to_string());
        }
        if g.metric == TIMED[0].0 {
            if let Some(times) = rates.task_times(job.id(), uid, g.subtask) {
                for ((_, name), value) in TIMED.iter().zip(ms_per_second(times)) {
                    metrics.insert(format!("{}.{name}", g.subtask), value.to_string());
                }
            }
        }
        metrics.insert(format!("{}.{}", g.subtask, g.metric), value);
    }
    metrics
}

fn ms_per_second(times: TaskTimes) -> [f64; 3] {
    [times.busy, times.idle, times.backpressured].map(f64::round)
}

/// Flink's backpressure level of a backpressured-time ratio.
pub fn backpressure_level(ratio: f64) -> &'static str {
    if ratio <= 0.10 {
        "ok"
    } else if ratio <= 0.5 {
        "low"
    } else {
        "high"
    }
}

/// `GET /jobs/:jobid/vertices/:vertexid/watermarks`: each subtask's input
/// watermark (`<subtask>.currentInputWatermark`) and, beside Flink's, the
/// watermark it emits (`<subtask>.currentOutputWatermark`; a source has only
/// this one).
pub async fn watermarks(Path((job, vertex)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    let (job, vertex) = find_vertex(&job, &vertex)?;
    let mut entries = Vec::new();
    for g in job.operator_gauges() {
        let watermark = matches!(
            g.metric.as_str(),
            "currentInputWatermark" | "currentOutputWatermark"
        );
        if g.uid == vertex.uid && watermark && g.subtask < vertex.parallelism {
            entries.push(json!({
                "id": format!("{}.{}", g.subtask, g.metric),
                "value": g.value.to_string(),
            }));
        }
    }
    Ok(Json(Value::Array(entries)))
}

/// `GET /jobs/:jobid/vertices/:vertexid/backpressure`: for each subtask the
/// share of the last seconds it spent waiting for room downstream (`ratio`),
/// idle and busy, and Flink's level (`ok` up to 10%, `low` up to 50%, `high`);
/// the vertex's level is its worst subtask's. Status `deprecated` while no
/// figures exist yet (the job just started, or has ended).
pub async fn backpressure(Path((job, vertex)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    let (job, vertex) = find_vertex(&job, &vertex)?;
    let rates = Rates::global();
    let mut subtasks = Vec::new();
    let mut worst = 0.0f64;
    for subtask in 0..vertex.parallelism {
        let Some(times) = rates.task_times(job.id(), &vertex.uid, subtask) else {
            continue;
        };
        let ratio = times.backpressured / 1000.0;
        worst = worst.max(ratio);
        subtasks.push(json!({
            "subtask": subtask,
            "attempt-number": 0,
            "backpressure-level": backpressure_level(ratio),
            "ratio": ratio,
            "idleRatio": times.idle / 1000.0,
            "busyRatio": times.busy / 1000.0,
        }));
    }
    if subtasks.is_empty() {
        return Ok(Json(json!({ "status": "deprecated" })));
    }
    Ok(Json(json!({
        "status": "ok",
        "backpressure-level": backpressure_level(worst),
        "end-timestamp": now_millis(),
        "subtasks": subtasks,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_flinks() {
        assert_eq!(backpressure_level(0.0), "ok");
        assert_eq!(backpressure_level(0.10), "ok");
        assert_eq!(backpressure_level(0.11), "low");
        assert_eq!(backpressure_level(0.5), "low");
        assert_eq!(backpressure_level(0.51), "high");
    }
}
