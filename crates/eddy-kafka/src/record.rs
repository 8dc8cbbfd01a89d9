//! Records as the connector sees them: what a source read, what a sink writes,
//! and the functions that turn them into values and back.

use std::sync::Arc;

use eddy_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::KafkaResult;

/// A record read from Kafka, borrowed from the client's buffer.
#[derive(Debug)]
pub struct ConsumedRecord<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The partition.
    pub partition: i32,
    /// The offset within the partition.
    pub offset: i64,
    /// The record's timestamp (create or log-append time), if it has one.
    pub timestamp: Option<Timestamp>,
    /// The key.
    pub key: Option<&'a [u8]>,
    /// The value (`None` for a tombstone).
    pub value: Option<&'a [u8]>,
    /// The headers, in order.
    pub headers: Vec<(&'a str, Option<&'a [u8]>)>,
}

/// Turns a consumed record into a value (Flink's `KafkaRecordDeserializationSchema`).
/// An error fails the job, naming topic, partition and offset.
pub type RecordDeserializer<T> = Arc<dyn Fn(&ConsumedRecord<'_>) -> KafkaResult<T> + Send + Sync>;

/// A deserializer that reads the value as UTF-8 text (a tombstone is the empty string).
pub fn value_as_string() -> RecordDeserializer<String> {
    Arc::new(|record: &ConsumedRecord<'_>| {
        let bytes = record.value.unwrap_or_default();
        String::from_utf8(bytes.to_vec()).map_err(|e| crate::KafkaError::Malformed {
            topic: record.topic.to_string(),
            partition: record.partition,
            offset: record.offset,
            message: format!("the value is not UTF-8: {e}"),
        })
    })
}

/// A record to write to Kafka.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerRecord {
    /// The topic; `None` writes to the sink's topic.
    pub topic: Option<String>,
    /// The partition; `None` lets the sink's partitioner pick.
    pub partition: Option<i32>,
    /// The key.
    pub key: Option<Vec<u8>>,
    /// The value (`None` writes a tombstone).
    pub value: Option<Vec<u8>>,
    /// The timestamp; `None` lets the producer stamp the record.
    pub timestamp: Option<Timestamp>,
    /// Headers.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl ProducerRecord {
    /// A record with only a value.
    pub fn value(value: impl Into<Vec<u8>>) -> Self {
        ProducerRecord {
            value: Some(value.into()),
            ..Default::default()
        }
    }

    /// Sets the key.
    pub fn with_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// An estimate of the bytes it holds.
    pub fn byte_size(&self) -> usize {
        self.key.as_ref().map_or(0, Vec::len)
            + self.value.as_ref().map_or(0, Vec::len)
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
            + 32
    }
}

/// Turns a value and its event time into a record to write (Flink's
/// `KafkaRecordSerializationSchema`).
pub type RecordSerializer<T> =
    Arc<dyn Fn(&T, Option<Timestamp>) -> KafkaResult<ProducerRecord> + Send + Sync>;

/// A serializer that writes a string as the value, with the record's event
/// time as the Kafka timestamp.
pub fn string_value() -> RecordSerializer<String> {
    Arc::new(|value: &String, timestamp| {
        Ok(ProducerRecord {
            timestamp,
            ..ProducerRecord::value(value.as_bytes())
        })
    })
}
