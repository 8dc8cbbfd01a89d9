//! Runs of jobs in a checkpoint directory, and what `-s latest` resumes.
//!
//! Every start of a job gets a new [`JobId`] and keeps its checkpoints in its own
//! directory, `<checkpoint dir>/<job id>/`, beside a small `_job` record: the job's
//! name, its lineage, when it started, what it was restored from and how it ended.
//! A new run therefore never numbers its checkpoints into an older run's
//! directory, and pruning never deletes a run's own checkpoints in favour of
//! another's.
//!
//! `-s latest` ([`resolve_latest`]) takes the **newest run** of the job's name
//! and shape (its operator uids: SQL jobs named after the same table but made of
//! other operators are other jobs):
//!
//! 1. if that run finished, there is nothing to resume (an error, never a silent
//!    replay of a finished run's last checkpoint);
//! 2. otherwise its newest checkpoint that reads back completely;
//! 3. if it has none, the checkpoint it had itself been restored from (and, if
//!    that is gone or corrupt, the older checkpoints of the run that took it);
//! 4. if nothing is left, the job starts from the beginning **in the same
//!    lineage**, so sinks set aside the output that lineage had committed instead of
//!    writing it a second time.
//!
//! A run that holds `num-retained` complete checkpoints of its own no longer needs
//! the runs of its lineage before it: [`retire_ancestors`] removes them.

use std::path::{Path, PathBuf};

use eddy_core::{Error, JobId, Result};
use serde::{Deserialize, Serialize};

use super::{storage, CompletedCheckpoint};

/// The name of a run's record in its directory.
pub const RUN_FILE: &str = "_job";

/// How a run ended, as far as its record knows. A run whose process was killed
/// stays `Running`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// Started; still running, or killed before it could say otherwise.
    Running,
    /// Every task finished: the output is complete.
    Finished,
    /// Failed with no restart left.
    Failed,
    /// Cancelled (or stopped with a savepoint).
    Canceled,
}

/// A run's `_job` record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The job's name.
    pub job: String,
    /// The run's id.
    pub job_id: String,
    /// The lineage: the short id of the run that started from scratch.
    pub lineage: String,
    /// The job's shape: a checksum of its operator uids. Two jobs that share a
    /// name (SQL jobs are named after the table they write) but not their
    /// operators are different jobs; `-s latest` never mixes them up.
    #[serde(default)]
    pub shape: String,
    /// When the run started (wall-clock milliseconds).
    pub started: i64,
    /// The checkpoint or savepoint the run was restored from.
    pub restored_from: Option<PathBuf>,
    /// How the run ended.
    pub status: RunStatus,
}

/// The directory of run `job_id` under the checkpoint directory `base`.
pub fn run_dir(base: &Path, job_id: JobId) -> PathBuf {
    base.join(job_id.to_string())
}

/// Writes a run's record (through a temporary name, atomically). An error names
/// the directory: a checkpoint directory that cannot be written fails the job
/// before it starts.
pub fn write_record(base: &Path, record: &RunRecord) -> Result<()> {
    let dir = base.join(&record.job_id);
    eddy_fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let json = serde_json::to_vec_pretty(record).map_err(|e| Error::State(e.to_string()))?;
    let target = dir.join(RUN_FILE);
    eddy_fs::write_atomic(&target, &json).map_err(|e| Error::io(&target, e))
}

