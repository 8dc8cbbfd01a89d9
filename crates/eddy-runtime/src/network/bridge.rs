//! The two ends of a channel that crosses processes, between typed elements
//! and encoded frames.
//!
//! A producing task always writes into a local channel. When the consumer lives
//! in another TaskManager, that channel's receiving end becomes a
//! [`FrameSource`]: the data server takes elements from it and encodes each as
//! one frame ([`eddy_core::codec`]). On the consuming side a [`FrameSink`]
//! decodes frames into the sending end of a local channel the consuming task
//! reads. Only edges whose batch type has a codec can cross processes
//! ([`TypedEdge::with_codec`](crate::TypedEdge::with_codec)).

use std::task::{Context, Poll};

use eddy_core::{Element, Result};

use crate::channel::{Receiver, SendError, Sender};

/// Encodes an element as one frame, appended to the buffer.
pub type EncodeFn<B> = fn(&Element<B>, &mut Vec<u8>) -> Result<()>;
/// Decodes one frame.
pub type DecodeFn<B> = fn(&[u8]) -> Result<Element<B>>;

/// The receiving end of a local channel, read as frames.
pub trait FrameSource: Send {
    /// Appends the next element's frame to `out`: `Ready(Ok(true))` when one was
    /// appended, `Ready(Ok(false))` once the producer is gone and everything it
    /// sent was read.
    fn poll_frame(&mut self, cx: &mut Context<'_>, out: &mut Vec<u8>) -> Poll<Result<bool>>;
}

/// The sending end of a local channel, written with frames.
pub trait FrameSink: Send {
    /// Decodes `frame`; the element waits in the sink until
    /// [`poll_flush`](FrameSink::poll_flush) hands it to the channel.
    fn put(&mut self, frame: &[u8]) -> Result<()>;

    /// Hands the waiting element to the channel: `Ready(true)` once it is in (or
    /// none waited), `Ready(false)` when the consumer is gone, `Pending` while the
    /// channel is full.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<bool>;
}

/// A [`FrameSource`] over a typed receiver.
pub struct TypedFrameSource<B> {
    pub(crate) receiver: Receiver<Element<B>>,
    pub(crate) encode: EncodeFn<B>,
}

impl<B: Send> FrameSource for TypedFrameSource<B> {
    fn poll_frame(&mut self, cx: &mut Context<'_>, out: &mut Vec<u8>) -> Poll<Result<bool>> {
        match self.receiver.poll_recv(cx) {
            Poll::Ready(Some(element)) => Poll::Ready((self.encode)(&element, out).map(|()| true)),
            Poll::Ready(None) => Poll::Ready(Ok(false)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A [`FrameSink`] over a typed sender.
pub struct TypedFrameSink<B> {
    pub(crate) sender: Sender<Element<B>>,
    pub(crate) decode: DecodeFn<B>,
    pub(crate) waiting: Option<Element<B>>,
}

impl<B: Send> FrameSink for TypedFrameSink<B> {
    fn put(&mut self, frame: &[u8]) -> Result<()> {
        debug_assert!(
            self.waiting.is_none(),
            "put before the last element was flushed"
        );
        self.waiting = Some((self.decode)(frame)?);
        Ok(())
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        let Some(element) = self.waiting.take() else {
            return Poll::Ready(true);
        };
        match self.sender.poll_send(cx, element) {
            Ok(()) => Poll::Ready(true),
            Err(SendError::Full(element)) => {
                self.waiting = Some(element);
                Poll::Pending
            }
            Err(SendError::Closed(_)) => Poll::Ready(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::channel;
    use eddy_core::codec::{decode_element, encode_element};
    use eddy_core::{Records, StreamRecord};
    use std::task::Waker;

    type B = Records<String>;

    #[test]
    fn elements_cross_as_frames_and_a_full_channel_holds_the_frame() {
        let mut cx = Context::from_waker(Waker::noop());
        let (tx, rx) = channel::<Element<B>>(4);
        let mut source = TypedFrameSource {
            receiver: rx,
            encode: encode_element::<B> as EncodeFn<B>,
        };
        let (remote_tx, remote_rx) = channel::<Element<B>>(1);
        let mut sink = TypedFrameSink {
            sender: remote_tx,
            decode: decode_element::<B> as DecodeFn<B>,
            waiting: None,
        };
        let batch = vec![StreamRecord::with_timestamp("k".to_string(), 3)];
        tx.force_send(Element::Batch(batch.clone()));
        tx.force_send(Element::Watermark(9));
        drop(tx);

        let mut frame = Vec::new();
        assert!(matches!(
            source.poll_frame(&mut cx, &mut frame),
            Poll::Ready(Ok(true))
        ));
        sink.put(&frame).unwrap();
        assert_eq!(sink.poll_flush(&mut cx), Poll::Ready(true));
        frame.clear();
        assert!(matches!(
            source.poll_frame(&mut cx, &mut frame),
            Poll::Ready(Ok(true))
        ));
        sink.put(&frame).unwrap();
        // The channel holds one element: the watermark waits in the sink.
        assert_eq!(sink.poll_flush(&mut cx), Poll::Pending);
        assert!(
            matches!(remote_rx.poll_recv(&mut cx), Poll::Ready(Some(Element::Batch(b))) if b == batch)
        );
        assert_eq!(sink.poll_flush(&mut cx), Poll::Ready(true));
        assert!(matches!(
            remote_rx.poll_recv(&mut cx),
            Poll::Ready(Some(Element::Watermark(9)))
        ));
        assert!(matches!(
            source.poll_frame(&mut cx, &mut frame),
            Poll::Ready(Ok(false))
        ));

        // A corrupt frame is an error, and a closed consumer is reported.
        assert!(sink.put(&frame[..2]).is_err());
        drop(remote_rx);
        sink.put(&{
            let mut f = Vec::new();
            encode_element::<B>(&Element::Watermark(1), &mut f).unwrap();
            f
        })
        .unwrap();
        assert_eq!(sink.poll_flush(&mut cx), Poll::Ready(false));
    }
}
