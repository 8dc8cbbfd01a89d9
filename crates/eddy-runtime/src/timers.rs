//! Timers per key and namespace, in event time and processing time.
//!
//! A timer is `(timestamp, key, namespace)`; registering the same timer twice keeps
//! one. Timers fire in timestamp order (ties in registration order): event-time
//! timers when the watermark passes them, processing-time timers when the clock
//! does. Deleted timers are skipped lazily.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::hash::{BuildHasherDefault, Hash};

use eddy_core::key_group::StableHasher;

use eddy_core::Timestamp;
use serde::{Deserialize, Serialize};

/// One timer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Timer<K, N> {
    /// When it fires.
    pub timestamp: Timestamp,
    /// The key it belongs to.
    pub key: K,
    /// Its namespace (a window, or `()`).
    pub namespace: N,
}

type FastSet<T> = HashSet<T, BuildHasherDefault<StableHasher>>;

/// A heap entry, ordered by (timestamp, registration order) only.
#[derive(Debug)]
struct Entry<K, N> {
    timestamp: Timestamp,
    seq: u64,
    key: K,
    namespace: N,
}

impl<K, N> PartialEq for Entry<K, N> {
    fn eq(&self, other: &Self) -> bool {
        (self.timestamp, self.seq) == (other.timestamp, other.seq)
    }
}
impl<K, N> Eq for Entry<K, N> {}
impl<K, N> PartialOrd for Entry<K, N> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<K, N> Ord for Entry<K, N> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.timestamp, self.seq).cmp(&(other.timestamp, other.seq))
    }
}

#[derive(Debug)]
struct Queue<K, N> {
    heap: BinaryHeap<Reverse<Entry<K, N>>>,
    registered: FastSet<(Timestamp, K, N)>,
    seq: u64,
    /// The timer registered last: registering it again (the common case of a
    /// window's trigger and cleanup timers) costs one comparison.
    last: Option<(Timestamp, K, N)>,
}

impl<K: Hash + Eq + Clone, N: Hash + Eq + Clone> Queue<K, N> {
    fn new() -> Self {
        Queue {
            heap: BinaryHeap::new(),
            registered: FastSet::default(),
            seq: 0,
            last: None,
        }
    }

    fn register(&mut self, timestamp: Timestamp, key: &K, namespace: &N) {
        if let Some((t, k, n)) = &self.last {
            if *t == timestamp && k == key && n == namespace {
                return;
            }
        }
        self.last = Some((timestamp, key.clone(), namespace.clone()));
        if self
            .registered
            .insert((timestamp, key.clone(), namespace.clone()))
        {
            self.seq += 1;
            self.heap.push(Reverse(Entry {
                timestamp,
                seq: self.seq,
                key: key.clone(),
                namespace: namespace.clone(),
            }));
        }
    }

    fn delete(&mut self, timestamp: Timestamp, key: &K, namespace: &N) {
        self.last = None;
        self.registered
            .remove(&(timestamp, key.clone(), namespace.clone()));
    }

    /// Drops deleted entries from the top of the heap; returns the live top's time.
    fn peek(&mut self) -> Option<Timestamp> {
        loop {
            let top = self.heap.peek()?;
            let e = &top.0;
            // Cloning for the lookup is cheap next to the heap operation; the
            // registered set is the truth, the heap may hold deleted entries.
            if self
                .registered
                .contains(&(e.timestamp, e.key.clone(), e.namespace.clone()))
            {
                return Some(e.timestamp);
            }
            self.heap.pop();
        }
    }

    fn pop_due(&mut self, upto: Timestamp) -> Option<Timer<K, N>> {
        let ts = self.peek()?;
        if ts > upto {
            return None;
        }
        let Reverse(e) = self.heap.pop()?;
        self.last = None;
        self.registered
            .remove(&(e.timestamp, e.key.clone(), e.namespace.clone()));
        Some(Timer {
            timestamp: e.timestamp,
            key: e.key,
            namespace: e.namespace,
        })
    }

    fn all(&self) -> Vec<Timer<K, N>> {
        let mut timers: Vec<_> = self
            .registered
            .iter()
            .map(|(ts, k, n)| Timer {
                timestamp: *ts,
                key: k.clone(),
                namespace: n.clone(),
            })
            .collect();
        timers.sort_by_key(|t| t.timestamp);
        timers
    }

    fn len(&self) -> usize {
        self.registered.len()
    }
}

/// The timers of one keyed operator subtask.
#[derive(Debug)]
pub struct TimerService<K, N> {
    event_time: Queue<K, N>,
    processing_time: Queue<K, N>,
    current_watermark: Timestamp,
}

/// The timers of a [`TimerService`], for snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerSnapshot<K, N> {
    /// Event-time timers.
    pub event_time: Vec<Timer<K, N>>,
    /// Processing-time timers.
    pub processing_time: Vec<Timer<K, N>>,
}

