//! Channels between TaskManagers: the data exchange over TCP.
//!
//! Subtasks in one TaskManager keep in-memory channels. A channel whose two
//! subtasks run in different TaskManagers is carried over **one TCP connection
//! per pair of TaskManagers** (per job attempt), which multiplexes all of their
//! channels as numbered streams:
//!
//! ```text
//!  producer TaskManager                         consumer TaskManager
//!  task ─▶ local channel ─▶ DataServer ══TCP══▶ DataClient ─▶ local channel ─▶ task
//!                           (FrameSource)  ◀── credit ───    (FrameSink)
//! ```
//!
//! The consumer asks for a channel with a `Request` carrying its initial
//! **credit**: the number of elements it can take
//! (`taskmanager.network.memory.buffers-per-channel`, plus its share of its
//! input's `taskmanager.network.memory.floating-buffers-per-gate`). The server sends one
//! element per credit and then waits; the consumer returns a credit each time an
//! element has entered its local channel. A slow consumer therefore stops only
//! its own channel's sender, and through it the producing task (backpressure
//! crosses machines), while the other channels on the connection keep flowing.
//!
//! Every frame on a data connection ([`wire`] framing) starts with a kind byte
//! and the stream number (`u32` LE):
//!
//! ```text
//!  kind 0  hello     (stream 0) the cluster secret, postcard   client → server
//!  kind 1  request   job, attempt, channel, credit, postcard   client → server
//!  kind 2  credit    u32 LE: more elements the client takes    client → server
//!  kind 3  data      one element, as an eddy_core::codec frame server → client
//!  kind 4  closed    the producer ended; nothing follows       server → client
//!  kind 5  failed    UTF-8 reason; nothing follows             server → client
//! ```
//!
//! Watermarks, barriers and end of input travel in-band as elements, so a
//! consumer aligns barriers from remote channels exactly as from local ones. A
//! connection that breaks closes its channels without end of input: the
//! consuming tasks fail, and the JobMaster restarts the job.

pub mod bridge;
mod client;
pub mod secure;
mod server;
pub mod wire;

use eddy_core::{Error, ExecutionAttemptId, JobId, Result};
use serde::{Deserialize, Serialize};

pub use client::DataClient;
pub use server::{ChannelProvider, DataServer, Providers};

use crate::protocol::ChannelId;

const KIND_HELLO: u8 = 0;
const KIND_REQUEST: u8 = 1;
const KIND_CREDIT: u8 = 2;
const KIND_DATA: u8 = 3;
const KIND_CLOSED: u8 = 4;
const KIND_FAILED: u8 = 5;

/// The bytes of a data frame before its body: kind and stream.
const HEADER_LEN: usize = 5;

/// The first frame on every connection between cluster processes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// `security.cluster.secret`, empty when none is set.
    pub secret: String,
}

/// A consumer's request for one channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Request {
    job_id: JobId,
    /// The job attempt (restart) the channel belongs to.
    attempt: u32,
    /// The consuming task, for the producer's log.
    consumer: ExecutionAttemptId,
    channel: ChannelId,
    credit: u32,
}

/// Starts a data frame of `kind` on `stream` in `buf`.
fn start(buf: &mut Vec<u8>, kind: u8, stream: u32) {
    wire::start_frame(buf);
    buf.push(kind);
    buf.extend_from_slice(&stream.to_le_bytes());
}

/// A whole frame of `kind` on `stream` with `body`.
fn message(kind: u8, stream: u32, body: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(4 + HEADER_LEN + body.len());
    start(&mut buf, kind, stream);
    buf.extend_from_slice(body);
    wire::finish_frame(&mut buf);
    buf
}

/// The kind and stream of a received frame, and its body.
fn parse(frame: &[u8]) -> Result<(u8, u32, &[u8])> {
    if frame.len() < HEADER_LEN {
        return Err(Error::decode(
            "a data frame",
            format!("{} bytes are too few for its header", frame.len()),
        ));
    }
    let stream = u32::from_le_bytes(frame[1..5].try_into().expect("four bytes"));
    Ok((frame[0], stream, &frame[HEADER_LEN..]))
}

/// Whether the hello `frame` carries `secret`.
fn hello_matches(frame: &[u8], secret: &str) -> bool {
    match parse(frame) {
        Ok((KIND_HELLO, 0, body)) => crate::protocol::decode_message::<Hello>(body)
            .is_ok_and(|hello| constant_time_eq(hello.secret.as_bytes(), secret.as_bytes())),
        _ => false,
    }
}

/// Compares two secrets in a time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
