//! Per-second rates of operator counters (Flink's meters: `numRecordsInPerSecond`,
//! `numRecordsOutPerSecond`), from samples taken every second over the last minute,
//! as Flink's `MeterView` averages over 60 seconds.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use eddy_core::JobId;
use eddy_runtime::JobRegistry;

/// The span a rate averages over.
const WINDOW: Duration = Duration::from_secs(60);
/// How often counters are sampled.
const PERIOD: Duration = Duration::from_secs(1);
/// The counters that have a per-second rate.
pub const METERED: [&str; 2] = ["numRecordsIn", "numRecordsOut"];

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
                if !METERED.contains(&m.metric.as_str()) {
                    continue;
                }
                let series = samples
                    .entry((job.id(), m.uid, m.subtask, m.metric))
                    .or_default();
                series.push_back((now, m.value));
                while series.len() > 2 && now.duration_since(series[0].0) > WINDOW {
                    series.pop_front();
                }
            }
        }
        samples.retain(|(job, ..), _| live.contains(job));
    }

    /// The per-second rate of a counter over the last minute (0 before two
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
