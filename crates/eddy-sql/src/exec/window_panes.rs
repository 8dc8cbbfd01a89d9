//! Window aggregation state in memory, window by window ("panes").
//!
//! An event-time window aggregation whose windows never merge needs no timer per
//! key and window: every key of a window fires at once, when the watermark
//! passes the window's end. So its groups live in one pane per window, in
//! arrival order, found by the hash of their row-encoded key: a record costs one
//! probe, and a firing window is read out in one pass with no lookups. At a
//! checkpoint the panes are written in the layout of the keyed state a window
//! aggregation has always had (accumulators per key and window, an event-time
//! timer at each window's end), so snapshots restore across versions and
//! parallelism, and a restored operator reads that state back into panes.
//!
//! ```text
//! record -> pane of its window -> group of its key (created on first row) -> update
//! watermark -> panes ending at or before it, oldest first -> rows
//! barrier -> keyed state + timers (a throwaway backend) -> snapshot
//! ```

use std::collections::BTreeMap;

use eddy_core::Timestamp;
use eddy_runtime::window::TimeWindow;
use hashbrown::HashTable;

use crate::exec::accum::Acc;
use crate::exec::aggs::Aggs;

/// The groups of one window, in the order their first rows arrived. Keys and
/// accumulators are kept in flat arrays (`width` accumulators a group), so a
/// new group allocates nothing of its own.
pub struct Pane {
    index: HashTable<u32>,
    hashes: Vec<u64>,
    /// Where each group's key ends in `keys` (it starts where the last ended).
    key_ends: Vec<usize>,
    keys: Vec<u8>,
    accs: Vec<Acc>,
    width: usize,
}

impl Pane {
    /// An empty pane for `width` accumulators a group, room for `groups`.
    pub fn with_capacity(width: usize, groups: usize) -> Self {
        Pane {
            index: HashTable::with_capacity(groups),
            hashes: Vec::with_capacity(groups),
            key_ends: Vec::with_capacity(groups),
            keys: Vec::new(),
            accs: Vec::with_capacity(groups * width),
            width,
        }
    }

    /// How many groups the pane holds.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether the pane holds no group.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    fn key(&self, group: usize) -> &[u8] {
        let start = match group {
            0 => 0,
            g => self.key_ends[g - 1],
        };
        &self.keys[start..self.key_ends[group]]
    }

    /// The accumulators of `key` (whose hash is `hash`); `create` pushes fresh
    /// ones (`width` of them) when the key has none yet in this window.
    pub fn accs(
        &mut self,
        key: &[u8],
        hash: u64,
        create: impl FnOnce(&mut Vec<Acc>),
    ) -> &mut [Acc] {
        let group = {
            let (keys, ends) = (&self.keys, &self.key_ends);
            let key_of = |g: usize| &keys[if g == 0 { 0 } else { ends[g - 1] }..ends[g]];
            self.index
                .find(hash, |&g| key_of(g as usize) == key)
                .copied()
        };
        let group = match group {
            Some(g) => g as usize,
            None => {
                let g = self.hashes.len();
                self.hashes.push(hash);
                self.keys.extend_from_slice(key);
                self.key_ends.push(self.keys.len());
                create(&mut self.accs);
                debug_assert_eq!(self.accs.len(), (g + 1) * self.width);
                let hashes = &self.hashes;
                self.index
                    .insert_unique(hash, g as u32, |&j| hashes[j as usize]);
                g
            }
        };
        &mut self.accs[group * self.width..(group + 1) * self.width]
    }

    /// Adds a restored group (its key not yet in the pane).
    pub fn insert(&mut self, key: &[u8], accs: Vec<Acc>) {
        self.accs(key, key_hash(key), |all| all.extend(accs));
    }

    /// Folds `accs` (of rows after those of the pane's group of `key`, if it
    /// has one) into the pane.
    pub fn merge_group(&mut self, key: &[u8], hash: u64, accs: &[Acc], aggs: &Aggs) {
        let mut created = false;
        let group = self.accs(key, hash, |all| {
            created = true;
            all.extend_from_slice(accs);
        });
        if !created {
            aggs.merge(group, accs.to_vec());
        }
    }

    /// The groups, in arrival order: each key, its hash and accumulators.
    pub fn hashed_groups(&self) -> impl Iterator<Item = (&[u8], u64, &[Acc])> {
        self.groups()
            .zip(&self.hashes)
            .map(|((key, accs), &hash)| (key, hash, accs))
    }

    /// The groups, in arrival order: each key and its accumulators.
    pub fn groups(&self) -> impl Iterator<Item = (&[u8], &[Acc])> {
        (0..self.len()).map(|g| {
            (
                self.key(g),
                &self.accs[g * self.width..(g + 1) * self.width],
            )
        })
    }
}

