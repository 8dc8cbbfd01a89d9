//! The cluster: the dashboard configuration, the overview, the JobManager's
//! configuration and the TaskManagers: those registered with the JobManager's
//! ResourceManager, or (for the embedded runtime) this process as one.

use axum::Json;
use eddy_core::config::options;
use eddy_core::time::now_millis;
use eddy_core::JobStatus;
use eddy_runtime::cluster::ResourceManager;
use eddy_runtime::JobRegistry;
use serde_json::{json, Value};

use crate::routes::State;

/// The eddy version this API is served by.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Task slots of the embedded runtime: `taskmanager.numberOfTaskSlots`, or one
/// per core.
fn slots(state: &State) -> u64 {
    match state.config.get(&options::LOCAL_THREADS) {
        Ok(n) if n > 0 => n as u64,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
    }
}

/// `GET /config`: what the dashboard needs to know about the server.
pub async fn config(state: State) -> Json<Value> {
    Json(json!({
        "refresh-interval": 3000,
        "timezone-name": "UTC",
        "timezone-offset": 0,
        "flink-version": format!("eddy {VERSION}"),
        "flink-revision": format!("eddy {VERSION}"),
        "eddy-version": VERSION,
        "server-start-time": state.started,
        "features": {
            "web-submit": false,
            "web-cancel": true,
            "web-rescale": false,
            "web-history": false,
        },
    }))
}

/// `GET /overview`: TaskManagers, slots and jobs by state.
pub async fn overview(state: State) -> Json<Value> {
    let jobs = JobRegistry::global().jobs();
    let count = |wanted: &[JobStatus]| jobs.iter().filter(|j| wanted.contains(&j.status())).count();
    let running = count(&[
        JobStatus::Created,
        JobStatus::Running,
        JobStatus::Restarting,
        JobStatus::Failing,
        JobStatus::Cancelling,
    ]);
    let (taskmanagers, total, available) = match ResourceManager::installed() {
        Some(rm) => {
            let tms = rm.task_managers();
            let total: u32 = tms.iter().map(|t| t.slots).sum();
            let free: u32 = tms.iter().map(|t| t.free_slots).sum();
            (tms.len() as u64, total as u64, free as u64)
        }
        None => {
            let total = slots(&state);
            (1, total, if running > 0 { 0 } else { total })
        }
    };
    Json(json!({
        "taskmanagers": taskmanagers,
        "slots-total": total,
        "slots-available": available,
        "jobs-running": running,
        "jobs-finished": count(&[JobStatus::Finished]),
        "jobs-cancelled": count(&[JobStatus::Canceled]),
        "jobs-failed": count(&[JobStatus::Failed]),
        "flink-version": format!("eddy {VERSION}"),
        "flink-commit": "",
    }))
}

/// `GET /jobmanager/config`: the process's configuration as key/value pairs.
pub async fn jobmanager_config(state: State) -> Json<Value> {
    let entries: Vec<Value> = state
        .config
        .iter()
        .map(|(k, v)| json!({ "key": k, "value": v }))
        .collect();
    Json(Value::Array(entries))
}

/// `GET /taskmanagers`: the TaskManagers registered with this JobManager, or
/// the embedded runtime's one.
pub async fn taskmanagers(state: State) -> Json<Value> {
    if let Some(rm) = ResourceManager::installed() {
        let now = now_millis();
        let registered: Vec<Value> = rm
            .task_managers()
            .into_iter()
            .map(|tm| {
                let port = tm
                    .data_address
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse::<i64>().ok())
                    .unwrap_or(-1);
                json!({
                    "id": tm.id,
                    "path": tm.data_address,
                    "dataPort": port,
                    "jmxPort": -1,
                    "timeSinceLastHeartbeat": now - tm.since_heartbeat_ms as i64,
                    "slotsNumber": tm.slots,
                    "freeSlots": tm.free_slots,
                    "hardware": { "cpuCores": -1, "physicalMemory": -1, "freeMemory": -1, "managedMemory": 0 },
                })
            })
            .collect();
        return Json(json!({ "taskmanagers": registered }));
    }
    let total = slots(&state);
    let busy = JobRegistry::global()
        .jobs()
        .iter()
        .any(|j| !j.status().is_terminal());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Json(json!({
        "taskmanagers": [{
            "id": "local",
            "path": "local",
            "dataPort": -1,
            "jmxPort": -1,
            "timeSinceLastHeartbeat": now_millis(),
            "slotsNumber": total,
            "freeSlots": if busy { 0 } else { total },
            "hardware": { "cpuCores": cores, "physicalMemory": -1, "freeMemory": -1, "managedMemory": 0 },
        }]
    }))
}
