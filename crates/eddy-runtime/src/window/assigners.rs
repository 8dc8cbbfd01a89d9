//! Window assigners: which windows a record belongs to.

use std::time::Duration;

use eddy_core::{Error, Result, Timestamp};

use super::triggers::{EventTimeTrigger, NeverTrigger, ProcessingTimeTrigger, Trigger};
use super::{GlobalWindow, TimeWindow, Window};

/// Assigns records to windows.
pub trait WindowAssigner: Send + Sync + 'static {
    /// The window type.
    type W: Window;

    /// Adds the windows of a record with event time `timestamp` (if any) arriving at
    /// processing time `now` to `out`.
    fn assign_windows(
        &self,
        timestamp: Option<Timestamp>,
        now: Timestamp,
        out: &mut Vec<Self::W>,
    ) -> Result<()>;

    /// Whether windows are in event time (else processing time).
    fn is_event_time(&self) -> bool;

    /// The trigger used when the user sets none.
    fn default_trigger(&self) -> Box<dyn Trigger<Self::W>>;

    /// For merging assigners (sessions): the gap; windows that touch merge.
    fn session_gap(&self) -> Option<i64> {
        None
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn event_time(timestamp: Option<Timestamp>) -> Result<Timestamp> {
    timestamp.ok_or_else(|| {
        Error::Other(
            "a record has no timestamp but an event-time window needs one; \
             assign timestamps with a WatermarkStrategy first"
                .into(),
        )
    })
}

/// Fixed-size, non-overlapping event-time windows.
#[derive(Clone, Debug)]
pub struct TumblingEventTimeWindows {
    size: i64,
    offset: i64,
}

impl TumblingEventTimeWindows {
    /// Windows of `size`, aligned to the epoch.
    pub fn of(size: Duration) -> Self {
        TumblingEventTimeWindows {
            size: millis(size).max(1),
            offset: 0,
        }
    }

    /// Windows shifted by `offset` (e.g. for time zones).
    pub fn with_offset(mut self, offset: Duration) -> Self {
        self.offset = millis(offset) % self.size;
        self
    }
}

impl WindowAssigner for TumblingEventTimeWindows {
    type W = TimeWindow;
    fn assign_windows(
        &self,
        timestamp: Option<Timestamp>,
        _: Timestamp,
        out: &mut Vec<TimeWindow>,
    ) -> Result<()> {
        let ts = event_time(timestamp)?;
        let start = TimeWindow::start_with_offset(ts, self.offset, self.size);
        out.push(TimeWindow::new(start, start + self.size));
        Ok(())
    }
    fn is_event_time(&self) -> bool {
        true
    }
    fn default_trigger(&self) -> Box<dyn Trigger<TimeWindow>> {
        Box::new(EventTimeTrigger)
    }
}

/// Fixed-size event-time windows that start every `slide`.
#[derive(Clone, Debug)]
pub struct SlidingEventTimeWindows {
    size: i64,
    slide: i64,
    offset: i64,
}

impl SlidingEventTimeWindows {
    /// Windows of `size` starting every `slide`.
    pub fn of(size: Duration, slide: Duration) -> Self {
        SlidingEventTimeWindows {
            size: millis(size).max(1),
            slide: millis(slide).max(1),
            offset: 0,
        }
    }

    /// Windows shifted by `offset`.
    pub fn with_offset(mut self, offset: Duration) -> Self {
        self.offset = millis(offset) % self.slide;
        self
    }
}

fn sliding(ts: Timestamp, size: i64, slide: i64, offset: i64, out: &mut Vec<TimeWindow>) {
    let last_start = TimeWindow::start_with_offset(ts, offset, slide);
    let mut start = last_start;
    while start > ts - size {
        out.push(TimeWindow::new(start, start + size));
        start -= slide;
    }
}

impl WindowAssigner for SlidingEventTimeWindows {
    type W = TimeWindow;
    fn assign_windows(
        &self,
        timestamp: Option<Timestamp>,
        _: Timestamp,
        out: &mut Vec<TimeWindow>,
    ) -> Result<()> {
        sliding(
            event_time(timestamp)?,
            self.size,
            self.slide,
            self.offset,
            out,
        );
        Ok(())
    }
    fn is_event_time(&self) -> bool {
        true
    }
    fn default_trigger(&self) -> Box<dyn Trigger<TimeWindow>> {
        Box::new(EventTimeTrigger)
    }
}

/// Event-time sessions: a record opens `[ts, ts + gap)`; overlapping sessions of a
/// key merge.
#[derive(Clone, Debug)]
pub struct EventTimeSessionWindows {
    gap: i64,
}

impl EventTimeSessionWindows {
    /// Sessions that close after `gap` without records.
    pub fn with_gap(gap: Duration) -> Self {
        EventTimeSessionWindows {
            gap: millis(gap).max(1),
        }
    }
}

impl WindowAssigner for EventTimeSessionWindows {
    type W = TimeWindow;
    fn assign_windows(
        &self,
        timestamp: Option<Timestamp>,
        _: Timestamp,
        out: &mut Vec<TimeWindow>,
    ) -> Result<()> {
        let ts = event_time(timestamp)?;
        out.push(TimeWindow::new(ts, ts + self.gap));
        Ok(())
    }
    fn is_event_time(&self) -> bool {
        true
    }
    fn default_trigger(&self) -> Box<dyn Trigger<TimeWindow>> {
        Box::new(EventTimeTrigger)
    }
    fn session_gap(&self) -> Option<i64> {
        Some(self.gap)
    }
}

/// Fixed-size, non-overlapping processing-time windows.
#[derive(Clone, Debug)]
pub struct TumblingProcessingTimeWindows {
    size: i64,
}

impl TumblingProcessingTimeWindows {
    /// Windows of `size` of wall-clock time.
    pub fn of(size: Duration) -> Self {
        TumblingProcessingTimeWindows {
            size: millis(size).max(1),
        }
    }
}

impl WindowAssigner for TumblingProcessingTimeWindows {
    type W = TimeWindow;
    fn assign_windows(
        &self,
        _: Option<Timestamp>,
        now: Timestamp,
        out: &mut Vec<TimeWindow>,
    ) -> Result<()> {
        let start = TimeWindow::start_with_offset(now, 0, self.size);
        out.push(TimeWindow::new(start, start + self.size));
        Ok(())
    }
    fn is_event_time(&self) -> bool {
        false
    }
    fn default_trigger(&self) -> Box<dyn Trigger<TimeWindow>> {
        Box::new(ProcessingTimeTrigger)
    }
}

/// Sliding processing-time windows.
#[derive(Clone, Debug)]
pub struct SlidingProcessingTimeWindows {
    size: i64,
    slide: i64,
}

impl SlidingProcessingTimeWindows {
    /// Windows of `size` starting every `slide` of wall-clock time.
    pub fn of(size: Duration, slide: Duration) -> Self {
        SlidingProcessingTimeWindows {
            size: millis(size).max(1),
            slide: millis(slide).max(1),
        }
    }
}

impl WindowAssigner for SlidingProcessingTimeWindows {
    type W = TimeWindow;
    fn assign_windows(
        &self,
        _: Option<Timestamp>,
        now: Timestamp,
        out: &mut Vec<TimeWindow>,
    ) -> Result<()> {
        sliding(now, self.size, self.slide, 0, out);
        Ok(())
    }
    fn is_event_time(&self) -> bool {
        false
    }
    fn default_trigger(&self) -> Box<dyn Trigger<TimeWindow>> {
        Box::new(ProcessingTimeTrigger)
    }
}

/// Processing-time sessions.
#[derive(Clone, Debug)]
pub struct ProcessingTimeSessionWindows {
    gap: i64,
}

impl ProcessingTimeSessionWindows {
    /// Sessions that close after `gap` of wall-clock time without records.
    pub fn with_gap(gap: Duration) -> Self {
        ProcessingTimeSessionWindows {
            gap: millis(gap).max(1),
        }
    }
}

impl WindowAssigner for ProcessingTimeSessionWindows {
    type W = TimeWindow;
    fn assign_windows(
        &self,
        _: Option<Timestamp>,
        now: Timestamp,
        out: &mut Vec<TimeWindow>,
    ) -> Result<()> {
        out.push(TimeWindow::new(now, now + self.gap));
        Ok(())
    }
    fn is_event_time(&self) -> bool {
        false
    }
    fn default_trigger(&self) -> Box<dyn Trigger<TimeWindow>> {
        Box::new(ProcessingTimeTrigger)
    }
    fn session_gap(&self) -> Option<i64> {
        Some(self.gap)
    }
}

/// One window for all records of a key; it never fires unless given a trigger
/// (e.g. [`CountTrigger`](super::CountTrigger)).
#[derive(Clone, Debug)]
pub struct GlobalWindows;

impl GlobalWindows {
    /// The global window assigner.
    pub fn create() -> Self {
        GlobalWindows
    }
}

impl WindowAssigner for GlobalWindows {
    type W = GlobalWindow;
    fn assign_windows(
        &self,
        _: Option<Timestamp>,
        _: Timestamp,
        out: &mut Vec<GlobalWindow>,
    ) -> Result<()> {
        out.push(GlobalWindow);
        Ok(())
    }
    fn is_event_time(&self) -> bool {
        false
    }
    fn default_trigger(&self) -> Box<dyn Trigger<GlobalWindow>> {
        Box::new(NeverTrigger)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_starts_match_flink_for_negative_times() {
        assert_eq!(TimeWindow::start_with_offset(-1, 0, 10), -10);
        assert_eq!(TimeWindow::start_with_offset(25, 0, 10), 20);
        assert_eq!(TimeWindow::start_with_offset(25, 3, 10), 23);
    }

    #[test]
    fn sliding_windows_cover_the_timestamp() {
        let mut out = Vec::new();
        SlidingEventTimeWindows::of(Duration::from_millis(10), Duration::from_millis(5))
            .assign_windows(Some(12), 0, &mut out)
            .unwrap();
        assert_eq!(out, vec![TimeWindow::new(10, 20), TimeWindow::new(5, 15)]);
    }
}
