//! Session window state in memory: each key's open sessions, and the sessions
//! in the order they end.
//!
//! A row opens the session `[ts, ts + gap)`, which absorbs every open session
//! of its key that it overlaps or touches (Flink's merging windows, the
//! runtime's [`merge_sessions`], as for the DataStream API). Sessions
//! are found by one probe on the key and fire when the watermark passes their
//! end, from an ordered set of (end, registration) entries: no timer per session
//! to look up, move or delete by key. At a checkpoint the sessions are written
//! in the keyed-state and timer layout of window aggregation
//! ([`crate::exec::window_panes`]), and read back on restore.

use std::collections::BTreeSet;

use eddy_core::Timestamp;
use eddy_runtime::window::{merge_sessions, Merge, TimeWindow};
use hashbrown::HashTable;

use crate::exec::accum::Acc;
use crate::exec::aggs::Aggs;
use crate::exec::window_panes::key_hash;

/// One open session and its accumulators.
pub struct Session {
    /// The session's extent.
    pub window: TimeWindow,
    /// The accumulators of its rows.
    pub accs: Vec<Acc>,
}

struct KeySessions {
    key: Vec<u8>,
    hash: u64,
    sessions: Vec<Session>,
}

/// The open sessions of every key.
#[derive(Default)]
pub struct SessionPanes {
    index: HashTable<u32>,
    slots: Vec<Option<KeySessions>>,
    free: Vec<u32>,
    /// (end, registration, slot, start) of every open session.
    ends: BTreeSet<(Timestamp, u64, u32, Timestamp)>,
    registrations: u64,
}

impl SessionPanes {
    fn slot(&self, key: &[u8], hash: u64) -> Option<u32> {
        let slots = &self.slots;
        self.index
            .find(hash, |&s| {
                slots[s as usize].as_ref().is_some_and(|k| k.key == key)
            })
            .copied()
    }

    fn add_slot(&mut self, key: &[u8], hash: u64) -> u32 {
        let entry = KeySessions {
            key: key.to_vec(),
            hash,
            sessions: Vec::new(),
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(entry);
                slot
            }
            None => {
                self.slots.push(Some(entry));
                (self.slots.len() - 1) as u32
            }
        };
        let slots = &self.slots;
        self.index.insert_unique(hash, slot, |&s| {
            slots[s as usize].as_ref().map_or(0, |k| k.hash)
        });
        slot
    }

    fn register(&mut self, slot: u32, window: TimeWindow) {
        self.registrations += 1;
        self.ends
            .insert((window.end, self.registrations, slot, window.start));
    }

    /// Merges `window` into `key`'s sessions and returns the accumulators of
    /// the session it is now part of, for the rows of `window` to be added;
    /// `None` (and nothing changed) when that session ended at or before the
    /// watermark, so the rows are late.
    pub fn merge(
        &mut self,
        key: &[u8],
        window: TimeWindow,
        watermark: Timestamp,
        aggs: &Aggs,
    ) -> Option<&mut [Acc]> {
        let hash = key_hash(key);
        let slot = self.slot(key, hash);
        let Merge {
            merged,
            mut absorbed,
        } = match slot {
            Some(slot) => {
                let sessions = &self.slots[slot as usize].as_ref()?.sessions;
                merge_sessions(sessions, |s| &s.window, window)
            }
            None => Merge {
                merged: window,
                absorbed: Vec::new(),
            },
        };
        if merged.end - 1 <= watermark {
            return None;
        }
        let slot = match slot {
            Some(slot) => slot,
            None => self.add_slot(key, hash),
        };
        // The absorbed sessions leave, oldest first, into the merged one.
        absorbed.sort_unstable_by_key(|&i| std::cmp::Reverse(i));
        let mut parts: Vec<Session> = {
            let sessions = &mut self.slots[slot as usize].as_mut()?.sessions;
            absorbed.iter().map(|&i| sessions.swap_remove(i)).collect()
        };
        parts.sort_unstable_by_key(|s| (s.window.start, s.window.end));
        let unchanged = matches!(parts.as_slice(), [only] if only.window == merged);
        for part in &parts {
            if !unchanged {
                self.ends.retain_first(part.window, slot);
            }
        }
        let accs = match parts.len() {
            1 => parts.pop().map(|s| s.accs).unwrap_or_default(),
            _ => {
                let mut accs = aggs.create();
                for part in parts {
                    aggs.merge(&mut accs, part.accs);
                }
                accs
            }
        };
        if !unchanged {
            self.register(slot, merged);
        }
        let sessions = &mut self.slots[slot as usize].as_mut()?.sessions;
        sessions.push(Session {
            window: merged,
            accs,
        });
        sessions.last_mut().map(|s| s.accs.as_mut_slice())
    }

    /// Adds a restored session of `key`.
    pub fn insert(&mut self, key: &[u8], window: TimeWindow, accs: Vec<Acc>) {
        let hash = key_hash(key);
        let slot = match self.slot(key, hash) {
            Some(slot) => slot,
            None => self.add_slot(key, hash),
        };
        if let Some(entry) = self.slots[slot as usize].as_mut() {
            entry.sessions.push(Session { window, accs });
            self.register(slot, window);
        }
    }

    /// Takes out the session that ends first if the watermark passed its end:
    /// its key, extent and accumulators.
    pub fn pop_due(&mut self, watermark: Timestamp) -> Option<(Vec<u8>, Session)> {
        loop {
            let &(end, _, slot, start) = self.ends.first()?;
            if end - 1 > watermark {
                return None;
            }
            self.ends.pop_first();
            let window = TimeWindow::new(start, end);
            let entry = self.slots[slot as usize].as_mut()?;
            let Some(at) = entry.sessions.iter().position(|s| s.window == window) else {
                continue;
            };
            let session = entry.sessions.swap_remove(at);
            if !entry.sessions.is_empty() {
                return Some((entry.key.clone(), session));
            }
            let entry = self.slots[slot as usize].take()?;
            if let Ok(found) = self.index.find_entry(entry.hash, |&s| s == slot) {
                found.remove();
            }
            self.free.push(slot);
            return Some((entry.key, session));
        }
    }

    /// Every open session: its key and the session.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Session)> {
        self.slots
            .iter()
            .flatten()
            .flat_map(|k| k.sessions.iter().map(move |s| (k.key.as_slice(), s)))
    }
}

