//! The metrics registry: counters scoped as Flink scopes them.
//!
//! A job has two kinds of counters:
//!
//! - **job scope**: `numRestarts`, `numberOfCompletedCheckpoints`, the checkpoint
//!   figures, and user counters (`env.counter(name)`);
//! - **operator scope**: `numRecordsIn`, `numRecordsOut`, `numLateRecordsDropped`,
//!   `numRecordsInErrors`, ... per operator **identity** (its uid) and subtask,
//!   so two operators with the same name never share a counter.
//!
//! [`Counters::values`] also shows every operator metric summed over subtasks under
//! `<operator name>.<metric>` (summed over operators that share a name), the form
//! the job result has always had; [`Counters::operator_metrics`] gives each
//! operator subtask's own value, for the REST API and the metrics reporters.
//!
//! Beside the counters, operators and tasks have **gauges**: values that are set,
//! not added to, and may go down (`currentInputWatermark`, `isBackPressured`,
//! the accumulated busy, idle and backpressured time of the task that runs the
//! operator). They are not part of the job result; [`Counters::operator_gauges`]
//! lists them, and one gauge may be shown under several operators
//! ([`Counters::share_operator_gauge`]: the operators of one chain show the
//! task's times).
//!
//! ```
//! use std::sync::atomic::Ordering;
//! use eddy_runtime::Counters;
//! let counters = Counters::default();
//! counters.operator_metric("map-1", "Map", 0, "numRecordsIn").fetch_add(3, Ordering::Relaxed);
//! counters.operator_metric("map-2", "Map", 0, "numRecordsIn").fetch_add(4, Ordering::Relaxed);
//! assert_eq!(counters.values()["Map.numRecordsIn"], 7);
//! let scoped = counters.operator_metrics();
//! assert_eq!((scoped[0].uid.as_str(), scoped[0].value), ("map-1", 3));
//! assert_eq!((scoped[1].uid.as_str(), scoped[1].value), ("map-2", 4));
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::protocol::{GaugeSample, MetricsSnapshot};

/// Where an operator metric lives: operator uid, subtask, metric name.
type OperatorKey = (String, u32, String);

/// The counters of a job, job-scoped and operator-scoped; see the module docs.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    job: Arc<Mutex<BTreeMap<String, Arc<AtomicU64>>>>,
    operators: Arc<OperatorValues<AtomicU64>>,
    gauges: Arc<OperatorValues<AtomicI64>>,
    /// Gauges whose value a function computes when read (user gauges,
    /// histograms, meters).
    computed: Arc<OperatorValues<GaugeFn>>,
}

/// A gauge computed when read.
pub type GaugeFn = dyn Fn() -> i64 + Send + Sync;

/// Job-scoped values a TaskExecutor sets rather than counts: a JobMaster takes
/// the newest report of each, where it adds up what every other job-scoped
/// value (a user counter) grew by in each TaskManager.
pub const SET_JOB_VALUES: [&str; 2] = [
    "checkpointSyncDurationMaxMicros",
    "lastCheckpointSyncDurationMicros",
];

/// What each remote counter reported so far in one job attempt, for
/// [`Counters::add_remote`]: operator counters by operator subtask, job
/// counters by TaskManager and name.
#[derive(Debug, Default)]
pub struct RemoteCounts {
    operators: std::collections::HashMap<OperatorKey, u64>,
    job: std::collections::HashMap<(String, String), u64>,
}

impl RemoteCounts {
    /// Records that `reported` is the newest value of `key`, returning what it
    /// grew by since the last report (never negative: a report that arrives
    /// late counts nothing).
    fn grown<K: Eq + std::hash::Hash>(
        seen: &mut std::collections::HashMap<K, u64>,
        key: K,
        reported: u64,
    ) -> u64 {
        let last = seen.entry(key).or_default();
        let grown = reported.saturating_sub(*last);
        *last = (*last).max(reported);
        grown
    }
}

/// One operator subtask's metric or gauge, as the registry holds it and as a
/// TaskManager sends it to the JobMaster.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OperatorValue<T> {
    /// The operator's uid (its identity in the job).
    pub uid: String,
    /// The operator's name.
    pub name: String,
    /// The subtask index.
    pub subtask: u32,
    /// The metric, e.g. `numRecordsIn`.
    pub metric: String,
    /// Its current value.
    pub value: T,
}

/// One operator subtask's counter.
pub type OperatorMetric = OperatorValue<u64>;
/// One operator subtask's gauge.
pub type OperatorGauge = OperatorValue<i64>;

/// An atomic value that can be read.
trait Load {
    type Value;
    fn load(&self) -> Self::Value;
}

impl Load for AtomicU64 {
    type Value = u64;
    fn load(&self) -> u64 {
        AtomicU64::load(self, Ordering::Relaxed)
    }
}

