//! Requests to a job: savepoints, stop with a savepoint, checkpoints, cancel.
//!
//! As in Flink, a savepoint, stop or checkpoint request answers at once with a
//! `request-id`; the operation runs in the job and its outcome is polled at
//! `/jobs/:jobid/savepoints/:triggerid` (or `/checkpoints/:triggerid`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::Json;
use eddy_core::{JobId, Result};
use eddy_runtime::jobs::{CompletedOperation, PendingOperation};
use eddy_runtime::JobHandle;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::routes::{find_job, State};

/// Configuration key: the default directory of savepoints (Flink's
/// `execution.checkpointing.savepoint-dir`).
pub const SAVEPOINT_DIR: &str = "execution.checkpointing.savepoint-dir";

/// What kind of operation a trigger started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Savepoint,
    Checkpoint,
}

/// An operation's outcome, once known.
type Outcome = Option<std::result::Result<CompletedOperation, String>>;

/// One operation triggered over the API.
struct Triggered {
    job: JobId,
    kind: Kind,
    outcome: Outcome,
    /// Whether a client has read the outcome.
    read: bool,
}

/// Operations whose outcome the API keeps; the oldest are forgotten beyond it
/// (Flink keeps them for `rest.async.store-duration`, 5 minutes).
const TRIGGERS_KEPT: usize = 1024;

/// The operations triggered over the API, by trigger id, and their order.
#[derive(Default)]
pub struct Triggers {
    operations: Arc<Mutex<HashMap<String, Triggered>>>,
    order: Mutex<std::collections::VecDeque<String>>,
}

impl Triggers {
    /// Records `pending` under a new trigger id and waits for its outcome in the
    /// background.
    fn start(&self, job: JobId, kind: Kind, pending: PendingOperation) -> String {
        let trigger = JobId::generate().to_string();
        let operations = self.operations.clone();
        lock(&operations).insert(
            trigger.clone(),
            Triggered {
                job,
                kind,
                outcome: None,
                read: false,
            },
        );
        let mut order = lock(&self.order);
        order.push_back(trigger.clone());
        if order.len() > TRIGGERS_KEPT {
            if let Some(oldest) = order.pop_front() {
                lock(&operations).remove(&oldest);
            }
        }
        drop(order);
        let key = trigger.clone();
        tokio::spawn(async move {
            let outcome: Result<CompletedOperation> = pending.wait().await;
            if let Some(entry) = lock(&operations).get_mut(&key) {
                entry.outcome = Some(outcome.map_err(|e| e.to_string()));
            }
        });
        trigger
    }

    /// Whether an operation completed and no client has read its outcome yet.
    pub fn unread(&self) -> bool {
        lock(&self.operations)
            .values()
            .any(|t| t.outcome.is_some() && !t.read)
    }

    fn status(&self, job: JobId, kind: Kind, trigger: &str) -> ApiResult<Outcome> {
        match lock(&self.operations).get_mut(trigger) {
            Some(t) if t.job == job && t.kind == kind => {
                t.read |= t.outcome.is_some();
                Ok(t.outcome.clone())
            }
            _ => Err(ApiError::not_found(format!(
                "There is no {} operation for trigger id {trigger} of job {job}",
                match kind {
                    Kind::Savepoint => "savepoint",
                    Kind::Checkpoint => "checkpoint",
                }
            ))),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running job, or 409.
fn running(id: &str) -> ApiResult<JobHandle> {
    let job = find_job(id)?;
    let status = job.status();
    if status.is_terminal() {
        return Err(ApiError::conflict(format!(
            "Job {id} is {status}: only a running job takes this request"
        )));
    }
    Ok(job)
}

/// The savepoint directory: the request's, or the configured default. It must
/// be absolute (a path from `/`, or a URI such as `file:///...`): a relative
/// one would depend on where the server happened to start.
fn target_directory(state: &State, job: &JobHandle, asked: Option<String>) -> ApiResult<String> {
    let dir = asked
        .or_else(|| job.info().config.get_str(SAVEPOINT_DIR).map(String::from))
        .or_else(|| state.config.get_str(SAVEPOINT_DIR).map(String::from))
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "No savepoint directory given: pass one in the request or set {SAVEPOINT_DIR}"
            ))
        })?;
    let uri = dir.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if !(dir.starts_with('/') || uri) {
        return Err(ApiError::bad_request(format!(
            "The savepoint directory '{dir}' is not absolute: give a path from / or a URI (file:///...)"
        )));
    }
    Ok(dir)
}

