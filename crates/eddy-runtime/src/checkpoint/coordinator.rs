//! The checkpoint coordinator's bookkeeping, as pure logic over plain data: when to
//! trigger, which acknowledgements are missing, when a checkpoint is complete, when
//! it has timed out.
//!
//! A checkpoint is in progress from its trigger until its state is written, as in
//! Flink, where a task acknowledges only after its asynchronous part: every task
//! acknowledging makes it [`Outcome::Complete`] here, then it stays counted against
//! `execution.checkpointing.max-concurrent-checkpoints` until
//! [`Coordinator::written`] settles it, and the minimum pause runs from then. A job
//! whose state takes longer to write than the interval so checkpoints as often as
//! it can write, not once per interval with snapshots piling up.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::storage::SubtaskEntry;
use super::{AcknowledgedCheckpoint, TaskAck};

/// A checkpoint waiting for acknowledgements.
#[derive(Debug)]
struct Pending {
    timestamp: i64,
    is_savepoint: bool,
    started: Instant,
    waiting: BTreeSet<usize>,
    states: Vec<SubtaskEntry>,
}

/// What the coordinator decided about a checkpoint.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Still waiting for acknowledgements.
    Pending,
    /// Every task acknowledged.
    Complete(AcknowledgedCheckpoint),
    /// Unknown or already aborted checkpoint: the acknowledgement is ignored.
    Ignored,
}

/// Tracks checkpoints of one job run.
#[derive(Debug)]
pub struct Coordinator {
    num_tasks: usize,
    next_id: u64,
    max_concurrent: usize,
    min_pause: Duration,
    timeout: Duration,
    pending: BTreeMap<u64, Pending>,
    /// Acknowledged by every task, being written.
    writing: BTreeSet<u64>,
    last_completed_at: Option<Instant>,
    /// Checkpoints whose last acknowledgement came after the timeout; reported by
    /// the next [`Coordinator::expire`].
    late: Vec<u64>,
}

impl Coordinator {
    /// A coordinator for `num_tasks` tasks whose first checkpoint gets `first_id`.
    pub fn new(
        num_tasks: usize,
        first_id: u64,
        max_concurrent: usize,
        min_pause: Duration,
        timeout: Duration,
    ) -> Self {
        Coordinator {
            num_tasks,
            next_id: first_id.max(1),
            max_concurrent: max_concurrent.max(1),
            min_pause,
            timeout,
            pending: BTreeMap::new(),
            writing: BTreeSet::new(),
            last_completed_at: None,
            late: Vec::new(),
        }
    }

