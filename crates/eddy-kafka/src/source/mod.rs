//! The Kafka source: [`KafkaSource::builder`] in the shape of Flink's
//! `KafkaSource.builder()`.
//!
//! Partitions are the source's splits. Each subtask reads the partitions
//! [`owner`](crate::partition::owner) gives it; its checkpointed position is the
//! next offset of each of them, and a restore (at any parallelism) hands every
//! partition to its new owner at that offset. Partitions found later by
//! partition discovery start from their earliest offset. Watermarks are
//! generated per partition and merged per subtask
//! ([`watermarks`]). When a checkpoint completes, its offsets are committed to
//! the consumer group, for monitoring only: the checkpoint is what a restore reads.

mod builder;
mod position;
mod reader;
pub mod watermarks;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use eddy_runtime::operators::WatermarkStrategy;

pub use builder::KafkaSourceBuilder;
pub use reader::KafkaSourceReader;

use crate::offsets::OffsetsInitializer;
use crate::record::RecordDeserializer;

/// Everything a source reader needs, shared by its subtasks.
pub(crate) struct SourceConfig<T> {
    pub bootstrap_servers: String,
    pub topics: Vec<String>,
    pub group_id: Option<String>,
    pub starting: OffsetsInitializer,
    pub stopping: Option<OffsetsInitializer>,
    pub deserializer: RecordDeserializer<T>,
    pub properties: BTreeMap<String, String>,
    pub discovery_interval: Option<Duration>,
    pub request_timeout: Duration,
    pub commit_offsets_on_checkpoint: bool,
}

/// A Kafka source: build it with [`KafkaSource::builder`], then hand
/// [`KafkaSource::reader_factory`] to `StreamExecutionEnvironment::add_source`.
///
/// ```no_run
/// use eddy::prelude::*;
/// use eddy_kafka::{KafkaSource, OffsetsInitializer};
///
/// let env = StreamExecutionEnvironment::new();
/// let source = KafkaSource::builder()
///     .bootstrap_servers("127.0.0.1:9092")
///     .topics(["words"])
///     .group_id("word-count")
///     .starting_offsets(OffsetsInitializer::Earliest)
///     .value_only_deserializer(eddy_kafka::value_as_string())
///     .build()
///     .unwrap();
/// let lines = env
///     .add_source("Kafka Source", None, source.reader_factory(WatermarkStrategy::no_watermarks()))
///     .unwrap();
/// lines.print();
/// ```
pub struct KafkaSource<T> {
    config: Arc<SourceConfig<T>>,
}

impl<T> Clone for KafkaSource<T> {
    fn clone(&self) -> Self {
        KafkaSource {
            config: self.config.clone(),
        }
    }
}

impl<T: Clone + Send + 'static> KafkaSource<T> {
    /// A builder.
    pub fn builder() -> KafkaSourceBuilder<T> {
        KafkaSourceBuilder::new()
    }

    /// Whether the source ends (a bounded stopping offset is set).
    pub fn is_bounded(&self) -> bool {
        self.config.stopping.is_some()
    }

    /// The reader of one subtask, with watermarks by `strategy` generated per
    /// partition (`WatermarkStrategy::no_watermarks()` for none; records still
    /// carry their Kafka timestamps).
    pub fn create_reader(&self, strategy: WatermarkStrategy<T>) -> KafkaSourceReader<T> {
        KafkaSourceReader::new(self.config.clone(), strategy)
    }

    /// A function building every subtask's reader, for `add_source`.
    pub fn reader_factory(
        &self,
        strategy: WatermarkStrategy<T>,
    ) -> impl Fn(usize) -> KafkaSourceReader<T> + Send + Sync + 'static {
        let source = self.clone();
        move |_| source.create_reader(strategy.clone())
    }
}
