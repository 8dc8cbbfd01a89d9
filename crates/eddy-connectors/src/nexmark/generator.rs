//! [`NexmarkGenerator`]: iteration over (a split of) the event stream, with positions for
//! checkpointing.

use std::iter::FusedIterator;

use super::config::NexmarkConfig;
use super::events;
use super::model::Event;
use super::rng::seed_key;

/// A deterministic Nexmark event stream, or one split of it.
///
/// Events are numbered `0, 1, 2, …` (the *global event number*); event `n` — its kind, ids,
/// timestamp and every random field — is a pure function of `(config, n)`.
///
/// **Splits are interleaved**: split `i` of `k` produces the event numbers
/// `i, i + k, i + 2k, …` (below `max_events`, if set). The `k` splits together therefore
/// produce exactly the events of the unsplit generator, and every split advances through
/// event time at the same pace (each at `first_event_rate / k` events per second), which
/// keeps per-split watermarks close together. Each split's timestamps are non-decreasing.
///
/// **Positions**: [`next_event_number`](Self::next_event_number) is the global number of the
/// next event this generator will produce; store it in a checkpoint and pass it to
/// [`seek`](Self::seek) or [`from_position`](Self::from_position) (with the same config and
/// split layout) to resume with the identical continuation.
#[derive(Debug, Clone)]
pub struct NexmarkGenerator {
    config: NexmarkConfig,
    /// `seed_key(config.seed)`, cached.
    key: u64,
    split_index: u64,
    num_splits: u64,
    /// Global number of the next event to produce; always `≡ split_index (mod num_splits)`
    /// unless past the end.
    next: u64,
    /// Exclusive end of the global event numbers (`u64::MAX` if unbounded).
    end: u64,
}

impl NexmarkGenerator {
    /// The whole (unsplit) stream, starting at event 0.
    pub fn new(config: NexmarkConfig) -> Self {
        Self::new_split(config, 0, 1)
    }

    /// Split `split_index` of `num_splits` (see the type docs), starting at its first event.
    ///
    /// # Panics
    ///
    /// If `num_splits == 0` or `split_index >= num_splits`.
    pub fn new_split(config: NexmarkConfig, split_index: usize, num_splits: usize) -> Self {
        Self::from_position(config, split_index, num_splits, 0)
    }

    /// Split `split_index` of `num_splits`, resuming at global event number `position`
    /// (as returned by [`next_event_number`](Self::next_event_number)); see
    /// [`seek`](Self::seek).
    ///
    /// # Panics
    ///
    /// If `num_splits == 0` or `split_index >= num_splits`.
    pub fn from_position(
        config: NexmarkConfig,
        split_index: usize,
        num_splits: usize,
        position: u64,
    ) -> Self {
        assert!(
            split_index < num_splits,
            "nexmark split index {split_index} out of range for {num_splits} splits"
        );
        let mut generator = Self {
            key: seed_key(config.seed),
            end: config.max_events.unwrap_or(u64::MAX),
            config,
            split_index: split_index as u64,
            num_splits: num_splits as u64,
            next: 0,
        };
        generator.seek(position);
        generator
    }

    /// All `num_splits` splits of the stream, in split-index order.
    ///
    /// # Panics
    ///
    /// If `num_splits == 0`.
    pub fn splits(config: &NexmarkConfig, num_splits: usize) -> Vec<Self> {
        assert!(num_splits > 0, "nexmark needs at least one split");
        (0..num_splits)
            .map(|i| Self::new_split(config.clone(), i, num_splits))
            .collect()
    }

    /// The configuration.
    pub fn config(&self) -> &NexmarkConfig {
        &self.config
    }

    /// Index of this split (0 for an unsplit generator).
    pub fn split_index(&self) -> usize {
        self.split_index as usize
    }

    /// Number of splits the stream is divided into (1 for an unsplit generator).
    pub fn num_splits(&self) -> usize {
        self.num_splits as usize
    }

    /// Global event number of the next event this generator will produce: its position,
    /// for checkpointing. At or past `max_events` once the generator is exhausted.
    pub fn next_event_number(&self) -> u64 {
        self.next
    }

    /// Moves to global event number `position`: the next event produced is the first one
    /// of this split numbered `>= position`. Seeking to a value previously returned by
    /// [`next_event_number`](Self::next_event_number) resumes exactly; seeking backwards
    /// replays events.
    pub fn seek(&mut self, position: u64) {
        let rem = position % self.num_splits;
        let aligned = if rem <= self.split_index {
            Some(position - rem + self.split_index)
        } else {
            (position - rem + self.split_index).checked_add(self.num_splits)
        };
        self.next = aligned.unwrap_or(u64::MAX);
    }

    /// Event time (ms since the Unix epoch) of the next event, or `None` if exhausted.
    /// Useful for emitting watermarks: all later events of this generator are at or after it.
    pub fn next_timestamp(&self) -> Option<i64> {
        (self.next < self.end).then(|| self.config.timestamp_for_event(self.next))
    }

    /// Generates global event number `event_number` (whether or not it belongs to this
    /// split) without moving the generator.
    pub fn event_at(&self, event_number: u64) -> Event {
        events::event(&self.config, self.key, event_number)
    }

    /// Number of events this generator will still produce, if bounded.
    fn remaining(&self) -> Option<u64> {
        self.config.max_events?;
        Some(if self.next >= self.end {
            0
        } else {
            (self.end - self.next - 1) / self.num_splits + 1
        })
    }
}

impl Iterator for NexmarkGenerator {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        if self.next >= self.end {
            return None;
        }
        let event = self.event_at(self.next);
        self.next = self.next.saturating_add(self.num_splits);
        Some(event)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.remaining().map(usize::try_from) {
            Some(Ok(n)) => (n, Some(n)),
            Some(Err(_)) => (usize::MAX, None),
            None => (usize::MAX, None),
        }
    }
}

impl FusedIterator for NexmarkGenerator {}
