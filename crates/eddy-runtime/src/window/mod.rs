//! Windows: assigners, triggers, contents and the window operator.
//!
//! A keyed stream is cut into windows by a [`WindowAssigner`] (tumbling, sliding,
//! session, global). Records are added to their windows' contents in keyed state
//! (reduced, aggregated, or kept as a list); a [`Trigger`] decides when a window's
//! result is emitted and whether its contents are purged. In event time a window
//! fires when the watermark passes its end; with allowed lateness, late records
//! within it fire an updated result, and records later than that go to a side
//! output (or are counted and dropped).
//!
//! Which time windows hold a timestamp ([`WindowSpec`]) and how sessions merge
//! ([`merge_sessions`]) are plain functions shared with SQL's window TVFs and
//! window aggregation, so both fronts cut time the same way.

mod assigners;
mod contents;
mod merging;
mod operator;
mod spec;
mod triggers;

pub use assigners::{
    EventTimeSessionWindows, GlobalWindows, ProcessingTimeSessionWindows, SlidingEventTimeWindows,
    SlidingProcessingTimeWindows, TumblingEventTimeWindows, TumblingProcessingTimeWindows,
    WindowAssigner,
};
pub use contents::{AggregateContents, ListContents, ReduceContents, WindowContents};
pub use merging::{merge_sessions, Merge};
pub use operator::{WindowFunction, WindowInfo, WindowOperator};
pub use spec::WindowSpec;
pub use triggers::{
    CountTrigger, EventTimeTrigger, NeverTrigger, ProcessingTimeTrigger, PurgingTrigger, Trigger,
    TriggerContext, TriggerResult,
};

use std::fmt::Debug;
use std::hash::Hash;

use eddy_core::Timestamp;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// A window: a namespace of keyed state with a last timestamp.
pub trait Window:
    Clone + Eq + Hash + Ord + Debug + Send + Sync + Serialize + DeserializeOwned + 'static
{
    /// The largest timestamp that belongs to the window.
    fn max_timestamp(&self) -> Timestamp;

    /// Whether two windows overlap or touch, so that sessions merge them.
    fn intersects(&self, other: &Self) -> bool {
        let _ = other;
        false
    }

    /// The smallest window covering both.
    fn cover(&self, other: &Self) -> Self {
        let _ = other;
        self.clone()
    }
}

/// A window of time `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimeWindow {
    /// The first millisecond of the window.
    pub start: Timestamp,
    /// The first millisecond after the window.
    pub end: Timestamp,
}

impl TimeWindow {
    /// The window `[start, end)`.
    pub fn new(start: Timestamp, end: Timestamp) -> Self {
        TimeWindow { start, end }
    }

    /// Whether the two windows overlap or touch (session windows merge then).
    pub fn intersects(&self, other: &TimeWindow) -> bool {
        self.start <= other.end && self.end >= other.start
    }

    /// The smallest window covering both.
    pub fn cover(&self, other: &TimeWindow) -> TimeWindow {
        TimeWindow::new(self.start.min(other.start), self.end.max(other.end))
    }

    /// Flink's `TimeWindow.getWindowStartWithOffset`: the start of the window of size
    /// `size` (shifted by `offset`) that contains `timestamp`.
    pub fn start_with_offset(timestamp: Timestamp, offset: i64, size: i64) -> Timestamp {
        let remainder = (timestamp - offset) % size;
        if remainder < 0 {
            timestamp - (remainder + size)
        } else {
            timestamp - remainder
        }
    }
}

impl Window for TimeWindow {
    fn max_timestamp(&self) -> Timestamp {
        self.end - 1
    }

    fn intersects(&self, other: &Self) -> bool {
        TimeWindow::intersects(self, other)
    }

    fn cover(&self, other: &Self) -> Self {
        TimeWindow::cover(self, other)
    }
}

/// The one window of all records of a key (used with count triggers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GlobalWindow;

impl Window for GlobalWindow {
    fn max_timestamp(&self) -> Timestamp {
        Timestamp::MAX
    }
}
