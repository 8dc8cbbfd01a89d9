//! Length-prefixed frames on a TCP stream, shared by the RPC and the data
//! connections: a frame is its length as a little-endian `u32`, then that many
//! bytes. A length above [`MAX_FRAME`] is corrupt input and ends the connection.

use eddy_core::{Error, Result};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest frame a peer may send (a batch of a million wide rows fits).
pub const MAX_FRAME: usize = 1 << 30;

/// The largest first frame (a hello or a registration) a peer may send before
/// it is known.
pub const MAX_HELLO: usize = 64 << 10;

/// How long a new peer may take to say who it is.
pub const HELLO_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads one frame into `buf` (replacing its contents): `Ok(false)` when the peer
/// closed the connection cleanly before a new frame.
pub async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R, buf: &mut Vec<u8>) -> Result<bool> {
    read_frame_within(reader, buf, MAX_FRAME).await
}

/// Reads the first frame of an unknown peer: at most [`MAX_HELLO`] bytes,
/// within [`HELLO_TIMEOUT`]; anything else is `Ok(false)`, as if it had closed.
pub async fn read_hello<R: AsyncRead + Unpin>(reader: &mut R, buf: &mut Vec<u8>) -> Result<bool> {
    tokio::time::timeout(HELLO_TIMEOUT, read_frame_within(reader, buf, MAX_HELLO))
        .await
        .unwrap_or(Ok(false))
}

/// Reads one frame of at most `max` bytes.
async fn read_frame_within<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> Result<bool> {
    let mut len = [0u8; 4];
    match reader.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
        Err(e) => return Err(network("reading a frame", e)),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > max {
        return Err(Error::decode(
            "a network frame",
            format!("its length {len} exceeds the limit of {max} bytes"),
        ));
    }
    buf.clear();
    buf.resize(len, 0);
    reader
        .read_exact(buf)
        .await
        .map_err(|e| network("reading a frame", e))?;
    Ok(true)
}

/// Starts a frame in `buf`: room for the length, which [`finish_frame`] fills in.
pub fn start_frame(buf: &mut Vec<u8>) {
    buf.clear();
    buf.extend_from_slice(&[0; 4]);
}

/// Writes the length of the frame [`start_frame`] began in `buf`.
pub fn finish_frame(buf: &mut [u8]) {
    let len = (buf.len() - 4) as u32;
    buf[..4].copy_from_slice(&len.to_le_bytes());
}

/// A whole frame holding `payload`.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(payload.len() + 4);
    start_frame(&mut buf);
    buf.extend_from_slice(payload);
    finish_frame(&mut buf);
    buf
}

/// Writes frames from `frames` until the channel closes, flushing whenever no
/// more frames wait (so small frames share a write, and none waits long).
pub async fn write_frames<W: AsyncWrite + Unpin>(
    writer: W,
    mut frames: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
) -> Result<()> {
    let mut writer = tokio::io::BufWriter::with_capacity(64 * 1024, writer);
    while let Some(first) = frames.recv().await {
        let write = |e| network("writing a frame", e);
        writer.write_all(&first).await.map_err(write)?;
        while let Ok(next) = frames.try_recv() {
            writer.write_all(&next).await.map_err(write)?;
        }
        writer.flush().await.map_err(write)?;
    }
    writer
        .shutdown()
        .await
        .map_err(|e| network("closing a connection", e))
}

/// A network error while doing `context`.
pub fn network(context: impl Into<String>, source: std::io::Error) -> Error {
    Error::Network {
        context: context.into(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_a_huge_length_is_refused() {
        let mut bytes = frame(b"hello");
        bytes.extend(frame(b""));
        let mut reader = &bytes[..];
        let mut buf = Vec::new();
        assert!(read_frame(&mut reader, &mut buf).await.unwrap());
        assert_eq!(buf, b"hello");
        assert!(read_frame(&mut reader, &mut buf).await.unwrap());
        assert!(buf.is_empty());
        assert!(!read_frame(&mut reader, &mut buf).await.unwrap());

        let huge = (MAX_FRAME as u32 + 1).to_le_bytes();
        let err = read_frame(&mut &huge[..], &mut buf).await.unwrap_err();
        assert!(err.to_string().contains("exceeds the limit"), "{err}");
        // A first frame is small.
        let big = frame(&vec![0; MAX_HELLO + 1]);
        assert!(read_hello(&mut &big[..], &mut buf).await.is_err());
        assert!(read_hello(&mut &frame(b"hi")[..], &mut buf).await.unwrap());
        // A frame cut short is an error, not a clean end.
        let cut = &frame(b"hello")[..6];
        assert!(read_frame(&mut &cut[..], &mut buf).await.is_err());
    }
}
