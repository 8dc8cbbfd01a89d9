//! Checkpoint barrier alignment over every input channel of a task, whatever
//! the number of its inputs (pure logic, no I/O; the [`InputGate`] drives it).
//!
//! Once a channel delivered barrier `n`, exactly-once alignment stops reading
//! it until every channel delivered `n` or ended, so that no record after the
//! barrier reaches the state of checkpoint `n`; at-least-once alignment keeps
//! reading it. The barrier is handed out when the last channel delivers it. A
//! newer barrier supersedes one still aligning (that checkpoint was aborted);
//! an older one arriving late is dropped.
//!
//! [`InputGate`]: crate::input::InputGate

use std::time::Instant;

use eddy_core::CheckpointBarrier;

/// The alignment state of a task's channels.
#[derive(Debug)]
pub struct Alignment {
    /// Whether channels that delivered the current barrier are blocked.
    exactly_once: bool,
    /// The barrier being aligned.
    aligning: Option<CheckpointBarrier>,
    /// Which channels delivered it, and which have ended.
    arrived: Vec<bool>,
    ended: Vec<bool>,
    /// When the first channel delivered the barrier being aligned.
    aligning_since: Option<Instant>,
    /// When the first channel delivered the barrier handed out last.
    aligned_since: Option<Instant>,
}

impl Alignment {
    /// The alignment of `channels` channels, exactly-once (blocking).
    pub fn new(channels: usize) -> Self {
        Alignment {
            exactly_once: true,
            aligning: None,
            arrived: vec![false; channels],
            ended: vec![false; channels],
            aligning_since: None,
            aligned_since: None,
        }
    }

    /// Sets exactly-once (blocking) or at-least-once (non-blocking) alignment.
    pub fn set_exactly_once(&mut self, exactly_once: bool) {
        self.exactly_once = exactly_once;
    }

    /// A barrier arrived on `channel`; returns it once every channel delivered
    /// it or ended.
    pub fn on_barrier(
        &mut self,
        channel: usize,
        barrier: CheckpointBarrier,
    ) -> Option<CheckpointBarrier> {
        match &self.aligning {
            Some(current) if current.checkpoint_id == barrier.checkpoint_id => {}
            Some(current) if current.checkpoint_id > barrier.checkpoint_id => return None,
            _ => {
                self.aligning = Some(barrier);
                self.aligning_since = Some(Instant::now());
                self.arrived.iter_mut().for_each(|a| *a = false);
            }
        }
        self.arrived[channel] = true;
        self.complete()
    }

    /// `channel` ended; returns the barrier being aligned if only it was
    /// missing.
    pub fn on_end(&mut self, channel: usize) -> Option<CheckpointBarrier> {
        self.ended[channel] = true;
        self.complete()
    }

    fn complete(&mut self) -> Option<CheckpointBarrier> {
        let barrier = self.aligning.clone()?;
        let done = self
            .arrived
            .iter()
            .zip(&self.ended)
            .all(|(arrived, ended)| *arrived || *ended);
        if !done {
            return None;
        }
        self.aligning = None;
        self.aligned_since = self.aligning_since.take();
        self.arrived.iter_mut().for_each(|a| *a = false);
        Some(barrier)
    }

    /// Whether `channel` may not be read now.
    pub fn blocked(&self, channel: usize) -> bool {
        self.exactly_once && self.aligning.is_some() && self.arrived[channel]
    }

    /// When the first channel delivered the barrier handed out last.
    pub fn aligned_since(&self) -> Option<Instant> {
        self.aligned_since
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn barrier(id: u64) -> CheckpointBarrier {
        CheckpointBarrier {
            checkpoint_id: id,
            timestamp: 0,
            is_savepoint: false,
            target: None,
        }
    }

    #[test]
    fn one_input_of_two_channels() {
        let mut a = Alignment::new(2);
        assert_eq!(a.on_barrier(0, barrier(1)), None);
        assert!(a.blocked(0) && !a.blocked(1));
        assert_eq!(a.on_barrier(1, barrier(1)), Some(barrier(1)));
        assert!(!a.blocked(0));
        assert!(a.aligned_since().is_some());
    }

    #[test]
    fn two_inputs_an_ended_channel_counts_as_aligned() {
        // Input 1: channels 0, 1; input 2: channel 2.
        let mut a = Alignment::new(3);
        assert_eq!(a.on_barrier(2, barrier(4)), None);
        assert_eq!(a.on_barrier(0, barrier(4)), None);
        assert!(a.blocked(0) && a.blocked(2) && !a.blocked(1));
        assert_eq!(a.on_end(1), Some(barrier(4)));
        // The ended channel stays aligned for later barriers.
        assert_eq!(a.on_barrier(0, barrier(5)), None);
        assert_eq!(a.on_barrier(2, barrier(5)), Some(barrier(5)));
    }

    #[test]
    fn three_inputs_newer_barriers_supersede_and_old_ones_are_dropped() {
        let mut a = Alignment::new(3);
        assert_eq!(a.on_barrier(0, barrier(1)), None);
        assert_eq!(a.on_barrier(1, barrier(2)), None); // checkpoint 1 was aborted
        assert!(!a.blocked(0) && a.blocked(1));
        assert_eq!(a.on_barrier(0, barrier(1)), None); // late: dropped
        assert!(!a.blocked(0));
        assert_eq!(a.on_barrier(0, barrier(2)), None);
        assert_eq!(a.on_barrier(2, barrier(2)), Some(barrier(2)));
        assert!((0..3).all(|c| !a.blocked(c)));
    }

    #[test]
    fn at_least_once_never_blocks() {
        let mut a = Alignment::new(2);
        a.set_exactly_once(false);
        assert_eq!(a.on_barrier(0, barrier(1)), None);
        assert!(!a.blocked(0));
        assert_eq!(a.on_barrier(1, barrier(1)), Some(barrier(1)));
    }
}
