//! The process's log files (`env.log.dir`): listed at `/jobmanager/logs` and
//! `/taskmanagers/:tmid/logs`, served as text at `/jobmanager/logs/:file` (and
//! `/taskmanagers/:tmid/logs/:file`); `?tail=N` gives the last `N` bytes, from
//! the first whole line, for a viewer that follows a growing log. Only files
//! eddy writes there (`eddy-*.log`, rolled `eddy-*.log.N`) are listed or
//! served; any other name is 404.

use std::path::PathBuf;

use std::io::{Read, Seek, SeekFrom};

use axum::extract::{Path, Query};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::routes::State;

/// Configuration key: the log directory (as in `eddy::logging`).
const LOG_DIR: &str = "env.log.dir";

/// Whether `name` is a log file eddy writes.
fn is_log(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("eddy-") else {
        return false;
    };
    let base = match rest.rsplit_once(".log.") {
        Some((base, n)) if n.parse::<u32>().is_ok() => base,
        _ => match rest.strip_suffix(".log") {
            Some(base) => base,
            None => return false,
        },
    };
    !base.is_empty() && !base.contains('/') && !base.contains("..")
}

/// The log files of the directory: name, size and modification time.
fn files(state: &State) -> Vec<(String, u64, i64)> {
    let Some(dir) = state.config.get_str(LOG_DIR) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, u64, i64)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let meta = e.metadata().ok()?;
            let mtime = meta
                .modified()
                .ok()?
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_millis() as i64;
            (is_log(&name) && meta.is_file()).then_some((name, meta.len(), mtime))
        })
        .collect();
    files.sort();
    files
}

/// `GET /jobmanager/logs` (and `/taskmanagers/:tmid/logs`): the log files.
pub async fn list(state: State) -> Json<Value> {
    let logs: Vec<Value> = files(&state)
        .into_iter()
        .map(|(name, size, mtime)| json!({ "name": name, "size": size, "mtime": mtime }))
        .collect();
    Json(json!({ "logs": logs }))
}

/// `GET /taskmanagers/:tmid/logs`: the embedded runtime's one TaskManager shares
/// the process's files.
pub async fn list_for_taskmanager(state: State, Path(tm): Path<String>) -> ApiResult<Json<Value>> {
    if tm != "local" {
        return Err(ApiError::not_found(format!("TaskManager {tm} not found")));
    }
    Ok(list(state).await)
}

/// The query of a log file: `tail`, the most bytes to send, from the end.
#[derive(Debug, Default, serde::Deserialize)]
pub struct LogQuery {
    tail: Option<u64>,
}

/// `GET /jobmanager/logs/:file[?tail=N]`: one log file as text.
pub async fn file(
    state: State,
    Path(name): Path<String>,
    Query(query): Query<LogQuery>,
) -> ApiResult<impl IntoResponse> {
    let known = files(&state).into_iter().any(|(n, ..)| n == name);
    let dir = state.config.get_str(LOG_DIR).map(PathBuf::from);
    let (true, Some(dir)) = (known && is_log(&name), dir) else {
        return Err(ApiError::not_found(format!("Log file {name} not found")));
    };
    let unreadable =
        |e: std::io::Error| ApiError::not_found(format!("Log file {name} cannot be read: {e}"));
    let mut file = std::fs::File::open(dir.join(&name)).map_err(unreadable)?;
    let size = file.metadata().map_err(unreadable)?.len();
    let start = query.tail.map_or(0, |tail| size.saturating_sub(tail));
    file.seek(SeekFrom::Start(start)).map_err(unreadable)?;
    let mut text = Vec::new();
    file.read_to_end(&mut text).map_err(unreadable)?;
    if start > 0 {
        // Start at the first whole line.
        let first = text
            .iter()
            .position(|b| *b == b'\n')
            .map_or(text.len(), |i| i + 1);
        text.drain(..first);
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text))
}

/// `GET /taskmanagers/:tmid/logs/:file`: one log file of the local TaskManager.
pub async fn file_for_taskmanager(
    state: State,
    Path((tm, name)): Path<(String, String)>,
    query: Query<LogQuery>,
) -> ApiResult<impl IntoResponse> {
    if tm != "local" {
        return Err(ApiError::not_found(format!("TaskManager {tm} not found")));
    }
    file(state, Path(name), query).await
}

#[cfg(test)]
mod tests {
    use super::is_log;

    #[test]
    fn only_eddys_log_files_are_served() {
        assert!(is_log("eddy-sql-client-vm.log"));
        assert!(is_log("eddy-local-vm.log.3"));
        assert!(!is_log("eddy-local-vm.log.x"));
        assert!(!is_log("eddy-.log"));
        assert!(!is_log("passwd"));
        assert!(!is_log("eddy-../../etc/passwd.log"));
        assert!(!is_log("other.log"));
    }
}
