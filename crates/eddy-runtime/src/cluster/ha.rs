//! The JobManager's job store (`high-availability.storageDir`): every job the
//! JobManager runs on its TaskManagers, as the artifact and configuration it
//! was submitted with, so that a JobManager started again with the same
//! configuration resumes them from their latest checkpoints.
//!
//! One JSON file per job, `<dir>/jobs/<job id>.json`, written (atomically,
//! through a temporary file and a rename) when the job starts and deleted when
//! it reaches a terminal state. A job whose file is left was running when its
//! JobManager stopped or died. The pointer to each job's latest checkpoint is
//! the job's run in the checkpoint directory, which the recovered job resumes
//! as `-s latest` does. The files are plain and self-contained, so a standby
//! JobManager with leader election can take the same store over.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use eddy_core::{Config, Error, Result};
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::protocol::JobArtifact;

/// Configuration key: the directory of the job store; unset, jobs are not
/// recovered when the JobManager is started again.
pub const STORAGE_DIR: &str = "high-availability.storageDir";

/// A job as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredJob {
    /// The id of the job's run.
    pub job_id: String,
    /// The job's name.
    pub name: String,
    /// What the job is built from.
    pub artifact: JobArtifact,
    /// The job's configuration.
    pub config: BTreeMap<String, String>,
}

/// The job store of a JobManager.
#[derive(Clone, Debug)]
pub struct JobStore {
    dir: PathBuf,
}

impl JobStore {
    /// The store `high-availability.storageDir` names, if set; it is created.
    pub fn from_config(config: &Config) -> Result<Option<JobStore>> {
        let Some(dir) = config.get_str(STORAGE_DIR).map(str::trim) else {
            return Ok(None);
        };
        if dir.is_empty() {
            return Ok(None);
        }
        let dir = Path::new(dir.strip_prefix("file://").unwrap_or(dir)).join("jobs");
        std::fs::create_dir_all(&dir).map_err(|e| Error::InvalidConfig {
            key: STORAGE_DIR.into(),
            message: format!("cannot create '{}': {e}", dir.display()),
        })?;
        Ok(Some(JobStore { dir }))
    }

    fn path(&self, job_id: &str) -> PathBuf {
        self.dir.join(format!("{job_id}.json"))
    }

    /// Keeps `job` until [`remove`](JobStore::remove).
    pub fn put(&self, job: &StoredJob) -> Result<()> {
        let path = self.path(&job.job_id);
        let temporary = self.dir.join(format!(".{}.json.tmp", job.job_id));
        let bytes = serde_json::to_vec_pretty(job)
            .map_err(|e| Error::Other(format!("cannot encode job {}: {e}", job.job_id)))?;
        std::fs::write(&temporary, bytes).map_err(|e| Error::io(&temporary, e))?;
        std::fs::rename(&temporary, &path).map_err(|e| Error::io(&path, e))
    }

    /// Forgets job `job_id`.
    pub fn remove(&self, job_id: &str) {
        let path = self.path(job_id);
        if let Err(e) = std::fs::remove_file(&path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                warn!("cannot remove {} from the job store: {e}", path.display());
            }
        }
    }

    /// The jobs kept, oldest file name first. A file that cannot be read is
    /// skipped with a warning (and kept, for a person to look at).
    pub fn jobs(&self) -> Vec<StoredJob> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        paths
            .into_iter()
            .filter_map(|path| {
                let parsed = std::fs::read(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|b| {
                        serde_json::from_slice::<StoredJob>(&b).map_err(|e| e.to_string())
                    });
                match parsed {
                    Ok(job) => Some(job),
                    Err(e) => {
                        warn!("skipping {} in the job store: {e}", path.display());
                        None
                    }
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_kept_until_removed_and_a_corrupt_file_is_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let mut config = Config::new();
        config.set(STORAGE_DIR, tmp.path().display().to_string());
        let store = JobStore::from_config(&config).unwrap().unwrap();
        let job = StoredJob {
            job_id: "00ab".into(),
            name: "insert-into_o".into(),
            artifact: JobArtifact {
                kind: "sql".into(),
                statements: vec!["INSERT INTO o SELECT 1".into()],
            },
            config: [("parallelism.default".to_string(), "2".to_string())].into(),
        };
        store.put(&job).unwrap();
        std::fs::write(tmp.path().join("jobs").join("bad.json"), b"{").unwrap();
        assert_eq!(store.jobs(), vec![job.clone()]);
        store.remove(&job.job_id);
        store.remove(&job.job_id);
        assert!(store.jobs().is_empty());
        assert!(JobStore::from_config(&Config::new()).unwrap().is_none());
    }
}
