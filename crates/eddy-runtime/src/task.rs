//! The task loop: one async task per subtask, driving a chain.
//!
//! Each loop turn first sends whatever the chain's writers have queued (waiting here
//! is backpressure), then waits for the first of: an input event, a due
//! processing-time callback, the buffer timeout, or cancellation. Once every input
//! has ended the loop sends a final `+inf` watermark, ends and closes the chain, and
//! sends end-of-input downstream.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use eddy_core::time::Clock;
use eddy_core::{Error, Result, WatermarkStatus, MAX_WATERMARK};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::chain::guarded;
use crate::input::{InputEvent, InputGate};
use crate::operator::{OperatorContext, TwoInputOperator};
use crate::output::{Emitter, Output, SideOutputs};
use crate::source::{SourceEvent, SourceReader};
use crate::watermark_valve::WatermarkValve;

/// Tells running tasks to stop.
#[derive(Clone, Debug)]
pub struct CancelSignal {
    rx: watch::Receiver<bool>,
}

/// The sending side of a [`CancelSignal`].
#[derive(Debug)]
pub struct CancelHandle {
    tx: watch::Sender<bool>,
}

/// A cancellation handle and the signal tasks listen to.
pub fn cancel_pair() -> (CancelHandle, CancelSignal) {
    let (tx, rx) = watch::channel(false);
    (CancelHandle { tx }, CancelSignal { rx })
}

impl CancelHandle {
    /// Asks every task to stop.
    pub fn cancel(&self) {
        let _ = self.tx.send(true);
    }
}

impl CancelSignal {
    /// Resolves once cancellation was requested.
    pub async fn cancelled(&mut self) {
        let _ = self.rx.wait_for(|c| *c).await;
    }

    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        *self.rx.borrow()
    }
}

/// Timing settings of a task loop.
#[derive(Clone, Debug)]
pub struct TaskSettings {
    /// Flush partly filled batches this often (zero: after every event).
    pub buffer_timeout: Duration,
    /// Processing time.
    pub clock: Arc<dyn Clock>,
}

/// A runnable task.
pub trait Task: Send {
    /// Runs the task to completion, failure or cancellation.
    fn run(
        self: Box<Self>,
        cancel: CancelSignal,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send>>;
}

async fn flush<B>(chain: &mut dyn Output<B>, cancel: &mut CancelSignal) -> Result<()> {
    tokio::select! {
        result = poll_fn(|cx| chain.poll_flush(cx)) => result,
        _ = cancel.cancelled() => Err(Error::Cancelled),
    }
}

/// How long until processing time reaches `at` (zero if it already has).
fn until(clock: &dyn Clock, at: Option<i64>) -> Option<Duration> {
    at.map(|t| Duration::from_millis(t.saturating_sub(clock.now_millis()).max(0) as u64))
}

/// Shared loop state: the buffer-timeout deadline and periodic yielding.
struct Pacer {
    settings: TaskSettings,
    flush_deadline: Instant,
    turns: u32,
}

impl Pacer {
    fn new(settings: TaskSettings) -> Self {
        let flush_deadline = Instant::now() + settings.buffer_timeout;
        Pacer {
            settings,
            flush_deadline,
            turns: 0,
        }
    }

    /// After handling an event: flush on timeout, fire due processing time, and let
    /// other tasks on this worker run now and then.
    async fn after_event<B>(&mut self, chain: &mut dyn Output<B>) -> Result<()> {
        let now = Instant::now();
        if self.settings.buffer_timeout.is_zero() || now >= self.flush_deadline {
            chain.flush_buffers();
            self.flush_deadline = now + self.settings.buffer_timeout;
        }
        let pt = self.settings.clock.now_millis();
        if chain.next_processing_time().is_some_and(|t| t <= pt) {
            chain.fire_processing_time(pt)?;
        }
        self.turns += 1;
        if self.turns.is_multiple_of(32) {
            tokio::task::yield_now().await;
        }
        Ok(())
    }

