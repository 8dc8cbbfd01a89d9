//! The job state machine: Flink's job states and the transitions between them,
//! checked in one place.
//!
//! ```text
//!  CREATED ──▶ RUNNING ──▶ FINISHED          the happy path
//!                 │  ▲
//!            fail ▼  │ restarted
//!   RUNNING ──▶ RESTARTING                   restartable failure
//!   RUNNING ──▶ FAILING ──▶ RESTARTING | FAILED
//!   RUNNING ──▶ CANCELLING ──▶ CANCELED      user's cancel
//!
//!  from          allowed next statuses
//!  CREATED       RUNNING, FAILING, CANCELLING
//!  RUNNING       FINISHED, FAILING, RESTARTING, CANCELLING
//!  FAILING       FAILED, RESTARTING, CANCELLING
//!  RESTARTING    RUNNING, CREATED, FAILED, CANCELLING, CANCELED
//!  CANCELLING    CANCELED, FAILING
//!  each of these SUSPENDED (the JobMaster lost its leadership)
//!  FINISHED, CANCELED, FAILED, SUSPENDED: none (terminal)
//! ```
//!
//! A job starts in CREATED and is RUNNING once its tasks are deployed; it is
//! FINISHED when every task finished. A failure moves it to FAILING while its tasks
//! are cancelled, then to RESTARTING if the restart strategy allows another attempt
//! (Flink's default scheduler also restarts straight from RUNNING), or to FAILED. A
//! restarted job is RUNNING again (or CREATED, then RUNNING, as in Flink's docs). A
//! user's cancel moves it to CANCELLING, and to CANCELED once every task stopped; a
//! job waiting to restart has no tasks and is CANCELED at once. FINISHED, CANCELED
//! and FAILED are *globally terminal*: the job is done and its HA data is dropped.
//! SUSPENDED is only *locally terminal*: this JobMaster stops, another may recover
//! the job from the HA store (as a new execution, starting in CREATED again).
//!
//! ```
//! use eddy_core::JobStatus;
//!
//! let status = JobStatus::Created;
//! let status = status.transition(JobStatus::Running).unwrap();
//! let status = status.transition(JobStatus::Finished).unwrap();
//! assert!(status.is_globally_terminal());
//! let err = status.transition(JobStatus::Running).unwrap_err();
//! assert_eq!(err.to_string(), "illegal job status transition FINISHED -> RUNNING");
//! assert_eq!("RESTARTING".parse::<JobStatus>(), Ok(JobStatus::Restarting));
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The status of a job, Flink's `JobStatus` (without INITIALIZING and RECONCILING,
/// which belong to Flink's dispatcher and its adaptive scheduler).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    /// The job is created; no task runs yet.
    Created,
    /// Some tasks are scheduled or running, some may have finished.
    Running,
    /// A task failed; the job cancels its other tasks before it restarts or fails.
    Failing,
    /// The job failed and will not restart. Globally terminal.
    Failed,
    /// The job is being cancelled: its tasks are asked to stop.
    Cancelling,
    /// The job was cancelled. Globally terminal.
    Canceled,
    /// Every task finished (bounded input, or stopped with a savepoint). Globally
    /// terminal.
    Finished,
    /// The job failed and waits to restart under its restart strategy.
    Restarting,
    /// The job was stopped but stays in the HA store, so that another JobMaster can
    /// recover it. Locally terminal.
    Suspended,
}

/// A transition the job state machine does not allow: a bug in the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IllegalTransition {
    /// The status the job was in.
    pub from: JobStatus,
    /// The status the caller asked for.
    pub to: JobStatus,
}

impl fmt::Display for IllegalTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "illegal job status transition {} -> {}",
            self.from, self.to
        )
    }
}

impl std::error::Error for IllegalTransition {}

impl JobStatus {
    /// Every status, in Flink's order.
    pub const ALL: [JobStatus; 9] = [
        JobStatus::Created,
        JobStatus::Running,
        JobStatus::Failing,
        JobStatus::Failed,
        JobStatus::Cancelling,
        JobStatus::Canceled,
        JobStatus::Finished,
        JobStatus::Restarting,
        JobStatus::Suspended,
    ];

    /// Whether the job may move from this status to `to`. The one table of the
    /// state machine; [`JobStatus::transition`] checks against it.
    pub fn can_transition_to(self, to: JobStatus) -> bool {
        use JobStatus::*;
        if to == Suspended {
            return !self.is_terminal();
        }
        match self {
            Created => matches!(to, Running | Failing | Cancelling),
            Running => matches!(to, Finished | Failing | Restarting | Cancelling),
            Failing => matches!(to, Failed | Restarting | Cancelling),
            Restarting => matches!(to, Created | Running | Failed | Cancelling | Canceled),
            // A failure while cancelling fails the job, as Flink's `failJob` does.
            Cancelling => matches!(to, Canceled | Failing),
            Failed | Canceled | Finished | Suspended => false,
        }
    }

    /// The status after moving to `to`, or the illegal transition.
    pub fn transition(self, to: JobStatus) -> Result<JobStatus, IllegalTransition> {
        if self.can_transition_to(to) {
            Ok(to)
        } else {
            Err(IllegalTransition { from: self, to })
        }
    }

    /// Whether this JobMaster is done with the job: FINISHED, CANCELED, FAILED or
    /// SUSPENDED (Flink's `isTerminalState`).
    pub fn is_terminal(self) -> bool {
        self.is_globally_terminal() || self == JobStatus::Suspended
    }

