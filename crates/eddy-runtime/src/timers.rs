//! Timers per key and namespace, in event time and processing time.
//!
//! A timer is `(timestamp, key, namespace)`; registering the same timer twice keeps
//! one. Timers fire in timestamp order (ties in registration order): event-time
//! timers when the watermark passes them, processing-time timers when the clock
//! does. Deleted timers are skipped lazily.

use std::collections::{BTreeMap, VecDeque};
use std::hash::{Hash, Hasher};

use eddy_core::key_group::StableHasher;
use hashbrown::HashTable;

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

/// A live timer in its slot, with its registration order and its hash.
#[derive(Debug)]
struct Slot<K, N> {
    timestamp: Timestamp,
    key: K,
    namespace: N,
    seq: u64,
    hash: u64,
}

impl<K: Eq, N: Eq> Slot<K, N> {
    fn is(&self, timestamp: Timestamp, key: &K, namespace: &N) -> bool {
        self.timestamp == timestamp && self.key == *key && self.namespace == *namespace
    }
}

/// The hash a timer is found by.
fn timer_hash<K: Hash, N: Hash>(timestamp: Timestamp, key: &K, namespace: &N) -> u64 {
    let mut hasher = StableHasher::default();
    timestamp.hash(&mut hasher);
    key.hash(&mut hasher);
    namespace.hash(&mut hasher);
    hasher.finish()
}

/// The timers of one kind. Each timer is stored once, in a slot; `index` finds
/// a slot by the timer's value (hashing and comparing borrowed keys, so a
/// lookup clones nothing), and `due` lists the `(registration order, slot)`
/// pairs of each timestamp in registration order, so ordering neither clones
/// nor compares keys, and the many timers of one window end (one per key) pop
/// in constant time each. Popping a timer moves its key out and drops its
/// index entry by the stored hash, comparing slot numbers only. Deleting a
/// timer empties its slot; `due` drops entries of emptied slots when they come
/// first.
#[derive(Debug)]
struct Queue<K, N> {
    due: BTreeMap<Timestamp, VecDeque<(u64, usize)>>,
    /// Entries in `due`, live or not.
    queued: usize,
    slots: Vec<Option<Slot<K, N>>>,
    free: Vec<usize>,
    index: HashTable<usize>,
    seq: u64,
    /// The slot of the timer registered last: registering it again (the
    /// common case of a window's trigger and cleanup timers) costs one
    /// comparison.
    last: Option<usize>,
}

impl<K: Hash + Eq + Clone, N: Hash + Eq + Clone> Queue<K, N> {
    fn new() -> Self {
        Queue {
            due: BTreeMap::new(),
            queued: 0,
            slots: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            seq: 0,
            last: None,
        }
    }

    /// The slot of a registered timer.
    fn find(&self, hash: u64, timestamp: Timestamp, key: &K, namespace: &N) -> Option<usize> {
        let slots = &self.slots;
        self.index
            .find(hash, |&i| {
                slots[i]
                    .as_ref()
                    .is_some_and(|s| s.is(timestamp, key, namespace))
            })
            .copied()
    }

