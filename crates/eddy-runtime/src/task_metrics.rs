//! Where a task's time goes, as Flink's task metrics tell it: **idle** while it
//! waits for input, **backpressured** while it waits for room in a full output
//! channel, **busy** the rest of the time (processing records, watermarks,
//! timers, checkpoints).
//!
//! A task keeps the three as running totals in milliseconds
//! (`accumulatedIdleTime`, `accumulatedBackpressuredTime`,
//! `accumulatedBusyTime`) and `isBackPressured` (1 while it waits for room),
//! shown under every operator of its chain. The per-second figures Flink users
//! watch (`busyTimeMsPerSecond`, ...) are the rates of those totals, computed by
//! whoever reads them (the REST API and the reporters).
//!
//! The task loop tells a [`TaskClock`] when its input has nothing
//! ([`TaskClock::input_pending`]) and when it goes on
//! ([`TaskClock::resumed`]), and times its output waits with
//! [`TaskClock::backpressure_started`] / [`TaskClock::backpressure_ended`]. Nothing
//! is timed while records flow without waiting: the clock is read only when a
//! wait begins or ends, and when the totals are published.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use std::time::Instant;

use crate::metrics::Counters;

/// The value of a watermark gauge before the first watermark (Flink's
/// `Long.MIN_VALUE`).
pub const NO_WATERMARK: i64 = i64::MIN;

/// The gauges of one task subtask, shared by the operators of its chain.
#[derive(Clone, Debug, Default)]
pub struct TaskMetrics {
    busy: Arc<AtomicI64>,
    idle: Arc<AtomicI64>,
    backpressured: Arc<AtomicI64>,
    is_backpressured: Arc<AtomicI64>,
}

impl TaskMetrics {
    /// The gauges of subtask `subtask` of the task running `chain` (uid and
    /// name of each operator), registered under each of them in `counters`.
    pub fn register(counters: &Counters, chain: &[(String, String)], subtask: u32) -> Self {
        let metrics = TaskMetrics::default();
        for (uid, name) in chain {
            for (metric, gauge) in metrics.gauges() {
                counters.share_operator_gauge(uid, name, subtask, metric, gauge);
            }
        }
        metrics
    }

    fn gauges(&self) -> [(&'static str, &Arc<AtomicI64>); 4] {
        [
            ("accumulatedBusyTime", &self.busy),
            ("accumulatedIdleTime", &self.idle),
            ("accumulatedBackpressuredTime", &self.backpressured),
            ("isBackPressured", &self.is_backpressured),
        ]
    }
}

/// Marks "not waiting" in [`TaskClock`]'s wait start.
const NOT_WAITING: u64 = u64::MAX;

/// Accounts one task run's time into its [`TaskMetrics`]. Its methods take
/// `&self`, so the futures of a task loop's `select!` can all hold it.
#[derive(Debug)]
pub struct TaskClock {
    metrics: TaskMetrics,
    started: Instant,
    /// When the current wait for input began, in nanoseconds since `started`.
    waiting_since: AtomicU64,
    /// When the current wait for output room began.
    blocked_since: AtomicU64,
    idle: AtomicU64,
    backpressured: AtomicU64,
}

impl TaskClock {
    /// A clock starting now, publishing into `metrics`.
    pub fn new(metrics: TaskMetrics) -> Self {
        TaskClock {
            metrics,
            started: Instant::now(),
            waiting_since: AtomicU64::new(NOT_WAITING),
            blocked_since: AtomicU64::new(NOT_WAITING),
            idle: AtomicU64::new(0),
            backpressured: AtomicU64::new(0),
        }
    }

    fn nanos(&self) -> u64 {
        self.started.elapsed().as_nanos() as u64
    }

    /// The input had nothing: an idle stretch starts, unless one already has.
    pub fn input_pending(&self) {
        if self.waiting_since.load(Ordering::Relaxed) == NOT_WAITING {
            self.waiting_since.store(self.nanos(), Ordering::Relaxed);
        }
    }

    /// The task goes on (input arrived, a timer or a message woke it): the idle
    /// stretch, if any, ends.
    pub fn resumed(&self) {
        // Called after every event: a plain load when there was no wait.
        if self.waiting_since.load(Ordering::Relaxed) != NOT_WAITING {
            self.resumed_at(self.nanos());
        }
    }