impl Load for AtomicI64 {
    type Value = i64;
    fn load(&self) -> i64 {
        AtomicI64::load(self, Ordering::Relaxed)
    }
}

impl Load for GaugeFn {
    type Value = i64;
    fn load(&self) -> i64 {
        self()
    }
}

/// Operator-scoped values of one kind, by uid, subtask and metric, each with
/// its operator's name.
struct OperatorValues<A: ?Sized>(Mutex<BTreeMap<OperatorKey, (String, Arc<A>)>>);

impl<A: ?Sized> Default for OperatorValues<A> {
    fn default() -> Self {
        OperatorValues(Mutex::new(BTreeMap::new()))
    }
}

impl<A: ?Sized> std::fmt::Debug for OperatorValues<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f.debug_list().entries(map.keys()).finish()
    }
}

impl<A: Load> OperatorValues<A> {
    fn get(
        &self,
        uid: &str,
        name: &str,
        subtask: u32,
        metric: &str,
        new: impl FnOnce() -> A,
    ) -> Arc<A> {
        self.lock()
            .entry((uid.to_string(), subtask, metric.to_string()))
            .or_insert_with(|| (name.to_string(), Arc::new(new())))
            .1
            .clone()
    }
}

impl<A: Load + ?Sized> OperatorValues<A> {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<OperatorKey, (String, Arc<A>)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn share(&self, uid: &str, name: &str, subtask: u32, metric: &str, value: &Arc<A>) {
        self.lock().insert(
            (uid.to_string(), subtask, metric.to_string()),
            (name.to_string(), value.clone()),
        );
    }

    fn list(&self) -> Vec<OperatorValue<A::Value>> {
        self.lock()
            .iter()
            .map(|((uid, subtask, metric), (name, value))| OperatorValue {
                uid: uid.clone(),
                name: name.clone(),
                subtask: *subtask,
                metric: metric.clone(),
                value: value.load(),
            })
            .collect()
    }
}

impl Counters {
    /// The job-scoped counter called `name`, created at zero on first use.
    pub fn counter(&self, name: &str) -> Arc<AtomicU64> {
        let mut map = self.job.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(name.to_string())
            .or_insert_with(|| Arc::new(AtomicU64::new(0)))
            .clone()
    }

    /// The counter `metric` of subtask `subtask` of the operator `uid` (named
    /// `name`), created at zero on first use.
    pub fn operator_metric(
        &self,
        uid: &str,
        name: &str,
        subtask: u32,
        metric: &str,
    ) -> Arc<AtomicU64> {
        self.operators
            .get(uid, name, subtask, metric, || AtomicU64::new(0))
    }

    /// The gauge `metric` of subtask `subtask` of the operator `uid` (named
    /// `name`), created at `initial` on first use.
    pub fn operator_gauge(
        &self,
        uid: &str,
        name: &str,
        subtask: u32,
        metric: &str,
        initial: i64,
    ) -> Arc<AtomicI64> {
        self.gauges
            .get(uid, name, subtask, metric, || AtomicI64::new(initial))
    }

    /// Shows `gauge` as the gauge `metric` of subtask `subtask` of the operator
    /// `uid` too, replacing what was there.
    pub fn share_operator_gauge(
        &self,
        uid: &str,
        name: &str,
        subtask: u32,
        metric: &str,
        gauge: &Arc<AtomicI64>,
    ) {
        self.gauges.share(uid, name, subtask, metric, gauge);
    }

    /// Registers a gauge of subtask `subtask` of the operator `uid` whose value
    /// `read` computes each time it is read, replacing what was there.
    pub fn computed_gauge(
        &self,
        uid: &str,
        name: &str,
        subtask: u32,
        metric: &str,
        read: Arc<GaugeFn>,
    ) {
        self.computed.share(uid, name, subtask, metric, &read);
    }

    /// Every operator subtask's gauges, set and computed, by uid, subtask and
    /// gauge.
    pub fn operator_gauges(&self) -> Vec<OperatorGauge> {
        let mut gauges = self.gauges.list();
        gauges.extend(self.computed.list());
        gauges
    }

    /// Every operator subtask's metrics, by uid, subtask and metric.
    pub fn operator_metrics(&self) -> Vec<OperatorMetric> {
        self.operators.list()
    }

