//! The input gate: every input channel of one task, read fairly, with
//! watermarks combined per input and checkpoint barriers aligned across all of
//! them ([`Alignment`]).
//!
//! A task has one or more inputs (a join has two), each of one or more
//! channels (one per upstream subtask). The gate reads them round-robin so that
//! no channel starves another and hands the task one stream of events: batches
//! (tagged with their input by their type when a task has several), each
//! input's combined watermark and status, the aligned barriers, the end of data
//! of each input and the end of all channels.
//!
//! A channel ends in two steps: its end of data (the producer's last record;
//! the channel's watermark is `+inf` from then on, so the others alone make
//! the input's watermark) and, after the final checkpoint's barrier, its end of
//! partition (the channel is gone, and barrier alignment stops waiting for it).
//! The `+inf` watermark itself is never handed out: an input's end of data
//! stands for it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use eddy_core::{Batch, CheckpointBarrier, Element, Timestamp, WatermarkStatus, MAX_WATERMARK};

use crate::alignment::Alignment;
use crate::channel::Receiver;
use crate::watermark_valve::WatermarkValve;

/// What the gate hands to the task loop.
#[derive(Debug)]
pub enum InputEvent<B> {
    /// A batch of records.
    Batch(B),
    /// The combined watermark of input `.0` advanced.
    Watermark(usize, Timestamp),
    /// The combined watermark status of input `.0` changed.
    Status(usize, WatermarkStatus),
    /// Every channel of every input delivered this checkpoint barrier (or ended).
    Barrier(CheckpointBarrier),
    /// Every channel of input `.0` has sent its end of data.
    EndOfData(usize),
    /// Every channel has sent its end of partition.
    End,
    /// A producer went away without ending its input: it failed or was cancelled.
    Disconnected,
}

/// One channel as the gate reads it: elements of the gate's batch type.
pub trait InputChannel<B>: Send {
    /// The next element; `Ready(None)` once the producer is gone.
    fn poll_element(&mut self, cx: &mut Context<'_>) -> Poll<Option<Element<B>>>;
}

impl<B: Send> InputChannel<B> for Receiver<Element<B>> {
    fn poll_element(&mut self, cx: &mut Context<'_>) -> Poll<Option<Element<B>>> {
        self.poll_recv(cx)
    }
}

/// A channel whose batches are wrapped into the gate's batch type (the input
/// of a task with several inputs of different types).
pub struct Wrapped<T, B> {
    inner: Receiver<Element<T>>,
    wrap: fn(T) -> B,
}

impl<T, B> Wrapped<T, B> {
    /// `inner`, its batches wrapped by `wrap`.
    pub fn new(inner: Receiver<Element<T>>, wrap: fn(T) -> B) -> Self {
        Wrapped { inner, wrap }
    }
}

impl<T: Send, B: Send> InputChannel<B> for Wrapped<T, B> {
    fn poll_element(&mut self, cx: &mut Context<'_>) -> Poll<Option<Element<B>>> {
        self.inner.poll_recv(cx).map(|element| {
            element.map(|element| match element {
                Element::Batch(batch) => Element::Batch((self.wrap)(batch)),
                Element::Watermark(w) => Element::Watermark(w),
                Element::Status(s) => Element::Status(s),
                Element::Barrier(b) => Element::Barrier(b),
                Element::EndOfData => Element::EndOfData,
                Element::EndOfPartition => Element::EndOfPartition,
            })
        })
    }
}

/// A batch of one of a two-input task's inputs.
#[derive(Clone, Debug)]
pub enum TwoInputs<A, B> {
    /// From the first input.
    First(A),
    /// From the second input.
    Second(B),
}

/// What the gate counts of a batch.
pub trait Counted {
    /// Its rows.
    fn rows(&self) -> usize;
    /// Its size estimate, for `numBytesIn`.
    fn bytes(&self) -> usize;
}

impl<B: Batch> Counted for B {
    fn rows(&self) -> usize {
        self.num_rows()
    }

    fn bytes(&self) -> usize {
        self.byte_size_estimate()
    }
}

impl<A: Batch, B: Batch> Counted for TwoInputs<A, B> {
    fn rows(&self) -> usize {
        match self {
            TwoInputs::First(a) => a.num_rows(),
            TwoInputs::Second(b) => b.num_rows(),
        }
    }

    fn bytes(&self) -> usize {
        match self {
            TwoInputs::First(a) => a.byte_size_estimate(),
            TwoInputs::Second(b) => b.byte_size_estimate(),
        }
    }
}

/// One channel: what it reads, which input it belongs to, and its index
/// among that input's channels.
struct Channel<B> {
    reader: Box<dyn InputChannel<B>>,
    input: usize,
    slot: usize,
    /// The channel sent its end of data.
    data_ended: bool,
    /// The channel sent its end of partition.
    ended: bool,
}

/// Reads a task's input channels; see the module docs.
pub struct InputGate<B> {
    channels: Vec<Channel<B>>,
    /// One per input, over its channels.
    valves: Vec<WatermarkValve>,
    alignment: Alignment,
    next: usize,
    records_in: u64,
    /// The task's `numBytesIn`, if it counts one.
    bytes_in: Option<Arc<AtomicU64>>,
    /// Events that came together, handed out one by one.
    pending: VecDeque<InputEvent<B>>,
}

impl<B: Send + 'static> InputGate<B> {
    /// A gate of one input over `receivers`.
    pub fn new(receivers: Vec<Receiver<Element<B>>>) -> Self {
        let channels = receivers
            .into_iter()
            .map(|r| Box::new(r) as Box<dyn InputChannel<B>>)
            .collect();
        Self::with_inputs(vec![channels])
    }
}

