//! A deterministic generator source, bounded or unbounded, optionally rate-limited.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use eddy_core::{Records, Result, StreamRecord, Timestamp};
use eddy_runtime::{OperatorContext, SourceEvent, SourceReader};
use tokio::time::{Instant, Sleep};

/// Makes the record with a sequence number (and its optional timestamp).
pub type GeneratorFunction<T> = Arc<dyn Fn(u64) -> (T, Option<Timestamp>) + Send + Sync>;

/// Emits `f(0), f(1), ...` up to `count` (or forever). With `p` subtasks, subtask `i`
/// emits the sequence numbers equal to `i` modulo `p`, so the union over subtasks is
/// the same at every parallelism. A rate limit (records per second, over all
/// subtasks) paces emission with timers, never by blocking a thread.
pub struct GeneratorSource<T> {
    function: GeneratorFunction<T>,
    count: Option<u64>,
    rate: Option<f64>,
    next: u64,
    step: u64,
    batch_size: usize,
    started: Option<Instant>,
    emitted: u64,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<T> GeneratorSource<T> {
    /// A generator of `count` records (`None`: unbounded).
    pub fn new(function: GeneratorFunction<T>, count: Option<u64>) -> Self {
        GeneratorSource {
            function,
            count,
            rate: None,
            next: 0,
            step: 1,
            batch_size: 1024,
            started: None,
            emitted: 0,
            sleep: None,
        }
    }

    /// Limits the rate to `records_per_second` over all subtasks.
    pub fn with_rate(mut self, records_per_second: Option<f64>) -> Self {
        self.rate = records_per_second.filter(|r| *r > 0.0);
        self
    }
}

impl<T: Clone + Send + 'static> SourceReader for GeneratorSource<T> {
    type Out = Records<T>;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.next = ctx.subtask as u64;
        self.step = ctx.parallelism.max(1) as u64;
        self.batch_size = super::batch_size(ctx);
        if let Some(rate) = self.rate {
            self.rate = Some(rate / self.step as f64);
            // Small batches keep a paced stream smooth.
            self.batch_size = self.batch_size.min(((rate / 100.0).ceil() as usize).max(1));
        }
        Ok(())
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<SourceEvent<Records<T>>>> {
        if self.count.is_some_and(|c| self.next >= c) {
            return Poll::Ready(Ok(SourceEvent::End));
        }
        if let Some(rate) = self.rate {
            let started = *self.started.get_or_insert_with(Instant::now);
            let due = started + Duration::from_secs_f64(self.emitted as f64 / rate);
            if due > Instant::now() {
                let sleep = self
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
                sleep.as_mut().reset(due);
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
        }
        let mut batch = Vec::with_capacity(self.batch_size);
        while batch.len() < self.batch_size && self.count.is_none_or(|c| self.next < c) {
            let (value, timestamp) = (self.function)(self.next);
            batch.push(StreamRecord { value, timestamp });
            self.next += self.step;
        }
        self.emitted += batch.len() as u64;
        Poll::Ready(Ok(SourceEvent::Batch(batch)))
    }
}

use std::future::Future;
