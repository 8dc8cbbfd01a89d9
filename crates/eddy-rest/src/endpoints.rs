//! Every operation of the API, once: the router serves each with its handler
//! ([`crate::routes::router`]) and the OpenAPI document describes each from the
//! same entry ([`crate::openapi`]), so the two cannot drift apart.

use std::sync::Arc;

use axum::routing::{delete, get, patch, post, MethodRouter};

use crate::routes::ApiState;
use crate::{
    actions, checkpoint_details, checkpoints, cluster, gateway, jobs, logs, openapi,
    vertex_metrics, vertices,
};

/// What a successful answer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// JSON of the named schema (`components/schemas`).
    Json(&'static str),
    /// Plain text.
    Text,
}

/// One operation: its method and path, its handler, and what the document says.
pub struct Endpoint {
    /// `get`, `post`, `patch` or `delete`.
    pub method: &'static str,
    /// The path, with `{name}` parameters (the router's syntax and OpenAPI's).
    pub path: &'static str,
    /// The handler.
    pub handler: MethodRouter<Arc<ApiState>>,
    /// The group it belongs to.
    pub tag: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Its query parameters: name, type (`string` or `integer`), description.
    pub query: Vec<(&'static str, &'static str, &'static str)>,
    /// The schema of its JSON request body, if it takes one.
    pub body: Option<&'static str>,
    /// The status and content of a success.
    pub ok: (u16, Reply),
    /// The statuses of its errors (an [`openapi`] `Error` each).
    pub errors: &'static [u16],
}

impl Endpoint {
    fn new(
        method: &'static str,
        path: &'static str,
        handler: MethodRouter<Arc<ApiState>>,
        tag: &'static str,
        summary: &'static str,
    ) -> Self {
        Endpoint {
            method,
            path,
            handler,
            tag,
            summary,
            query: Vec::new(),
            body: None,
            ok: (200, Reply::Json("Empty")),
            errors: &[],
        }
    }

    fn query(mut self, name: &'static str, kind: &'static str, about: &'static str) -> Self {
        self.query.push((name, kind, about));
        self
    }

    fn body(mut self, schema: &'static str) -> Self {
        self.body = Some(schema);
        self
    }

    fn ok(mut self, status: u16, reply: Reply) -> Self {
        self.ok = (status, reply);
        self
    }

