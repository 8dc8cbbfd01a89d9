//! User-defined metrics, as Flink's `getRuntimeContext().getMetricGroup()`
//! gives them: an operator subtask's [`MetricGroup`] registers counters,
//! gauges, histograms and meters, and sub-groups whose names prefix their
//! metrics (`group.metric`).
//!
//! They are operator metrics like `numRecordsIn`: the REST API, the Web UI
//! and every reporter show them under the operator and subtask. Values are
//! integers: a histogram's mean and a meter's rate are rounded. A histogram
//! `h` shows as Flink's REST API shows one: `h_min`, `h_max`, `h_mean`,
//! `h_median`, `h_stddev`, `h_p75`, `h_p90`, `h_p95`, `h_p98`, `h_p99`,
//! `h_p999`, and `h_count`; a meter as its rate, events per second over the
//! last minute.
//!
//! ```
//! use std::sync::atomic::Ordering;
//! use eddy_runtime::user_metrics::MetricGroup;
//! use eddy_runtime::Counters;
//!
//! let counters = Counters::default();
//! let group = MetricGroup::new(&counters, "parse-1", "Parse", 0).add_group("input");
//! group.counter("malformed").fetch_add(2, Ordering::Relaxed);
//! let sizes = group.histogram("lineLength", 100);
//! for n in [10, 20, 30] {
//!     sizes.update(n);
//! }
//! group.gauge("answer", || 42);
//! let value = |metric: &str| {
//!     let gauges = counters.operator_gauges();
//!     gauges.iter().find(|g| g.metric == metric).map(|g| g.value)
//! };
//! assert_eq!(value("input.lineLength_median"), Some(20));
//! assert_eq!(value("input.answer"), Some(42));
//! assert_eq!(counters.values()["Parse.input.malformed"], 2);
//! ```

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::metrics::{Counters, GaugeFn};

/// The span a meter's rate averages over (Flink's `MeterView` default).
const METER_WINDOW: Duration = Duration::from_secs(60);

/// The metrics of one operator subtask, or of a named group inside it.
#[derive(Clone, Debug)]
pub struct MetricGroup {
    counters: Counters,
    uid: String,
    name: String,
    subtask: u32,
    /// What this group's metric names start with (`a.b.` for group `b` in `a`).
    prefix: String,
}

impl MetricGroup {
    /// The group of subtask `subtask` of the operator `uid`, named `name`.
    pub fn new(counters: &Counters, uid: &str, name: &str, subtask: u32) -> Self {
        MetricGroup {
            counters: counters.clone(),
            uid: uid.to_string(),
            name: name.to_string(),
            subtask,
            prefix: String::new(),
        }
    }

    fn full(&self, metric: &str) -> String {
        format!("{}{metric}", self.prefix)
    }

    /// A sub-group: its metrics are named `<name>.<metric>`.
    pub fn add_group(&self, name: &str) -> MetricGroup {
        MetricGroup {
            prefix: format!("{}{name}.", self.prefix),
            ..self.clone()
        }
    }

    /// A counter, created at zero (the same one if asked for again).
    pub fn counter(&self, metric: &str) -> Arc<AtomicU64> {
        let full = self.full(metric);
        self.counters
            .operator_metric(&self.uid, &self.name, self.subtask, &full)
    }

    /// A gauge whose value `read` gives each time it is reported. `read` runs
    /// on a reporting thread and must not register metrics.
    pub fn gauge(&self, metric: &str, read: impl Fn() -> i64 + Send + Sync + 'static) {
        self.computed(&self.full(metric), Arc::new(read));
    }

    fn computed(&self, full: &str, read: Arc<GaugeFn>) {
        self.counters
            .computed_gauge(&self.uid, &self.name, self.subtask, full, read);
    }

    /// A histogram over the latest `size` values (Flink's
    /// `DescriptiveStatisticsHistogram`).
    pub fn histogram(&self, metric: &str, size: usize) -> Histogram {
        let histogram = Histogram {
            values: Arc::new(Mutex::new(Reservoir {
                values: VecDeque::with_capacity(size.clamp(1, 4096)),
                size: size.max(1),
                count: 0,
            })),
        };
        let full = self.full(metric);
        for stat in Statistic::ALL {
            let values = histogram.values.clone();
            let read = move || {
                let reservoir = values.lock().unwrap_or_else(|p| p.into_inner());
                reservoir.statistic(stat)
            };
            self.computed(&format!("{full}_{}", stat.suffix()), Arc::new(read));
        }
        histogram
    }

    /// A meter: mark events on it; it shows their rate per second over the
    /// last minute.
    pub fn meter(&self, metric: &str) -> Meter {
        let meter = Meter {
            events: Arc::new(AtomicU64::new(0)),
        };
        let events = meter.events.clone();
        let seen = Mutex::new(VecDeque::<(Instant, u64)>::new());
        let read = move || {
            let now = Instant::now();
            let count = events.load(Ordering::Relaxed);
            let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
            seen.push_back((now, count));
            while seen.len() > 2 && now.duration_since(seen[0].0) > METER_WINDOW {
                seen.pop_front();
            }
            match (seen.front(), seen.back()) {
                (Some((t0, c0)), Some((t1, c1))) if t1 > t0 => {
                    let seconds = t1.duration_since(*t0).as_secs_f64();
                    (c1.saturating_sub(*c0) as f64 / seconds).round() as i64
                }
                _ => 0,
            }
        };
        self.computed(&self.full(metric), Arc::new(read));
        meter
    }
}

