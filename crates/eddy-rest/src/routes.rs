//! The routes of the API and what every handler shares.

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use eddy_core::time::now_millis;
use eddy_core::{Config, JobId};
use eddy_runtime::{JobHandle, JobRegistry};

use crate::actions::{self, Triggers};
use crate::error::{ApiError, ApiResult};
use crate::{
    checkpoint_details, checkpoints, cluster, gateway, jobs, logs, ui, vertex_metrics, vertices,
};

/// What every handler shares: the process's configuration and the operations
/// (savepoints, stops, checkpoints) asked for over the API.
pub struct ApiState {
    /// The configuration the server was started with.
    pub config: Config,
    /// When the server started (ms since the epoch).
    pub started: i64,
    /// Operations triggered over the API, by trigger id.
    pub triggers: Triggers,
    /// SQL Gateway sessions.
    pub sessions: crate::gateway::Sessions,
    /// The bearer token requests must carry (`rest.auth.token`).
    pub token: Option<String>,
}

impl ApiState {
    /// The state of a server started with `config`; an error names a bad
    /// `rest.auth.*` value.
    pub fn new(config: Config) -> eddy_core::Result<Self> {
        let token = crate::auth::configured_token(&config)?;
        Ok(ApiState {
            config,
            started: now_millis(),
            triggers: Triggers::default(),
            sessions: Default::default(),
            token,
        })
    }
}

/// The shared state as handlers receive it.
pub type State = axum::extract::State<Arc<ApiState>>;

/// The job `id` names, from the registry of this process.
pub fn find_job(id: &str) -> ApiResult<JobHandle> {
    let parsed: JobId = id
        .parse()
        .map_err(|e: String| ApiError::bad_request(format!("bad job id: {e}")))?;
    JobRegistry::global()
        .job(parsed)
        .ok_or_else(|| ApiError::not_found(format!("Job {id} not found")))
}

/// Every route of the API, and the Web UI's pages ([`ui`]). With a token
/// configured, every API resource needs it; the UI's own files (no data in
/// them) load without it, so the page can ask for the token.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/config", get(cluster::config))
        .route("/overview", get(cluster::overview))
        .route("/jobmanager/config", get(cluster::jobmanager_config))
        .route("/jobmanager/metrics", get(cluster::jobmanager_metrics))
        .route("/taskmanagers", get(cluster::taskmanagers))
        .route("/taskmanagers/{tmid}", get(cluster::taskmanager))
        .route(
            "/taskmanagers/{tmid}/metrics",
            get(cluster::taskmanager_metrics),
        )
        .route("/jobmanager/logs", get(logs::list))
        .route("/jobmanager/logs/{file}", get(logs::file))
        .route("/taskmanagers/{tmid}/logs", get(logs::list_for_taskmanager))
        .route(
            "/taskmanagers/{tmid}/logs/{file}",
            get(logs::file_for_taskmanager),
        )
        .route("/jobs", get(jobs::list))
        .route("/jobs/overview", get(jobs::overview))
        .route("/jobs/{jobid}", get(jobs::details).patch(actions::cancel))
        .route("/jobs/{jobid}/plan", get(jobs::plan))
        .route("/jobs/{jobid}/config", get(jobs::config))
        .route("/jobs/{jobid}/exceptions", get(jobs::exceptions))
        .route("/jobs/{jobid}/metrics", get(jobs::metrics))
        .route("/jobs/{jobid}/vertices/{vertexid}", get(vertices::details))
        .route(
            "/jobs/{jobid}/vertices/{vertexid}/metrics",
            get(vertices::metrics),
        )
        .route(
            "/jobs/{jobid}/vertices/{vertexid}/subtasks/metrics",
            get(vertices::subtask_metrics),
        )
        .route(
            "/jobs/{jobid}/vertices/{vertexid}/watermarks",
            get(vertex_metrics::watermarks),
        )
        .route(
            "/jobs/{jobid}/vertices/{vertexid}/backpressure",
            get(vertex_metrics::backpressure),
        )
        .route(
            "/jobs/{jobid}/checkpoints",
            get(checkpoints::overview).post(actions::trigger_checkpoint),
        )
        .route("/jobs/{jobid}/checkpoints/config", get(checkpoints::config))
        .route(
            "/jobs/{jobid}/checkpoints/details/{checkpointid}",
            get(checkpoint_details::details),
        )
        .route(
            "/jobs/{jobid}/checkpoints/details/{checkpointid}/subtasks/{vertexid}",
            get(checkpoint_details::subtasks),
        )
        .route(
            "/jobs/{jobid}/checkpoints/{triggerid}",
            get(actions::checkpoint_status),
        )
        .route("/jobs/{jobid}/savepoints", post(actions::trigger_savepoint))
        .route(
            "/jobs/{jobid}/savepoints/{triggerid}",
            get(actions::savepoint_status),
        )
        .route("/jobs/{jobid}/stop", post(actions::stop))
        .route("/v1/sessions", post(gateway::open))
        .route(
            "/v1/sessions/{session}",
            axum::routing::delete(gateway::close),
        )
        .route(
            "/v1/sessions/{session}/statements",
            post(gateway::statement),
        )
        .route(
            "/v1/sessions/{session}/operations/{operation}/status",
            get(gateway::status),
        )
        .route(
            "/v1/sessions/{session}/operations/{operation}/result/{token}",
            get(gateway::result),
        )
        .route(
            "/v1/sessions/{session}/operations/{operation}/cancel",
            post(gateway::cancel),
        )
        .route(
            "/v1/sessions/{session}/operations/{operation}/close",
            axum::routing::delete(gateway::close_operation),
        )
        .fallback(|| async { ApiError::not_found("Not found: no such REST resource") })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::require_token,
        ))
        .merge(ui::routes())
        .with_state(state)
}