    fn errors(mut self, statuses: &'static [u16]) -> Self {
        self.errors = statuses;
        self
    }
}

const GET_METRICS: &str = "Comma-separated metric names; without it, the names there are";

fn json(schema: &'static str) -> Reply {
    Reply::Json(schema)
}

/// The cluster's resources.
fn cluster() -> Vec<Endpoint> {
    vec![
        Endpoint::new(
            "get",
            "/config",
            get(cluster::config),
            "Cluster",
            "The server's settings for the Web UI",
        )
        .ok(200, json("DashboardConfiguration")),
        Endpoint::new(
            "get",
            "/overview",
            get(cluster::overview),
            "Cluster",
            "TaskManagers, slots and jobs by state",
        )
        .ok(200, json("ClusterOverview")),
        Endpoint::new(
            "get",
            "/jobmanager/config",
            get(cluster::jobmanager_config),
            "Cluster",
            "The JobManager's configuration",
        )
        .ok(200, json("ConfigEntries")),
        Endpoint::new(
            "get",
            "/jobmanager/metrics",
            get(cluster::jobmanager_metrics),
            "Cluster",
            "The JobManager process's metrics",
        )
        .query("get", "string", GET_METRICS)
        .ok(200, json("Metrics")),
        Endpoint::new(
            "get",
            "/jobmanager/logs",
            get(logs::list),
            "Cluster",
            "The JobManager's log files",
        )
        .ok(200, json("LogList")),
        Endpoint::new(
            "get",
            "/jobmanager/logs/{file}",
            get(logs::file),
            "Cluster",
            "One of the JobManager's log files",
        )
        .query(
            "tail",
            "integer",
            "The most bytes to send, from the end (from a whole line)",
        )
        .ok(200, Reply::Text)
        .errors(&[400, 404]),
        Endpoint::new(
            "get",
            "/taskmanagers",
            get(cluster::taskmanagers),
            "Cluster",
            "The TaskManagers",
        )
        .ok(200, json("TaskManagers")),
        Endpoint::new(
            "get",
            "/taskmanagers/{tmid}",
            get(cluster::taskmanager),
            "Cluster",
            "One TaskManager",
        )
        .ok(200, json("TaskManagerInfo"))
        .errors(&[404]),
        Endpoint::new(
            "get",
            "/taskmanagers/{tmid}/metrics",
            get(cluster::taskmanager_metrics),
            "Cluster",
            "One TaskManager's metrics",
        )
        .query("get", "string", GET_METRICS)
        .ok(200, json("Metrics"))
        .errors(&[404]),
        Endpoint::new(
            "get",
            "/taskmanagers/{tmid}/logs",
            get(logs::list_for_taskmanager),
            "Cluster",
            "One TaskManager's log files",
        )
        .ok(200, json("LogList"))
        .errors(&[404, 500]),
        Endpoint::new(
            "get",
            "/taskmanagers/{tmid}/logs/{file}",
            get(logs::file_for_taskmanager),
            "Cluster",
            "One of a TaskManager's log files",
        )
        .query(
            "tail",
            "integer",
            "The most bytes to send, from the end (from a whole line)",
        )
        .ok(200, Reply::Text)
        .errors(&[400, 404, 500]),
        Endpoint::new(
            "get",
            "/openapi.json",
            get(openapi::document),
            "Cluster",
            "This document",
        )
        .ok(200, json("Empty")),
    ]
}

/// The jobs and their parts.
fn jobs() -> Vec<Endpoint> {
    const JOB: &[u16] = &[400, 404];
    vec![
        Endpoint::new(
            "get",
            "/jobs",
            get(jobs::list),
            "Jobs",
            "Every job's id and status",
        )
        .ok(200, json("JobIdsWithStatus")),
        Endpoint::new(
            "get",
            "/jobs/overview",
            get(jobs::overview),
            "Jobs",
            "Every job with its times and tasks",
        )
        .ok(200, json("MultipleJobsDetails")),
        Endpoint::new(
            "get",
            "/jobs/{jobid}",
            get(jobs::details),
            "Jobs",
            "One job: state, times, vertices, plan",
        )
        .ok(200, json("JobDetails"))
        .errors(JOB),
        Endpoint::new(
            "patch",
            "/jobs/{jobid}",
            patch(actions::cancel),
            "Jobs",
            "Cancels the job (`mode=cancel`)",
        )
        .query("mode", "string", "`cancel`")
        .ok(202, json("Empty"))
        .errors(&[400, 404, 409]),
        Endpoint::new(
            "get",
            "/jobs/{jobid}/plan",
            get(jobs::plan),
            "Jobs",
            "The job's plan",
        )
        .ok(200, json("JobPlan"))
        .errors(JOB),
        Endpoint::new(
            "get",
            "/jobs/{jobid}/config",
            get(jobs::config),
            "Jobs",
            "The job's configuration",
        )
        .ok(200, json("JobConfig"))
        .errors(JOB),
        Endpoint::new(
            "get",
            "/jobs/{jobid}/exceptions",
            get(jobs::exceptions),
            "Jobs",
            "The job's failures, newest first",
        )
        .ok(200, json("JobExceptions"))
        .errors(JOB),
        Endpoint::new(
            "get",
            "/jobs/{jobid}/metrics",
            get(jobs::metrics),
            "Jobs",
            "The job's metrics",
        )
        .query("get", "string", GET_METRICS)
        .ok(200, json("Metrics"))
        .errors(JOB),
        Endpoint::new(
            "get",
            "/jobs/{jobid}/vertices/{vertexid}",
            get(vertices::details),
            "Jobs",
            "One vertex and its subtasks",
        )
        .ok(200, json("JobVertexDetails"))
        .errors(JOB),
        Endpoint::new(
            "get",
            "/jobs/{jobid}/vertices/{vertexid}/metrics",
            get(vertices::metrics),
            "Jobs",
            "A vertex's metrics, as `<subtask>.<metric>`",
        )
        .query("get", "string", GET_METRICS)
        .ok(200, json("Metrics"))
        .errors(JOB),
        Endpoint::new(
            "get",
            "/jobs/{jobid}/vertices/{vertexid}/subtasks/metrics",
            get(vertices::subtask_metrics),
            "Jobs",
            "A vertex's metrics over its subtasks (min, max, avg, sum, skew)",
        )
        .query("get", "string", GET_METRICS)
        .ok(200, json("AggregatedMetrics"))
        .errors(JOB),
        Endpoint::new(
            "get",
            "/jobs/{jobid}/vertices/{vertexid}/watermarks",
            get(vertex_metrics::watermarks),
            "Jobs",
            "Each subtask's input and output watermark",
        )
        .ok(200, json("Metrics"))
        .errors(JOB),
        Endpoint::new(
            "get",
            "/jobs/{jobid}/vertices/{vertexid}/backpressure",
            get(vertex_metrics::backpressure),
            "Jobs",
            "Each subtask's backpressure, idle and busy shares",
        )
        .ok(200, json("JobVertexBackPressure"))
        .errors(JOB),
    ]
}

/// Checkpoints, savepoints, stop and the status of what was triggered.
fn checkpoints() -> Vec<Endpoint> {
    const JOB: &[u16] = &[400, 404];
    const ACTION: &[u16] = &[400, 404, 409];
    vec![
        Endpoint::new(
            "get",
            "/jobs/{jobid}/checkpoints",
            get(checkpoints::overview),
            "Checkpoints",
            "Counts, summary, latest and history of the checkpoints",
        )
        .ok(200, json("CheckpointingStatistics"))
        .errors(JOB),
        Endpoint::new(
            "post",
            "/jobs/{jobid}/checkpoints",
            post(actions::trigger_checkpoint),
            "Checkpoints",
            "Triggers a checkpoint",
        )
        .ok(202, json("TriggerId"))
        .errors(ACTION),
        Endpoint::new(
            "get",
            "/jobs/{jobid}/checkpoints/config",
            get(checkpoints::config),
            "Checkpoints",
            "The job's checkpointing configuration",
        )
        .ok(200, json("CheckpointConfig"))
        .errors(JOB),
        Endpoint::new(
            "get",
            "/jobs/{jobid}/checkpoints/details/{checkpointid}",
            get(checkpoint_details::details),
            "Checkpoints",
            "One checkpoint with its statistics per vertex",
        )
        .ok(200, json("CheckpointStatistics"))
        .errors(JOB),
        Endpoint::new(
            "get",
            "/jobs/{jobid}/checkpoints/details/{checkpointid}/subtasks/{vertexid}",
            get(checkpoint_details::subtasks),
            "Checkpoints",
            "One vertex's subtasks in a checkpoint",
        )
        .ok(200, json("TaskCheckpointStatisticsWithSubtaskDetails"))
        .errors(JOB),
        Endpoint::new(
            "get",
            "/jobs/{jobid}/checkpoints/{triggerid}",
            get(actions::checkpoint_status),
            "Checkpoints",
            "The outcome of a triggered checkpoint",
        )
        .ok(200, json("AsynchronousOperationResult"))
        .errors(JOB),
        Endpoint::new(
            "post",
            "/jobs/{jobid}/savepoints",
            post(actions::trigger_savepoint),
            "Checkpoints",
            "Triggers a savepoint",
        )
        .body("SavepointRequest")
        .ok(202, json("TriggerId"))
        .errors(ACTION),
        Endpoint::new(
            "get",
            "/jobs/{jobid}/savepoints/{triggerid}",
            get(actions::savepoint_status),
            "Checkpoints",
            "The outcome of a triggered savepoint",
        )
        .ok(200, json("AsynchronousOperationResult"))
        .errors(JOB),
        Endpoint::new(
            "post",
            "/jobs/{jobid}/stop",
            post(actions::stop),
            "Checkpoints",
            "Stops the job with a savepoint",
        )
        .body("StopRequest")
        .ok(202, json("TriggerId"))
        .errors(ACTION),
    ]
}

/// SQL statements in Flink SQL Gateway's shapes.
fn sql() -> Vec<Endpoint> {
    const OP: &[u16] = &[404];
    vec![
        Endpoint::new(
            "post",
            "/v1/sessions",
            post(gateway::open),
            "SQL",
            "Opens a session",
        )
        .body("OpenSessionRequest")
        .ok(200, json("OpenSessionResponse"))
        .errors(&[400, 404]),
        Endpoint::new(
            "delete",
            "/v1/sessions/{session}",
            delete(gateway::close),
            "SQL",
            "Closes a session, cancelling its statements that still run",
        )
        .ok(200, json("OperationStatus"))
        .errors(OP),
        Endpoint::new(
            "post",
            "/v1/sessions/{session}/statements",
            post(gateway::statement),
            "SQL",
            "Runs a statement",
        )
        .body("ExecuteStatementRequest")
        .ok(200, json("OperationHandle"))
        .errors(&[400, 404]),
        Endpoint::new(
            "get",
            "/v1/sessions/{session}/operations/{operation}/status",
            get(gateway::status),
            "SQL",
            "A statement's status",
        )
        .ok(200, json("OperationStatus"))
        .errors(OP),
        Endpoint::new(
            "get",
            "/v1/sessions/{session}/operations/{operation}/result/{token}",
            get(gateway::result),
            "SQL",
            "A page of a statement's results",
        )
        .query("rowFormat", "string", "`JSON`")
        .ok(200, json("FetchResults"))
        .errors(&[400, 404]),
        Endpoint::new(
            "post",
            "/v1/sessions/{session}/operations/{operation}/cancel",
            post(gateway::cancel),
            "SQL",
            "Cancels what still runs of a statement",
        )
        .ok(200, json("OperationStatus"))
        .errors(OP),
        Endpoint::new(
            "delete",
            "/v1/sessions/{session}/operations/{operation}/close",
            delete(gateway::close_operation),
            "SQL",
            "Cancels and forgets a statement",
        )
        .ok(200, json("OperationStatus"))
        .errors(OP),
    ]
}

/// Every operation of the API.
pub fn all() -> Vec<Endpoint> {
    [cluster(), jobs(), checkpoints(), sql()]
        .into_iter()
        .flatten()
        .collect()
}