impl<B> InputGate<B> {
    /// A gate over several inputs, each a list of channels.
    pub fn with_inputs(inputs: Vec<Vec<Box<dyn InputChannel<B>>>>) -> Self {
        let valves = inputs
            .iter()
            .map(|c| WatermarkValve::new(c.len()))
            .collect();
        let channels: Vec<Channel<B>> = inputs
            .into_iter()
            .enumerate()
            .flat_map(|(input, readers)| {
                readers
                    .into_iter()
                    .enumerate()
                    .map(move |(slot, reader)| Channel {
                        reader,
                        input,
                        slot,
                        data_ended: false,
                        ended: false,
                    })
            })
            .collect();
        InputGate {
            alignment: Alignment::new(channels.len()),
            channels,
            valves,
            next: 0,
            records_in: 0,
            bytes_in: None,
            pending: VecDeque::new(),
        }
    }

    /// Counts the size of the batches read into `counter`, the task's
    /// `numBytesIn`.
    pub fn with_bytes_in(mut self, counter: Arc<AtomicU64>) -> Self {
        self.bytes_in = Some(counter);
        self
    }

    /// Sets exactly-once (blocking) or at-least-once (non-blocking) alignment.
    pub fn with_exactly_once(mut self, exactly_once: bool) -> Self {
        self.alignment.set_exactly_once(exactly_once);
        self
    }

    /// When the first channel delivered the barrier handed out last: its
    /// alignment lasted from then until it was handed out.
    pub fn aligned_since(&self) -> Option<Instant> {
        self.alignment.aligned_since()
    }

    /// The combined watermark of input `input` so far.
    pub fn current_watermark(&self, input: usize) -> Timestamp {
        self.valves[input].current()
    }

    /// Whether every channel has ended.
    pub fn is_finished(&self) -> bool {
        self.channels.iter().all(|c| c.ended)
    }

    /// The number of records read so far.
    pub fn records_in(&self) -> u64 {
        self.records_in
    }

    /// The next event.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<InputEvent<B>>
    where
        B: Counted,
    {
        if let Some(event) = self.pending.pop_front() {
            return Poll::Ready(event);
        }
        let n = self.channels.len();
        if self.is_finished() {
            return Poll::Ready(InputEvent::End);
        }
        loop {
            let mut progressed = false;
            for offset in 0..n {
                let i = (self.next + offset) % n;
                if self.channels[i].ended || self.alignment.blocked(i) {
                    continue;
                }
                let Poll::Ready(element) = self.channels[i].reader.poll_element(cx) else {
                    continue;
                };
                self.next = (i + 1) % n;
                progressed = true;
                if let Some(event) = self.on_element(i, element) {
                    return Poll::Ready(event);
                }
                break;
            }
            if !progressed {
                return Poll::Pending;
            }
        }
    }

    /// Takes an element of channel `i`; the event to hand out first, if any.
    fn on_element(&mut self, i: usize, element: Option<Element<B>>) -> Option<InputEvent<B>>
    where
        B: Counted,
    {
        let (input, slot) = (self.channels[i].input, self.channels[i].slot);
        match element {
            Some(Element::Batch(batch)) => {
                self.records_in += batch.rows() as u64;
                if let Some(bytes) = &self.bytes_in {
                    bytes.fetch_add(batch.bytes() as u64, Ordering::Relaxed);
                }
                return Some(InputEvent::Batch(batch));
            }
            Some(Element::Watermark(w)) => {
                let w = self.valves[input].on_watermark(slot, w)?;
                return Some(InputEvent::Watermark(input, w));
            }
            Some(Element::Status(s)) => {
                let (w, status) = self.valves[input].on_status(slot, s);
                if let Some(w) = w {
                    self.pending.push_back(InputEvent::Watermark(input, w));
                }
                if let Some(status) = status {
                    self.pending.push_back(InputEvent::Status(input, status));
                }
            }
            Some(Element::Barrier(barrier)) => {
                let barrier = self.alignment.on_barrier(i, barrier)?;
                return Some(InputEvent::Barrier(barrier));
            }
            None => return Some(InputEvent::Disconnected),
            Some(Element::EndOfData) => self.on_end_of_data(i),
            Some(Element::EndOfPartition) => {
                // A producer always ends its data first; a channel that did not
                // say so ends it here.
                self.on_end_of_data(i);
                self.channels[i].ended = true;
                // A barrier this channel's end completes goes first.
                if let Some(barrier) = self.alignment.on_end(i) {
                    self.pending.push_front(InputEvent::Barrier(barrier));
                }
                if self.is_finished() {
                    self.pending.push_back(InputEvent::End);
                }
            }
        }
        self.pending.pop_front()
    }

    /// Channel `i` sent its end of data (once; later calls do nothing): its
    /// input's watermark goes on without it, and the input ends with its last
    /// channel.
    fn on_end_of_data(&mut self, i: usize) {
        if std::mem::replace(&mut self.channels[i].data_ended, true) {
            return;
        }
        let (input, slot) = (self.channels[i].input, self.channels[i].slot);
        let (w, _) = self.valves[input].on_end(slot);
        if let Some(w) = w.filter(|w| *w != MAX_WATERMARK) {
            self.pending.push_back(InputEvent::Watermark(input, w));
        }
        if self.valves[input].all_ended() {
            self.pending.push_back(InputEvent::EndOfData(input));
        }
    }
}
