//! eddy's REST API: the jobs of this process, watched and controlled over HTTP with
//! Flink's v1 resource shapes, so that a Flink user's scripts and tools keep working.
//!
//! The server reads the jobs from [`JobRegistry::global`](eddy_runtime::JobRegistry)
//! and sends requests (savepoint, stop, checkpoint, cancel) through each job's
//! [`JobHandle`](eddy_runtime::JobHandle). It runs on its own thread and tokio
//! runtime, so a busy job never delays an answer.
//!
//! ```text
//!  HTTP client ──▶ router (routes.rs, from the table in endpoints.rs)
//!                                   ├──▶ cluster.rs     /config, /overview, /taskmanagers
//!                                   ├──▶ logs.rs        log files, a TaskManager's over RPC
//!                                   ├──▶ jobs.rs        /jobs, /jobs/:id, plan, config, exceptions
//!                                   ├──▶ vertices.rs    /jobs/:id/vertices/:vid, metrics
//!                                   ├──▶ vertex_metrics.rs  watermarks, backpressure
//!                                   ├──▶ checkpoints.rs /jobs/:id/checkpoints... (+ checkpoint_details.rs)
//!                                   ├──▶ actions.rs     savepoints, stop, cancel, trigger
//!                                   ├──▶ gateway.rs     /v1/sessions...: SQL statements
//!                                   ├──▶ openapi.rs     /openapi.json, from the same table
//!                                   └──▶ ui.rs          /, /ui/*: the Web UI (embedded files)
//!                                          │ JobHandle (registry)
//!                                          ▼
//!                                   the job's control loop
//! ```
//!
//! A process serves the API when `rest.port` is set ([`start`]): `eddy sql -D
//! rest.port=8081` or a DataStream program with `-D rest.port=8081`. Port `0` takes
//! any free port; the address is printed (`eddy: REST API at http://...`). Errors
//! are Flink's `{"errors": ["..."]}` with a 4xx or 5xx status. The same port serves
//! the Web UI at `/` ([`ui`]), which reads these resources from the browser.

mod actions;
pub mod auth;
mod checkpoint_details;
mod checkpoints;
mod cluster;
mod endpoints;
mod error;
pub mod gateway;
mod ids;
mod jobs;
mod logs;
mod metric_samples;
mod openapi;
pub mod prometheus;
mod rates;
pub mod reporters;
mod routes;
pub mod tls;
pub mod ui;
mod vertex_metrics;
mod vertices;

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use eddy_core::{Config, Error, Result};

pub use gateway::{set_sql_gateway, ResultSink, SqlGateway};
pub use ids::vertex_id;
pub use routes::router;

/// Configuration key: the port of the REST API (Flink's `rest.port`); a number, `0`
/// for any free port, or a range `50100-50200` (the first free one).
pub const REST_PORT: &str = "rest.port";
/// Configuration key: the address the REST API binds to (default `127.0.0.1`).
pub const REST_BIND_ADDRESS: &str = "rest.bind-address";
/// Configuration key: the address clients use to reach the REST API (Flink's
/// `rest.address`), shown in messages.
pub const REST_ADDRESS: &str = "rest.address";

/// A started server: its address and state.
type Running = (SocketAddr, Arc<routes::ApiState>);

/// The server of this process, once started.
static SERVER: OnceLock<Mutex<Option<Running>>> = OnceLock::new();
/// The Prometheus endpoint of this process, once started.
static PROMETHEUS: OnceLock<Mutex<Option<SocketAddr>>> = OnceLock::new();

