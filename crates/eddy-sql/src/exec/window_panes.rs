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

/// One group of a pane: a row-encoded key and its accumulators.
pub struct Group {
    /// The key, in the key codec's row encoding.
    pub key: Vec<u8>,
    hash: u64,
    /// The accumulators of the group's rows in the window.
    pub accs: Vec<Acc>,
}

/// The groups of one window, in the order their first rows arrived.
#[derive(Default)]
pub struct Pane {
    index: HashTable<usize>,
    groups: Vec<Group>,
}

impl Pane {
    /// The accumulators of `key` (whose hash is `hash`), made by `create`
    /// when the key has none yet in this window.
    pub fn accs(
        &mut self,
        key: &[u8],
        hash: u64,
        create: impl FnOnce() -> Vec<Acc>,
    ) -> &mut Vec<Acc> {
        let groups = &mut self.groups;
        let at = match self.index.find(hash, |&i| groups[i].key == key) {
            Some(&i) => i,
            None => {
                groups.push(Group {
                    key: key.to_vec(),
                    hash,
                    accs: create(),
                });
                let i = groups.len() - 1;
                self.index.insert_unique(hash, i, |&j| groups[j].hash);
                i
            }
        };
        &mut self.groups[at].accs
    }

    /// Adds a restored group (its key not yet in the pane).
    pub fn insert(&mut self, key: Vec<u8>, accs: Vec<Acc>) {
        let hash = key_hash(&key);
        self.accs(&key, hash, || accs);
    }

    /// The groups, in arrival order.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The groups, taken out.
    pub fn into_groups(self) -> Vec<Group> {
        self.groups
    }
}

/// The hash panes find a row-encoded key by.
pub fn key_hash(key: &[u8]) -> u64 {
    eddy_core::key_group::stable_hash64(key)
}

/// The panes of the windows that have not fired, by window.
#[derive(Default)]
pub struct Panes {
    panes: BTreeMap<TimeWindow, Pane>,
}

impl Panes {
    /// The pane of `window`, created empty if needed.
    pub fn pane(&mut self, window: TimeWindow) -> &mut Pane {
        self.panes.entry(window).or_default()
    }

    /// Takes out the oldest pane if the watermark passed its window's end.
    /// Windows never merge and a window TVF's windows end in the order they
    /// start, so the panes fire in their order.
    pub fn pop_due(&mut self, watermark: Timestamp) -> Option<(TimeWindow, Pane)> {
        let (window, _) = self.panes.first_key_value()?;
        if window.end - 1 > watermark {
            return None;
        }
        self.panes.pop_first()
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
        let mut panes = Panes::default();
        let (w1, w2) = (TimeWindow::new(10, 20), TimeWindow::new(0, 10));
        for key in [b"b".as_slice(), b"a", b"b"] {
            let accs = panes
                .pane(w1)
                .accs(key, key_hash(key), || vec![Acc::Count(0)]);
            if let Acc::Count(n) = &mut accs[0] {
                *n += 1;
            }
        }
        panes.pane(w2).insert(b"c".to_vec(), vec![Acc::Count(7)]);
        assert!(panes.pop_due(8).is_none());
        let (window, pane) = panes.pop_due(9).expect("[0, 10) is due");
        assert_eq!(window, w2);
        assert_eq!(pane.groups()[0].accs, vec![Acc::Count(7)]);
        assert!(panes.pop_due(18).is_none());
        let (_, pane) = panes.pop_due(i64::MAX).expect("[10, 20) is due");
        let groups: Vec<(&[u8], &Vec<Acc>)> = pane
            .groups()
            .iter()
            .map(|g| (g.key.as_slice(), &g.accs))
            .collect();
        assert_eq!(
            groups,
            vec![
                (b"b".as_slice(), &vec![Acc::Count(2)]),
                (b"a".as_slice(), &vec![Acc::Count(1)])
            ]
        );
        assert!(panes.pop_due(i64::MAX).is_none());
    }
}
