//! The input gate: one task's input channels, read fairly, with watermarks combined.

use std::task::{Context, Poll};

use eddy_core::{Element, Timestamp, WatermarkStatus};

use crate::channel::Receiver;
use crate::watermark_valve::WatermarkValve;

/// What the gate hands to the task loop.
#[derive(Debug)]
pub enum InputEvent<B> {
    /// A batch of records.
    Batch(B),
    /// The combined watermark advanced.
    Watermark(Timestamp),
    /// The combined watermark status changed.
    Status(WatermarkStatus),
    /// Every channel has ended.
    End,
    /// A producer went away without ending its input: it failed or was cancelled.
    Disconnected,
}

/// Reads a task's input channels round-robin so that no channel starves another,
/// and turns per-channel watermarks into the task's combined watermark.
pub struct InputGate<B> {
    receivers: Vec<Receiver<Element<B>>>,
    ended: Vec<bool>,
    valve: WatermarkValve,
    next: usize,
    records_in: u64,
    /// A status change to hand out after a watermark that came with it.
    pending_status: Option<WatermarkStatus>,
}

impl<B> InputGate<B> {
    /// A gate over `receivers`.
    pub fn new(receivers: Vec<Receiver<Element<B>>>) -> Self {
        let n = receivers.len();
        InputGate {
            receivers,
            ended: vec![false; n],
            valve: WatermarkValve::new(n),
            next: 0,
            records_in: 0,
            pending_status: None,
        }
    }

    /// The combined watermark so far.
    pub fn current_watermark(&self) -> Timestamp {
        self.valve.current()
    }

    /// Whether every channel has ended.
    pub fn is_finished(&self) -> bool {
        self.valve.all_ended()
    }

    /// The number of records read so far.
    pub fn records_in(&self) -> u64 {
        self.records_in
    }

    /// The next event.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<InputEvent<B>>
    where
        B: eddy_core::Batch,
    {
        if let Some(status) = self.pending_status.take() {
            return Poll::Ready(InputEvent::Status(status));
        }
        let n = self.receivers.len();
        if n == 0 || self.valve.all_ended() {
            return Poll::Ready(InputEvent::End);
        }
        loop {
            let mut progressed = false;
            for offset in 0..n {
                let i = (self.next + offset) % n;
                if self.ended[i] {
                    continue;
                }
                match self.receivers[i].poll_recv(cx) {
                    Poll::Pending => continue,
                    Poll::Ready(element) => {
                        self.next = (i + 1) % n;
                        progressed = true;
                        match element {
                            Some(Element::Batch(batch)) => {
                                self.records_in += batch.num_rows() as u64;
                                return Poll::Ready(InputEvent::Batch(batch));
                            }
                            Some(Element::Watermark(w)) => {
                                if let Some(w) = self.valve.on_watermark(i, w) {
                                    return Poll::Ready(InputEvent::Watermark(w));
                                }
                            }
                            Some(Element::Status(s)) => {
                                let (w, status) = self.valve.on_status(i, s);
                                if let Some(w) = w {
                                    self.pending_status = status;
                                    return Poll::Ready(InputEvent::Watermark(w));
                                }
                                if let Some(status) = status {
                                    return Poll::Ready(InputEvent::Status(status));
                                }
                            }
                            Some(Element::Barrier(_)) => {
                                // Barriers are aligned by the checkpointing layer;
                                // without a running checkpoint there is nothing to do.
                            }
                            None => return Poll::Ready(InputEvent::Disconnected),
                            Some(Element::EndOfInput) => {
                                self.ended[i] = true;
                                let (w, _) = self.valve.on_end(i);
                                if let Some(w) = w {
                                    return Poll::Ready(InputEvent::Watermark(w));
                                }
                                if self.valve.all_ended() {
                                    return Poll::Ready(InputEvent::End);
                                }
                            }
                        }
                        break;
                    }
                }
            }
            if !progressed {
                return Poll::Pending;
            }
        }
    }
}
