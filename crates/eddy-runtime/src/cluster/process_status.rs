//! What a TaskManager process tells about itself in its registration and
//! heartbeats: hardware, memory and CPU, read from `/proc` (Linux; zero
//! elsewhere).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A TaskManager process at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessStatus {
    /// The machine's cores.
    pub cpu_cores: u32,
    /// The machine's memory, in bytes.
    pub physical_memory: u64,
    /// The machine's available memory, in bytes.
    pub free_memory: u64,
    /// The process's resident memory, in bytes.
    pub resident_memory: u64,
    /// The CPU time the process used so far (user and system), in milliseconds.
    pub cpu_time_ms: u64,
    /// The process's threads.
    pub threads: u32,
}

impl ProcessStatus {
    /// This process, now.
    pub fn read() -> ProcessStatus {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // Fields after the command name: utime and stime are the 12th and 13th.
        let ticks: u64 = stat
            .rsplit(") ")
            .next()
            .map(|rest| {
                rest.split_whitespace()
                    .skip(11)
                    .take(2)
                    .filter_map(|t| t.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0);
        ProcessStatus {
            cpu_cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            physical_memory: kib(&meminfo, "MemTotal:") * 1024,
            free_memory: kib(&meminfo, "MemAvailable:") * 1024,
            resident_memory: kib(&status, "VmRSS:") * 1024,
            // The kernel's clock ticks are 100 per second on Linux.
            cpu_time_ms: ticks * 10,
            threads: kib(&status, "Threads:") as u32,
        }
    }
}

/// The share of the machine's CPU this process used lately, from 0 to 1
/// (Flink's `Status.JVM.CPU.Load`): measured between readings at least a
/// second apart, the latest such figure; `None` until there is one.
pub fn recent_cpu_load(status: &ProcessStatus) -> Option<f64> {
    static LOAD: Mutex<CpuLoad> = Mutex::new(CpuLoad {
        since: None,
        latest: None,
    });
    let mut load = LOAD.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    match load.since {
        Some((then, cpu_ms)) => {
            let wall = now.duration_since(then);
            if wall >= Duration::from_secs(1) {
                load.latest = Some(cpu_load(cpu_ms, status, wall));
                load.since = Some((now, status.cpu_time_ms));
            }
        }
        None => load.since = Some((now, status.cpu_time_ms)),
    }
    load.latest
}

/// The share of the machine's CPU a process used over `wall`, from its CPU
/// time `cpu_ms` then to `status` now, from 0 to 1.
pub fn cpu_load(cpu_ms: u64, status: &ProcessStatus, wall: Duration) -> f64 {
    let used = status.cpu_time_ms.saturating_sub(cpu_ms) as f64;
    let capacity = (wall.as_millis() as f64).max(1.0) * f64::from(status.cpu_cores.max(1));
    (used / capacity).clamp(0.0, 1.0)
}

/// What [`recent_cpu_load`] keeps between calls.
struct CpuLoad {
    /// The reading the next figure is measured from: when, and the CPU time.
    since: Option<(Instant, u64)>,
    /// The latest figure.
    latest: Option<f64>,
}

/// The number after `field` in a `/proc` status text.
fn kib(text: &str, field: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_load_is_a_share_once_a_second_passed() {
        let status = ProcessStatus::read();
        let _ = recent_cpu_load(&status);
        std::thread::sleep(Duration::from_millis(1100));
        let load = recent_cpu_load(&ProcessStatus::read()).unwrap();
        assert!((0.0..=1.0).contains(&load), "{load}");
    }

    #[test]
    fn the_load_is_cpu_time_over_the_wall_time_of_every_core() {
        let status = ProcessStatus {
            cpu_cores: 4,
            cpu_time_ms: 3_000,
            ..ProcessStatus::default()
        };
        // 2 s of CPU over 1 s on 4 cores.
        assert_eq!(cpu_load(1_000, &status, Duration::from_secs(1)), 0.5);
        // A CPU time that went backwards (a restarted process) is no load.
        assert_eq!(cpu_load(9_000, &status, Duration::from_secs(1)), 0.0);
        assert_eq!(cpu_load(0, &status, Duration::from_millis(100)), 1.0);
    }

    #[test]
    fn this_process_has_memory_and_threads() {
        let status = ProcessStatus::read();
        assert!(status.cpu_cores >= 1);
        if cfg!(target_os = "linux") {
            assert!(
                status.resident_memory > 0 && status.threads >= 1,
                "{status:?}"
            );
            assert!(status.physical_memory >= status.free_memory);
        }
    }
}
