//! The cluster: the dashboard configuration, the overview, the JobManager's
//! configuration and the TaskManagers: those registered with the JobManager's
//! ResourceManager, or (for the embedded runtime) this process as one.

use axum::Json;
use eddy_core::config::options;
use eddy_core::time::now_millis;
use eddy_core::JobStatus;
use std::collections::BTreeMap;

use axum::extract::{Path, Query};
use eddy_runtime::cluster::process_status::recent_cpu_load;
use eddy_runtime::cluster::{ProcessStatus, ResourceManager, TaskManagerInfo};
use eddy_runtime::JobRegistry;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::jobs::{answer_metrics, MetricQuery};
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

/// The TaskManagers: those registered with this JobManager, or the embedded
/// runtime's one (this process, `local`).
fn task_managers(state: &State) -> Vec<TaskManagerInfo> {
    if let Some(rm) = ResourceManager::installed() {
        return rm.task_managers();
    }
    let total = slots(state) as u32;
    let busy = JobRegistry::global()
        .jobs()
        .iter()
        .any(|j| !j.status().is_terminal());
    vec![TaskManagerInfo {
        id: "local".into(),
        data_address: "local".into(),
        slots: total,
        free_slots: if busy { 0 } else { total },
        since_heartbeat_ms: 0,
        cpu_load: recent_cpu_load(&ProcessStatus::read()),
        status: ProcessStatus::read(),
    }]
}

/// A TaskManager in Flink's shape.
fn task_manager_json(tm: &TaskManagerInfo) -> Value {
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
        "timeSinceLastHeartbeat": now_millis() - tm.since_heartbeat_ms as i64,
        "slotsNumber": tm.slots,
        "freeSlots": tm.free_slots,
        "hardware": {
            "cpuCores": tm.status.cpu_cores,
            "physicalMemory": tm.status.physical_memory,
            "freeMemory": tm.status.free_memory,
            "managedMemory": 0,
        },
    })
}

/// `GET /taskmanagers`: every TaskManager.
pub async fn taskmanagers(state: State) -> Json<Value> {
    let listed: Vec<Value> = task_managers(&state)
        .iter()
        .map(task_manager_json)
        .collect();
    Json(json!({ "taskmanagers": listed }))
}

/// The metrics of a TaskManager process, by Flink-style name.
fn task_manager_metrics(tm: &TaskManagerInfo) -> BTreeMap<String, String> {
    let mut metrics: BTreeMap<String, String> = [
        ("Status.Process.CPU.Time", tm.status.cpu_time_ms),
        ("Status.Process.Memory.Resident", tm.status.resident_memory),
        ("Status.Process.Threads.Count", u64::from(tm.status.threads)),
        ("Status.Slots.Total", u64::from(tm.slots)),
        ("Status.Slots.Free", u64::from(tm.free_slots)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if let Some(load) = tm.cpu_load {
        metrics.insert("Status.JVM.CPU.Load".into(), format!("{load:.3}"));
    }
    metrics
}

fn find_task_manager(state: &State, id: &str) -> ApiResult<TaskManagerInfo> {
    task_managers(state)
        .into_iter()
        .find(|tm| tm.id == id)
        .ok_or_else(|| ApiError::not_found(format!("TaskManager {id} does not exist")))
}

/// `GET /taskmanagers/:tmid`: one TaskManager with its process metrics.
pub async fn taskmanager(state: State, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let tm = find_task_manager(&state, &id)?;
    let mut detail = task_manager_json(&tm);
    detail["metrics"] = json!({
        "cpuTimeMs": tm.status.cpu_time_ms,
        "residentMemory": tm.status.resident_memory,
        "threads": tm.status.threads,
    });
    Ok(Json(detail))
}

/// `GET /jobmanager/metrics[?get=a,b]`: this process's CPU time, memory and
/// threads, and its jobs by state.
pub async fn jobmanager_metrics(Query(query): Query<MetricQuery>) -> Json<Value> {
    let status = ProcessStatus::read();
    let jobs = JobRegistry::global().jobs();
    let running = jobs.iter().filter(|j| !j.status().is_terminal()).count();
    let mut metrics: BTreeMap<String, String> = [
        ("Status.Process.CPU.Time", status.cpu_time_ms),
        ("Status.Process.Memory.Resident", status.resident_memory),
        ("Status.Process.Threads.Count", u64::from(status.threads)),
        ("numRunningJobs", running as u64),
        ("numJobs", jobs.len() as u64),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if let Some(load) = recent_cpu_load(&status) {
        metrics.insert("Status.JVM.CPU.Load".into(), format!("{load:.3}"));
    }
    Json(answer_metrics(&metrics, &query))
}

/// `GET /taskmanagers/:tmid/metrics[?get=a,b]`: a TaskManager's metrics.
pub async fn taskmanager_metrics(
    state: State,
    Path(id): Path<String>,
    Query(query): Query<MetricQuery>,
) -> ApiResult<Json<Value>> {
    let tm = find_task_manager(&state, &id)?;
    Ok(Json(answer_metrics(&task_manager_metrics(&tm), &query)))
}
