//! Log files: the process's own (`env.log.dir`) at `/jobmanager/logs` and
//! `/jobmanager/logs/:file`; a TaskManager's at `/taskmanagers/:tmid/logs` and
//! `/taskmanagers/:tmid/logs/:file`: the embedded runtime's one TaskManager
//! (`local`) shares the process's files, and a JobManager asks a registered
//! TaskManager for its own over RPC (at most its last 8 MiB of a file).
//! `?tail=N` gives the last `N` bytes, from the first whole line, for a viewer
//! that follows a growing log. Only files eddy writes there (`eddy-*.log`,
//! rolled `eddy-*.log.N`) are listed or served; any other name is 404.

use axum::extract::{Path, Query};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use eddy_runtime::cluster::log_files::{self, LogFile};
use eddy_runtime::cluster::{LogAnswer, ResourceManager};
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::routes::State;

/// The query of a log file: `tail`, the most bytes to send, from the end.
#[derive(Debug, Default, serde::Deserialize)]
pub struct LogQuery {
    tail: Option<u64>,
}

fn listing(files: Vec<LogFile>) -> Json<Value> {
    let logs: Vec<Value> = files
        .into_iter()
        .map(|f| json!({ "name": f.name, "size": f.size, "mtime": f.mtime }))
        .collect();
    Json(json!({ "logs": logs }))
}

fn text(text: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

/// `GET /jobmanager/logs`: the process's log files.
pub async fn list(state: State) -> Json<Value> {
    listing(log_files::list(&state.config))
}

/// `GET /jobmanager/logs/:file[?tail=N]`: one log file as text.
pub async fn file(
    state: State,
    Path(name): Path<String>,
    Query(query): Query<LogQuery>,
) -> ApiResult<Response> {
    let config = state.config.clone();
    let read =
        tokio::task::spawn_blocking(move || log_files::read(&config, &name, query.tail, u64::MAX))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
    read.map(text).map_err(ApiError::not_found)
}

/// Asks registered TaskManager `tm` about its logs.
async fn ask(tm: &str, file: Option<String>, tail: Option<u64>) -> ApiResult<LogAnswer> {
    let rm = ResourceManager::installed()
        .ok_or_else(|| ApiError::not_found(format!("TaskManager {tm} not found")))?;
    rm.task_manager_logs(tm, file, tail)
        .await
        .map_err(|e| ApiError::not_found(e.to_string()))
}

/// `GET /taskmanagers/:tmid/logs`: a TaskManager's log files.
pub async fn list_for_taskmanager(state: State, Path(tm): Path<String>) -> ApiResult<Json<Value>> {
    if tm == "local" && ResourceManager::installed().is_none() {
        return Ok(list(state).await);
    }
    match ask(&tm, None, None).await? {
        LogAnswer::Files(files) => Ok(listing(files)),
        LogAnswer::NotFound(why) => Err(ApiError::not_found(why)),
        LogAnswer::Text(_) => Err(ApiError::internal(format!(
            "TaskManager {tm} sent a file for a listing"
        ))),
    }
}

/// `GET /taskmanagers/:tmid/logs/:file[?tail=N]`: one of a TaskManager's log
/// files as text.
pub async fn file_for_taskmanager(
    state: State,
    Path((tm, name)): Path<(String, String)>,
    query: Query<LogQuery>,
) -> ApiResult<Response> {
    if tm == "local" && ResourceManager::installed().is_none() {
        return file(state, Path(name), query).await;
    }
    match ask(&tm, Some(name), query.0.tail).await? {
        LogAnswer::Text(bytes) => Ok(text(bytes)),
        LogAnswer::NotFound(why) => Err(ApiError::not_found(why)),
        LogAnswer::Files(_) => Err(ApiError::internal(format!(
            "TaskManager {tm} sent a listing for a file"
        ))),
    }
}
