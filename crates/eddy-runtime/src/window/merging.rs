//! Session merging, for the DataStream window operator and SQL's session
//! windows alike (Flink's `MergingWindowSet`): a new window absorbs every open
//! window of its key that it overlaps or touches, and so do the windows it
//! grows into.

use super::Window;

/// What a new window does to a key's open windows: the window it becomes and
/// which of them it absorbs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merge<W> {
    /// The new window grown over every window it absorbs.
    pub merged: W,
    /// The positions of the absorbed windows among the open ones, ascending.
    pub absorbed: Vec<usize>,
}

/// Merges `window` into the open windows of its key, `open`, each read with
/// `window_of`; nothing is changed, the caller moves the absorbed windows'
/// contents into the merged one.
///
/// ```
/// use eddy_runtime::window::{merge_sessions, TimeWindow};
/// let open = [TimeWindow::new(0, 10), TimeWindow::new(30, 40), TimeWindow::new(50, 60)];
/// // [20, 30) touches [30, 40); [10, 20) touches [0, 10) and, grown, [30, 40).
/// let merge = merge_sessions(&open, |w| w, TimeWindow::new(10, 30));
/// assert_eq!(merge.merged, TimeWindow::new(0, 40));
/// assert_eq!(merge.absorbed, [0, 1]);
/// ```
pub fn merge_sessions<T, W: Window>(
    open: &[T],
    window_of: impl Fn(&T) -> &W,
    window: W,
) -> Merge<W> {
    let mut merged = window;
    let mut absorbed: Vec<usize> = Vec::new();
    while let Some(at) =
        (0..open.len()).find(|i| !absorbed.contains(i) && window_of(&open[*i]).intersects(&merged))
    {
        merged = merged.cover(window_of(&open[at]));
        absorbed.push(at);
    }
    absorbed.sort_unstable();
    Merge { merged, absorbed }
}

#[cfg(test)]
mod tests {
    use super::super::TimeWindow;
    use super::*;

    fn w(start: i64, end: i64) -> TimeWindow {
        TimeWindow::new(start, end)
    }

    #[test]
    fn a_window_absorbs_what_it_overlaps_or_touches_and_what_it_grows_into() {
        let open = [w(0, 10), w(12, 20), w(25, 30)];
        let merge = |window| merge_sessions(&open, |w| w, window);
        // Apart from everything.
        assert_eq!(merge(w(21, 24)).absorbed, Vec::<usize>::new());
        // Inside one window: that window, unchanged.
        assert_eq!(
            merge(w(2, 5)),
            Merge {
                merged: w(0, 10),
                absorbed: vec![0]
            }
        );
        // Touching counts: [10, 12) bridges the first two.
        assert_eq!(
            merge(w(10, 12)),
            Merge {
                merged: w(0, 20),
                absorbed: vec![0, 1]
            }
        );
        // Grown over [12, 20) by the new window, it reaches [25, 30) only
        // through the window it absorbed.
        let open = [w(25, 30), w(12, 26)];
        assert_eq!(merge_sessions(&open, |w| w, w(11, 13)).merged, w(11, 30));
    }
}
