//! SQL statements over REST, in Flink SQL Gateway's shapes: a session holds
//! properties and tables; a statement becomes an operation whose rows are fetched
//! page by page.
//!
//! ```text
//! POST   /v1/sessions                       {"properties": {...}} -> {"sessionHandle"}
//! POST   /v1/sessions/:s/statements         {"statement": "..."}  -> {"operationHandle"}
//! GET    /v1/sessions/:s/operations/:o/result/:token               -> a page of rows
//! GET    /v1/sessions/:s/operations/:o/status                       -> {"status"}
//! POST   /v1/sessions/:s/operations/:o/cancel                       -> {"status": "CANCELED"}
//! DELETE /v1/sessions/:s/operations/:o/close                        -> {"status": "CLOSED"}
//! DELETE /v1/sessions/:s                                            -> {"status": "CLOSED"}
//! ```
//!
//! Cancelling an operation cancels what of it still runs (a streaming
//! `SELECT`'s job) or keeps it from starting; the rows it gave stay readable.
//! Closing a session cancels its operations; the jobs its `INSERT`s submitted
//! run on, as in Flink.
//!
//! The SQL engine is not part of this crate: the process registers a
//! [`SqlGateway`] ([`set_sql_gateway`]) before it starts the server. Statements
//! run on their own threads, one after another in the order a session submitted
//! them (a `SELECT` right after its `CREATE TABLE` sees the table); an `INSERT`
//! answers with one row, its `job id`, while its job runs on; values are
//! rendered as strings.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use axum::extract::{Path, Query};
use axum::Json;
use eddy_core::JobId;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};

/// Rows a page of results holds at most.
pub const PAGE_SIZE: usize = 1000;

