//! The consuming side: connections to the TaskManagers that produce a job
//! attempt's remote input channels, one per TaskManager.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eddy_core::{ExecutionAttemptId, JobId, Result};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tracing::{error, warn};

use super::bridge::FrameSink;
use super::secure::ClusterSecurity;
use super::wire::{self, network};
use super::{
    message, parse, Hello, Request, KIND_CLOSED, KIND_CREDIT, KIND_DATA, KIND_FAILED, KIND_HELLO,
    KIND_REQUEST,
};
use crate::protocol::{encode_message, ChannelId};

/// How long connecting to a producing TaskManager may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What arrives for one stream.
enum Inbound {
    /// A whole data frame (header included).
    Data(Vec<u8>),
    Closed,
    Failed(String),
}

/// The streams of a connection, by number.
type Streams = Arc<Mutex<HashMap<u32, mpsc::UnboundedSender<Inbound>>>>;

/// One connection to a producing TaskManager.
struct Connection {
    out: mpsc::UnboundedSender<Vec<u8>>,
    streams: Streams,
    next_stream: AtomicU32,
    tasks: Vec<AbortHandle>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The remote input channels of one job attempt in this TaskManager. Dropping
/// it closes its connections.
pub struct DataClient {
    security: ClusterSecurity,
    job_id: JobId,
    attempt: u32,
    connections: tokio::sync::Mutex<HashMap<String, Arc<Connection>>>,
    receivers: Mutex<Vec<AbortHandle>>,
}

impl Drop for DataClient {
    fn drop(&mut self) {
        for task in self.receivers.get_mut().unwrap_or_else(|p| p.into_inner()) {
            task.abort();
        }
    }
}

impl DataClient {
    /// A client for attempt `attempt` of job `job_id`, meeting its peers with
    /// `security` (TLS, then the secret).
    pub fn new(job_id: JobId, attempt: u32, security: ClusterSecurity) -> Arc<Self> {
        Arc::new(DataClient {
            security,
            job_id,
            attempt,
            connections: Default::default(),
            receivers: Default::default(),
        })
    }

    /// Receives `channel` from the TaskManager serving at `address` into `sink`,
    /// returning `credit` as elements enter it. When the channel cannot be had,
    /// or its connection breaks, the sink is dropped without end of input and
    /// the consuming task fails.
    pub fn subscribe(
        self: &Arc<Self>,
        address: String,
        consumer: ExecutionAttemptId,
        channel: ChannelId,
        credit: u32,
        sink: Box<dyn FrameSink>,
    ) {
        let request = Request {
            job_id: self.job_id,
            attempt: self.attempt,
            consumer,
            channel,
            credit,
        };
        let client = Arc::downgrade(self);
        let task = tokio::spawn(async move {
            let Some(client) = client.upgrade() else {
                return;
            };
            let connection = match client.connection(&address).await {
                Ok(c) => c,
                Err(e) => {
                    error!("channel {channel} of {consumer}: cannot reach {address}: {e}");
                    return;
                }
            };
            drop(client);
            receive(connection, address, request, sink).await;
        });
        self.receivers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(task.abort_handle());
    }

    /// The connection to `address`, opened on first use.
    async fn connection(&self, address: &str) -> Result<Arc<Connection>> {
        let mut connections = self.connections.lock().await;
        if let Some(c) = connections.get(address) {
            if !c.out.is_closed() {
                return Ok(c.clone());
            }
        }
        let c = Arc::new(connect(address, &self.security).await?);
        connections.insert(address.to_string(), c.clone());
        Ok(c)
    }
}

async fn connect(address: &str, security: &ClusterSecurity) -> Result<Connection> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| {
            network(
                format!("connecting to {address}"),
                std::io::ErrorKind::TimedOut.into(),
            )
        })?
        .map_err(|e| network(format!("connecting to {address}"), e))?;
    let stream = security
        .connect(stream)
        .await
        .map_err(|e| network(format!("TLS to {address}"), e))?;
    let (mut reader, writer) = tokio::io::split(stream);
    let (out, frames) = mpsc::unbounded_channel();
    let hello = encode_message(&Hello {
        secret: security.secret.clone(),
    })?;
    let _ = out.send(message(KIND_HELLO, 0, &hello));
    let writing = tokio::spawn(async move {
        let _ = wire::write_frames(writer, frames).await;
    });
    let streams: Streams = Default::default();
    let dispatch = streams.clone();
    let peer = address.to_string();
    let reading = tokio::spawn(async move {
        let ended = loop {
            let mut buf = Vec::new();
            match wire::read_frame(&mut reader, &mut buf).await {
                Ok(true) => {}
                Ok(false) => break "the peer closed it".to_string(),
                Err(e) => break e.to_string(),
            }
            let (kind, stream, body) = match parse(&buf) {
                Ok(parsed) => parsed,
                Err(e) => break e.to_string(),
            };
            let inbound = match kind {
                KIND_DATA => Inbound::Data(buf),
                KIND_CLOSED => Inbound::Closed,
                KIND_FAILED => Inbound::Failed(String::from_utf8_lossy(body).into_owned()),
                other => break format!("unexpected frame kind {other}"),
            };
            let streams = dispatch.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(tx) = streams.get(&stream) {
                let _ = tx.send(inbound);
            }
        };
        let mut streams = dispatch.lock().unwrap_or_else(|p| p.into_inner());
        if !streams.is_empty() {
            warn!("the data connection to {peer} broke ({ended}); its channels close");
        }
        // Dropping the senders ends every stream of the connection.
        streams.clear();
    });
    Ok(Connection {
        out,
        streams,
        next_stream: AtomicU32::new(1),
        tasks: vec![writing.abort_handle(), reading.abort_handle()],
    })
}

/// Receives one stream into `sink`, returning a credit for every element that
/// entered it.
async fn receive(
    connection: Arc<Connection>,
    address: String,
    request: Request,
    mut sink: Box<dyn FrameSink>,
) {
    let (tx, mut inbound) = mpsc::unbounded_channel();
    let stream = connection.next_stream.fetch_add(1, Ordering::Relaxed);
    connection
        .streams
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(stream, tx);
    let (channel, consumer) = (request.channel, request.consumer);
    let body = match encode_message(&request) {
        Ok(body) => body,
        Err(e) => return error!("channel {channel} of {consumer}: {e}"),
    };
    let _ = connection.out.send(message(KIND_REQUEST, stream, &body));
    let credit = message(KIND_CREDIT, stream, &1u32.to_le_bytes());
    while let Some(next) = inbound.recv().await {
        match next {
            Inbound::Data(frame) => {
                if let Err(e) = sink.put(&frame[super::HEADER_LEN..]) {
                    error!("channel {channel} of {consumer} from {address}: {e}");
                    break;
                }
                if !std::future::poll_fn(|cx| sink.poll_flush(cx)).await {
                    // The consuming task is gone.
                    break;
                }
                let _ = connection.out.send(credit.clone());
            }
            Inbound::Closed => break,
            Inbound::Failed(reason) => {
                error!("channel {channel} of {consumer} from {address}: {reason}");
                break;
            }
        }
    }
    connection
        .streams
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&stream);
}