/// Removing a session's entry from the set of ends.
trait Ends {
    fn retain_first(&mut self, window: TimeWindow, slot: u32);
}

impl Ends for BTreeSet<(Timestamp, u64, u32, Timestamp)> {
    /// Removes the entry of `slot`'s session `window` (its registration is
    /// not known, so the entries ending with it are searched).
    fn retain_first(&mut self, window: TimeWindow, slot: u32) {
        let found = self
            .range(
                (window.end, 0, 0, Timestamp::MIN)
                    ..=(window.end, u64::MAX, u32::MAX, Timestamp::MAX),
            )
            .find(|&&(_, _, s, start)| s == slot && start == window.start)
            .copied();
        if let Some(entry) = found {
            self.remove(&entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(panes: &mut SessionPanes, key: &[u8], ts: i64, watermark: i64) -> bool {
        let aggs = Aggs::count_star();
        match panes.merge(key, TimeWindow::new(ts, ts + 10), watermark, &aggs) {
            Some(accs) => {
                if let Acc::Count(n) = &mut accs[0] {
                    *n += 1;
                }
                true
            }
            None => false,
        }
    }

    #[test]
    fn sessions_merge_fire_in_end_order_and_reject_late_rows() {
        let mut panes = SessionPanes::default();
        assert!(add(&mut panes, b"a", 0, i64::MIN));
        assert!(add(&mut panes, b"b", 3, i64::MIN));
        assert!(add(&mut panes, b"a", 30, i64::MIN));
        // [10, 20) touches [0, 10); [20, 30) bridges [0, 20) and [30, 40).
        assert!(add(&mut panes, b"a", 10, i64::MIN));
        assert!(add(&mut panes, b"a", 20, i64::MIN));
        assert!(panes.pop_due(11).is_none());
        let (key, b) = panes.pop_due(12).expect("b's session ends at 13");
        assert_eq!(
            (key.as_slice(), b.window),
            (b"b".as_slice(), TimeWindow::new(3, 13))
        );
        // A row that would join a's session is late once the watermark passed
        // the merged end; a row of a new key too.
        assert!(!add(&mut panes, b"b", 1, 12));
        let (key, a) = panes.pop_due(i64::MAX).expect("a's session");
        assert_eq!(key, b"a".to_vec());
        assert_eq!(a.window, TimeWindow::new(0, 40));
        assert_eq!(a.accs, vec![Acc::Count(4)]);
        assert!(panes.pop_due(i64::MAX).is_none());
        assert_eq!(panes.iter().count(), 0);
        // Freed slots are reused.
        assert!(add(&mut panes, b"c", 100, 50));
        assert_eq!(panes.iter().count(), 1);
    }
}
