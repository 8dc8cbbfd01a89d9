//! Time windows as plain data ([`WindowSpec`]): which windows hold a
//! timestamp, for the DataStream assigners and SQL's window TVFs alike, and
//! how windows are cut into slices (Flink's slicing window aggregation).
//!
//! Windows are `[start, end)` in milliseconds; starts are aligned to the epoch
//! shifted by the offset, as in Flink (`TimeWindow.getWindowStartWithOffset`).

use eddy_core::Timestamp;
use serde::{Deserialize, Serialize};

use super::TimeWindow;

/// A kind of time window and its sizes, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WindowSpec {
    /// Fixed windows of `size`.
    Tumble {
        /// Window length.
        size: i64,
        /// Shift of the window boundaries.
        offset: i64,
    },
    /// Windows of `size` starting every `slide`.
    Hop {
        /// Distance between window starts.
        slide: i64,
        /// Window length.
        size: i64,
        /// Shift of the window boundaries.
        offset: i64,
    },
    /// Sessions: a record opens `[ts, ts + gap)`; the windows of a key that
    /// overlap or touch merge ([`super::merge_sessions`]).
    Session {
        /// The gap that ends a session.
        gap: i64,
    },
    /// Windows growing by `step` up to `size`, then starting over.
    Cumulate {
        /// Growth step.
        step: i64,
        /// Largest window length.
        size: i64,
        /// Shift of the window boundaries.
        offset: i64,
    },
}

/// The start of the window of `size`, shifted by `offset`, that holds `ts`.
fn floor_to(ts: i64, size: i64, offset: i64) -> i64 {
    TimeWindow::start_with_offset(ts, offset, size)
}

impl WindowSpec {
    /// Calls `f(window)` for each window containing `ts`, by start time (by
    /// end for CUMULATE).
    pub fn assign(&self, ts: i64, mut f: impl FnMut(TimeWindow)) {
        match *self {
            WindowSpec::Tumble { size, offset } => {
                let start = floor_to(ts, size, offset);
                f(TimeWindow::new(start, start + size));
            }
            WindowSpec::Hop {
                slide,
                size,
                offset,
            } => {
                let last = floor_to(ts, slide, offset);
                let mut start = last - ((size - 1) / slide) * slide;
                while start <= last {
                    if start + size > ts {
                        f(TimeWindow::new(start, start + size));
                    }
                    start += slide;
                }
            }
            WindowSpec::Session { gap } => f(TimeWindow::new(ts, ts + gap)),
            WindowSpec::Cumulate { step, size, offset } => {
                let start = floor_to(ts, size, offset);
                let mut end = floor_to(ts, step, offset) + step;
                while end <= start + size {
                    f(TimeWindow::new(start, end));
                    end += step;
                }
            }
        }
    }
}

/// Window slicing (Flink's slicing window aggregation): a HOP window is
/// `size / slide` slices of `slide`, a CUMULATE window the slices of `step`
/// from its cycle's start. Rows are aggregated once per slice; a window's
/// result merges its slices.
impl WindowSpec {
    /// The length of a slice.
    fn slice_length(&self) -> i64 {
        match *self {
            WindowSpec::Hop { slide, .. } => slide,
            WindowSpec::Cumulate { step, .. } => step,
            WindowSpec::Tumble { size, .. } => size,
            WindowSpec::Session { gap } => gap,
        }
    }

    /// The slice holding `ts`.
    pub fn slice(&self, ts: i64) -> TimeWindow {
        let (unit, offset) = match *self {
            WindowSpec::Hop { slide, offset, .. } => (slide, offset),
            WindowSpec::Cumulate { step, offset, .. } => (step, offset),
            WindowSpec::Tumble { size, offset } => (size, offset),
            WindowSpec::Session { gap } => return TimeWindow::new(ts, ts + gap),
        };
        let start = floor_to(ts, unit, offset);
        TimeWindow::new(start, start + unit)
    }

    /// The first window holding `slice` that fires after `watermark`, if it
    /// has one.
    pub fn first_window_after(
        &self,
        slice: TimeWindow,
        watermark: Timestamp,
    ) -> Option<TimeWindow> {
        let mut window = match *self {
            WindowSpec::Hop { size, .. } => TimeWindow::new(slice.end - size, slice.end),
            WindowSpec::Cumulate { size, offset, .. } => {
                TimeWindow::new(floor_to(slice.start, size, offset), slice.end)
            }
            _ => slice,
        };
        let unit = self.slice_length();
        if window.end - 1 <= watermark {
            // Skip the windows that fired: their ends are `unit` apart.
            let behind = watermark.saturating_sub(window.end - 1) / unit + 1;
            let shift = behind.saturating_mul(unit);
            window = TimeWindow::new(
                window
                    .start
                    .saturating_add(if self.grows() { 0 } else { shift }),
                window.end.saturating_add(shift),
            );
        }
        (window.start <= slice.start && window.end <= self.last_end(slice)).then_some(window)
    }

