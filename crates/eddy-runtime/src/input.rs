//! The input gate: one task's input channels, read fairly, with watermarks combined.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use eddy_core::{CheckpointBarrier, Element, Timestamp, WatermarkStatus};

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
    /// Every channel delivered this checkpoint barrier (aligned).
    Barrier(CheckpointBarrier),
    /// Every channel has ended.
    End,
    /// A producer went away without ending its input: it failed or was cancelled.
    Disconnected,
}

/// Reads a task's input channels round-robin so that no channel starves another,
/// turns per-channel watermarks into the task's combined watermark, and aligns
/// checkpoint barriers: once a channel delivered barrier `n`, exactly-once
/// alignment stops reading it until every channel delivered `n` (so no record after
/// the barrier reaches the state of checkpoint `n`); at-least-once alignment keeps
/// reading it. The barrier is handed out when the last channel delivers it.
pub struct InputGate<B> {
    receivers: Vec<Receiver<Element<B>>>,
    ended: Vec<bool>,
    valve: WatermarkValve,
    next: usize,
    records_in: u64,
    /// The task's `numBytesIn`, if it counts one.
    bytes_in: Option<Arc<AtomicU64>>,
    /// A status change to hand out after a watermark that came with it.
    pending_status: Option<WatermarkStatus>,
    /// A watermark to hand out after a barrier that came with it.
    pending_watermark: Option<Timestamp>,
    /// Whether channels that delivered the current barrier are blocked.
    exactly_once: bool,
    /// The barrier being aligned and which channels delivered it.
    aligning: Option<CheckpointBarrier>,
    arrived: Vec<bool>,
    /// When the first channel delivered the barrier being aligned.
    aligning_since: Option<Instant>,
    /// When the first channel delivered the barrier handed out last.
    aligned_since: Option<Instant>,
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
            bytes_in: None,
            pending_status: None,
            pending_watermark: None,
            exactly_once: true,
            aligning: None,
            arrived: vec![false; n],
            aligning_since: None,
            aligned_since: None,
        }
    }

    /// Counts the size of the batches read ([`eddy_core::Batch::byte_size_estimate`])
    /// into `counter`, the task's `numBytesIn`.
    pub fn with_bytes_in(mut self, counter: Arc<AtomicU64>) -> Self {
        self.bytes_in = Some(counter);
        self
    }

    /// Sets exactly-once (blocking) or at-least-once (non-blocking) alignment.
    pub fn with_exactly_once(mut self, exactly_once: bool) -> Self {
        self.exactly_once = exactly_once;
        self
    }

    /// A barrier arrived on `channel`; returns the barrier once every live channel
    /// delivered it.
    fn on_barrier(
        &mut self,
        channel: usize,
        barrier: CheckpointBarrier,
    ) -> Option<CheckpointBarrier> {
        match &self.aligning {
            Some(current) if current.checkpoint_id == barrier.checkpoint_id => {}
            Some(current) if current.checkpoint_id > barrier.checkpoint_id => return None,
            _ => {
                // A newer checkpoint supersedes one still aligning.
                self.aligning = Some(barrier);
                self.aligning_since = Some(Instant::now());
                self.arrived.iter_mut().for_each(|a| *a = false);
            }
        }
        self.arrived[channel] = true;
        self.complete_alignment()
    }

    fn complete_alignment(&mut self) -> Option<CheckpointBarrier> {
        let barrier = self.aligning.clone()?;
        let done = self
            .arrived
            .iter()
            .zip(&self.ended)
            .all(|(arrived, ended)| *arrived || *ended);
        if done {
            self.aligning = None;
            self.aligned_since = self.aligning_since.take();
            self.arrived.iter_mut().for_each(|a| *a = false);
            Some(barrier)
        } else {
            None
        }
    }

    fn blocked(&self, channel: usize) -> bool {
        self.exactly_once && self.aligning.is_some() && self.arrived[channel]
    }

    /// When the first channel delivered the barrier handed out last: its
    /// alignment lasted from then until it was handed out.
    pub fn aligned_since(&self) -> Option<Instant> {
        self.aligned_since
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
        if let Some(w) = self.pending_watermark.take() {
            return Poll::Ready(InputEvent::Watermark(w));
        }
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
                if self.ended[i] || self.blocked(i) {
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
                                if let Some(bytes) = &self.bytes_in {
                                    let size = batch.byte_size_estimate() as u64;
                                    bytes.fetch_add(size, Ordering::Relaxed);
                                }
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
                            Some(Element::Barrier(barrier)) => {
                                if let Some(barrier) = self.on_barrier(i, barrier) {
                                    return Poll::Ready(InputEvent::Barrier(barrier));
                                }
                            }
                            None => return Poll::Ready(InputEvent::Disconnected),
                            Some(Element::EndOfInput) => {
                                self.ended[i] = true;
                                let (w, _) = self.valve.on_end(i);
                                if let Some(barrier) = self.complete_alignment() {
                                    self.pending_watermark = w;
                                    return Poll::Ready(InputEvent::Barrier(barrier));
                                }
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
