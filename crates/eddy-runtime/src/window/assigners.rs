//! Window assigners: which windows a record belongs to.

use std::time::Duration;

use eddy_core::{Error, Result, Timestamp};

use super::triggers::{EventTimeTrigger, NeverTrigger, ProcessingTimeTrigger, Trigger};
use super::{GlobalWindow, TimeWindow, Window, WindowSpec};

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

/// The windows of `spec` holding `ts`, added to `out` latest start first (the
/// order of Flink's assigners).
fn assign(spec: &WindowSpec, ts: Timestamp, out: &mut Vec<TimeWindow>) {
    let from = out.len();
    spec.assign(ts, |w| out.push(w));
    out[from..].reverse();
}

fn tumble(size: Duration) -> WindowSpec {
    WindowSpec::Tumble {
        size: millis(size).max(1),
        offset: 0,
    }
}

fn hop(size: Duration, slide: Duration) -> WindowSpec {
    WindowSpec::Hop {
        slide: millis(slide).max(1),
        size: millis(size).max(1),
        offset: 0,
    }
}

/// `spec` shifted by `offset`.
fn shifted(spec: WindowSpec, by: Duration) -> WindowSpec {
    match spec {
        WindowSpec::Tumble { size, .. } => WindowSpec::Tumble {
            size,
            offset: millis(by) % size,
        },
        WindowSpec::Hop { slide, size, .. } => WindowSpec::Hop {
            slide,
            size,
            offset: millis(by) % slide,
        },
        other => other,
    }
}

/// Fixed-size, non-overlapping event-time windows.
#[derive(Clone, Debug)]
pub struct TumblingEventTimeWindows {
    spec: WindowSpec,
}

impl TumblingEventTimeWindows {
    /// Windows of `size`, aligned to the epoch.
    pub fn of(size: Duration) -> Self {
        TumblingEventTimeWindows { spec: tumble(size) }
    }

    /// Windows shifted by `offset` (e.g. for time zones).
    pub fn with_offset(mut self, offset: Duration) -> Self {
        self.spec = shifted(self.spec, offset);
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
        assign(&self.spec, event_time(timestamp)?, out);
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
    spec: WindowSpec,
}

impl SlidingEventTimeWindows {
    /// Windows of `size` starting every `slide`.
    pub fn of(size: Duration, slide: Duration) -> Self {
        SlidingEventTimeWindows {
            spec: hop(size, slide),
        }
    }

    /// Windows shifted by `offset`.
    pub fn with_offset(mut self, offset: Duration) -> Self {
        self.spec = shifted(self.spec, offset);
        self
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
        assign(&self.spec, event_time(timestamp)?, out);
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
        let gap = self.gap;
        assign(&WindowSpec::Session { gap }, event_time(timestamp)?, out);
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
    spec: WindowSpec,
}

impl TumblingProcessingTimeWindows {
    /// Windows of `size` of wall-clock time.
    pub fn of(size: Duration) -> Self {
        TumblingProcessingTimeWindows { spec: tumble(size) }
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
        assign(&self.spec, now, out);
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
    spec: WindowSpec,
}

impl SlidingProcessingTimeWindows {
    /// Windows of `size` starting every `slide` of wall-clock time.
    pub fn of(size: Duration, slide: Duration) -> Self {
        SlidingProcessingTimeWindows {
            spec: hop(size, slide),
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
        assign(&self.spec, now, out);
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
        let gap = self.gap;
        assign(&WindowSpec::Session { gap }, now, out);
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
