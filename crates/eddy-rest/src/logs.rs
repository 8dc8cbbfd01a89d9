//! The process's log files (`env.log.dir`): listed at `/jobmanager/logs` and
//! `/taskmanagers/:tmid/logs`, served as text at `/jobmanager/logs/:file`. Only
//! files eddy writes there (`eddy-*.log`, rolled `eddy-*.log.N`) are listed or
//! served; any other name is 404.

use std::path::PathBuf;

use axum::extract::Path;
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

/// `GET /jobmanager/logs/:file`: one log file as text.
pub async fn file(state: State, Path(name): Path<String>) -> ApiResult<impl IntoResponse> {
    let known = files(&state).into_iter().any(|(n, ..)| n == name);
    let dir = state.config.get_str(LOG_DIR).map(PathBuf::from);
    let (true, Some(dir)) = (known && is_log(&name), dir) else {
        return Err(ApiError::not_found(format!("Log file {name} not found")));
    };
    let text = std::fs::read(dir.join(&name))
        .map_err(|e| ApiError::not_found(format!("Log file {name} cannot be read: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text))
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
