//! The Kafka sink: [`KafkaSink::builder`] in the shape of Flink's
//! `KafkaSink.builder()`, with Flink's three delivery guarantees
//! ([`DeliveryGuarantee`]).
//!
//! Exactly-once is a two-phase commit over Kafka transactions
//! ([`transactions`]): the records of a checkpoint interval go into a
//! transaction of their own, flushed (pre-committed) at the barrier and
//! committed when the checkpoint completes. The interval's records are also
//! kept in the checkpoint, so that a transaction whose commit a crash
//! interrupted is written again, once, on recovery.

mod builder;
mod producer;
pub mod transactions;
mod writer;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub use builder::KafkaSinkBuilder;
pub use writer::KafkaSinkWriter;

use crate::record::RecordSerializer;

/// What the sink promises about records reaching Kafka (Flink's
/// `sink.delivery-guarantee`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryGuarantee {
    /// `none`: records are sent; a failure may lose or duplicate some.
    None,
    /// `at-least-once`: every barrier waits until what was sent is acknowledged,
    /// so a restore may duplicate records but never loses one.
    AtLeastOnce,
    /// `exactly-once`: records are visible to `read_committed` consumers once,
    /// when the checkpoint after them completes.
    ExactlyOnce,
}

impl DeliveryGuarantee {
    /// Parses Flink's names: `none`, `at-least-once`, `exactly-once`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "none" => Some(DeliveryGuarantee::None),
            "at-least-once" | "at_least_once" => Some(DeliveryGuarantee::AtLeastOnce),
            "exactly-once" | "exactly_once" => Some(DeliveryGuarantee::ExactlyOnce),
            _ => None,
        }
    }
}

/// How records without an explicit partition are spread (Flink's `sink.partitioner`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinkPartitioner {
    /// `default`: the Kafka client's partitioner (by key hash; records without
    /// a key spread over partitions).
    Default,
    /// `fixed`: every subtask writes to one partition, `subtask % partitions`.
    Fixed,
    /// `round-robin`: each subtask cycles through the partitions.
    RoundRobin,
}

impl SinkPartitioner {
    /// Parses Flink's names: `default`, `fixed`, `round-robin`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "default" => Some(SinkPartitioner::Default),
            "fixed" => Some(SinkPartitioner::Fixed),
            "round-robin" => Some(SinkPartitioner::RoundRobin),
            _ => None,
        }
    }
}

/// Everything a sink writer needs, shared by its subtasks.
pub(crate) struct SinkConfig<T> {
    pub bootstrap_servers: String,
    pub topic: String,
    pub guarantee: DeliveryGuarantee,
    pub transactional_id_prefix: String,
    pub serializer: RecordSerializer<T>,
    pub properties: BTreeMap<String, String>,
    pub partitioner: SinkPartitioner,
    pub request_timeout: Duration,
}

/// A Kafka sink: build it with [`KafkaSink::builder`], then hand
/// [`KafkaSink::writer_factory`] to `DataStream::sink_to`.
///
/// ```no_run
/// use eddy::prelude::*;
/// use eddy_kafka::{DeliveryGuarantee, KafkaSink};
///
/// let env = StreamExecutionEnvironment::new();
/// env.configure("execution.checkpointing.interval", "1 s");
/// let sink = KafkaSink::builder()
///     .bootstrap_servers("127.0.0.1:9092")
///     .topic("counts")
///     .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
///     .transactional_id_prefix("word-count")
///     .record_serializer(eddy_kafka::string_value())
///     .build()
///     .unwrap();
/// env.from_collection(vec!["a".to_string(), "b".to_string()])
///     .sink_to("Kafka Sink", sink.writer_factory());
/// env.execute("to kafka").unwrap();
/// ```
pub struct KafkaSink<T> {
    config: Arc<SinkConfig<T>>,
}

impl<T> Clone for KafkaSink<T> {
    fn clone(&self) -> Self {
        KafkaSink {
            config: self.config.clone(),
        }
    }
}

impl<T: Clone + Send + 'static> KafkaSink<T> {
    /// A builder.
    pub fn builder() -> KafkaSinkBuilder<T> {
        KafkaSinkBuilder::new()
    }

    /// The writer of one subtask.
    pub fn create_writer(&self) -> KafkaSinkWriter<T> {
        KafkaSinkWriter::new(self.config.clone())
    }

    /// A function building every subtask's writer, for `sink_to`.
    pub fn writer_factory(&self) -> impl Fn(usize) -> KafkaSinkWriter<T> + Send + Sync + 'static {
        let sink = self.clone();
        move |_| sink.create_writer()
    }
}