fn read_record(run_dir: &Path) -> Option<RunRecord> {
    let bytes = eddy_fs::read(&run_dir.join(RUN_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The shape of a job with these operator uids (see [`RunRecord::shape`]).
pub fn shape<'a>(uids: impl IntoIterator<Item = &'a str>) -> String {
    let mut uids: Vec<&str> = uids.into_iter().collect();
    uids.sort_unstable();
    format!("{:08x}", crc32fast::hash(uids.join("\n").as_bytes()))
}

/// Every readable run record under `base` of the job named `job` with the given
/// shape, newest first.
pub fn runs_of(base: &Path, job: &str, shape: &str) -> Vec<RunRecord> {
    let mut runs: Vec<RunRecord> = eddy_fs::list(base)
        .into_iter()
        .flatten()
        .filter(|entry| entry.is_dir)
        .filter_map(|entry| read_record(&base.join(&entry.name)))
        .filter(|r| r.job == job && (r.shape.is_empty() || r.shape == shape))
        .collect();
    runs.sort_by(|a, b| (b.started, &b.job_id).cmp(&(a.started, &a.job_id)));
    runs
}

/// What `-s latest` resumes.
#[derive(Debug, Default)]
pub struct Latest {
    /// The checkpoint to restore, with its path.
    pub checkpoint: Option<(PathBuf, CompletedCheckpoint)>,
    /// The lineage to continue when no checkpoint is left (the job then starts from
    /// the beginning and sinks set aside that lineage's committed output).
    pub lineage: Option<String>,
    /// What was skipped and why, to tell the user.
    pub messages: Vec<String>,
}

/// Resolves `-s latest` for the job named `job` of shape `shape` under `base`;
/// see the module docs.
pub fn resolve_latest(base: &Path, job: &str, shape: &str) -> Result<Latest> {
    let runs = runs_of(base, job, shape);
    let Some(newest) = runs.first() else {
        return Ok(Latest::default());
    };
    if newest.status == RunStatus::Finished {
        return Err(Error::State(format!(
            "nothing to resume: the latest run of job '{job}' ({}, in {}) finished, so its \
             output is complete; run the job without -s to start it again",
            newest.job_id,
            base.join(&newest.job_id).display()
        )));
    }
    Ok(walk(base, newest, runs.len()))
}

/// Resolves what resuming run `job_id` under `base` restores: its newest
/// complete checkpoint, else the one it was restored from (a JobManager
/// recovering the jobs it ran). A run without a record resumes nothing.
pub fn resolve_run(base: &Path, job_id: &str) -> Latest {
    match read_record(&base.join(job_id)) {
        Some(record) => {
            let runs = eddy_fs::list(base).map_or(0, |entries| entries.len());
            walk(base, &record, runs)
        }
        None => Latest::default(),
    }
}

/// The newest complete checkpoint of run `newest`, else of the runs it was
/// restored from, walking at most `bound` steps back.
fn walk(base: &Path, newest: &RunRecord, bound: usize) -> Latest {
    let mut latest = Latest {
        lineage: Some(newest.lineage.clone()),
        ..Latest::default()
    };
    let mut run_path = base.join(&newest.job_id);
    let mut at_most = u64::MAX;
    let mut restored_from = newest.restored_from.clone();
    // Each step goes to an older run (or a savepoint), so the walk ends; the bound
    // guards against records that point at each other.
    for _ in 0..=bound {
        let (found, skipped) = storage::latest(&run_path, at_most);
        latest.messages.extend(skipped);
        if found.is_some() {
            latest.checkpoint = found;
            return latest;
        }
        let Some(from) = restored_from.take() else {
            break;
        };
        latest.messages.push(format!(
            "run {} has no complete checkpoint; trying {}, which it was restored from",
            run_path.display(),
            from.display()
        ));
        // A checkpoint of another run in this directory: that run's checkpoints up
        // to it. A savepoint elsewhere: that savepoint alone.
        let owner = from.parent().filter(|p| p.parent() == Some(base));
        let id = from
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("chk-"))
            .and_then(|n| n.parse::<u64>().ok());
        match (owner, id) {
            (Some(owner), Some(id)) => {
                run_path = owner.to_path_buf();
                at_most = id;
                restored_from = read_record(owner).and_then(|r| r.restored_from);
            }
            _ => match storage::read(&from) {
                Ok(checkpoint) => {
                    latest.checkpoint = Some((from, checkpoint));
                    return latest;
                }
                Err(e) => {
                    latest
                        .messages
                        .push(format!("skipping {}: {e}", from.display()));
                    break;
                }
            },
        }
    }
    latest
}

/// Deletes the runs of `record`'s job and lineage that started before it: once a
/// run holds complete checkpoints of its own, theirs are never resumed again.
pub fn retire_ancestors(base: &Path, record: &RunRecord) {
    for run in runs_of(base, &record.job, &record.shape) {
        let older = (run.started, &run.job_id) < (record.started, &record.job_id);
        if older && run.lineage == record.lineage && run.job_id != record.job_id {
            let _ = eddy_fs::remove_dir_all(&base.join(&run.job_id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::storage::{checkpoint_dir, write};
    use std::fs;

    fn record(job_id: &str, started: i64, from: Option<PathBuf>, status: RunStatus) -> RunRecord {
        RunRecord {
            job: "job".into(),
            job_id: job_id.into(),
            lineage: "l1".into(),
            shape: "s1".into(),
            started,
            restored_from: from,
            status,
        }
    }

    fn checkpoint(base: &Path, run: &str, id: u64) -> PathBuf {
        let dir = checkpoint_dir(&base.join(run), id);
        let c = CompletedCheckpoint {
            id,
            lineage: "l1".into(),
            ..CompletedCheckpoint::default()
        };
        write(&dir, "job", run, &c).unwrap();
        dir
    }

    #[test]
    fn the_newest_run_wins_and_a_finished_one_is_never_resumed() {
        let base = tempfile::tempdir().unwrap();
        let base = base.path();
        // Run a finished with checkpoints; run b started later and has none.
        write_record(base, &record("a", 1, None, RunStatus::Finished)).unwrap();
        checkpoint(base, "a", 39);
        write_record(base, &record("b", 2, None, RunStatus::Running)).unwrap();
        let latest = resolve_latest(base, "job", "s1").unwrap();
        assert!(latest.checkpoint.is_none(), "never the finished run's");
        assert_eq!(latest.lineage.as_deref(), Some("l1"));
        // Only the finished run: nothing to resume, said as an error.
        fs::remove_dir_all(base.join("b")).unwrap();
        let err = resolve_latest(base, "job", "s1").unwrap_err().to_string();
        assert!(err.contains("nothing to resume"), "{err}");
        // Another job's runs are not looked at, nor those of a job that has the
        // same name but other operators.
        assert!(resolve_latest(base, "other", "s1")
            .unwrap()
            .lineage
            .is_none());
        assert!(resolve_latest(base, "job", "s2").unwrap().lineage.is_none());
        assert_eq!(shape(["b", "a"]), shape(["a", "b"]));
        assert_ne!(shape(["a"]), shape(["a", "b"]));
    }

    #[test]
    fn a_run_without_checkpoints_falls_back_to_what_it_was_restored_from() {
        let base = tempfile::tempdir().unwrap();
        let base = base.path();
        write_record(base, &record("a", 1, None, RunStatus::Running)).unwrap();
        for id in 1..=3 {
            checkpoint(base, "a", id);
        }
        let from = checkpoint_dir(&base.join("a"), 2);
        write_record(
            base,
            &record("b", 2, Some(from.clone()), RunStatus::Running),
        )
        .unwrap();
        let latest = resolve_latest(base, "job", "s1").unwrap();
        assert_eq!(
            latest.checkpoint.as_ref().unwrap().1.id,
            2,
            "not a's newer 3"
        );
        // Corrupt a/chk-2: a's older checkpoint 1 is next.
        fs::write(from.join("_metadata"), b"junk").unwrap();
        let latest = resolve_latest(base, "job", "s1").unwrap();
        assert_eq!(latest.checkpoint.as_ref().unwrap().1.id, 1);
        assert!(latest.messages.iter().any(|m| m.contains("chk-2")));
        // Once b has checkpoints of its own, its ancestors are retired.
        checkpoint(base, "b", 3);
        retire_ancestors(base, &record("b", 2, Some(from), RunStatus::Running));
        assert!(!base.join("a").exists());
        assert_eq!(
            resolve_latest(base, "job", "s1")
                .unwrap()
                .checkpoint
                .unwrap()
                .1
                .id,
            3
        );
    }
}
