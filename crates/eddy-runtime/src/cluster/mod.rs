//! The cluster: a JobManager and TaskManagers in separate processes.
//!
//! ```text
//!  JobManager process                              TaskManager process (×N)
//!  ┌─────────────────────────────┐   RPC (TCP)    ┌───────────────────────────┐
//!  │ JobMaster per job (the      │◀──────────────▶│ TaskManager: registers,   │
//!  │ MiniCluster's control loop) │ ToTaskManager  │ heartbeats, one           │
//!  │   │ lease slots, deploy     │ ToResourceMgr  │ TaskExecutor per job      │
//!  │ ResourceManager: registered │                │ attempt (the same actor   │
//!  │ TaskManagers, their slots,  │                │ as in one process)        │
//!  │ heartbeats, lost TMs        │                │ DataServer ◀══data══▶ peers│
//!  └─────────────────────────────┘                └───────────────────────────┘
//! ```
//!
//! - A TaskManager ([`task_manager`]) connects to `jobmanager.rpc.address`:
//!   `jobmanager.rpc.port`, says the cluster secret, and registers its slots and
//!   its data address. It sends a heartbeat every `heartbeat.interval`; the
//!   ResourceManager answers each. Either side that hears nothing for
//!   `heartbeat.timeout`, or whose connection breaks, considers the other lost.
//!   A TaskManager that lost its JobManager cancels its tasks and registers
//!   again as soon as it can.
//! - A job attempt leases slots ([`ResourceManager::allocate`]): one per
//!   subtask index, as Flink's default slot sharing (subtask `i` of every vertex
//!   shares slot `i`), spread over the TaskManagers. It waits up to
//!   `slot.request.timeout` for enough free slots, then fails saying how many it
//!   needed and had.
//! - The JobMaster sends each TaskManager of the lease the job's
//!   [`AttemptSetup`] (the [`JobArtifact`](crate::protocol::JobArtifact) its
//!   loader plans again, the configuration, the checkpoint directory), then the
//!   same [`ToTaskExecutor`] messages as in one process; task states and
//!   checkpoint acknowledgements come back the same way. Channels between
//!   TaskManagers go over [`network`](crate::network).
//! - A JobManager whose application ended tells its TaskManagers to stop
//!   ([`ResourceManager::shut_down_task_managers`]).
//! - A TaskManager lost while an attempt runs on it fails that attempt's tasks
//!   there (the JobMaster hears `FAILED` for each), and the job restarts from its
//!   latest completed checkpoint under its restart strategy, on the TaskManagers
//!   that are left or have registered since.
//!
//! - A JobManager with `high-availability.storageDir` keeps each running job
//!   in its [`ha::JobStore`]; started again with the same configuration, it
//!   resumes them from their latest checkpoints.
//! - The REST API lists and reads a TaskManager's log files through the
//!   JobManager: the ResourceManager asks the TaskManager
//!   ([`ResourceManager::task_manager_logs`]), which answers from its
//!   `env.log.dir` ([`log_files`]).
//!
//! Messages are postcard, framed as in [`network::wire`](crate::network::wire).

pub mod ha;
pub mod log_files;
mod messages;
pub mod process_status;
pub mod resource_manager;
pub mod task_manager;

pub use messages::{AttemptSetup, LogAnswer, Registration, ToResourceManager, ToTaskManager};
pub use process_status::ProcessStatus;
pub use resource_manager::{ResourceManager, SlotLease, TaskManagerInfo};
pub use task_manager::{JobLoader, TaskManager};
