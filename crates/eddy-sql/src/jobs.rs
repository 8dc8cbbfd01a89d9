//! The jobs a SQL session starts and controls: `INSERT`s submitted in the
//! background (Flink's `table.dml-sync` = `false`), `SHOW JOBS` and
//! `STOP JOB '<id>' [WITH SAVEPOINT] [WITH DRAIN]`.
//!
//! `SHOW JOBS` lists every job of this process (from the runtime's
//! [`JobRegistry`]); `STOP JOB` takes a savepoint into
//! `execution.checkpointing.savepoint-dir` (Flink's `state.savepoints.dir` is read
//! too) and stops the job, or cancels it without `WITH SAVEPOINT`.

use eddy_core::{Config, JobId};
use eddy_runtime::{JobClient, JobRegistry};

use crate::error::{SqlError, SqlResult};
use crate::exec::changelog::RowKind;
use crate::session::Output;

/// Configuration key: whether an `INSERT` waits for its job to end.
pub const DML_SYNC: &str = "table.dml-sync";
/// Configuration keys of the default savepoint directory, Flink's current and
/// older name.
const SAVEPOINT_DIRS: [&str; 2] = [
    "execution.checkpointing.savepoint-dir",
    "state.savepoints.dir",
];

/// Jobs submitted in the background; they run as long as the session keeps them.
#[derive(Default)]
pub struct BackgroundJobs {
    clients: Vec<JobClient>,
}

impl BackgroundJobs {
    /// Keeps a submitted job; the `[INFO]` text that reports it.
    pub fn submit(&mut self, client: JobClient) -> Output {
        let id = client.job_id();
        self.clients.push(client);
        Output::Info(format!(
            "Submitting SQL update statement to the cluster...\n\
             [INFO] SQL update statement has been successfully submitted to the cluster:\n\
             Job ID: {id}"
        ))
    }

    /// Whether a job runs in the background.
    pub fn is_empty(&self) -> bool {
        self.clients.iter().all(|c| c.status().is_terminal())
    }

    /// Waits for every background job to end; the errors of those that failed.
    pub fn wait_all(&mut self) -> Vec<(JobId, String)> {
        let mut failures = Vec::new();
        for client in self.clients.drain(..) {
            let id = client.job_id();
            if let Err(e) = client.wait() {
                failures.push((id, e.to_string()));
            }
        }
        failures
    }

    /// Cancels every background job that still runs and waits for it; how many.
    pub fn cancel_all(&mut self) -> usize {
        let mut cancelled = 0;
        for client in self.clients.drain(..) {
            if !client.status().is_terminal() {
                cancelled += 1;
                client.cancel();
            }
            let _ = client.wait();
        }
        cancelled
    }
}

/// Whether `INSERT`s wait for their job: `table.dml-sync`, or `default`.
pub fn dml_sync(config: &Config, default: bool) -> SqlResult<bool> {
    match config
        .get_str(DML_SYNC)
        .map(|v| v.trim().to_ascii_lowercase())
    {
        None => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(SqlError::new(format!(
            "invalid configuration for '{DML_SYNC}': '{v}' is not true or false"
        ))),
    }
}

/// `SHOW JOBS`: every job of this process, as Flink's SQL client lists them.
pub fn show_jobs() -> Output {
    let rows = JobRegistry::global()
        .jobs()
        .iter()
        .map(|job| {
            let start = chrono::DateTime::from_timestamp_millis(job.info().start_time)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .unwrap_or_default();
            (
                RowKind::Insert,
                vec![
                    Some(job.id().to_string()),
                    Some(job.info().name.clone()),
                    Some(job.status().as_str().to_string()),
                    Some(start),
                ],
            )
        })
        .collect();
    Output::Rows {
        columns: ["job id", "job name", "status", "start time"]
            .map(String::from)
            .to_vec(),
        rows,
        changelog: false,
    }
}

/// `STOP JOB '<id>' [WITH SAVEPOINT] [WITH DRAIN]`.
pub fn stop_job(text: &str, config: &Config) -> SqlResult<Output> {
    let usage = || SqlError::new("expected STOP JOB '<job id>' [WITH SAVEPOINT] [WITH DRAIN]");
    let rest = text.trim().trim_end_matches(';').trim();
    let rest = rest.get(8..).ok_or_else(usage)?.trim(); // after "STOP JOB"
    let quoted = rest.strip_prefix('\'').ok_or_else(usage)?;
    let (id, options) = quoted.split_once('\'').ok_or_else(usage)?;
    let id: JobId = id.parse().map_err(SqlError::new)?;
    let words: Vec<String> = options
        .split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect();
    let (mut savepoint, mut drain) = (false, false);
    for pair in words.chunks(2) {
        match pair {
            [with, what] if with == "WITH" && what == "SAVEPOINT" => savepoint = true,
            [with, what] if with == "WITH" && what == "DRAIN" => drain = true,
            _ => return Err(usage()),
        }
    }
    let job = JobRegistry::global()
        .job(id)
        .ok_or_else(|| SqlError::new(format!("Could not find a job with id {id}")))?;
    if job.status().is_terminal() {
        return Err(SqlError::new(format!(
            "job {id} is {}; only a running job can be stopped",
            job.status()
        )));
    }
    if !savepoint {
        if drain {
            return Err(SqlError::new("WITH DRAIN needs WITH SAVEPOINT"));
        }
        job.cancel();
        return Ok(Output::Info("Execute statement succeeded.".into()));
    }
    let dir = SAVEPOINT_DIRS
        .iter()
        .find_map(|key| config.get_str(key))
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| {
            SqlError::new(format!(
                "STOP JOB ... WITH SAVEPOINT needs a savepoint directory: SET '{}' = '...'",
                SAVEPOINT_DIRS[0]
            ))
        })?;
    let done = job.savepoint(dir, Some(drain)).wait_blocking()?;
    let path = done
        .path
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    Ok(Output::Rows {
        columns: vec!["savepoint path".into()],
        rows: vec![(RowKind::Insert, vec![Some(path)])],
        changelog: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_job_checks_its_syntax_and_the_job() {
        let config = Config::new();
        for bad in [
            "STOP JOB",
            "STOP JOB 'abc'",
            "STOP JOB '0123456789abcdef0123456789abcdef' WITH",
            "STOP JOB '0123456789abcdef0123456789abcdef' WITH NOTHING",
        ] {
            assert!(stop_job(bad, &config).is_err(), "{bad}");
        }
        let unknown = stop_job(
            "STOP JOB '0123456789abcdef0123456789abcdef' WITH SAVEPOINT",
            &config,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(unknown.contains("Could not find a job"), "{unknown}");
    }

    #[test]
    fn dml_sync_reads_true_and_false_only() {
        let mut config = Config::new();
        assert!(dml_sync(&config, true).unwrap_or(false));
        config.set(DML_SYNC, "FALSE");
        assert!(!dml_sync(&config, true).unwrap_or(true));
        config.set(DML_SYNC, "maybe");
        assert!(dml_sync(&config, true).is_err());
    }
}
