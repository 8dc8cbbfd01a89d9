//! An unbounded source reading text lines from a TCP socket.

use std::task::{Context, Poll};

use eddy_core::{Error, Records, Result, StreamRecord};
use eddy_runtime::{OperatorContext, SourceEvent, SourceReader};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

/// Connects to `host:port` and emits every line received. It ends when the peer
/// closes the connection. Only subtask 0 connects; other subtasks end at once.
///
/// Guarantee: none beyond the connection. A socket cannot be replayed, so after a
/// failure the lines received since the last checkpoint are lost (at-most-once).
pub struct SocketTextSource {
    address: String,
    lines: Option<mpsc::Receiver<std::io::Result<String>>>,
    batch_size: usize,
    done: bool,
}

impl SocketTextSource {
    /// A source reading from `host:port`.
    pub fn new(host: &str, port: u16) -> Self {
        SocketTextSource {
            address: format!("{host}:{port}"),
            lines: None,
            batch_size: 1024,
            done: false,
        }
    }
}

impl SourceReader for SocketTextSource {
    type Out = Records<String>;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.batch_size = super::batch_size(ctx);
        if ctx.subtask != 0 {
            self.done = true;
            return Ok(());
        }
        let (tx, rx) = mpsc::channel(self.batch_size * 4);
        let address = self.address.clone();
        tokio::spawn(async move {
            let stream = match tokio::net::TcpStream::connect(&address).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            let mut lines = BufReader::new(stream).lines();
            loop {
                match lines.next_line().await {
                    Ok(Some(line)) => {
                        if tx.send(Ok(line)).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
        });
        self.lines = Some(rx);
        Ok(())
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<SourceEvent<Records<String>>>> {
        if self.done {
            return Poll::Ready(Ok(SourceEvent::End));
        }
        let Some(rx) = self.lines.as_mut() else {
            return Poll::Ready(Ok(SourceEvent::End));
        };
        let mut batch = Vec::new();
        while batch.len() < self.batch_size {
            match rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(line))) => batch.push(StreamRecord::new(line)),
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(Err(Error::Network {
                        context: format!("reading lines from {}", self.address),
                        source: e,
                    }))
                }
                Poll::Ready(None) => {
                    self.done = true;
                    break;
                }
                Poll::Pending => break,
            }
        }
        if !batch.is_empty() {
            Poll::Ready(Ok(SourceEvent::Batch(batch)))
        } else if self.done {
            Poll::Ready(Ok(SourceEvent::End))
        } else {
            Poll::Pending
        }
    }
}
