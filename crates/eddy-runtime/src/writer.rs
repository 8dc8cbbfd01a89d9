//! The record writer: buffers a producer's rows per target channel and sends them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use eddy_core::{Batch, CheckpointBarrier, Element, Error, Result, Timestamp, WatermarkStatus};

use crate::channel::{SendError, Sender};
use crate::output::Output;
use crate::partitioner::{Partitioner, Selection};

/// What a record writer counts for its producer: the bytes it sends and the
/// watermark it last sent (`currentOutputWatermark`). Records are counted where
/// they are emitted ([`crate::output::Emitter`]), once however many channels
/// carry them.
#[derive(Clone, Debug, Default)]
pub struct WriterMetrics {
    /// The producer's `numBytesOut`: the size of the rows it sent
    /// ([`Batch::byte_size_estimate`]).
    pub bytes_out: Arc<AtomicU64>,
    /// The producer's `currentOutputWatermark`.
    pub output_watermark: Arc<AtomicI64>,
}

/// Buffers rows per channel of one edge, flushes a channel's batch when it reaches
/// the batch size, before any control element, and on the buffer timeout; sends
/// when the task loop polls it.
pub struct RecordWriter<B> {
    senders: Vec<Sender<Element<B>>>,
    buffers: Vec<Option<B>>,
    pending: Vec<VecDeque<Element<B>>>,
    partitioner: Box<dyn Partitioner<B>>,
    targets: Vec<u32>,
    batch_size: usize,
    metrics: WriterMetrics,
    closed: bool,
    /// The end of data was sent (it stands for the final `+inf` watermark,
    /// which is never sent on its own).
    data_ended: bool,
}

impl<B: Batch> RecordWriter<B> {
    /// A writer over `senders`, flushing batches of `batch_size` rows.
    pub fn new(
        senders: Vec<Sender<Element<B>>>,
        partitioner: Box<dyn Partitioner<B>>,
        batch_size: usize,
        metrics: WriterMetrics,
    ) -> Self {
        let n = senders.len();
        RecordWriter {
            senders,
            buffers: (0..n).map(|_| None).collect(),
            pending: (0..n).map(|_| VecDeque::new()).collect(),
            partitioner,
            targets: Vec::new(),
            batch_size: batch_size.max(1),
            metrics,
            closed: false,
            data_ended: false,
        }
    }

    fn move_full_buffers(&mut self) {
        for (buffer, pending) in self.buffers.iter_mut().zip(&mut self.pending) {
            if buffer
                .as_ref()
                .is_some_and(|b| b.num_rows() >= self.batch_size)
            {
                if let Some(batch) = buffer.take() {
                    pending.push_back(Element::Batch(batch));
                }
            }
        }
    }

    fn broadcast_control(&mut self, element: Element<B>) {
        self.flush_partial();
        for pending in &mut self.pending {
            pending.push_back(element.clone());
        }
    }

    fn flush_partial(&mut self) {
        for (buffer, pending) in self.buffers.iter_mut().zip(&mut self.pending) {
            if let Some(batch) = buffer.take() {
                if batch.num_rows() > 0 {
                    pending.push_back(Element::Batch(batch));
                }
            }
        }
    }
}

impl<B: Batch> Output<B> for RecordWriter<B> {
    fn collect(&mut self, batch: B) -> Result<()> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(());
        }
        let n = self.senders.len();
        let selection = self.partitioner.select(&batch, n, &mut self.targets);
        // A broadcast sends the rows once per channel.
        let copies = if matches!(selection, Selection::All) {
            n
        } else {
            1
        };
        self.metrics.bytes_out.fetch_add(
            (batch.byte_size_estimate() * copies) as u64,
            Ordering::Relaxed,
        );
        match selection {
            Selection::One(channel) => {
                let slot = &mut self.buffers[channel as usize];
                match slot {
                    Some(buffer) => buffer.append(batch),
                    None => *slot = Some(batch),
                }
            }
            Selection::PerRow => batch.scatter_into(&self.targets, &mut self.buffers),
            Selection::All => {
                for slot in &mut self.buffers {
                    match slot {
                        Some(buffer) => buffer.append(batch.clone()),
                        None => *slot = Some(batch.clone()),
                    }
                }
            }
        }
        self.move_full_buffers();
        Ok(())
    }

    fn emit_watermark(&mut self, watermark: Timestamp) -> Result<()> {
        // The final watermark travels as the end of data.
        if watermark != eddy_core::MAX_WATERMARK {
            self.metrics
                .output_watermark
                .store(watermark, Ordering::Relaxed);
            self.broadcast_control(Element::Watermark(watermark));
        }
        Ok(())
    }

    fn end_of_data(&mut self) -> Result<()> {
        if !std::mem::replace(&mut self.data_ended, true) {
            self.metrics
                .output_watermark
                .store(eddy_core::MAX_WATERMARK, Ordering::Relaxed);
            self.broadcast_control(Element::EndOfData);
        }
        Ok(())
    }

    fn emit_status(&mut self, status: WatermarkStatus) -> Result<()> {
        self.broadcast_control(Element::Status(status));
        Ok(())
    }

    fn emit_barrier(&mut self, barrier: CheckpointBarrier) -> Result<()> {
        self.broadcast_control(Element::Barrier(barrier));
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        if !self.closed {
            self.closed = true;
            self.end_of_data()?;
            self.broadcast_control(Element::EndOfPartition);
        }
        Ok(())
    }

    fn flush_buffers(&mut self) {
        self.flush_partial();
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut blocked = false;
        for (sender, pending) in self.senders.iter().zip(&mut self.pending) {
            while let Some(element) = pending.pop_front() {
                match sender.poll_send(cx, element) {
                    Ok(()) => {}
                    Err(SendError::Full(element)) => {
                        pending.push_front(element);
                        blocked = true;
                        break;
                    }
                    Err(SendError::Closed(_)) => {
                        pending.clear();
                        return Poll::Ready(Err(Error::Other(
                            "a downstream task stopped before its input ended".into(),
                        )));
                    }
                }
            }
        }
        if blocked {
            Poll::Pending
        } else {
            Poll::Ready(Ok(()))
        }
    }
}