    /// Counts a TaskManager's metrics into this registry: operator counters
    /// and job counters grow by what they grew since the attempt's last report
    /// from that TaskManager (so counts add up over TaskManagers and over
    /// restarts, as in one process); gauges and the [`SET_JOB_VALUES`] are
    /// taken as they are.
    pub fn add_remote(&self, reported: &mut RemoteCounts, snapshot: MetricsSnapshot) {
        for (name, value) in snapshot.job {
            if SET_JOB_VALUES.contains(&name.as_str()) {
                self.counter(&name).store(value, Ordering::Relaxed);
                continue;
            }
            let key = (snapshot.reporter.clone(), name);
            let grown = RemoteCounts::grown(&mut reported.job, key.clone(), value);
            if grown > 0 {
                self.counter(&key.1).fetch_add(grown, Ordering::Relaxed);
            }
        }
        for GaugeSample {
            uid,
            name,
            subtask,
            metric,
            value,
        } in snapshot.gauges
        {
            self.operator_gauge(&uid, &name, subtask, &metric, value)
                .store(value, Ordering::Relaxed);
        }
        for sample in snapshot.operators {
            let key = (sample.uid, sample.subtask, sample.metric);
            let grown = RemoteCounts::grown(&mut reported.operators, key.clone(), sample.value);
            if grown > 0 {
                self.operator_metric(&key.0, &sample.name, key.1, &key.2)
                    .fetch_add(grown, Ordering::Relaxed);
            }
        }
    }

    /// The job-scoped counters alone.
    pub fn job_values(&self) -> BTreeMap<String, u64> {
        let map = self.job.lock().unwrap_or_else(|p| p.into_inner());
        map.iter()
            .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
            .collect()
    }

    /// The job counters and every operator metric summed under
    /// `<operator name>.<metric>`.
    pub fn values(&self) -> BTreeMap<String, u64> {
        let mut values = self.job_values();
        for metric in self.operator_metrics() {
            *values
                .entry(format!("{}.{}", metric.name, metric.metric))
                .or_default() += metric.value;
        }
        values
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::OperatorSample;
    use eddy_core::JobId;

    fn snapshot(value: u64) -> MetricsSnapshot {
        reported_by("tm-1", value)
    }

    fn reported_by(reporter: &str, value: u64) -> MetricsSnapshot {
        MetricsSnapshot {
            job_id: JobId::generate(),
            reporter: reporter.into(),
            timestamp: 0,
            job: [
                ("lastCheckpointSyncDurationMicros".to_string(), value),
                ("malformed lines".to_string(), value / 5),
            ]
            .into(),
            operators: vec![OperatorSample {
                uid: "map-1".into(),
                name: "Map".into(),
                subtask: 0,
                metric: "numRecordsIn".into(),
                value,
            }],
            gauges: vec![GaugeSample {
                uid: "map-1".into(),
                name: "Map".into(),
                subtask: 0,
                metric: "currentInputWatermark".into(),
                value: value as i64 - 20,
            }],
        }
    }

    #[test]
    fn remote_counts_add_up_over_attempts_and_reports_never_count_twice() {
        let counters = Counters::default();
        let mut first = RemoteCounts::default();
        counters.add_remote(&mut first, snapshot(10));
        counters.add_remote(&mut first, snapshot(25));
        counters.add_remote(&mut first, snapshot(25));
        // A restart: the new attempt's TaskManager counts from zero again.
        let mut second = RemoteCounts::default();
        counters.add_remote(&mut second, snapshot(7));
        assert_eq!(counters.values()["Map.numRecordsIn"], 32);
        assert_eq!(counters.values()["lastCheckpointSyncDurationMicros"], 7);
        // A user counter adds up like an operator counter: 5 + 1.
        assert_eq!(counters.values()["malformed lines"], 6);
        // Gauges are what the newest report says, and not in the job result.
        let gauges = counters.operator_gauges();
        assert_eq!(gauges.len(), 1);
        assert_eq!(
            (gauges[0].metric.as_str(), gauges[0].value),
            ("currentInputWatermark", -13)
        );
        assert!(!counters.values().contains_key("Map.currentInputWatermark"));
    }

    #[test]
    fn job_counters_of_several_task_managers_add_up() {
        let counters = Counters::default();
        let mut attempt = RemoteCounts::default();
        counters.add_remote(&mut attempt, reported_by("tm-1", 10));
        counters.add_remote(&mut attempt, reported_by("tm-2", 15));
        counters.add_remote(&mut attempt, reported_by("tm-1", 20));
        counters.add_remote(&mut attempt, reported_by("tm-2", 15));
        assert_eq!(counters.values()["malformed lines"], 4 + 3);
        assert_eq!(counters.values()["lastCheckpointSyncDurationMicros"], 15);
    }

    #[test]
    fn a_shared_gauge_shows_under_every_operator_of_a_chain() {
        let counters = Counters::default();
        let busy = counters.operator_gauge("src", "Source", 1, "accumulatedBusyTime", 0);
        counters.share_operator_gauge("map", "Map", 1, "accumulatedBusyTime", &busy);
        busy.store(40, Ordering::Relaxed);
        let values: Vec<(String, i64)> = counters
            .operator_gauges()
            .into_iter()
            .map(|g| (g.uid, g.value))
            .collect();
        assert_eq!(values, [("map".to_string(), 40), ("src".to_string(), 40)]);
    }
}