    /// Whether windows grow from a fixed start (CUMULATE) rather than slide.
    fn grows(&self) -> bool {
        matches!(self, WindowSpec::Cumulate { .. })
    }

    /// The end of the last window holding `slice`: a row of it is late once
    /// the watermark reaches that end.
    pub fn last_end(&self, slice: TimeWindow) -> i64 {
        match *self {
            WindowSpec::Hop { size, .. } => slice.start + size,
            WindowSpec::Cumulate { size, offset, .. } => floor_to(slice.start, size, offset) + size,
            _ => slice.end,
        }
    }

    /// The window ending at `end`.
    pub fn window_ending(&self, end: i64) -> TimeWindow {
        match *self {
            WindowSpec::Hop { size, .. } | WindowSpec::Tumble { size, .. } => {
                TimeWindow::new(end - size, end)
            }
            WindowSpec::Cumulate { size, offset, .. } => {
                TimeWindow::new(floor_to(end - 1, size, offset), end)
            }
            WindowSpec::Session { gap } => TimeWindow::new(end - gap, end),
        }
    }

    /// The window after `window` that holds some of its slices.
    pub fn next_window(&self, window: TimeWindow) -> Option<TimeWindow> {
        let unit = self.slice_length();
        match *self {
            WindowSpec::Hop { size, .. } if unit < size => {
                Some(TimeWindow::new(window.start + unit, window.end + unit))
            }
            WindowSpec::Cumulate { size, .. } if window.end - window.start < size => {
                Some(TimeWindow::new(window.start, window.end + unit))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(spec: WindowSpec, ts: i64) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        spec.assign(ts, |w| out.push((w.start, w.end)));
        out
    }

    #[test]
    fn assigns_like_flink() {
        let tumble = WindowSpec::Tumble {
            size: 10,
            offset: 0,
        };
        assert_eq!(windows(tumble, 13), vec![(10, 20)]);
        assert_eq!(windows(tumble, -3), vec![(-10, 0)]);
        let hop = WindowSpec::Hop {
            slide: 2,
            size: 5,
            offset: 0,
        };
        assert_eq!(windows(hop, 7), vec![(4, 9), (6, 11)]);
        let cumulate = WindowSpec::Cumulate {
            step: 2,
            size: 6,
            offset: 0,
        };
        assert_eq!(windows(cumulate, 3), vec![(0, 4), (0, 6)]);
        assert_eq!(windows(cumulate, 6), vec![(6, 8), (6, 10), (6, 12)]);
    }

    fn w(start: i64, end: i64) -> TimeWindow {
        TimeWindow::new(start, end)
    }

    /// Every window the slices name is a window `assign` gives, and the chain
    /// of next windows from a slice's first window covers exactly them.
    #[test]
    fn slices_cover_the_windows() {
        let specs = [
            WindowSpec::Hop {
                slide: 2,
                size: 6,
                offset: 1,
            },
            WindowSpec::Cumulate {
                step: 2,
                size: 6,
                offset: 0,
            },
        ];
        for spec in specs {
            for ts in -20..20 {
                let slice = spec.slice(ts);
                assert!(slice.start <= ts && ts < slice.end, "{spec:?} {ts}");
                let mut chain = Vec::new();
                let mut next = spec.first_window_after(slice, i64::MIN);
                while let Some(window) = next.filter(|n| n.start <= slice.start) {
                    assert!(window.start <= slice.start && slice.end <= window.end);
                    chain.push((window.start, window.end));
                    next = spec.next_window(window);
                }
                assert_eq!(chain, windows(spec, ts), "{spec:?} {ts}");
                assert_eq!(spec.last_end(slice), chain.last().map_or(0, |c| c.1));
            }
        }
    }

    #[test]
    fn a_slice_joins_the_first_window_still_open() {
        let hop = WindowSpec::Hop {
            slide: 2,
            size: 6,
            offset: 0,
        };
        // Slice [4, 6) is in [0, 6), [2, 8), [4, 10).
        assert_eq!(hop.first_window_after(w(4, 6), 4), Some(w(0, 6)));
        assert_eq!(hop.first_window_after(w(4, 6), 5), Some(w(2, 8)));
        assert_eq!(hop.first_window_after(w(4, 6), 8), Some(w(4, 10)));
        assert_eq!(hop.first_window_after(w(4, 6), 9), None);
        assert_eq!(hop.first_window_after(w(4, 6), i64::MAX), None);
        let cumulate = WindowSpec::Cumulate {
            step: 2,
            size: 6,
            offset: 0,
        };
        // Slice [2, 4) is in [0, 4), [0, 6).
        assert_eq!(cumulate.first_window_after(w(2, 4), 2), Some(w(0, 4)));
        assert_eq!(cumulate.first_window_after(w(2, 4), 3), Some(w(0, 6)));
        assert_eq!(cumulate.first_window_after(w(2, 4), 5), None);
        assert_eq!(cumulate.next_window(w(0, 6)), None);
    }
}