    fn sleep_processing(&self, chain: &dyn OutputTimes) -> Option<Duration> {
        until(self.settings.clock.as_ref(), chain.next_time())
    }
}

/// The processing-time view of a chain, for the loop's sleep.
trait OutputTimes {
    fn next_time(&self) -> Option<i64>;
}

impl<B> OutputTimes for Box<dyn Output<B>> {
    fn next_time(&self) -> Option<i64> {
        self.next_processing_time()
    }
}

async fn sleep_opt(duration: Option<Duration>) {
    match duration {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

async fn finish<B>(chain: &mut dyn Output<B>, cancel: &mut CancelSignal) -> Result<()> {
    chain.emit_watermark(MAX_WATERMARK)?;
    chain.end_input()?;
    chain.close()?;
    flush(chain, cancel).await
}

/// The task of a source and the chain after it.
pub struct SourceTask<S: SourceReader> {
    source: S,
    chain: Box<dyn Output<S::Out>>,
    context: OperatorContext,
    settings: TaskSettings,
}

impl<S: SourceReader> SourceTask<S> {
    /// A source task.
    pub fn new(
        source: S,
        chain: Box<dyn Output<S::Out>>,
        context: OperatorContext,
        settings: TaskSettings,
    ) -> Self {
        SourceTask {
            source,
            chain,
            context,
            settings,
        }
    }

    async fn run_loop(mut self, mut cancel: CancelSignal) -> Result<()> {
        let records = self
            .context
            .counter(&format!("{}.numRecordsOut", self.context.name));
        guarded(&self.context, || self.source.open(&self.context))?;
        self.chain.open()?;
        let mut pacer = Pacer::new(self.settings.clone());
        let mut idle = false;
        loop {
            flush(self.chain.as_mut(), &mut cancel).await?;
            let sleep_pt = pacer.sleep_processing(&self.chain);
            let sleep_flush = pacer.flush_deadline;
            let source = &mut self.source;
            let context = &self.context;
            tokio::select! {
                event = poll_fn(|cx| match guarded(context, || Ok(source.poll_next(cx))) {
                    Ok(Poll::Ready(r)) => Poll::Ready(r),
                    Ok(Poll::Pending) => Poll::Pending,
                    Err(e) => Poll::Ready(Err(e)),
                }) => {
                    let event = event.map_err(|e| match e {
                        e @ Error::UserCode { .. } => e,
                        other => Error::UserCode {
                            operator: context.name.clone(),
                            subtask: context.subtask,
                            message: other.to_string(),
                        },
                    })?;
                    match event {
                        SourceEvent::Batch(batch) => {
                            if idle {
                                idle = false;
                                self.chain.emit_status(WatermarkStatus::Active)?;
                            }
                            records.fetch_add(
                                eddy_core::Batch::num_rows(&batch) as u64,
                                std::sync::atomic::Ordering::Relaxed,
                            );
                            self.chain.collect(batch)?;
                        }
                        SourceEvent::Watermark(w) => self.chain.emit_watermark(w)?,
                        SourceEvent::Idle => {
                            if !idle {
                                idle = true;
                                self.chain.emit_status(WatermarkStatus::Idle)?;
                            }
                        }
                        SourceEvent::End => break,
                    }
                }
                _ = sleep_opt(sleep_pt) => {}
                _ = tokio::time::sleep_until(sleep_flush) => {}
                _ = cancel.cancelled() => return Err(Error::Cancelled),
            }
            pacer.after_event(self.chain.as_mut()).await?;
        }
        guarded(&self.context, || self.source.close())?;
        finish(self.chain.as_mut(), &mut cancel).await
    }
}

impl<S: SourceReader> Task for SourceTask<S> {
    fn run(
        self: Box<Self>,
        cancel: CancelSignal,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> {
        Box::pin(self.run_loop(cancel))
    }
}

/// The task of a one-input chain: an input gate feeding the chain's head.
pub struct OneInputTask<B: eddy_core::Batch> {
    gate: InputGate<B>,
    chain: Box<dyn Output<B>>,
    settings: TaskSettings,
}

impl<B: eddy_core::Batch> OneInputTask<B> {
    /// A one-input task.
    pub fn new(gate: InputGate<B>, chain: Box<dyn Output<B>>, settings: TaskSettings) -> Self {
        OneInputTask {
            gate,
            chain,
            settings,
        }
    }

    async fn run_loop(mut self, mut cancel: CancelSignal) -> Result<()> {
        self.chain.open()?;
        let mut pacer = Pacer::new(self.settings.clone());
        loop {
            flush(self.chain.as_mut(), &mut cancel).await?;
            let sleep_pt = pacer.sleep_processing(&self.chain);
            let sleep_flush = pacer.flush_deadline;
            let gate = &mut self.gate;
            tokio::select! {
                event = poll_fn(|cx| gate.poll_next(cx)) => match event {
                    InputEvent::Batch(batch) => self.chain.collect(batch)?,
                    InputEvent::Watermark(w) => {
                        if w == MAX_WATERMARK {
                            // The final watermark is sent by `finish`, after the
                            // end of every input.
                        } else {
                            self.chain.emit_watermark(w)?;
                        }
                    }
                    InputEvent::Status(s) => self.chain.emit_status(s)?,
                    InputEvent::End => break,
                    InputEvent::Disconnected => return Err(Error::Other(
                        "an upstream task stopped without finishing its output".into(),
                    )),
                },
                _ = sleep_opt(sleep_pt) => {}
                _ = tokio::time::sleep_until(sleep_flush) => {}
                _ = cancel.cancelled() => return Err(Error::Cancelled),
            }
            pacer.after_event(self.chain.as_mut()).await?;
        }
        finish(self.chain.as_mut(), &mut cancel).await
    }
}

impl<B: eddy_core::Batch> Task for OneInputTask<B> {
    fn run(
        self: Box<Self>,
        cancel: CancelSignal,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> {
        Box::pin(self.run_loop(cancel))
    }
}

/// A two-input operator as the head of a chain: the operator, its outputs and the
/// watermark of each input.
pub struct TwoInputHead<O: TwoInputOperator> {
    operator: O,
    next: Box<dyn Output<O::Out>>,
    sides: SideOutputs,
    context: OperatorContext,
    valve: WatermarkValve,
}

/// The task of a two-input chain.
pub struct TwoInputTask<O: TwoInputOperator> {
    gate1: InputGate<O::In1>,
    gate2: InputGate<O::In2>,
    head: TwoInputHead<O>,
    settings: TaskSettings,
}

impl<O: TwoInputOperator> TwoInputTask<O> {
    /// A two-input task.
    pub fn new(
        gate1: InputGate<O::In1>,
        gate2: InputGate<O::In2>,
        operator: O,
        next: Box<dyn Output<O::Out>>,
        sides: SideOutputs,
        context: OperatorContext,
        settings: TaskSettings,
    ) -> Self {
        TwoInputTask {
            gate1,
            gate2,
            head: TwoInputHead {
                operator,
                next,
                sides,
                context,
                valve: WatermarkValve::new(2),
            },
            settings,
        }
    }

    async fn run_loop(mut self, mut cancel: CancelSignal) -> Result<()> {
        {
            let h = &mut self.head;
            guarded(&h.context, || h.operator.open(&h.context))?;
            h.next.open()?;
        }
        let mut pacer = Pacer::new(self.settings.clone());
        let (mut done1, mut done2) = (false, false);
        while !(done1 && done2) {
            flush(self.head.next.as_mut(), &mut cancel).await?;
            for side in self.head.sides.all_mut() {
                let mut c = cancel.clone();
                tokio::select! {
                    r = poll_fn(|cx| side.poll_flush(cx)) => r?,
                    _ = c.cancelled() => return Err(Error::Cancelled),
                }
            }
            let own_pt = self.head.operator.next_processing_time();
            let sleep_pt = until(
                self.settings.clock.as_ref(),
                [own_pt, self.head.next.next_processing_time()]
                    .into_iter()
                    .flatten()
                    .min(),
            );
            let sleep_flush = pacer.flush_deadline;
            let (g1, g2) = (&mut self.gate1, &mut self.gate2);
            let h = &mut self.head;
            tokio::select! {
                event = poll_fn(|cx| g1.poll_next(cx)), if !done1 => {
                    match event {
                        InputEvent::Batch(b) => {
                            let TwoInputHead { operator, next, sides, context, .. } = h;
                            guarded(context, || operator.process_batch1(b, &mut Emitter::new(next.as_mut(), sides)))?;
                        }
                        InputEvent::Watermark(w) => h.on_watermark(0, Some(w), None)?,
                        InputEvent::Status(s) => h.on_watermark(0, None, Some(s))?,
                        InputEvent::End => { done1 = true; h.on_end(0)?; }
                        InputEvent::Disconnected => return Err(Error::Other("an upstream task stopped without finishing its output".into())),
                    }
                }
                event = poll_fn(|cx| g2.poll_next(cx)), if !done2 => {
                    match event {
                        InputEvent::Batch(b) => {
                            let TwoInputHead { operator, next, sides, context, .. } = h;
                            guarded(context, || operator.process_batch2(b, &mut Emitter::new(next.as_mut(), sides)))?;
                        }
                        InputEvent::Watermark(w) => h.on_watermark(1, Some(w), None)?,
                        InputEvent::Status(s) => h.on_watermark(1, None, Some(s))?,
                        InputEvent::End => { done2 = true; h.on_end(1)?; }
                        InputEvent::Disconnected => return Err(Error::Other("an upstream task stopped without finishing its output".into())),
                    }
                }
                _ = sleep_opt(sleep_pt) => {}
                _ = tokio::time::sleep_until(sleep_flush) => {}
                _ = cancel.cancelled() => return Err(Error::Cancelled),
            }
            let now = self.settings.clock.now_millis();
            if self
                .head
                .operator
                .next_processing_time()
                .is_some_and(|t| t <= now)
            {
                let TwoInputHead {
                    operator,
                    next,
                    sides,
                    context,
                    ..
                } = &mut self.head;
                guarded(context, || {
                    operator.on_processing_time(now, &mut Emitter::new(next.as_mut(), sides))
                })?;
            }
            for side in self.head.sides.all_mut() {
                side.flush_buffers();
            }
            pacer.after_event(self.head.next.as_mut()).await?;
        }
        let TwoInputHead {
            operator,
            next,
            sides,
            context,
            ..
        } = &mut self.head;
        guarded(context, || {
            let mut out = Emitter::new(next.as_mut(), sides);
            operator.process_watermark(MAX_WATERMARK, &mut out)?;
            operator.end_input(&mut out)
        })?;
        next.end_input()?;
        guarded(context, || operator.close())?;
        for side in sides.all_mut() {
            side.end_input()?;
            side.close()?;
            let mut c = cancel.clone();
            tokio::select! {
                r = poll_fn(|cx| side.poll_flush(cx)) => r?,
                _ = c.cancelled() => return Err(Error::Cancelled),
            }
        }
        next.close()?;
        flush(next.as_mut(), &mut cancel).await
    }
}

impl<O: TwoInputOperator> TwoInputHead<O> {
    fn on_watermark(
        &mut self,
        input: usize,
        watermark: Option<i64>,
        status: Option<WatermarkStatus>,
    ) -> Result<()> {
        let advanced = match (watermark, status) {
            (Some(w), _) => self.valve.on_watermark(input, w),
            (None, Some(s)) => self.valve.on_status(input, s).0,
            (None, None) => None,
        };
        self.forward(advanced)
    }

    fn on_end(&mut self, input: usize) -> Result<()> {
        let advanced = self.valve.on_end(input).0;
        self.forward(advanced)
    }

    fn forward(&mut self, advanced: Option<i64>) -> Result<()> {
        match advanced {
            Some(w) if w != MAX_WATERMARK => {
                let TwoInputHead {
                    operator,
                    next,
                    sides,
                    context,
                    ..
                } = self;
                guarded(context, || {
                    operator.process_watermark(w, &mut Emitter::new(next.as_mut(), sides))
                })
            }
            _ => Ok(()),
        }
    }
}

impl<O: TwoInputOperator> Task for TwoInputTask<O> {
    fn run(
        self: Box<Self>,
        cancel: CancelSignal,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> {
        Box::pin(self.run_loop(cancel))
    }
}