    fn resumed_at(&self, now: u64) {
        let since = self.waiting_since.swap(NOT_WAITING, Ordering::Relaxed);
        if since != NOT_WAITING {
            self.idle
                .fetch_add(now.saturating_sub(since), Ordering::Relaxed);
        }
    }

    /// An output channel is full: the task waits for room.
    pub fn backpressure_started(&self) {
        if self.blocked_since.load(Ordering::Relaxed) == NOT_WAITING {
            self.backpressure_started_at(self.nanos());
        }
    }

    fn backpressure_started_at(&self, now: u64) {
        self.blocked_since.store(now, Ordering::Relaxed);
        self.metrics.is_backpressured.store(1, Ordering::Relaxed);
    }

    /// The output took everything: the wait for room, if any, ends.
    pub fn backpressure_ended(&self) {
        if self.blocked_since.load(Ordering::Relaxed) != NOT_WAITING {
            self.backpressure_ended_at(self.nanos());
        }
    }

    fn backpressure_ended_at(&self, now: u64) {
        let since = self.blocked_since.swap(NOT_WAITING, Ordering::Relaxed);
        if since != NOT_WAITING {
            self.backpressured
                .fetch_add(now.saturating_sub(since), Ordering::Relaxed);
            self.metrics.is_backpressured.store(0, Ordering::Relaxed);
        }
    }

    /// Writes the totals so far, a wait still going on included, into the
    /// gauges; busy is what is neither idle nor backpressured.
    pub fn publish(&self) {
        self.publish_at(self.nanos());
    }

    fn publish_at(&self, total: u64) {
        let ongoing = |since: &AtomicU64| match since.load(Ordering::Relaxed) {
            NOT_WAITING => 0,
            since => total.saturating_sub(since),
        };
        let idle = self.idle.load(Ordering::Relaxed) + ongoing(&self.waiting_since);
        let backpressured =
            self.backpressured.load(Ordering::Relaxed) + ongoing(&self.blocked_since);
        let busy = total.saturating_sub(idle).saturating_sub(backpressured);
        let millis = |nanos: u64| (nanos / 1_000_000) as i64;
        self.metrics.idle.store(millis(idle), Ordering::Relaxed);
        self.metrics
            .backpressured
            .store(millis(backpressured), Ordering::Relaxed);
        self.metrics.busy.store(millis(busy), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gauge(counters: &Counters, uid: &str, metric: &str) -> i64 {
        counters
            .operator_gauges()
            .into_iter()
            .find(|g| g.uid == uid && g.metric == metric)
            .map(|g| g.value)
            .unwrap_or_else(|| panic!("no {metric} for {uid}"))
    }

    #[test]
    fn waits_for_input_are_idle_waits_for_room_backpressured_the_rest_busy() {
        let counters = Counters::default();
        let chain = [
            ("src".to_string(), "Source".to_string()),
            ("map".to_string(), "Map".to_string()),
        ];
        let clock = TaskClock::new(TaskMetrics::register(&counters, &chain, 0));
        let ms = |n: u64| n * 1_000_000;
        // 30 ms of work, 50 ms waiting for input (noticed twice), 20 ms of work,
        // 40 ms blocked on output, 10 ms of work.
        clock.waiting_since.store(ms(30), Ordering::Relaxed);
        clock.input_pending();
        clock.resumed_at(ms(80));
        clock.resumed_at(ms(81));
        clock.backpressure_started_at(ms(100));
        // A report during the wait counts the wait so far.
        clock.publish_at(ms(125));
        assert_eq!(gauge(&counters, "map", "isBackPressured"), 1);
        assert_eq!(gauge(&counters, "map", "accumulatedBackpressuredTime"), 25);
        assert_eq!(gauge(&counters, "map", "accumulatedBusyTime"), 50);
        clock.backpressure_ended_at(ms(140));
        clock.backpressure_ended_at(ms(141));
        clock.publish_at(ms(150));
        for uid in ["src", "map"] {
            assert_eq!(gauge(&counters, uid, "accumulatedIdleTime"), 50);
            assert_eq!(gauge(&counters, uid, "accumulatedBackpressuredTime"), 40);
            assert_eq!(gauge(&counters, uid, "accumulatedBusyTime"), 60);
            assert_eq!(gauge(&counters, uid, "isBackPressured"), 0);
        }
    }
}