    /// Whether the job is done for good: FINISHED, CANCELED or FAILED. Its recovery
    /// data can be dropped (Flink's `isGloballyTerminalState`).
    pub fn is_globally_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Finished | JobStatus::Canceled | JobStatus::Failed
        )
    }

    /// Flink's name of the status, as its REST API shows it: `RUNNING`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Created => "CREATED",
            JobStatus::Running => "RUNNING",
            JobStatus::Failing => "FAILING",
            JobStatus::Failed => "FAILED",
            JobStatus::Cancelling => "CANCELLING",
            JobStatus::Canceled => "CANCELED",
            JobStatus::Finished => "FINISHED",
            JobStatus::Restarting => "RESTARTING",
            JobStatus::Suspended => "SUSPENDED",
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        JobStatus::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| format!("'{text}' is not a job status"))
    }
}

#[cfg(test)]
mod tests {
    use super::JobStatus::{self, *};

    /// Flink's transitions, written out pair by pair (the docs' job status diagram,
    /// the ExecutionGraph's cancel/fail/suspend and the default scheduler's restart).
    const ALLOWED: &[(JobStatus, JobStatus)] = &[
        (Created, Running),
        (Created, Failing),
        (Created, Cancelling),
        (Created, Suspended),
        (Running, Finished),
        (Running, Failing),
        (Running, Restarting),
        (Running, Cancelling),
        (Running, Suspended),
        (Failing, Failed),
        (Failing, Restarting),
        (Failing, Cancelling),
        (Failing, Suspended),
        (Restarting, Created),
        (Restarting, Running),
        (Restarting, Failed),
        (Restarting, Cancelling),
        (Restarting, Canceled),
        (Restarting, Suspended),
        (Cancelling, Canceled),
        (Cancelling, Failing),
        (Cancelling, Suspended),
    ];

    #[test]
    fn every_pair_is_allowed_exactly_when_listed() {
        for from in JobStatus::ALL {
            for to in JobStatus::ALL {
                let listed = ALLOWED.contains(&(from, to));
                assert_eq!(from.can_transition_to(to), listed, "{from} -> {to}");
                match from.transition(to) {
                    Ok(next) => {
                        assert!(listed, "{from} -> {to} allowed but not listed");
                        assert_eq!(next, to);
                    }
                    Err(e) => {
                        assert!(!listed, "{from} -> {to} listed but refused");
                        assert_eq!((e.from, e.to), (from, to));
                    }
                }
            }
        }
    }

    #[test]
    fn no_status_moves_to_itself() {
        for status in JobStatus::ALL {
            assert!(status.transition(status).is_err(), "{status}");
        }
    }

    #[test]
    fn terminal_states_have_no_way_out() {
        for status in JobStatus::ALL {
            let leaves = JobStatus::ALL
                .iter()
                .any(|&to| status.can_transition_to(to));
            assert_eq!(leaves, !status.is_terminal(), "{status}");
        }
        let globally: Vec<_> = JobStatus::ALL
            .into_iter()
            .filter(|s| s.is_globally_terminal())
            .collect();
        assert_eq!(globally, [Failed, Canceled, Finished]);
        let locally: Vec<_> = JobStatus::ALL
            .into_iter()
            .filter(|s| s.is_terminal() && !s.is_globally_terminal())
            .collect();
        assert_eq!(locally, [Suspended]);
    }

    #[test]
    fn every_status_is_reachable_from_created() {
        let mut reached = vec![Created];
        let mut i = 0;
        while i < reached.len() {
            for to in JobStatus::ALL {
                if reached[i].can_transition_to(to) && !reached.contains(&to) {
                    reached.push(to);
                }
            }
            i += 1;
        }
        assert_eq!(reached.len(), JobStatus::ALL.len(), "{reached:?}");
    }

    fn walk(path: &[JobStatus]) -> Result<JobStatus, super::IllegalTransition> {
        path[1..]
            .iter()
            .try_fold(path[0], |status, &to| status.transition(to))
    }

    #[test]
    fn lifecycles_of_a_job() {
        // Bounded input.
        assert_eq!(walk(&[Created, Running, Finished]), Ok(Finished));
        // Two failures, restarted, then no restart left.
        assert_eq!(
            walk(&[
                Created, Running, Restarting, Running, Failing, Restarting, Created, Running,
                Failing, Failed
            ]),
            Ok(Failed)
        );
        // Cancelled while running, and while waiting to restart.
        assert_eq!(
            walk(&[Created, Running, Cancelling, Canceled]),
            Ok(Canceled)
        );
        assert_eq!(
            walk(&[Created, Running, Restarting, Canceled]),
            Ok(Canceled)
        );
        // Leadership lost while failing.
        assert_eq!(walk(&[Created, Running, Failing, Suspended]), Ok(Suspended));
        // A finished job cannot fail any more, a failed one cannot restart.
        assert!(walk(&[Created, Running, Finished, Failing]).is_err());
        assert!(walk(&[Created, Running, Failing, Failed, Restarting]).is_err());
        // A job cannot finish without running, nor fail without failing first.
        assert!(Created.transition(Finished).is_err());
        assert!(Running.transition(Failed).is_err());
        assert!(Running.transition(Canceled).is_err());
    }

    #[test]
    fn names_are_flinks() {
        for status in JobStatus::ALL {
            let name = status.to_string();
            assert_eq!(name.parse::<JobStatus>(), Ok(status));
            assert_eq!(name.to_lowercase().parse::<JobStatus>(), Ok(status));
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{name}\"")
            );
            let back: JobStatus = serde_json::from_str(&format!("\"{name}\"")).unwrap();
            assert_eq!(back, status);
        }
        assert_eq!(Cancelling.to_string(), "CANCELLING");
        assert_eq!(Canceled.to_string(), "CANCELED");
        assert!("INITIALIZING".parse::<JobStatus>().is_err());
    }
}
