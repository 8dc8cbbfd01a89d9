//! Combining the watermarks of several input channels (pure logic, no I/O).
//!
//! A task's event time is the minimum of its input channels' watermarks. Idle
//! channels are left out of the minimum so that one quiet partition cannot stall
//! event time; a channel that has ended counts as +inf. The combined watermark never
//! goes backwards.

use eddy_core::{Timestamp, WatermarkStatus, MAX_WATERMARK, MIN_WATERMARK};

#[derive(Clone, Copy, Debug)]
struct Channel {
    watermark: Timestamp,
    idle: bool,
    ended: bool,
}

/// The watermark state of one task's input channels.
///
/// ```
/// use eddy_core::WatermarkStatus;
/// use eddy_runtime::watermark_valve::WatermarkValve;
/// let mut valve = WatermarkValve::new(2);
/// assert_eq!(valve.on_watermark(0, 10), None); // channel 1 still at -inf
/// assert_eq!(valve.on_watermark(1, 7), Some(7));
/// assert_eq!(valve.on_status(1, WatermarkStatus::Idle), (Some(10), None));
/// ```
#[derive(Clone, Debug)]
pub struct WatermarkValve {
    channels: Vec<Channel>,
    output: Timestamp,
    output_idle: bool,
}

impl WatermarkValve {
    /// A valve over `num_channels` channels, all active at the minimum watermark.
    pub fn new(num_channels: usize) -> Self {
        WatermarkValve {
            channels: vec![
                Channel {
                    watermark: MIN_WATERMARK,
                    idle: false,
                    ended: false,
                };
                num_channels
            ],
            output: MIN_WATERMARK,
            output_idle: false,
        }
    }

    /// The combined watermark emitted so far.
    pub fn current(&self) -> Timestamp {
        self.output
    }

    /// A watermark arrived on `channel`; returns the new combined watermark if it
    /// advanced.
    pub fn on_watermark(&mut self, channel: usize, watermark: Timestamp) -> Option<Timestamp> {
        let c = &mut self.channels[channel];
        if watermark > c.watermark {
            c.watermark = watermark;
        }
        self.advance()
    }

    /// A status change arrived on `channel`; returns a combined watermark that
    /// advanced and a combined status that changed.
    pub fn on_status(
        &mut self,
        channel: usize,
        status: WatermarkStatus,
    ) -> (Option<Timestamp>, Option<WatermarkStatus>) {
        self.channels[channel].idle = status == WatermarkStatus::Idle;
        let watermark = if self.channels.iter().all(|c| c.idle || c.ended) {
            // The last active channel went idle: event time moves to the highest
            // watermark any channel reached, as Flink's valve does.
            self.advance_to_max()
        } else {
            self.advance()
        };
        (watermark, self.status_change())
    }

    /// `channel` has ended: it counts as +inf from now on.
    pub fn on_end(&mut self, channel: usize) -> (Option<Timestamp>, Option<WatermarkStatus>) {
        let c = &mut self.channels[channel];
        c.ended = true;
        c.idle = false;
        c.watermark = MAX_WATERMARK;
        let watermark = self.advance();
        (watermark, self.status_change())
    }

    /// Whether every channel has ended.
    pub fn all_ended(&self) -> bool {
        self.channels.iter().all(|c| c.ended)
    }

    fn status_change(&mut self) -> Option<WatermarkStatus> {
        let all_idle = !self.channels.is_empty()
            && self.channels.iter().all(|c| c.idle || c.ended)
            && self.channels.iter().any(|c| c.idle);
        if all_idle != self.output_idle {
            self.output_idle = all_idle;
            Some(if all_idle {
                WatermarkStatus::Idle
            } else {
                WatermarkStatus::Active
            })
        } else {
            None
        }
    }

    fn advance_to_max(&mut self) -> Option<Timestamp> {
        let max = self.channels.iter().map(|c| c.watermark).max()?;
        if max > self.output {
            self.output = max;
            Some(max)
        } else {
            None
        }
    }

    fn advance(&mut self) -> Option<Timestamp> {
        let min = self
            .channels
            .iter()
            .filter(|c| !c.idle)
            .map(|c| c.watermark)
            .min()?;
        if min > self.output {
            self.output = min;
            Some(min)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_over_channels_and_monotonic() {
        let mut valve = WatermarkValve::new(3);
        assert_eq!(valve.on_watermark(0, 5), None);
        assert_eq!(valve.on_watermark(1, 3), None);
        assert_eq!(valve.on_watermark(2, 4), Some(3));
        assert_eq!(valve.on_watermark(1, 2), None, "never backwards");
        assert_eq!(valve.on_watermark(1, 9), Some(4));
    }

    #[test]
    fn idle_channels_are_excluded_and_rejoin() {
        let mut valve = WatermarkValve::new(2);
        valve.on_watermark(0, 100);
        assert_eq!(valve.on_status(1, WatermarkStatus::Idle), (Some(100), None));
        // All idle: the status goes idle, the watermark stays at the maximum.
        assert_eq!(
            valve.on_status(0, WatermarkStatus::Idle),
            (None, Some(WatermarkStatus::Idle))
        );
        assert_eq!(
            valve.on_status(1, WatermarkStatus::Active),
            (None, Some(WatermarkStatus::Active))
        );
        // Channel 1 is behind; it holds the output until it catches up.
        assert_eq!(valve.on_watermark(1, 50), None);
        assert_eq!(
            valve.on_watermark(1, 150),
            Some(150),
            "channel 0 is idle, excluded"
        );
    }

    #[test]
    fn when_the_last_active_channel_goes_idle_the_maximum_wins() {
        let mut valve = WatermarkValve::new(2);
        assert_eq!(valve.on_watermark(0, 500), None);
        assert_eq!(valve.on_status(0, WatermarkStatus::Idle), (None, None));
        assert_eq!(
            valve.on_status(1, WatermarkStatus::Idle),
            (Some(500), Some(WatermarkStatus::Idle))
        );
    }

    #[test]
    fn ended_channels_count_as_infinity() {
        let mut valve = WatermarkValve::new(2);
        valve.on_watermark(0, 10);
        assert_eq!(valve.on_end(1), (Some(10), None));
        assert_eq!(valve.on_end(0), (Some(MAX_WATERMARK), None));
        assert!(valve.all_ended());
    }
}
