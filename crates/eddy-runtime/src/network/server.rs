//! The producing side: a TaskManager's data port, serving its channels to the
//! TaskManagers whose tasks consume them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eddy_core::{JobId, Result};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify, Semaphore};
use tokio::task::JoinSet;
use tracing::{debug, warn};

use super::bridge::FrameSource;
use super::secure::ClusterSecurity;
use super::wire::{self, network};
use super::{
    hello_matches, message, parse, start, Request, KIND_CLOSED, KIND_CREDIT, KIND_DATA,
    KIND_FAILED, KIND_REQUEST,
};
use crate::protocol::{decode_message, ChannelId};

/// Where the producing ends of one job attempt's channels are found.
pub trait ChannelProvider: Send + Sync {
    /// The receiving end of `channel`, read as frames. The producing task may be
    /// deployed before or after the request.
    fn frame_source(&self, channel: ChannelId) -> Result<Box<dyn FrameSource>>;
}

/// The channel providers by job and attempt number.
type ByAttempt = Mutex<HashMap<(JobId, u32), Arc<dyn ChannelProvider>>>;

/// The job attempts running in this TaskManager, by job and attempt number.
#[derive(Clone, Default)]
pub struct Providers {
    /// The providers, and a signal when one is added.
    inner: Arc<(ByAttempt, Notify)>,
}

impl Providers {
    /// Adds a job attempt's channels.
    pub fn insert(&self, job_id: JobId, attempt: u32, provider: Arc<dyn ChannelProvider>) {
        let (map, added) = &*self.inner;
        map.lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((job_id, attempt), provider);
        added.notify_waiters();
    }

    /// Removes a job attempt's channels.
    pub fn remove(&self, job_id: JobId, attempt: u32) {
        let (map, _) = &*self.inner;
        map.lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(job_id, attempt));
    }

    /// The channels of a job attempt, waiting up to `patience` for it to start
    /// here (a consumer may be deployed before its producer).
    async fn get(
        &self,
        job_id: JobId,
        attempt: u32,
        patience: Duration,
    ) -> Option<Arc<dyn ChannelProvider>> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let (map, added) = &*self.inner;
            let notified = added.notified();
            if let Some(p) = map
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&(job_id, attempt))
            {
                return Some(p.clone());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }
}

/// How long a request waits for its job attempt to start in this TaskManager.
const ATTEMPT_PATIENCE: Duration = Duration::from_secs(60);

/// A TaskManager's data port.
pub struct DataServer;

impl DataServer {
    /// Binds `address` and serves channels from `providers` until the process
    /// ends; returns the bound address. Peers must meet `security`: its TLS,
    /// then its secret as their first frame.
    pub async fn bind(
        address: &str,
        providers: Providers,
        security: ClusterSecurity,
    ) -> Result<SocketAddr> {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|e| network(format!("binding the data port {address}"), e))?;
        let local = listener
            .local_addr()
            .map_err(|e| network("reading the data port's address", e))?;
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        let (providers, security) = (providers.clone(), security.clone());
                        tokio::spawn(async move {
                            if let Err(e) = serve(stream, peer, providers, security).await {
                                debug!("data connection from {peer} ended: {e}");
                            }
                        });
                    }
                    Err(e) => {
                        warn!("the data port {local} cannot accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        Ok(local)
    }
}

/// Serves one connection: its requests and credits, until it closes. The
/// streams it serves end with it.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    providers: Providers,
    security: ClusterSecurity,
) -> Result<()> {
    let Some(stream) = security.accept(stream, peer, "a data connection").await else {
        return Ok(());
    };
    let (mut reader, writer) = tokio::io::split(stream);
    let mut buf = Vec::new();
    if !wire::read_hello(&mut reader, &mut buf).await? || !hello_matches(&buf, &security.secret) {
        warn!("refused a data connection from {peer}: it did not present the cluster secret");
        return Ok(());
    }
    let (out, frames) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    tasks.spawn(async move {
        let _ = wire::write_frames(writer, frames).await;
    });
    let mut credits: HashMap<u32, Arc<Semaphore>> = HashMap::new();
    while wire::read_frame(&mut reader, &mut buf).await? {
        let (kind, stream, body) = parse(&buf)?;
        match kind {
            KIND_REQUEST => {
                let request: Request = decode_message(body)?;
                let credit = Arc::new(Semaphore::new(request.credit as usize));
                credits.insert(stream, credit.clone());
                tasks.spawn(forward(
                    providers.clone(),
                    request,
                    stream,
                    credit,
                    out.clone(),
                ));
            }
            KIND_CREDIT if body.len() == 4 => {
                let n = u32::from_le_bytes(body.try_into().expect("four bytes"));
                if let Some(credit) = credits.get(&stream) {
                    credit.add_permits(n as usize);
                }
            }
            other => {
                warn!("closing the data connection from {peer}: unexpected frame kind {other}");
                break;
            }
        }
    }
    // Dropping the set stops the streams of this connection.
    Ok(())
}

/// Sends one channel's elements to the consumer, one per credit.
async fn forward(
    providers: Providers,
    request: Request,
    stream: u32,
    credit: Arc<Semaphore>,
    out: mpsc::UnboundedSender<Vec<u8>>,
) {
    let fail = |reason: String| {
        warn!(
            "channel {} for {} not served: {reason}",
            request.channel, request.consumer
        );
        let _ = out.send(message(KIND_FAILED, stream, reason.as_bytes()));
    };
    let Some(provider) = providers
        .get(request.job_id, request.attempt, ATTEMPT_PATIENCE)
        .await
    else {
        return fail(format!(
            "attempt {} of job {} does not run in this TaskManager",
            request.attempt, request.job_id
        ));
    };
    let mut source = match provider.frame_source(request.channel) {
        Ok(source) => source,
        Err(e) => return fail(e.to_string()),
    };
    drop(provider);
    loop {
        match credit.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => return,
        }
        let mut buf = Vec::new();
        start(&mut buf, KIND_DATA, stream);
        match std::future::poll_fn(|cx| source.poll_frame(cx, &mut buf)).await {
            Ok(true) => {
                wire::finish_frame(&mut buf);
                if out.send(buf).is_err() {
                    return;
                }
            }
            Ok(false) => {
                let _ = out.send(message(KIND_CLOSED, stream, &[]));
                return;
            }
            Err(e) => return fail(e.to_string()),
        }
    }
}