    /// Starts a checkpoint if the concurrency limit and minimum pause allow it (a
    /// savepoint ignores both); returns its id.
    pub fn trigger(&mut self, now: Instant, timestamp: i64, is_savepoint: bool) -> Option<u64> {
        if !is_savepoint {
            if self.pending.len() + self.writing.len() >= self.max_concurrent {
                return None;
            }
            if let Some(last) = self.last_completed_at {
                if now.duration_since(last) < self.min_pause {
                    return None;
                }
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        self.pending.insert(
            id,
            Pending {
                timestamp,
                is_savepoint,
                started: now,
                waiting: (0..self.num_tasks).collect(),
                states: Vec::new(),
            },
        );
        Some(id)
    }

    /// Records an acknowledgement.
    pub fn acknowledge(&mut self, ack: TaskAck, now: Instant) -> Outcome {
        let Some(pending) = self.pending.get_mut(&ack.checkpoint_id) else {
            return Outcome::Ignored;
        };
        if now.duration_since(pending.started) >= self.timeout {
            // Too late: the checkpoint fails even if this was the last ack.
            self.pending.remove(&ack.checkpoint_id);
            self.late.push(ack.checkpoint_id);
            return Outcome::Ignored;
        }
        if !pending.waiting.remove(&ack.task) {
            return Outcome::Ignored;
        }
        pending.states.extend(ack.states);
        if !pending.waiting.is_empty() {
            return Outcome::Pending;
        }
        let Some(done) = self.pending.remove(&ack.checkpoint_id) else {
            return Outcome::Ignored;
        };
        // A newer complete checkpoint subsumes older pending ones.
        self.pending
            .retain(|id, p| *id > ack.checkpoint_id || p.is_savepoint);
        self.writing.insert(ack.checkpoint_id);
        let mut subtasks = done.states;
        subtasks.sort_by(|a, b| (&a.uid, a.subtask).cmp(&(&b.uid, b.subtask)));
        Outcome::Complete(AcknowledgedCheckpoint {
            id: ack.checkpoint_id,
            timestamp: done.timestamp,
            is_savepoint: done.is_savepoint,
            subtasks,
        })
    }

    /// Aborts and returns the checkpoints older than the timeout (including those
    /// whose acknowledgements arrived too late).
    pub fn expire(&mut self, now: Instant) -> Vec<u64> {
        let timeout = self.timeout;
        let mut expired = std::mem::take(&mut self.late);
        let timed_out: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| now.duration_since(p.started) >= timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in &timed_out {
            self.pending.remove(id);
        }
        expired.extend(timed_out);
        expired
    }

    /// Settles a complete checkpoint whose state was written (`ok`), could not be
    /// written, or was subsumed by a newer one before it was: it no longer counts
    /// against the concurrency limit, and a written one starts the minimum pause.
    pub fn written(&mut self, id: u64, ok: bool, now: Instant) {
        if self.writing.remove(&id) && ok {
            self.last_completed_at = Some(now);
        }
    }

    /// Aborts a checkpoint (e.g. its files could not be written).
    pub fn abort(&mut self, id: u64) {
        self.pending.remove(&id);
        self.writing.remove(&id);
    }

    /// The ids of the checkpoints in flight.
    pub fn pending_ids(&self) -> Vec<u64> {
        self.pending.keys().copied().collect()
    }

    /// The id the next checkpoint will get.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(id: u64, task: usize) -> TaskAck {
        TaskAck {
            checkpoint_id: id,
            task,
            states: Vec::new(),
        }
    }

    #[test]
    fn completes_when_every_task_acknowledged() {
        let now = Instant::now();
        let mut c = Coordinator::new(2, 1, 1, Duration::ZERO, Duration::from_secs(60));
        let id = c.trigger(now, 0, false).unwrap();
        assert_eq!(c.trigger(now, 0, false), None, "one at a time");
        assert_eq!(c.acknowledge(ack(id, 0), now), Outcome::Pending);
        assert_eq!(
            c.acknowledge(ack(id, 0), now),
            Outcome::Ignored,
            "duplicate ack"
        );
        assert!(matches!(c.acknowledge(ack(id, 1), now), Outcome::Complete(cp) if cp.id == 1));
        assert_eq!(c.acknowledge(ack(id, 1), now), Outcome::Ignored);
        assert_eq!(c.trigger(now, 0, false), None, "still being written");
        c.written(id, true, now);
        assert_eq!(c.trigger(now, 0, false), Some(2));
    }

    #[test]
    fn a_checkpoint_being_written_holds_back_the_next_until_settled() {
        let start = Instant::now();
        let later = start + Duration::from_millis(200);
        let mut c = Coordinator::new(1, 1, 1, Duration::from_millis(100), Duration::from_secs(60));
        let id = c.trigger(start, 0, false).unwrap();
        assert!(matches!(
            c.acknowledge(ack(id, 0), start),
            Outcome::Complete(_)
        ));
        assert_eq!(c.trigger(later, 0, false), None, "the write is in progress");
        assert_eq!(
            c.trigger(later, 0, true),
            Some(2),
            "a savepoint does not wait"
        );
        c.written(id, true, later);
        c.abort(2);
        assert_eq!(c.trigger(later, 0, false), None, "min pause from the write");
        let id = c
            .trigger(later + Duration::from_millis(100), 0, false)
            .unwrap();
        assert!(matches!(
            c.acknowledge(ack(id, 0), later),
            Outcome::Complete(_)
        ));
        c.written(id, false, later);
        assert_eq!(
            c.trigger(later + Duration::from_millis(100), 0, false),
            Some(4),
            "a failed write settles it too, and starts no pause"
        );
    }

    #[test]
    fn min_pause_and_timeouts() {
        let start = Instant::now();
        let mut c = Coordinator::new(
            1,
            5,
            2,
            Duration::from_millis(100),
            Duration::from_millis(50),
        );
        assert_eq!(c.trigger(start, 0, false), Some(5));
        assert_eq!(
            c.expire(start + Duration::from_millis(10)),
            Vec::<u64>::new()
        );
        assert_eq!(c.expire(start + Duration::from_millis(60)), vec![5]);
        assert_eq!(c.acknowledge(ack(5, 0), start), Outcome::Ignored, "expired");
        let id = c.trigger(start, 0, false).unwrap();
        assert!(matches!(
            c.acknowledge(ack(id, 0), start),
            Outcome::Complete(_)
        ));
        c.written(id, true, start);
        assert_eq!(
            c.trigger(start + Duration::from_millis(50), 0, false),
            None,
            "min pause"
        );
        assert_eq!(
            c.trigger(start + Duration::from_millis(50), 0, true),
            Some(7),
            "savepoints ignore it"
        );
    }

    #[test]
    fn an_acknowledgement_after_the_timeout_fails_the_checkpoint() {
        let start = Instant::now();
        let mut c = Coordinator::new(1, 1, 1, Duration::ZERO, Duration::from_millis(5));
        let id = c.trigger(start, 0, false).unwrap();
        let late = start + Duration::from_millis(6);
        assert_eq!(c.acknowledge(ack(id, 0), late), Outcome::Ignored);
        assert_eq!(c.expire(late), vec![id]);
        assert_eq!(c.expire(late), Vec::<u64>::new());
    }
}