/// Events counted for their rate ([`MetricGroup::meter`]).
#[derive(Clone, Debug)]
pub struct Meter {
    events: Arc<AtomicU64>,
}

impl Meter {
    /// Marks one event.
    pub fn mark_event(&self) {
        self.mark_events(1);
    }

    /// Marks `n` events.
    pub fn mark_events(&self, n: u64) {
        self.events.fetch_add(n, Ordering::Relaxed);
    }

    /// The events marked so far.
    pub fn count(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }
}

/// The distribution of the latest values ([`MetricGroup::histogram`]).
#[derive(Clone, Debug)]
pub struct Histogram {
    values: Arc<Mutex<Reservoir>>,
}

impl Histogram {
    /// Adds a value, forgetting the oldest once the window is full.
    pub fn update(&self, value: i64) {
        let mut reservoir = self.values.lock().unwrap_or_else(|p| p.into_inner());
        if reservoir.values.len() == reservoir.size {
            reservoir.values.pop_front();
        }
        reservoir.values.push_back(value);
        reservoir.count += 1;
    }
}

#[derive(Debug)]
struct Reservoir {
    values: VecDeque<i64>,
    size: usize,
    /// Every value ever added.
    count: u64,
}

/// What a histogram reports.
#[derive(Clone, Copy, Debug)]
enum Statistic {
    Count,
    Min,
    Max,
    Mean,
    StdDev,
    Quantile(&'static str, f64),
}

impl Statistic {
    const ALL: [Statistic; 12] = [
        Statistic::Count,
        Statistic::Min,
        Statistic::Max,
        Statistic::Mean,
        Statistic::Quantile("median", 0.5),
        Statistic::StdDev,
        Statistic::Quantile("p75", 0.75),
        Statistic::Quantile("p90", 0.90),
        Statistic::Quantile("p95", 0.95),
        Statistic::Quantile("p98", 0.98),
        Statistic::Quantile("p99", 0.99),
        Statistic::Quantile("p999", 0.999),
    ];

    fn suffix(self) -> &'static str {
        match self {
            Statistic::Count => "count",
            Statistic::Min => "min",
            Statistic::Max => "max",
            Statistic::Mean => "mean",
            Statistic::StdDev => "stddev",
            Statistic::Quantile(name, _) => name,
        }
    }
}

impl Reservoir {
    fn statistic(&self, stat: Statistic) -> i64 {
        let n = self.values.len();
        if n == 0 {
            return if matches!(stat, Statistic::Count) {
                self.count as i64
            } else {
                0
            };
        }
        let mean = self.values.iter().map(|v| *v as f64).sum::<f64>() / n as f64;
        match stat {
            Statistic::Count => self.count as i64,
            Statistic::Min => self.values.iter().copied().min().unwrap_or(0),
            Statistic::Max => self.values.iter().copied().max().unwrap_or(0),
            Statistic::Mean => mean.round() as i64,
            Statistic::StdDev => {
                let squares: f64 = self.values.iter().map(|v| (*v as f64 - mean).powi(2)).sum();
                (squares / (n.max(2) - 1) as f64).sqrt().round() as i64
            }
            Statistic::Quantile(_, q) => {
                // The nearest-rank quantile of the sorted window.
                let mut sorted: Vec<i64> = self.values.iter().copied().collect();
                sorted.sort_unstable();
                let rank = (q * n as f64).ceil() as usize;
                sorted[rank.clamp(1, n) - 1]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gauges(counters: &Counters) -> std::collections::BTreeMap<String, i64> {
        counters
            .operator_gauges()
            .into_iter()
            .map(|g| (g.metric, g.value))
            .collect()
    }

    #[test]
    fn a_histogram_reports_flinks_statistics_over_its_window() {
        let counters = Counters::default();
        let group = MetricGroup::new(&counters, "op", "Op", 0);
        let latency = group.histogram("latency", 100);
        assert_eq!(gauges(&counters)["latency_p99"], 0);
        for v in 1..=200 {
            latency.update(v);
        }
        let g = gauges(&counters);
        // The window holds the latest 100: 101..=200.
        assert_eq!(g["latency_count"], 200);
        assert_eq!((g["latency_min"], g["latency_max"]), (101, 200));
        assert_eq!(g["latency_mean"], 151);
        assert_eq!(g["latency_median"], 150);
        assert_eq!(g["latency_p75"], 175);
        assert_eq!(g["latency_p99"], 199);
        assert_eq!(g["latency_p999"], 200);
        assert_eq!(g["latency_stddev"], 29);
        assert_eq!(g.len(), 12);
    }

    #[test]
    fn groups_prefix_names_and_a_meter_shows_its_rate() {
        let counters = Counters::default();
        let group = MetricGroup::new(&counters, "op", "Op", 3)
            .add_group("a")
            .add_group("b");
        group.counter("n").fetch_add(5, Ordering::Relaxed);
        assert_eq!(counters.values()["Op.a.b.n"], 5);
        let meter = group.meter("events");
        assert_eq!(gauges(&counters)["a.b.events"], 0);
        meter.mark_events(10);
        std::thread::sleep(Duration::from_millis(50));
        meter.mark_event();
        // 11 events since the first reading, a little over 50 ms ago.
        let rate = gauges(&counters)["a.b.events"];
        assert!((1..=220).contains(&rate), "{rate}");
        assert_eq!(meter.count(), 11);
    }
}