/// The hash panes find a row-encoded key by.
pub fn key_hash(key: &[u8]) -> u64 {
    eddy_core::key_group::stable_hash64(key)
}

/// Where a window aggregation finds the pane of a run of rows.
pub trait PaneStore {
    /// The pane of `window` (a window or a slice) for rows arriving at
    /// `watermark`; `None` when the rows are late.
    fn pane_for(&mut self, window: TimeWindow, watermark: Timestamp) -> Option<&mut Pane>;
}

impl PaneStore for Panes {
    fn pane_for(&mut self, window: TimeWindow, watermark: Timestamp) -> Option<&mut Pane> {
        (window.end - 1 > watermark).then(|| self.pane(window))
    }
}

/// The panes of the windows that have not fired, by window.
pub struct Panes {
    panes: BTreeMap<TimeWindow, Pane>,
    width: usize,
    /// The size of the last pane that fired: a new pane starts that large.
    expected: usize,
}

impl Panes {
    /// No panes yet, for `width` accumulators per group.
    pub fn new(width: usize) -> Self {
        Panes {
            panes: BTreeMap::new(),
            width,
            expected: 0,
        }
    }

    /// The pane of `window`, created empty if needed.
    pub fn pane(&mut self, window: TimeWindow) -> &mut Pane {
        let (width, expected) = (self.width, self.expected);
        self.panes
            .entry(window)
            .or_insert_with(|| Pane::with_capacity(width, expected))
    }

    /// Takes out the oldest pane if the watermark passed its window's end.
    /// Windows never merge and a window TVF's windows end in the order they
    /// start, so the panes fire in their order.
    pub fn pop_due(&mut self, watermark: Timestamp) -> Option<(TimeWindow, Pane)> {
        let (window, _) = self.panes.first_key_value()?;
        if window.end - 1 > watermark {
            return None;
        }
        let due = self.panes.pop_first()?;
        self.expected = due.1.len();
        Some(due)
    }

    /// Every pane, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (&TimeWindow, &Pane)> {
        self.panes.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panes_keep_arrival_order_and_fire_oldest_first() {
        let mut panes = Panes::new(1);
        let (w1, w2) = (TimeWindow::new(10, 20), TimeWindow::new(0, 10));
        for key in [b"b".as_slice(), b"a", b"b"] {
            let accs = panes
                .pane(w1)
                .accs(key, key_hash(key), |all| all.push(Acc::Count(0)));
            if let Acc::Count(n) = &mut accs[0] {
                *n += 1;
            }
        }
        panes.pane(w2).insert(b"c", vec![Acc::Count(7)]);
        assert!(panes.pop_due(8).is_none());
        let (window, pane) = panes.pop_due(9).expect("[0, 10) is due");
        assert_eq!(window, w2);
        assert_eq!(
            pane.groups().next(),
            Some((b"c".as_slice(), [Acc::Count(7)].as_slice()))
        );
        assert!(panes.pop_due(18).is_none());
        let (_, pane) = panes.pop_due(i64::MAX).expect("[10, 20) is due");
        let groups: Vec<(&[u8], &[Acc])> = pane.groups().collect();
        assert_eq!(
            groups,
            vec![
                (b"b".as_slice(), [Acc::Count(2)].as_slice()),
                (b"a".as_slice(), [Acc::Count(1)].as_slice())
            ]
        );
        assert!(panes.pop_due(i64::MAX).is_none());
    }
}