impl<K: Hash + Eq + Clone, N: Hash + Eq + Clone> TimerService<K, N> {
    /// An empty timer service at the minimum watermark.
    pub fn new() -> Self {
        TimerService {
            event_time: Queue::new(),
            processing_time: Queue::new(),
            current_watermark: eddy_core::MIN_WATERMARK,
        }
    }

    /// The current watermark as seen by the timers.
    pub fn current_watermark(&self) -> Timestamp {
        self.current_watermark
    }

    /// Registers an event-time timer.
    pub fn register_event_time_timer(&mut self, timestamp: Timestamp, key: &K, namespace: &N) {
        self.event_time.register(timestamp, key, namespace);
    }

    /// Deletes an event-time timer, if registered.
    pub fn delete_event_time_timer(&mut self, timestamp: Timestamp, key: &K, namespace: &N) {
        self.event_time.delete(timestamp, key, namespace);
    }

    /// Registers a processing-time timer.
    pub fn register_processing_time_timer(&mut self, timestamp: Timestamp, key: &K, namespace: &N) {
        self.processing_time.register(timestamp, key, namespace);
    }

    /// Deletes a processing-time timer, if registered.
    pub fn delete_processing_time_timer(&mut self, timestamp: Timestamp, key: &K, namespace: &N) {
        self.processing_time.delete(timestamp, key, namespace);
    }

    /// Sets the watermark that [`TimerService::pop_event_time`] fires up to.
    pub fn advance_watermark(&mut self, watermark: Timestamp) {
        if watermark > self.current_watermark {
            self.current_watermark = watermark;
        }
    }

    /// The next event-time timer at or before the current watermark, removed.
    pub fn pop_event_time(&mut self) -> Option<Timer<K, N>> {
        self.event_time.pop_due(self.current_watermark)
    }

    /// The next processing-time timer at or before `now`, removed.
    pub fn pop_processing_time(&mut self, now: Timestamp) -> Option<Timer<K, N>> {
        self.processing_time.pop_due(now)
    }

    /// When the earliest processing-time timer is due.
    pub fn next_processing_time(&mut self) -> Option<Timestamp> {
        self.processing_time.peek()
    }

    /// When the earliest processing-time timer is due, possibly earlier than the
    /// real one when the earliest was deleted (firing then finds nothing due).
    pub fn peek_processing_time(&self) -> Option<Timestamp> {
        self.processing_time.heap.peek().map(|r| r.0.timestamp)
    }

    /// The number of registered timers (both kinds).
    pub fn len(&self) -> usize {
        self.event_time.len() + self.processing_time.len()
    }

    /// Whether no timer is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every registered timer, for a snapshot.
    pub fn snapshot(&self) -> TimerSnapshot<K, N> {
        TimerSnapshot {
            event_time: self.event_time.all(),
            processing_time: self.processing_time.all(),
        }
    }

    /// Registers every timer of `snapshot` for which `keep` is true (the keys of
    /// this subtask's key groups).
    pub fn restore(&mut self, snapshot: TimerSnapshot<K, N>, keep: impl Fn(&K) -> bool) {
        for t in snapshot.event_time.into_iter().filter(|t| keep(&t.key)) {
            self.register_event_time_timer(t.timestamp, &t.key, &t.namespace);
        }
        for t in snapshot
            .processing_time
            .into_iter()
            .filter(|t| keep(&t.key))
        {
            self.register_processing_time_timer(t.timestamp, &t.key, &t.namespace);
        }
    }
}

impl<K: Hash + Eq + Clone, N: Hash + Eq + Clone> Default for TimerService<K, N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fire_in_order_deduplicated_and_deletable() {
        let mut timers: TimerService<u32, ()> = TimerService::new();
        timers.register_event_time_timer(30, &1, &());
        timers.register_event_time_timer(10, &2, &());
        timers.register_event_time_timer(10, &2, &());
        timers.register_event_time_timer(20, &3, &());
        timers.delete_event_time_timer(20, &3, &());
        timers.register_event_time_timer(20, &4, &());
        assert_eq!(timers.len(), 3);
        timers.advance_watermark(25);
        let fired: Vec<_> = std::iter::from_fn(|| timers.pop_event_time())
            .map(|t| (t.timestamp, t.key))
            .collect();
        assert_eq!(fired, vec![(10, 2), (20, 4)]);
        timers.advance_watermark(i64::MAX);
        assert_eq!(timers.pop_event_time().map(|t| t.key), Some(1));
        assert!(timers.is_empty());
    }

    #[test]
    fn delete_then_register_fires_once() {
        let mut timers: TimerService<u32, ()> = TimerService::new();
        timers.register_processing_time_timer(5, &1, &());
        timers.delete_processing_time_timer(5, &1, &());
        timers.register_processing_time_timer(5, &1, &());
        assert_eq!(timers.next_processing_time(), Some(5));
        assert!(timers.pop_processing_time(5).is_some());
        assert!(timers.pop_processing_time(5).is_none());
    }
}