/// Where a statement's results go while it runs.
pub trait ResultSink: Send + Sync {
    /// The result's column names (called before the first rows).
    fn columns(&self, columns: Vec<String>);
    /// More rows: their kind (`INSERT`, `UPDATE_BEFORE`, `UPDATE_AFTER`,
    /// `DELETE`) and values.
    fn rows(&self, rows: Vec<(&'static str, Vec<Option<String>>)>);
    /// The id of the job the statement started.
    fn job(&self, job: JobId);
}

/// The SQL engine behind the gateway.
pub trait SqlGateway: Send + Sync {
    /// Opens session `id` with `properties` (configuration keys).
    fn open(&self, id: &str, properties: &BTreeMap<String, String>) -> Result<(), String>;
    /// Runs one statement of session `id` to its end (a streaming `SELECT` until
    /// it ends), handing its results to `sink`. Once `cancel` is set, what still
    /// runs of the statement is cancelled and the call returns.
    fn execute(
        &self,
        id: &str,
        statement: &str,
        sink: Arc<dyn ResultSink>,
        cancel: Arc<AtomicBool>,
    ) -> Result<(), String>;
    /// Closes session `id` (its statements were cancelled); the jobs it started
    /// run on.
    fn close(&self, id: &str);
}

static GATEWAY: OnceLock<Arc<dyn SqlGateway>> = OnceLock::new();

/// Registers the SQL engine of this process (once; later calls are ignored).
pub fn set_sql_gateway(gateway: Arc<dyn SqlGateway>) {
    let _ = GATEWAY.set(gateway);
}

fn gateway() -> ApiResult<Arc<dyn SqlGateway>> {
    GATEWAY.get().cloned().ok_or_else(|| {
        ApiError::not_found("This process takes no SQL statements (start `eddy jobmanager`, or `eddy sql` with rest.port)")
    })
}

/// One statement's results so far.
#[derive(Default)]
struct Operation {
    columns: Vec<String>,
    rows: Vec<(&'static str, Vec<Option<String>>)>,
    /// Where each result page given out starts in `rows`, by token; the next
    /// token's start is the last entry.
    page_starts: Vec<usize>,
    job: Option<JobId>,
    /// `None` while running; the outcome once done.
    outcome: Option<Result<(), String>>,
}

/// The shared results of one operation, written by its thread, and the flag
/// that cancels it.
#[derive(Default)]
struct Shared {
    operation: Mutex<Operation>,
    cancel: Arc<AtomicBool>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Operation> {
        self.operation.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    /// Flink's operation status.
    fn status(&self) -> &'static str {
        match (&self.lock().outcome, self.cancelled()) {
            (_, true) => "CANCELED",
            (None, false) => "RUNNING",
            (Some(Ok(())), false) => "FINISHED",
            (Some(Err(_)), false) => "ERROR",
        }
    }
}

impl ResultSink for Shared {
    fn columns(&self, columns: Vec<String>) {
        let mut op = self.lock();
        if op.columns.is_empty() {
            op.columns = columns;
        }
    }

    fn rows(&self, rows: Vec<(&'static str, Vec<Option<String>>)>) {
        self.lock().rows.extend(rows);
    }

    fn job(&self, job: JobId) {
        self.lock().job = Some(job);
    }
}

/// A session's statements take turns in submission order: each holds a ticket
/// and runs when the ticket is served.
#[derive(Default)]
struct Turns {
    tickets: Mutex<Tickets>,
    served: Condvar,
}

#[derive(Default)]
struct Tickets {
    next: u64,
    serving: u64,
    /// Tickets whose statement never started: their turns pass.
    void: std::collections::BTreeSet<u64>,
}

impl Tickets {
    fn pass(&mut self) {
        self.serving += 1;
        while self.void.remove(&self.serving) {
            self.serving += 1;
        }
    }
}

impl Turns {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tickets> {
        self.tickets.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ticket(&self) -> u64 {
        let mut tickets = self.lock();
        tickets.next += 1;
        tickets.next - 1
    }

    /// Runs `f` when `ticket`'s turn comes, then serves the next one.
    fn run<T>(&self, ticket: u64, f: impl FnOnce() -> T) -> T {
        let mut tickets = self.lock();
        while tickets.serving != ticket {
            tickets = self.served.wait(tickets).unwrap_or_else(|p| p.into_inner());
        }
        drop(tickets);
        let value = f();
        self.lock().pass();
        self.served.notify_all();
        value
    }

    /// `ticket`'s statement will not run.
    fn void(&self, ticket: u64) {
        let mut tickets = self.lock();
        if tickets.serving == ticket {
            tickets.pass();
        } else {
            tickets.void.insert(ticket);
        }
        drop(tickets);
        self.served.notify_all();
    }
}

/// One session's operations.
#[derive(Default)]
struct SessionOps {
    operations: HashMap<String, Arc<Shared>>,
    turns: Arc<Turns>,
}

/// Sessions and their operations.
#[derive(Default)]
pub struct Sessions {
    sessions: Mutex<HashMap<String, SessionOps>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SessionOps>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn operation(&self, session: &str, operation: &str) -> ApiResult<Arc<Shared>> {
        let sessions = self.lock();
        let ops = sessions
            .get(session)
            .ok_or_else(|| ApiError::not_found(format!("Session '{session}' does not exist")))?;
        ops.operations
            .get(operation)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("Operation '{operation}' does not exist")))
    }
}

/// Body of `POST /v1/sessions`.
#[derive(Debug, Default, Deserialize)]
pub struct OpenBody {
    #[serde(default)]
    properties: BTreeMap<String, String>,
}

/// `POST /v1/sessions`.
pub async fn open(
    state: crate::routes::State,
    body: Option<Json<OpenBody>>,
) -> ApiResult<Json<Value>> {
    let engine = gateway()?;
    let properties = body.map(|Json(b)| b.properties).unwrap_or_default();
    let id = JobId::generate().to_string();
    let session = id.clone();
    tokio::task::spawn_blocking(move || engine.open(&session, &properties))
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?
        .map_err(ApiError::bad_request)?;
    state
        .sessions
        .lock()
        .insert(id.clone(), SessionOps::default());
    Ok(Json(json!({ "sessionHandle": id })))
}

/// `DELETE /v1/sessions/:session`.
pub async fn close(
    state: crate::routes::State,
    Path(session): Path<String>,
) -> ApiResult<Json<Value>> {
    let engine = gateway()?;
    let Some(ops) = state.sessions.lock().remove(&session) else {
        return Err(ApiError::not_found(format!(
            "Session '{session}' does not exist"
        )));
    };
    for op in ops.operations.values() {
        op.cancel();
    }
    let _ = tokio::task::spawn_blocking(move || engine.close(&session)).await;
    Ok(Json(json!({ "status": "CLOSED" })))
}

/// Body of `POST /v1/sessions/:session/statements`.
#[derive(Debug, Deserialize)]
pub struct StatementBody {
    statement: String,
}

/// `POST /v1/sessions/:session/statements`: starts the statement.
pub async fn statement(
    state: crate::routes::State,
    Path(session): Path<String>,
    Json(body): Json<StatementBody>,
) -> ApiResult<Json<Value>> {
    let engine = gateway()?;
    let shared = Arc::new(Shared::default());
    let operation = JobId::generate().to_string();
    let (turns, ticket) = {
        let mut sessions = state.sessions.lock();
        let ops = sessions
            .get_mut(&session)
            .ok_or_else(|| ApiError::not_found(format!("Session '{session}' does not exist")))?;
        ops.operations.insert(operation.clone(), shared.clone());
        (ops.turns.clone(), ops.turns.ticket())
    };
    let sink: Arc<dyn ResultSink> = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("eddy-gateway".into())
        .spawn({
            let turns = Arc::clone(&turns);
            move || {
                let outcome = turns.run(ticket, || {
                    if shared.cancelled() {
                        // Cancelled before its turn came: it never starts.
                        return Err("the statement was cancelled".to_string());
                    }
                    let cancel = Arc::clone(&shared.cancel);
                    engine.execute(&session, &body.statement, sink, cancel)
                });
                shared.lock().outcome = Some(outcome);
            }
        });
    if let Err(e) = spawned {
        // The statement's turn passes, or the session's next ones would wait forever.
        turns.void(ticket);
        return Err(ApiError::bad_request(format!(
            "cannot start the statement: {e}"
        )));
    }
    Ok(Json(json!({ "operationHandle": operation })))
}

/// `GET /v1/sessions/:session/operations/:operation/status`.
pub async fn status(
    state: crate::routes::State,
    Path((session, operation)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let op = state.sessions.operation(&session, &operation)?;
    Ok(Json(json!({ "status": op.status() })))
}

/// `POST /v1/sessions/:session/operations/:operation/cancel`: cancels what
/// still runs of the statement; its rows so far stay readable.
pub async fn cancel(
    state: crate::routes::State,
    Path((session, operation)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let op = state.sessions.operation(&session, &operation)?;
    if op.lock().outcome.is_none() {
        op.cancel();
    }
    Ok(Json(json!({ "status": op.status() })))
}

/// `DELETE /v1/sessions/:session/operations/:operation/close`: cancels the
/// operation if it runs and forgets it.
pub async fn close_operation(
    state: crate::routes::State,
    Path((session, operation)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let op = state.sessions.operation(&session, &operation)?;
    op.cancel();
    if let Some(ops) = state.sessions.lock().get_mut(&session) {
        ops.operations.remove(&operation);
    }
    Ok(Json(json!({ "status": "CLOSED" })))
}

/// Query of the result resource.
#[derive(Debug, Default, Deserialize)]
pub struct ResultQuery {
    #[serde(rename = "rowFormat")]
    row_format: Option<String>,
}

/// `GET /v1/sessions/:session/operations/:operation/result/:token`: page
/// `token` of the rows. A running query's page holds the rows that have come
/// so far (up to [`PAGE_SIZE`]), so a client sees a streaming query's rows as
/// they come; asked again, a page gives the same rows.
pub async fn result(
    state: crate::routes::State,
    Path((session, operation, token)): Path<(String, String, u64)>,
    Query(query): Query<ResultQuery>,
) -> ApiResult<Json<Value>> {
    if let Some(format) = query.row_format.as_deref() {
        if !format.eq_ignore_ascii_case("JSON") {
            return Err(ApiError::bad_request(format!(
                "rowFormat '{format}' is not supported; use JSON"
            )));
        }
    }
    let op = state.sessions.operation(&session, &operation)?;
    let cancelled = op.cancelled();
    let mut op = op.lock();
    if let (Some(Err(message)), false) = (&op.outcome, cancelled) {
        return Err(ApiError::bad_request(message.clone()));
    }
    if op.page_starts.is_empty() {
        op.page_starts.push(0);
    }
    let page = usize::try_from(token).unwrap_or(usize::MAX);
    let Some(&start) = op.page_starts.get(page) else {
        return Err(ApiError::bad_request(format!(
            "result token {token} was not given out; the next one is {}",
            op.page_starts.len() - 1
        )));
    };
    let end = match op.page_starts.get(page + 1) {
        Some(&end) => end,
        None => (start + PAGE_SIZE).min(op.rows.len()),
    };
    let done = op.outcome.is_some();
    let next =
        |t: u64| format!("/v1/sessions/{session}/operations/{operation}/result/{t}?rowFormat=JSON");
    let (kind, next_uri) = if end > start {
        if page + 1 == op.page_starts.len() {
            op.page_starts.push(end);
        }
        ("PAYLOAD", Some(next(token + 1)))
    } else if !done {
        ("NOT_READY", Some(next(token)))
    } else {
        ("EOS", None)
    };
    let data: Vec<Value> = op.rows[start..end]
        .iter()
        .map(|(kind, fields)| json!({ "kind": kind, "fields": fields }))
        .collect();
    let columns: Vec<Value> = op
        .columns
        .iter()
        .map(|name| json!({ "name": name, "logicalType": { "type": "VARCHAR", "nullable": true }, "comment": null }))
        .collect();
    Ok(Json(json!({
        "resultType": kind,
        "isQueryResult": op.job.is_none() && !op.columns.is_empty(),
        "jobID": op.job.map(|j| j.to_string()),
        "resultKind": if op.columns.is_empty() { "SUCCESS" } else { "SUCCESS_WITH_CONTENT" },
        "results": { "columns": columns, "rowFormat": "JSON", "data": data },
        "nextResultUri": next_uri,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Statements run in ticket order whatever order their threads start in,
    /// and a void ticket's turn passes.
    #[test]
    fn turns_follow_tickets() {
        let turns = Arc::new(Turns::default());
        let tickets: Vec<u64> = (0..5).map(|_| turns.ticket()).collect();
        let order = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = tickets
            .iter()
            .rev()
            .filter(|&&t| t != 2)
            .map(|&t| {
                let (turns, order) = (turns.clone(), order.clone());
                std::thread::spawn(move || turns.run(t, || order.lock().unwrap().push(t)))
            })
            .collect();
        turns.void(2);
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 3, 4]);
    }
}
