//! # eddy-core
//!
//! The vocabulary every other eddy crate speaks. Nothing in here runs a job; it
//! defines what flows and how a job is described:
//!
//! - [`Element`]: what travels on a channel between tasks — a [`Batch`] of records,
//!   a watermark, a checkpoint barrier, a watermark status, the end of data (the last
//!   record was sent) or the end of partition (the last element).
//! - [`Batch`]: the one trait the runtime needs from a batch of records (count,
//!   scatter by target channel, append). [`Records`] implements it for typed Rust
//!   values; with the `arrow` feature, Arrow's `RecordBatch` implements it too.
//! - [`codec`]: elements as framed bytes for the network; [`codec::BatchCodec`]
//!   encodes typed records with postcard and Arrow batches with Arrow IPC.
//! - [`time`]: event time as `i64` milliseconds since the epoch, watermarks, and the
//!   parsing of durations such as `100 ms`.
//! - [`key_group`]: how a key is hashed to a key group and how key-group ranges map to
//!   subtasks, exactly as Flink assigns them.
//! - [`JobGraph`]: the serializable description of a job (vertices and edges).
//! - [`JobId`], [`CheckpointId`], [`ExecutionAttemptId`]: typed ids of a run, a
//!   checkpoint and one attempt of one subtask.
//! - [`JobStatus`]: Flink's job states, with every transition checked in one place.
//! - [`Config`]: configuration with Flink's keys and typed options.
//! - [`Error`]: the error type shared by the lower layers.
//!
//! ```text
//!  source ──Batch/Watermark/Barrier/EndOfData/EndOfPartition──▶ task ──▶ task ──▶ sink
//! ```

pub mod batch;
pub mod byte_buf;
pub mod checkpointing;
pub mod codec;
pub mod config;
pub mod element;
pub mod error;
pub mod graph;
pub mod ids;
pub mod job_status;
pub mod key_group;
pub mod time;

#[cfg(feature = "arrow")]
pub mod arrow_batch;
#[cfg(feature = "arrow")]
pub mod arrow_codec;

pub use batch::{Batch, Records, StreamRecord};
pub use config::{Config, ConfigOption};
pub use element::{CheckpointBarrier, Element, WatermarkStatus};
pub use error::{Error, Result};
pub use graph::{Edge, JobGraph, Partitioning, Vertex, VertexId};
pub use ids::{CheckpointId, ExecutionAttemptId, JobId};
pub use job_status::{IllegalTransition, JobStatus};
pub use key_group::{KeyGroup, KeyGroupRange};
pub use time::{Timestamp, MAX_WATERMARK, MIN_WATERMARK};
