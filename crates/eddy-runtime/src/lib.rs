//! # eddy-runtime
//!
//! Runs a job: tasks, operator chaining, channels with backpressure, watermarks,
//! timers and windows. The entry points are [`Operator`] (what an operator
//! implements) and [`MiniCluster`] (runs a [`JobSpec`] in this process).
//!
//! ```text
//!  JobSpec = JobGraph (plain data) + VertexFactory per vertex + EdgeFactory per edge
//!     │  MiniCluster::execute
//!     ▼
//!  chains: forward edges of equal parallelism become direct calls (ChainNode)
//!  channels: one bounded channel per (producer, consumer) of every other edge
//!     │
//!     ▼
//!  ┌ InputTask ─────────────┐   channel    ┌ InputTask ─────────────────────────┐
//!  │ SourceInput → chain →  │ ──batches──▶ │ InputGate: every input's channels, │
//!  │   RecordWriter (hash,  │  watermarks  │   watermarks per input, barriers   │
//!  │   rebalance, ...)      │  barriers    │   aligned across all (Alignment)   │
//!  │                        │  EndOfData   │   → head: ChainNode(op) → ... or   │
//!  │                        │  EndOfPart.  │     TwoInputHead(op) → ... → writer│
//!  └────────────────────────┘              └────────────────────────────────────┘
//! ```
//!
//! A bounded input ends in two steps. When a source's reader ends, its task
//! ends its data: each operator of the chain, head first, gets the final `+inf`
//! watermark and then its end of input ([`Output::end_of_data`]), and the
//! writers send `EndOfData` (the `+inf` watermark never travels on its own). A
//! task whose inputs all ended their data does the same, so what an operator
//! emits at its end always reaches the operators after it before their event
//! time ends. After the final checkpoint (which commits the sinks) each task
//! sends `EndOfPartition` and finishes.
//!
//! With checkpointing on, the MiniCluster's coordinator triggers checkpoints at the
//! sources; barriers flow with the data, input gates align them, every task
//! snapshots its chain (keyed state is shared copy-on-write with the snapshot, not
//! copied: see `eddy_state`), forwards the barrier, writes its state files itself
//! off its processing thread ([`checkpoint::store`]) and acknowledges with where
//! they went (name, size, CRC-32). When all have, the coordinator writes
//! `_metadata`, off its control loop ([`checkpoint`]; failures, savepoint requests
//! and cancellation are handled meanwhile); a checkpoint counts as in progress
//! until then, so the next is triggered only when the last is written. Then every
//! task is notified of the completion, the commit point of two-phase-commit sinks. A failed
//! task restarts the job from the latest complete checkpoint. Every start of a job
//! is a run with its own job id and checkpoint directory
//! ([`checkpoint::runs`], what `-s latest` resumes).
//!
//! Operators do not build state backends or handle restored bytes: in `open` an
//! operator takes its keyed state and timers from
//! [`OperatorContext::keyed_state`] (the backend `state.backend.type` names, loaded
//! with the subtask's part of the restored checkpoint) and shows them from
//! [`Operator::managed_state`]; the runtime snapshots them at every barrier
//! ([`keyed_state`]). Restored state an operator does not take is an error unless
//! `execution.state-recovery.ignore-unclaimed-state` is set.
//!
//! Counters live in the [`metrics`] registry: job-scoped, and per operator uid and
//! subtask; beside them gauges: each operator's input and output watermark, and
//! the busy, idle and backpressured time of its task ([`task_metrics`]).
//!
//! Every job started is registered in [`JobRegistry::global`] with a
//! [`JobHandle`] ([`jobs`]): its id, graph and configuration, status, counters,
//! checkpoint statistics and exception history, and requests to its control loop
//! (savepoint, stop with a savepoint, checkpoint, cancel). The REST API
//! (`eddy-rest`) serves from it.
//!
//! The MiniCluster is a JobMaster and a TaskExecutor that talk only through the
//! [`protocol`]'s plain-data messages, over an in-process channel:
//!
//! ```text
//!  MiniCluster (JobMaster: job status, restarts, checkpoint coordinator)
//!     │ DeployTask(descriptor per head vertex and subtask: plan::deployments)
//!     │ TriggerCheckpoint (sources) · CheckpointComplete · CancelTask
//!     ▼
//!  TaskExecutor ── builds each task from its descriptor and the job's factories,
//!     │            channels found by ChannelId (task_executor::channels)
//!     ▲ TaskState(RUNNING / FINISHED / CANCELED / FAILED + cause)
//!     │ AcknowledgeCheckpoint(state handles) · DeclineCheckpoint · InputEnded
//!  tasks
//! ```
//!
//! In a JobManager process the same JobMaster runs a job's tasks on the
//! [`cluster`]'s TaskManagers instead: it leases slots from the
//! [`ResourceManager`](cluster::ResourceManager), sends each TaskManager the
//! job's artifact (a SQL job's statements, or a program's arguments in
//! application mode, built again there) and then the
//! same messages, framed over TCP; channels between TaskManagers are TCP
//! streams with credit-based flow control ([`network`]), and the TaskManagers'
//! counters come back as [`protocol::MetricsSnapshot`]s.
//!
//! The job's status is Flink's state machine, [`JobStatus`], checked on every
//! change.
//!
//! Operators are synchronous and batch-at-a-time; the task loop is the only async
//! code. It sends what the writers queued (waiting here is backpressure), then waits
//! for an input event, a processing-time callback or the buffer timeout. Batches are
//! flushed when full, on the buffer timeout, and always before a watermark or the
//! end of data. The runtime is generic over the batch type ([`eddy_core::Batch`]):
//! typed records and Arrow `RecordBatch`es share it.

pub mod alignment;
pub mod chain;
pub mod channel;
pub mod checkpoint;
pub mod cluster;
pub mod codecs;
#[cfg(test)]
mod end_of_data_tests;
pub mod factory;
mod gateway;
pub mod graph_builder;
pub mod input;
pub mod jobs;
pub mod keyed_state;
pub mod metrics;
pub mod mini_cluster;
pub mod network;
pub mod operator;
pub mod operators;
pub mod output;
pub mod partitioner;
pub mod plan;
pub mod protocol;
pub mod source;
pub mod source_input;
pub mod task;
pub mod task_executor;
pub mod task_metrics;
pub mod timers;
pub mod two_input;
pub mod user_metrics;
pub mod watermark_valve;
pub mod window;
pub mod writer;

pub use factory::{
    EdgeFactory, JobSpec, OperatorVertex, SourceVertex, TwoInputVertex, TypedEdge, VertexFactory,
};
pub use jobs::{JobHandle, JobRegistry};
pub use keyed_state::{KeyedState, ManagedState};
pub use metrics::{OperatorGauge, OperatorMetric};
pub use mini_cluster::{JobClient, JobExecutionResult, JobStatus, MiniCluster};
pub use operator::{
    Counters, Operator, OperatorContext, OperatorSnapshot, RunContext, TwoInputOperator,
};
pub use output::{Emitter, Output};
pub use source::{SourceEvent, SourceReader};
pub use timers::TimerService;
