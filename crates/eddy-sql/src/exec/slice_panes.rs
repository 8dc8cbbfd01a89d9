//! Slices of HOP and CUMULATE windows in memory (Flink's slicing windows).
//!
//! A row updates the one pane of its slice; a window that fires merges, key by
//! key, the panes of its slices. Each pane knows the end of the next window it
//! is part of, and the panes are ordered by that end: the panes that end a
//! window come first, a firing window takes them out, and those its next window
//! also holds go back under that window's end. At a checkpoint each group is
//! written as keyed state per key and slice with an event-time timer at the
//! end of its next window, which is how a restored operator finds its slices
//! again and knows which of their windows already fired.
//!
//! ```text
//! row -> its slice's pane (next = first window still to fire) -> group -> update
//! watermark >= next - 1 -> merge the panes ending there -> rows of that window
//!                       -> panes of the next window move on, the oldest expires
//! ```

use std::collections::{BTreeMap, HashMap};

use eddy_core::Timestamp;
use eddy_runtime::window::TimeWindow;

use crate::exec::accum::Acc;
use crate::exec::aggs::Aggs;
use crate::exec::window::WindowSpec;
use crate::exec::window_panes::{Pane, PaneStore};

/// The slices of one HOP or CUMULATE aggregation.
pub struct SlicePanes {
    spec: WindowSpec,
    width: usize,
    /// By (end of the next window the slice is part of, slice).
    panes: BTreeMap<(Timestamp, TimeWindow), Pane>,
    /// Each slice's next window end (the latest, when a restore brought panes
    /// of one slice at different points).
    next_of: HashMap<TimeWindow, Timestamp>,
    /// The size of the last window that fired: new panes start that large.
    expected: usize,
}

impl SlicePanes {
    /// No slices yet, of `spec`'s windows, for `width` accumulators a group.
    pub fn new(spec: WindowSpec, width: usize) -> Self {
        SlicePanes {
            spec,
            width,
            panes: BTreeMap::new(),
            next_of: HashMap::new(),
            expected: 0,
        }
    }

    /// The pane of `slice` for a row arriving at `watermark`; `None` when
    /// every window of the slice has fired (the row is late).
    pub fn pane(&mut self, slice: TimeWindow, watermark: Timestamp) -> Option<&mut Pane> {
        let next = match self.next_of.get(&slice) {
            Some(&next) => next,
            None => {
                let next = self.spec.first_window_after(slice, watermark)?.end;
                self.next_of.insert(slice, next);
                next
            }
        };
        let (width, expected) = (self.width, self.expected);
        Some(
            self.panes
                .entry((next, slice))
                .or_insert_with(|| Pane::with_capacity(width, expected)),
        )
    }

    /// Adds a restored group of `slice` whose next window ends at `next`.
    pub fn insert(&mut self, slice: TimeWindow, next: Timestamp, key: &[u8], accs: Vec<Acc>) {
        let latest = self.next_of.entry(slice).or_insert(next);
        *latest = (*latest).max(next);
        let width = self.width;
        self.panes
            .entry((next, slice))
            .or_insert_with(|| Pane::with_capacity(width, 0))
            .insert(key, accs);
    }

    /// Fires the window that ends first if the watermark passed its end: the
    /// window and its groups, each the merge of the key's slices.
    pub fn pop_due(&mut self, watermark: Timestamp, aggs: &Aggs) -> Option<(TimeWindow, Pane)> {
        let (&(end, _), _) = self.panes.first_key_value()?;
        if end - 1 > watermark {
            return None;
        }
        let window = self.spec.window_ending(end);
        let next = self.spec.next_window(window);
        let mut merged = Pane::with_capacity(self.width, self.expected);
        while let Some(entry) = self.panes.first_entry() {
            if entry.key().0 != end {
                break;
            }
            let ((_, slice), pane) = entry.remove_entry();
            match next.filter(|n| slice.start >= n.start) {
                // Also part of the next window: merged as a copy, kept.
                Some(next) => {
                    for (key, hash, accs) in pane.hashed_groups() {
                        merged.merge_group(key, hash, accs, aggs);
                    }
                    if self.next_of.get(&slice) == Some(&end) {
                        self.next_of.insert(slice, next.end);
                    }
                    match self.panes.entry((next.end, slice)) {
                        std::collections::btree_map::Entry::Vacant(v) => {
                            v.insert(pane);
                        }
                        std::collections::btree_map::Entry::Occupied(mut o) => {
                            for (key, hash, accs) in pane.hashed_groups() {
                                o.get_mut().merge_group(key, hash, accs, aggs);
                            }
                        }
                    }
                }
                // Its last window: merged and gone.
                None => {
                    if self.next_of.get(&slice) == Some(&end) {
                        self.next_of.remove(&slice);
                    }
                    for (key, hash, accs) in pane.hashed_groups() {
                        merged.merge_group(key, hash, accs, aggs);
                    }
                }
            }
        }
        self.expected = merged.len();
        Some((window, merged))
    }

