//! The RPC messages between the JobManager's ResourceManager and a TaskManager.

use std::collections::BTreeMap;

use eddy_core::{JobGraph, JobId};
use serde::{Deserialize, Serialize};

use super::log_files::LogFile;
use super::ProcessStatus;
use crate::protocol::{JobArtifact, ToJobMaster, ToTaskExecutor};

/// What a TaskManager says to the JobManager.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToResourceManager {
    /// The first message on a connection.
    Register(Registration),
    /// The TaskManager is alive, and how it fares.
    Heartbeat(ProcessStatus),
    /// A message of one of its TaskExecutors to the JobMaster of a job attempt.
    Task {
        /// The job.
        job_id: JobId,
        /// The job attempt.
        attempt: u32,
        /// The message.
        message: ToJobMaster,
    },
    /// The answer to [`ToTaskManager::Logs`].
    Logs {
        /// The request it answers.
        request: u64,
        /// The answer.
        answer: LogAnswer,
    },
}

/// A TaskManager's answer about its log files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogAnswer {
    /// Its log files.
    Files(Vec<LogFile>),
    /// The text of the file asked for.
    Text(Vec<u8>),
    /// The file asked for is not there or cannot be read: why.
    NotFound(String),
}

/// A TaskManager offering its slots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// The TaskManager's id, stable while its process lives.
    pub id: String,
    /// `security.cluster.secret`.
    pub secret: String,
    /// How many slots it offers.
    pub slots: u32,
    /// Where its data port serves channels to other TaskManagers.
    pub data_address: String,
    /// Its machine and process at registration.
    pub status: ProcessStatus,
}

/// What the JobManager says to a TaskManager.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToTaskManager {
    /// The registration was accepted. The JobManager's heartbeat settings
    /// govern the cluster: the TaskManager sends a heartbeat every `interval`
    /// and considers the JobManager lost after `timeout` without an answer.
    Registered {
        /// `heartbeat.interval` of the JobManager, in milliseconds.
        heartbeat_interval_ms: u64,
        /// `heartbeat.timeout` of the JobManager, in milliseconds.
        heartbeat_timeout_ms: u64,
    },
    /// The registration was refused, with the reason; the TaskManager stops.
    Refused(String),
    /// The cluster is shutting down (an application's program ended), with
    /// the reason: the TaskManager cancels what runs and stops.
    Shutdown(String),
    /// The JobManager is alive (the answer to a heartbeat).
    Heartbeat,
    /// Prepare a TaskExecutor for a job attempt that runs tasks here.
    StartAttempt(Box<AttemptSetup>),
    /// A message for the TaskExecutor of a job attempt.
    Task {
        /// The job.
        job_id: JobId,
        /// The job attempt.
        attempt: u32,
        /// The message.
        message: Box<ToTaskExecutor>,
    },
    /// The job attempt ended: cancel what still runs of it and free its slots.
    EndAttempt {
        /// The job.
        job_id: JobId,
        /// The job attempt.
        attempt: u32,
    },
    /// List the log files (`file` = `None`) or send one, its last `tail` bytes
    /// with `tail`; answered by [`ToResourceManager::Logs`] with `request`.
    Logs {
        /// Tells the answer from those of other requests.
        request: u64,
        /// The file to send.
        file: Option<String>,
        /// How many bytes from its end.
        tail: Option<u64>,
    },
}

/// Everything a TaskManager needs to run a job attempt's tasks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptSetup {
    /// The job.
    pub job_id: JobId,
    /// The job attempt: 1, then one more for every restart.
    pub attempt: u32,
    /// The lineage of the job's runs (part of its state files' names).
    pub lineage: String,
    /// What the TaskManager's loader builds the job from.
    pub artifact: JobArtifact,
    /// The job's configuration.
    pub config: BTreeMap<String, String>,
    /// The graph the JobManager planned; the TaskManager's must equal it.
    pub graph: JobGraph,
    /// The run's checkpoint directory, when the job checkpoints.
    pub run_dir: Option<String>,
    /// Whether the job checkpoints.
    pub checkpointing: bool,
    /// Aligned (exactly-once) barriers, else at-least-once.
    pub exactly_once: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{decode_message, encode_message};

    #[test]
    fn messages_to_a_task_manager_round_trip() {
        let job_id = JobId::generate();
        let messages = [
            ToTaskManager::Registered {
                heartbeat_interval_ms: 200,
                heartbeat_timeout_ms: 2_000,
            },
            ToTaskManager::Refused("wrong security.cluster.secret".into()),
            ToTaskManager::Shutdown("the application window_count finished".into()),
            ToTaskManager::Heartbeat,
            ToTaskManager::EndAttempt { job_id, attempt: 3 },
            ToTaskManager::Logs {
                request: 9,
                file: Some("taskmanager.log".into()),
                tail: Some(1_024),
            },
        ];
        for message in messages {
            let bytes = encode_message(&message).unwrap();
            assert_eq!(decode_message::<ToTaskManager>(&bytes).unwrap(), message);
            assert!(decode_message::<ToTaskManager>(&bytes[..bytes.len() - 1]).is_err());
        }
    }
}
