//! The Nexmark event generator as a source.

use std::task::{Context, Poll};

use eddy_core::{Records, Result, StreamRecord};
use eddy_runtime::{OperatorContext, SourceEvent, SourceReader};

use crate::nexmark::{Event, NexmarkConfig, NexmarkGenerator};

/// Emits Nexmark events (persons, auctions and bids, 1:3:46) with their event time
/// as the record timestamp. Subtasks split the event numbers, so every parallelism
/// produces the same events.
pub struct NexmarkSource {
    config: NexmarkConfig,
    generator: Option<NexmarkGenerator>,
    batch_size: usize,
}

impl NexmarkSource {
    /// A source over the events `config` describes.
    pub fn new(config: NexmarkConfig) -> Self {
        NexmarkSource {
            config,
            generator: None,
            batch_size: 1024,
        }
    }
}

impl SourceReader for NexmarkSource {
    type Out = Records<Event>;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.generator = Some(NexmarkGenerator::new_split(
            self.config.clone(),
            ctx.subtask,
            ctx.parallelism.max(1),
        ));
        self.batch_size = super::batch_size(ctx);
        Ok(())
    }

    fn poll_next(&mut self, _: &mut Context<'_>) -> Poll<Result<SourceEvent<Records<Event>>>> {
        let Some(generator) = self.generator.as_mut() else {
            return Poll::Ready(Ok(SourceEvent::End));
        };
        let batch: Vec<_> = generator
            .by_ref()
            .take(self.batch_size)
            .map(|event| {
                let ts = event.timestamp();
                StreamRecord::with_timestamp(event, ts)
            })
            .collect();
        Poll::Ready(Ok(if batch.is_empty() {
            SourceEvent::End
        } else {
            SourceEvent::Batch(batch)
        }))
    }
}
