//! The routes of the API and what every handler shares.

use std::sync::Arc;

use axum::Router;
use eddy_core::time::now_millis;
use eddy_core::{Config, JobId};
use eddy_runtime::{JobHandle, JobRegistry};

use crate::actions::Triggers;
use crate::error::{ApiError, ApiResult};
use crate::{endpoints, ui};

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

/// Every route of the API ([`crate::endpoints`]), and the Web UI's pages
/// ([`ui`]). With a token configured, every API resource needs it; the UI's own
/// files (no data in them) load without it, so the page can ask for the token.
/// Whatever goes wrong is answered as JSON ([`crate::error::json_errors`]).
pub fn router(state: Arc<ApiState>) -> Router {
    endpoints::all()
        .into_iter()
        .fold(Router::new(), |router, e| router.route(e.path, e.handler))
        .fallback(|| async { ApiError::not_found("Not found: no such REST resource") })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::require_token,
        ))
        .merge(ui::routes())
        .method_not_allowed_fallback(|| async {
            ApiError::method_not_allowed("This resource does not take this method")
        })
        .layer(axum::middleware::from_fn(crate::error::json_errors))
        .with_state(state)
}
