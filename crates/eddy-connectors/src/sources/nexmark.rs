//! The Nexmark event generator as a source.

use std::sync::Arc;

use crate::nexmark::{Event, NexmarkConfig, NexmarkGenerator};

use super::indexed::IndexedSource;

/// Emits Nexmark events (persons, auctions and bids, 1:3:46) with their event time
/// as the record timestamp. Event `n` depends only on the seed and `n`, so every
/// parallelism, and every restore, produces the same events.
pub struct NexmarkSource;

impl NexmarkSource {
    /// A source over the events `config` describes.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(config: NexmarkConfig) -> IndexedSource<Event> {
        let count = config.max_events;
        let generator = NexmarkGenerator::new(config);
        IndexedSource::new(
            Arc::new(move |n| {
                let event = generator.event_at(n);
                let ts = event.timestamp();
                (event, Some(ts))
            }),
            count,
        )
    }
}
