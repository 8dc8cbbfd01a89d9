//! Identifiers that carry the protocol's meaning in their type.
//!
//! A [`JobId`] names one run of a job, as Flink's 32-hex-digit job id does: every
//! start of a job (with or without a restore) gets a new one, so a new run never
//! mistakes an older run's checkpoints or output for its own. A [`CheckpointId`]
//! numbers the checkpoints of a job, increasing from 1. An [`ExecutionAttemptId`]
//! names one attempt to run one subtask of one vertex: a restarted subtask is a new
//! attempt, so messages about an earlier attempt can be told apart and ignored.
//!
//! ```
//! use eddy_core::JobId;
//! let id = JobId::generate();
//! let text = id.to_string();
//! assert_eq!(text.len(), 32);
//! assert_eq!(text.parse::<JobId>().unwrap(), id);
//! assert_ne!(JobId::generate(), id);
//! ```

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::graph::VertexId;

/// The id of one run of a job: 128 random bits, shown (and serialized) as 32 hex
/// digits, as Flink shows job ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct JobId(u128);

impl From<JobId> for String {
    fn from(id: JobId) -> String {
        id.to_string()
    }
}

impl TryFrom<String> for JobId {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl JobId {
    /// A new random id, unique across processes and calls.
    pub fn generate() -> Self {
        static CALLS: AtomicU64 = AtomicU64::new(0);
        let call = CALLS.fetch_add(1, Ordering::Relaxed);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        // Each RandomState is seeded from the OS; mixing in the time, the process id
        // and a counter keeps ids distinct even if two seeds were to repeat.
        let half = |salt: u64| {
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u64(salt);
            hasher.write_u128(now);
            hasher.write_u32(std::process::id());
            hasher.write_u64(call);
            hasher.finish()
        };
        JobId((u128::from(half(1)) << 64) | u128::from(half(2)))
    }

    /// The first eight hex digits: enough to tell runs apart in file names.
    pub fn short(&self) -> String {
        format!("{:08x}", (self.0 >> 96) as u32)
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl FromStr for JobId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.len() != 32 {
            return Err(format!("'{text}' is not a job id (32 hex digits)"));
        }
        u128::from_str_radix(text, 16)
            .map(JobId)
            .map_err(|_| format!("'{text}' is not a job id (32 hex digits)"))
    }
}

/// The id of a checkpoint or savepoint within a job: 1, 2, 3, ... in trigger order.
///
/// ```
/// use eddy_core::CheckpointId;
/// let id = CheckpointId(7);
/// assert_eq!(id.to_string(), "7");
/// assert_eq!("7".parse::<CheckpointId>().unwrap(), id);
/// assert_eq!(id.next(), CheckpointId(8));
/// assert!("chk-7".parse::<CheckpointId>().is_err());
/// ```
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct CheckpointId(pub u64);

impl CheckpointId {
    /// The id that follows this one.
    pub fn next(self) -> Self {
        CheckpointId(self.0.saturating_add(1))
    }
}

impl fmt::Display for CheckpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for CheckpointId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.trim()
            .parse()
            .map(CheckpointId)
            .map_err(|_| format!("'{text}' is not a checkpoint id (a number)"))
    }
}

/// One attempt to run one subtask of a vertex: what a TaskExecutor deploys, and
/// what every message about a running task names.
///
/// Attempts count from 0, as Flink's attempt numbers do; each restart of the
/// subtask increments it. Shown as `v<vertex>/<subtask>#<attempt>`.
///
/// ```
/// use eddy_core::{ExecutionAttemptId, VertexId};
/// let id = ExecutionAttemptId::new(VertexId(3), 1, 0);
/// assert_eq!(id.to_string(), "v3/1#0");
/// assert_eq!("v3/1#0".parse::<ExecutionAttemptId>().unwrap(), id);
/// assert_eq!(id.next_attempt().to_string(), "v3/1#1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ExecutionAttemptId {
    /// The vertex whose operator the subtask runs.
    pub vertex: VertexId,
    /// The subtask index, from 0 to the vertex's parallelism - 1.
    pub subtask: u32,
    /// The attempt number, from 0.
    pub attempt: u32,
}

impl ExecutionAttemptId {
    /// The id of `attempt` of subtask `subtask` of `vertex`.
    pub fn new(vertex: VertexId, subtask: u32, attempt: u32) -> Self {
        ExecutionAttemptId {
            vertex,
            subtask,
            attempt,
        }
    }

    /// The same subtask's next attempt.
    pub fn next_attempt(self) -> Self {
        ExecutionAttemptId {
            attempt: self.attempt.saturating_add(1),
            ..self
        }
    }
}

impl fmt::Display for ExecutionAttemptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}#{}", self.vertex, self.subtask, self.attempt)
    }
}

impl FromStr for ExecutionAttemptId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("'{text}' is not an execution attempt id (v<vertex>/<subtask>#<attempt>)");
        let rest = text.trim().strip_prefix('v').ok_or_else(bad)?;
        let (vertex, rest) = rest.split_once('/').ok_or_else(bad)?;
        let (subtask, attempt) = rest.split_once('#').ok_or_else(bad)?;
        let number = |s: &str| s.parse::<u32>().map_err(|_| bad());
        Ok(ExecutionAttemptId {
            vertex: VertexId(number(vertex)?),
            subtask: number(subtask)?,
            attempt: number(attempt)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_serialize_as_their_hex_text() {
        let id = JobId::generate();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<JobId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<JobId>("\"xyz\"").is_err());
    }

    #[test]
    fn ids_round_trip_through_text_and_serde() {
        let attempt = ExecutionAttemptId::new(VertexId(12), 3, 4);
        assert_eq!(
            attempt.to_string().parse::<ExecutionAttemptId>(),
            Ok(attempt)
        );
        let json = serde_json::to_string(&attempt).unwrap();
        assert_eq!(
            serde_json::from_str::<ExecutionAttemptId>(&json).unwrap(),
            attempt
        );
        let bytes = postcard::to_allocvec(&attempt).unwrap();
        assert_eq!(
            postcard::from_bytes::<ExecutionAttemptId>(&bytes).unwrap(),
            attempt
        );

        let checkpoint = CheckpointId(u64::MAX);
        assert_eq!(
            checkpoint.to_string().parse::<CheckpointId>(),
            Ok(checkpoint)
        );
        assert_eq!(
            serde_json::to_string(&checkpoint).unwrap(),
            u64::MAX.to_string()
        );
        assert_eq!(checkpoint.next(), checkpoint);

        let job = JobId::generate();
        let bytes = postcard::to_allocvec(&job).unwrap();
        assert_eq!(postcard::from_bytes::<JobId>(&bytes).unwrap(), job);
    }

    #[test]
    fn malformed_ids_are_errors() {
        for text in [
            "", "3/1#0", "v3/1", "v3#1/0", "vx/1#0", "v3/1#-1", "v3/1#0#1",
        ] {
            assert!(text.parse::<ExecutionAttemptId>().is_err(), "{text}");
        }
        for text in ["", "-1", "chk-3", "1.0"] {
            assert!(text.parse::<CheckpointId>().is_err(), "{text}");
        }
        assert!("0123".parse::<JobId>().is_err());
    }
}