/// Body of `POST /jobs/:jobid/savepoints`.
#[derive(Debug, Default, Deserialize)]
pub struct SavepointBody {
    #[serde(rename = "target-directory")]
    target_directory: Option<String>,
    #[serde(rename = "cancel-job", default)]
    cancel_job: bool,
}

/// `POST /jobs/:jobid/savepoints`: a savepoint while the job runs (or, with
/// `cancel-job`, before it stops).
pub async fn trigger_savepoint(
    state: State,
    Path(id): Path<String>,
    body: Option<Json<SavepointBody>>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let job = running(&id)?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let dir = target_directory(&state, &job, body.target_directory)?;
    let stop = body.cancel_job.then_some(false);
    let trigger = state
        .triggers
        .start(job.id(), Kind::Savepoint, job.savepoint(dir, stop));
    Ok((StatusCode::ACCEPTED, Json(json!({ "request-id": trigger }))))
}

/// Body of `POST /jobs/:jobid/stop`.
#[derive(Debug, Default, Deserialize)]
pub struct StopBody {
    #[serde(rename = "targetDirectory")]
    target_directory: Option<String>,
    #[serde(default)]
    drain: bool,
}

/// `POST /jobs/:jobid/stop`: stop with a savepoint (with `drain`, the sources end
/// their input first).
pub async fn stop(
    state: State,
    Path(id): Path<String>,
    body: Option<Json<StopBody>>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let job = running(&id)?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let dir = target_directory(&state, &job, body.target_directory)?;
    let trigger = state.triggers.start(
        job.id(),
        Kind::Savepoint,
        job.savepoint(dir, Some(body.drain)),
    );
    Ok((StatusCode::ACCEPTED, Json(json!({ "request-id": trigger }))))
}

/// `POST /jobs/:jobid/checkpoints`: a checkpoint now.
pub async fn trigger_checkpoint(
    state: State,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let job = running(&id)?;
    if job.info().checkpointing.is_none() {
        return Err(ApiError::bad_request(
            "Checkpointing is not enabled for this job (set execution.checkpointing.interval)",
        ));
    }
    let trigger = state
        .triggers
        .start(job.id(), Kind::Checkpoint, job.checkpoint());
    Ok((StatusCode::ACCEPTED, Json(json!({ "request-id": trigger }))))
}

fn status_answer(outcome: Outcome, kind: Kind) -> Value {
    match outcome {
        None => json!({ "status": { "id": "IN_PROGRESS" }, "operation": null }),
        Some(Ok(done)) => {
            let operation = match kind {
                Kind::Savepoint => json!({
                    "location": done.path.map(|p| p.display().to_string()),
                }),
                Kind::Checkpoint => json!({ "checkpointId": done.checkpoint_id }),
            };
            json!({ "status": { "id": "COMPLETED" }, "operation": operation })
        }
        Some(Err(message)) => json!({
            "status": { "id": "COMPLETED" },
            "operation": {
                "failure-cause": {
                    "class": "eddy.OperationFailed",
                    "stack-trace": message,
                    "serialized-throwable": null,
                }
            }
        }),
    }
}

/// `GET /jobs/:jobid/savepoints/:triggerid`.
pub async fn savepoint_status(
    state: State,
    Path((id, trigger)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let job = find_job(&id)?;
    let outcome = state.triggers.status(job.id(), Kind::Savepoint, &trigger)?;
    Ok(Json(status_answer(outcome, Kind::Savepoint)))
}

/// `GET /jobs/:jobid/checkpoints/:triggerid`.
pub async fn checkpoint_status(
    state: State,
    Path((id, trigger)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let job = find_job(&id)?;
    let outcome = state
        .triggers
        .status(job.id(), Kind::Checkpoint, &trigger)?;
    Ok(Json(status_answer(outcome, Kind::Checkpoint)))
}

/// The `mode` query parameter of `PATCH /jobs/:jobid`.
#[derive(Debug, Deserialize)]
pub struct CancelQuery {
    mode: Option<String>,
}

/// `PATCH /jobs/:jobid?mode=cancel`: cancels the job.
pub async fn cancel(
    Path(id): Path<String>,
    Query(query): Query<CancelQuery>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    match query.mode.as_deref() {
        None | Some("cancel") => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "mode '{other}' is not supported; use mode=cancel (or POST /jobs/{id}/stop)"
            )))
        }
    }
    let job = running(&id)?;
    job.cancel();
    Ok((StatusCode::ACCEPTED, Json(json!({}))))
}
