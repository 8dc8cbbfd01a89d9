//! The elements that travel on a channel between two tasks.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// One element on a channel: data or a control message.
///
/// Control elements keep their order relative to data: a task flushes buffered
/// records before it forwards a watermark, a barrier or the end of data.
///
/// A channel ends in two steps, as in Flink: [`Element::EndOfData`] when its
/// producer has emitted its last record (the end of event time on this channel,
/// standing for the final `+inf` watermark, which never travels on its own),
/// then, after the final checkpoint's barrier, [`Element::EndOfPartition`].
#[derive(Clone, Debug)]
pub enum Element<B> {
    /// A batch of records.
    Batch(B),
    /// Event time has advanced: no record with timestamp `<=` this value follows.
    Watermark(Timestamp),
    /// The channel became idle or active again; idle channels do not hold back the
    /// combined watermark of the receiving task.
    Status(WatermarkStatus),
    /// A checkpoint barrier: everything before it belongs to the checkpoint.
    Barrier(CheckpointBarrier),
    /// The producer has emitted its last record and its event time is over:
    /// its operators' end-of-input output and the final `+inf` watermark came
    /// before. Only barriers and the end of partition may follow.
    EndOfData,
    /// The producer has no more elements; it is the last element on the channel.
    EndOfPartition,
}

/// Whether a channel currently holds back event time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WatermarkStatus {
    /// The channel produces records and watermarks.
    Active,
    /// The channel produces nothing for now and is excluded from the minimum.
    Idle,
}

/// A checkpoint barrier, injected by the sources when a checkpoint is triggered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointBarrier {
    /// The checkpoint's id, increasing within a job.
    pub checkpoint_id: u64,
    /// When the checkpoint was triggered (wall-clock milliseconds).
    pub timestamp: Timestamp,
    /// True for a savepoint, false for a checkpoint.
    pub is_savepoint: bool,
    /// Where every task writes its state for this checkpoint: a savepoint's own
    /// directory. `None` for a checkpoint, whose state goes to the job's
    /// checkpoint storage (Flink's storage location reference).
    #[serde(default)]
    pub target: Option<String>,
}
