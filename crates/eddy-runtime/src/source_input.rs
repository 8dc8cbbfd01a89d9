//! A source as the input of a task: its reader's batches, watermarks and
//! idleness, and the checkpoint triggers of the coordinator turned into
//! barriers carrying the reader's position, as [`InputEvent`]s for the one
//! task loop ([`InputTask`](crate::task::InputTask)).
//!
//! When the reader ends, the source hands out its end of data (the chain then
//! ends its data: the final watermark and every operator's end of input);
//! without checkpointing it ends at once, with it it
//! tells the coordinator and keeps answering triggers until the final
//! checkpoint (triggered once every source ended; it commits every sink) has
//! completed, and only then ends: the coordinator's checkpoints count on every
//! source until then. A trigger with `drain` (stop with a savepoint) ends the
//! input first, and its savepoint is the final checkpoint.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use eddy_core::{Error, Result, WatermarkStatus};
use tokio::sync::mpsc;

use crate::chain::{guarded, subtask_state};
use crate::checkpoint::OperatorSubtaskState;
use crate::input::InputEvent;
use crate::operator::{OperatorContext, OperatorSnapshot};
use crate::source::{SourceEvent, SourceReader};
use crate::task::{SourceTrigger, TaskInput};

/// A source and its triggers; see the module docs.
pub struct SourceInput<S: SourceReader> {
    source: S,
    context: OperatorContext,
    records_out: Arc<AtomicU64>,
    triggers: Option<mpsc::UnboundedReceiver<SourceTrigger>>,
    /// Tells the JobMaster the reader ended (with checkpointing).
    on_end: Option<Box<dyn Fn() + Send>>,
    idle: bool,
    /// The reader ended (or was drained).
    finished: bool,
    /// The final checkpoint; the source ends once it completed.
    final_checkpoint: Option<u64>,
    done: bool,
    pending: VecDeque<InputEvent<S::Out>>,
}

impl<S: SourceReader> SourceInput<S> {
    /// The input of `source`: `triggers` and `on_end` are there with
    /// checkpointing.
    pub fn new(
        source: S,
        context: OperatorContext,
        triggers: Option<mpsc::UnboundedReceiver<SourceTrigger>>,
        on_end: Option<Box<dyn Fn() + Send>>,
    ) -> Self {
        SourceInput {
            records_out: context.metric("numRecordsOut"),
            source,
            context,
            triggers,
            on_end,
            idle: false,
            finished: false,
            final_checkpoint: None,
            done: false,
            pending: VecDeque::new(),
        }
    }

    fn end(&mut self) {
        self.finished = true;
        self.pending.push_back(InputEvent::EndOfData(0));
    }

    /// The reader's next event, as the task's.
    fn on_source_event(&mut self, event: SourceEvent<S::Out>) -> Option<InputEvent<S::Out>> {
        match event {
            SourceEvent::Batch(batch) => {
                self.records_out
                    .fetch_add(eddy_core::Batch::num_rows(&batch) as u64, Ordering::Relaxed);
                if self.idle {
                    self.idle = false;
                    self.pending
                        .push_back(InputEvent::Status(0, WatermarkStatus::Active));
                }
                self.pending.push_back(InputEvent::Batch(batch));
            }
            SourceEvent::Watermark(w) => return Some(InputEvent::Watermark(0, w)),
            SourceEvent::Idle => {
                if !self.idle {
                    self.idle = true;
                    return Some(InputEvent::Status(0, WatermarkStatus::Idle));
                }
            }
            SourceEvent::End => {
                self.end();
                match &self.on_end {
                    Some(tell) => tell(),
                    None => self.pending.push_back(InputEvent::End),
                }
            }
        }
        self.pending.pop_front()
    }

    /// Queues the barrier of `trigger` (after the end of data, to drain).
    fn on_trigger(&mut self, trigger: SourceTrigger) {
        if trigger.drain && !self.finished {
            self.end();
        }
        if (trigger.is_final || trigger.drain) && self.final_checkpoint.is_none() {
            self.final_checkpoint = Some(trigger.barrier.checkpoint_id);
        }
        self.pending.push_back(InputEvent::Barrier(trigger.barrier));
    }

    fn poll_source(&mut self, cx: &mut Context<'_>) -> Poll<Result<SourceEvent<S::Out>>> {
        let Self {
            source, context, ..
        } = self;
        let polled = match guarded(context, || Ok(source.poll_next(cx))) {
            Ok(Poll::Ready(r)) => r,
            Ok(Poll::Pending) => return Poll::Pending,
            Err(e) => Err(e),
        };
        Poll::Ready(polled.map_err(|e| match e {
            e @ (Error::UserCode { .. } | Error::External(_)) => e,
            other => Error::UserCode {
                operator: context.name.clone(),
                subtask: context.subtask,
                message: other.to_string(),
            },
        }))
    }
}

impl<S: SourceReader> TaskInput<S::Out> for SourceInput<S> {
    fn open(&mut self) -> Result<()> {
        let Self {
            source, context, ..
        } = self;
        let restored = context.take_restored_snapshots();
        guarded(context, || {
            if let Some(snapshots) = restored {
                source.restore_positions(snapshots.into_iter().map(|s| s.operator).collect())?;
            }
            source.open(context)
        })
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Result<InputEvent<S::Out>>> {
        if self.pending.is_empty() && !self.done {
            if let Some(triggers) = self.triggers.as_mut() {
                if let Poll::Ready(Some(trigger)) = triggers.poll_recv(cx) {
                    self.on_trigger(trigger);
                }
            }
        }
        if let Some(event) = self.pending.pop_front() {
            return Poll::Ready(Ok(event));
        }
        if self.done {
            return Poll::Ready(Ok(InputEvent::End));
        }
        while !self.finished {
            match self.poll_source(cx) {
                Poll::Pending => break,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(event)) => {
                    if let Some(event) = self.on_source_event(event) {
                        return Poll::Ready(Ok(event));
                    }
                }
            }
        }
        Poll::Pending
    }

    fn snapshot(&mut self, checkpoint_id: u64) -> Result<Option<OperatorSubtaskState>> {
        let Self {
            source, context, ..
        } = self;
        let position = guarded(context, || source.snapshot_position_for(checkpoint_id))?;
        Ok(subtask_state(
            context,
            OperatorSnapshot {
                operator: position,
                ..Default::default()
            },
        ))
    }

    fn aligned_since(&self) -> Option<Instant> {
        None
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        let Self {
            source, context, ..
        } = self;
        guarded(context, || source.notify_checkpoint_complete(checkpoint_id))?;
        if self.final_checkpoint.is_some_and(|f| checkpoint_id >= f) {
            self.done = true;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        let Self {
            source, context, ..
        } = self;
        guarded(context, || source.close())
    }
}