    fn register(&mut self, timestamp: Timestamp, key: &K, namespace: &N) {
        let last = self.last.and_then(|slot| self.slots[slot].as_ref());
        if last.is_some_and(|s| s.is(timestamp, key, namespace)) {
            return;
        }
        let hash = timer_hash(timestamp, key, namespace);
        if let Some(slot) = self.find(hash, timestamp, key, namespace) {
            self.last = Some(slot);
            return;
        }
        self.seq += 1;
        let slot = Slot {
            timestamp,
            key: key.clone(),
            namespace: namespace.clone(),
            seq: self.seq,
            hash,
        };
        let index = match self.free.pop() {
            Some(index) => {
                self.slots[index] = Some(slot);
                index
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        let slots = &self.slots;
        self.index
            .insert_unique(hash, index, |&i| slots[i].as_ref().map_or(0, |s| s.hash));
        self.due
            .entry(timestamp)
            .or_default()
            .push_back((self.seq, index));
        self.queued += 1;
        self.last = Some(index);
    }

    fn delete(&mut self, timestamp: Timestamp, key: &K, namespace: &N) {
        let hash = timer_hash(timestamp, key, namespace);
        let Some(index) = self.find(hash, timestamp, key, namespace) else {
            return;
        };
        self.unindex(hash, index);
        self.release(index);
        // Entries of deleted timers wait for their turn; never let them
        // outnumber the live ones.
        if self.queued > 2 * self.index.len() + 1024 {
            let slots = &self.slots;
            self.due.retain(|_, entries| {
                entries.retain(|&(seq, index)| slots[index].as_ref().is_some_and(|s| s.seq == seq));
                !entries.is_empty()
            });
            self.queued = self.due.values().map(VecDeque::len).sum();
        }
    }

    /// Drops the index entry of slot `index`, found by its hash.
    fn unindex(&mut self, hash: u64, index: usize) {
        if let Ok(entry) = self.index.find_entry(hash, |&i| i == index) {
            entry.remove();
        }
    }

    /// Empties a slot; its entry in `due` goes when it comes first.
    fn release(&mut self, index: usize) -> Option<Slot<K, N>> {
        if self.last == Some(index) {
            self.last = None;
        }
        let slot = self.slots[index].take();
        self.free.push(index);
        slot
    }

    /// Drops deleted entries from the front of `due`; returns the first live
    /// timer's time and slot.
    fn first(&mut self) -> Option<(Timestamp, usize)> {
        loop {
            let mut first = self.due.first_entry()?;
            let timestamp = *first.key();
            let entries = first.get_mut();
            while let Some(&(seq, index)) = entries.front() {
                // An emptied slot, or one emptied and used again, is skipped.
                if self.slots[index].as_ref().is_some_and(|s| s.seq == seq) {
                    return Some((timestamp, index));
                }
                entries.pop_front();
                self.queued -= 1;
            }
            first.remove();
        }
    }

    /// When the first live timer is due.
    fn peek(&mut self) -> Option<Timestamp> {
        self.first().map(|(timestamp, _)| timestamp)
    }

    fn pop_due(&mut self, upto: Timestamp) -> Option<Timer<K, N>> {
        let (timestamp, index) = self.first()?;
        if timestamp > upto {
            return None;
        }
        if let Some(mut first) = self.due.first_entry() {
            first.get_mut().pop_front();
            self.queued -= 1;
            if first.get().is_empty() {
                first.remove();
            }
        }
        let slot = self.release(index)?;
        self.unindex(slot.hash, index);
        Some(Timer {
            timestamp: slot.timestamp,
            key: slot.key,
            namespace: slot.namespace,
        })
    }

    fn all(&self) -> Vec<Timer<K, N>> {
        let mut live: Vec<&Slot<K, N>> = self.slots.iter().flatten().collect();
        live.sort_by_key(|s| (s.timestamp, s.seq));
        live.into_iter()
            .map(|s| Timer {
                timestamp: s.timestamp,
                key: s.key.clone(),
                namespace: s.namespace.clone(),
            })
            .collect()
    }

    fn len(&self) -> usize {
        self.index.len()
    }

    /// The time of the first entry in `due`, live or not.
    fn top_time(&self) -> Option<Timestamp> {
        self.due.keys().next().copied()
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
        self.processing_time.top_time()
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
    fn deleted_timers_do_not_pile_up_and_slots_are_reused() {
        let mut timers: TimerService<u32, u32> = TimerService::new();
        for n in 0..10_000u32 {
            timers.register_event_time_timer(i64::from(n), &7, &n);
            if n > 0 {
                timers.delete_event_time_timer(i64::from(n - 1), &7, &(n - 1));
            }
        }
        assert_eq!(timers.len(), 1);
        // One live timer: at most 2 + 1024 entries before a compaction.
        assert!(timers.event_time.queued <= 2 + 1024 + 1);
        assert!(timers.event_time.slots.len() <= 2);
        assert_eq!(timers.snapshot().event_time.len(), 1);
        timers.advance_watermark(i64::MAX);
        let fired: Vec<_> = std::iter::from_fn(|| timers.pop_event_time()).collect();
        assert_eq!(fired.len(), 1);
        assert_eq!((fired[0].timestamp, fired[0].namespace), (9_999, 9_999));
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