/// Starts what the configuration asks this process to serve, once per process:
/// the REST API if `rest.port` is set (its address is returned), the
/// Prometheus endpoint if a Prometheus reporter is configured
/// ([`prometheus`]), and the push reporters (StatsD, log: [`reporters`]).
pub fn start(config: &Config) -> Result<Option<SocketAddr>> {
    reporters::start(config)?;
    let slot = PROMETHEUS.get_or_init(|| Mutex::new(None));
    let mut reporter = slot.lock().unwrap_or_else(|p| p.into_inner());
    if reporter.is_none() {
        *reporter = prometheus::start(config)?;
    }
    drop(reporter);
    let Some(port) = config.get_str(REST_PORT) else {
        return Ok(None);
    };
    let slot = SERVER.get_or_init(|| Mutex::new(None));
    let mut running = slot.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((addr, _)) = &*running {
        return Ok(Some(*addr));
    }
    let state = Arc::new(routes::ApiState::new(config.clone())?);
    let tls = tls::server_config(config)?;
    let host = config.get_str(REST_BIND_ADDRESS).unwrap_or("127.0.0.1");
    let listener = bind_listener(REST_PORT, host, port)?;
    let addr = local_addr(&listener)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    serve(listener, router(state.clone()), tls, "eddy-rest")?;
    rates::Rates::global();
    let shown = config.get_str(REST_ADDRESS).map_or_else(
        || addr.to_string(),
        |host| format!("{host}:{}", addr.port()),
    );
    eprintln!("eddy: REST API at {scheme}://{shown}");
    *running = Some((addr, state));
    Ok(Some(addr))
}

/// The address of this process's Prometheus endpoint, once started.
pub fn prometheus_address() -> Option<SocketAddr> {
    let slot = PROMETHEUS.get()?;
    *slot.lock().unwrap_or_else(|p| p.into_inner())
}

/// Waits, at most `max`, until every completed savepoint or checkpoint requested
/// over the API was read by a client: a process about to end (a stopped job's
/// script) still gives out the savepoint's path. Returns at once without a server.
pub fn linger(max: Duration) {
    let state = match SERVER.get() {
        Some(slot) => match &*slot.lock().unwrap_or_else(|p| p.into_inner()) {
            Some((_, state)) => state.clone(),
            None => return,
        },
        None => return,
    };
    let started = Instant::now();
    while state.triggers.unread() && started.elapsed() < max {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Binds a listener on `host` and the first free port of `port` (a number, `0`,
/// or a range `A-B`); errors name `key`.
fn bind_listener(key: &str, host: &str, port: &str) -> Result<TcpListener> {
    let bad = |message: String| Error::InvalidConfig {
        key: key.into(),
        message,
    };
    let parse = |text: &str| {
        text.trim().parse::<u16>().map_err(|_| {
            bad(format!(
                "'{port}' is not a port (0-65535) or a range of ports"
            ))
        })
    };
    let (first, last) = match port.split_once('-') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let p = parse(port)?;
            (p, p)
        }
    };
    if first > last {
        return Err(bad(format!("'{port}' is an empty range")));
    }
    let mut last_error = None;
    for port in first..=last {
        let addrs = (host, port)
            .to_socket_addrs()
            .map_err(|e| Error::InvalidConfig {
                key: key.into(),
                message: format!("'{host}' is not an address this machine has: {e}"),
            })?;
        for addr in addrs {
            match TcpListener::bind(addr) {
                Ok(listener) => return Ok(listener),
                Err(e) => last_error = Some(format!("{addr}: {e}")),
            }
        }
    }
    Err(bad(format!(
        "cannot listen on {host}:{port}: {}",
        last_error.unwrap_or_else(|| "no address".into())
    )))
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr> {
    listener
        .local_addr()
        .map_err(|e| Error::Other(format!("a listening socket's address: {e}")))
}

/// Serves `app` on `listener` from a thread of its own, over TLS with `tls`.
fn serve(
    listener: TcpListener,
    app: axum::Router,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    name: &str,
) -> Result<()> {
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::Other(format!("{name}'s socket: {e}")))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Other(format!("cannot start {name}'s runtime: {e}")))?;
    let label = name.to_string();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("eddy: {label} stopped: {e}");
                        return;
                    }
                };
                let served = match tls {
                    None => axum::serve(listener, app).await,
                    Some(config) => match tls::TlsListener::new(listener, config) {
                        Ok(listener) => axum::serve(listener, app).await,
                        Err(e) => Err(e),
                    },
                };
                if let Err(e) = served {
                    eprintln!("eddy: {label} stopped: {e}");
                }
            })
        })
        .map_err(|e| Error::Other(format!("cannot start {name}'s thread: {e}")))?;
    Ok(())
}