    /// Every group: its slice, the end of the slice's next window, key and
    /// accumulators.
    pub fn iter(&self) -> impl Iterator<Item = (TimeWindow, Timestamp, &[u8], &[Acc])> {
        self.panes.iter().flat_map(|(&(next, slice), pane)| {
            pane.groups()
                .map(move |(key, accs)| (slice, next, key, accs))
        })
    }
}

impl PaneStore for SlicePanes {
    fn pane_for(&mut self, slice: TimeWindow, watermark: Timestamp) -> Option<&mut Pane> {
        self.pane(slice, watermark)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::window_panes::key_hash;

    fn add(slices: &mut SlicePanes, key: &[u8], ts: i64, watermark: i64) -> bool {
        let slice = slices.spec.slice(ts);
        let Some(pane) = slices.pane(slice, watermark) else {
            return false;
        };
        if let Acc::Count(n) = &mut pane.accs(key, key_hash(key), |all| all.push(Acc::Count(0)))[0]
        {
            *n += 1;
        }
        true
    }

    fn fire(slices: &mut SlicePanes, watermark: i64) -> Vec<(i64, i64, String, i64)> {
        let mut rows = Vec::new();
        while let Some((w, pane)) = slices.pop_due(watermark, &Aggs::count_star()) {
            for (key, accs) in pane.groups() {
                let n = match accs[0] {
                    Acc::Count(n) => n,
                    _ => -1,
                };
                rows.push((w.start, w.end, String::from_utf8_lossy(key).into(), n));
            }
        }
        rows
    }

    fn row(start: i64, end: i64, key: &str, n: i64) -> (i64, i64, String, i64) {
        (start, end, key.into(), n)
    }

    #[test]
    fn hop_windows_merge_their_slices() {
        let spec = WindowSpec::Hop {
            slide: 2,
            size: 6,
            offset: 0,
        };
        let mut slices = SlicePanes::new(spec, 1);
        assert!(add(&mut slices, b"a", 1, i64::MIN));
        assert!(add(&mut slices, b"a", 3, i64::MIN));
        assert!(add(&mut slices, b"b", 3, i64::MIN));
        assert_eq!(fire(&mut slices, 1), vec![row(-4, 2, "a", 1)]);
        assert_eq!(
            fire(&mut slices, 3),
            vec![row(-2, 4, "a", 2), row(-2, 4, "b", 1)]
        );
        // A late row of slice [0, 2) still counts in the windows to come.
        assert!(add(&mut slices, b"b", 0, 3));
        assert_eq!(
            fire(&mut slices, 5),
            vec![row(0, 6, "a", 2), row(0, 6, "b", 2)]
        );
        assert_eq!(
            fire(&mut slices, 7),
            vec![row(2, 8, "a", 1), row(2, 8, "b", 1)]
        );
        assert!(fire(&mut slices, i64::MAX).is_empty());
        // Every window of [0, 2) fired: its rows are late.
        assert!(!add(&mut slices, b"a", 1, 7));
        assert_eq!(slices.iter().count(), 0);
    }

    #[test]
    fn restored_slices_fire_only_the_windows_left() {
        let spec = WindowSpec::Cumulate {
            step: 2,
            size: 6,
            offset: 0,
        };
        let mut slices = SlicePanes::new(spec, 1);
        // Slice [0, 2) after [0, 2) fired, next in [0, 4); slice [2, 4) new.
        slices.insert(TimeWindow::new(0, 2), 4, b"a", vec![Acc::Count(3)]);
        slices.insert(TimeWindow::new(2, 4), 4, b"a", vec![Acc::Count(1)]);
        // A row after the restore joins its slice's pane, whatever the
        // watermark says.
        assert!(add(&mut slices, b"a", 1, i64::MIN));
        assert_eq!(
            fire(&mut slices, i64::MAX),
            vec![row(0, 4, "a", 5), row(0, 6, "a", 5)]
        );
    }
}
