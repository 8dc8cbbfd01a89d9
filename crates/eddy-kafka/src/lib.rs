//! # eddy-kafka
//!
//! eddy's Kafka connector, for the DataStream API ([`KafkaSource::builder`],
//! [`KafkaSink::builder`], in the shape of Flink's) and, through `eddy-cli`,
//! for SQL's `kafka` and `upsert-kafka` tables. It is the only crate that links
//! the Kafka client (librdkafka, built from source by cargo).
//!
//! ```text
//!  KafkaSource ── subtask i reads the partitions owner(topic, p, parallelism) = i
//!     │  checkpoint: next offset per partition      (restore: any parallelism)
//!     │  checkpoint complete: offsets → consumer group (monitoring only)
//!     ▼
//!   job ... ─▶ KafkaSink ── none:          send
//!                           at-least-once: send, flush at every barrier
//!                           exactly-once:  one transaction per checkpoint interval
//!                                          (<prefix>-<subtask>-<checkpoint>),
//!                                          flushed at the barrier, committed when
//!                                          the checkpoint completes
//! ```
//!
//! [`testing::TestBroker`] starts a Kafka-compatible broker for tests.

mod client;
pub mod error;
pub mod offsets;
pub mod partition;
pub mod record;
pub mod sink;
pub mod source;
pub mod testing;

pub use client::DEFAULT_REQUEST_TIMEOUT;
pub use error::{KafkaError, KafkaResult};
pub use offsets::{parse_specific_offsets, OffsetsInitializer};
pub use partition::{split_uri, TopicPartition};
pub use record::{
    string_value, value_as_string, ConsumedRecord, ProducerRecord, RecordDeserializer,
    RecordSerializer,
};
pub use sink::{DeliveryGuarantee, KafkaSink, KafkaSinkBuilder, SinkPartitioner};
pub use source::{KafkaSource, KafkaSourceBuilder, KafkaSourceReader};
