//! Per-second rates of operator metrics, from samples taken every second:
//!
//! - Flink's meters, `numRecordsInPerSecond`, `numRecordsOutPerSecond`,
//!   `numBytesInPerSecond` and `numBytesOutPerSecond`, averaged over the last minute as Flink's `MeterView` does;
//! - the task times, `idleTimeMsPerSecond` and `backPressuredTimeMsPerSecond`:
//!   how many milliseconds of each second the task spent so, over the last
//!   five seconds (the update interval of Flink's `TimerGauge`), from the
//!   running totals the tasks keep ([`eddy_runtime::task_metrics`]); and
//!   `busyTimeMsPerSecond`, the rest of the second, as Flink derives it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use eddy_core::JobId;
use eddy_runtime::JobRegistry;

/// The span a meter averages over.
const WINDOW: Duration = Duration::from_secs(60);
/// The span a task time averages over.
const TIME_WINDOW: Duration = Duration::from_secs(5);
/// How often counters are sampled.
const PERIOD: Duration = Duration::from_secs(1);
/// The counters that have a per-second rate.
pub const METERED: [&str; 4] = ["numRecordsIn", "numRecordsOut", "numBytesIn", "numBytesOut"];
/// The task times: the running total (a gauge, in milliseconds) and the name of
/// its per-second figure.
pub const TIMED: [(&str, &str); 3] = [
    ("accumulatedBusyTime", "busyTimeMsPerSecond"),
    ("accumulatedIdleTime", "idleTimeMsPerSecond"),
    (
        "accumulatedBackpressuredTime",
        "backPressuredTimeMsPerSecond",
    ),
];

/// One operator subtask's counter.
type Key = (JobId, String, u32, String);

/// Samples of every metered counter of the running jobs.
#[derive(Default)]
pub struct Rates {
    samples: Mutex<HashMap<Key, VecDeque<(Instant, u64)>>>,
}

impl Rates {
    /// The rates of this process, sampled by a thread started on first use.
    pub fn global() -> &'static Rates {
        static RATES: OnceLock<Rates> = OnceLock::new();
        static SAMPLER: Once = Once::new();
        let rates = RATES.get_or_init(Rates::default);
        SAMPLER.call_once(|| {
            let _ = std::thread::Builder::new()
                .name("eddy-metrics".into())
                .spawn(move || loop {
                    rates.sample(Instant::now());
                    std::thread::sleep(PERIOD);
                });
        });
        rates
    }

    /// Takes one sample of every metered counter of the running jobs; forgets the
    /// jobs that ended.
    pub fn sample(&self, now: Instant) {
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        let mut live = Vec::new();
        for job in JobRegistry::global().jobs() {
            if job.status().is_terminal() {
                continue;
            }
            live.push(job.id());
            for m in job.operator_metrics() {
                if METERED.contains(&m.metric.as_str()) {
                    let key = (job.id(), m.uid, m.subtask, m.metric);
                    push(samples.entry(key).or_default(), now, m.value, WINDOW);
                }
            }
            for g in job.operator_gauges() {
                if TIMED.iter().any(|(total, _)| *total == g.metric) {
                    let key = (job.id(), g.uid, g.subtask, g.metric);
                    let value = g.value.max(0) as u64;
                    push(samples.entry(key).or_default(), now, value, TIME_WINDOW);
                }
            }
        }
        samples.retain(|(job, ..), _| live.contains(job));
    }

    /// The per-second rate of a sampled counter or task time (0 before two
    /// samples).
    pub fn rate(&self, job: JobId, uid: &str, subtask: u32, metric: &str) -> f64 {
        let samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        let key = (job, uid.to_string(), subtask, metric.to_string());
        let Some(series) = samples.get(&key) else {
            return 0.0;
        };
        match (series.front(), series.back()) {
            (Some((t0, v0)), Some((t1, v1))) if t1 > t0 => {
                v1.saturating_sub(*v0) as f64 / t1.duration_since(*t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}

/// Adds a sample to `series`, keeping the newest `window` of them (and at
/// least two). A value below the last one is a new task attempt counting from
/// zero: the older samples go.
fn push(series: &mut VecDeque<(Instant, u64)>, now: Instant, value: u64, window: Duration) {
    if series.back().is_some_and(|(_, last)| value < *last) {
        series.clear();
    }
    series.push_back((now, value));
    while series.len() > 2 && now.duration_since(series[0].0) > window {
        series.pop_front();
    }
}

/// How one task subtask spent the last seconds, in milliseconds per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TaskTimes {
    /// `busyTimeMsPerSecond`.
    pub busy: f64,
    /// `idleTimeMsPerSecond`.
    pub idle: f64,
    /// `backPressuredTimeMsPerSecond`.
    pub backpressured: f64,
}

impl Rates {
    /// The task times of subtask `subtask` of operator `uid`, adding up to 1000:
    /// idle and backpressured from their totals, busy the rest (as Flink
    /// derives it); `None` before two samples of them.
    pub fn task_times(&self, job: JobId, uid: &str, subtask: u32) -> Option<TaskTimes> {
        let sampled = {
            let samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
            let key = (job, uid.to_string(), subtask, TIMED[0].0.to_string());
            samples.get(&key).is_some_and(|s| s.len() >= 2)
        };
        if !sampled {
            return None;
        }
        let rate = |i: usize| self.rate(job, uid, subtask, TIMED[i].0).clamp(0.0, 1000.0);
        let idle = rate(1);
        let backpressured = rate(2).min(1000.0 - idle);
        Some(TaskTimes {
            busy: 1000.0 - idle - backpressured,
            idle,
            backpressured,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_time_is_the_growth_of_its_total_over_the_last_seconds() {
        let mut series = VecDeque::new();
        let t0 = Instant::now();
        for (second, total) in [(0u64, 0u64), (1, 900), (2, 1800), (3, 2000), (10, 3000)] {
            push(
                &mut series,
                t0 + Duration::from_secs(second),
                total,
                TIME_WINDOW,
            );
        }
        // Samples older than five seconds go, but two stay.
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].1, 2000);
        // A restarted task counts from zero: its old samples are forgotten.
        push(&mut series, t0 + Duration::from_secs(11), 40, TIME_WINDOW);
        assert_eq!(series.len(), 1);
    }
}
