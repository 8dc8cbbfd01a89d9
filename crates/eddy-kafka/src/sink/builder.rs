//! [`KafkaSinkBuilder`]: Flink's `KafkaSink.builder()`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::client::DEFAULT_REQUEST_TIMEOUT;
use crate::error::{KafkaError, KafkaResult};
use crate::record::{ProducerRecord, RecordSerializer};
use crate::sink::{DeliveryGuarantee, KafkaSink, SinkConfig, SinkPartitioner};

/// Builds a [`KafkaSink`]. Bootstrap servers, a topic and a serializer are
/// required; exactly-once also needs a transactional id prefix, unique to the
/// job (two jobs with one prefix fence each other).
pub struct KafkaSinkBuilder<T> {
    bootstrap_servers: Option<String>,
    topic: Option<String>,
    guarantee: DeliveryGuarantee,
    prefix: Option<String>,
    serializer: Option<RecordSerializer<T>>,
    properties: BTreeMap<String, String>,
    partitioner: SinkPartitioner,
    request_timeout: Duration,
}

impl<T: Clone + Send + 'static> KafkaSinkBuilder<T> {
    pub(crate) fn new() -> Self {
        KafkaSinkBuilder {
            bootstrap_servers: None,
            topic: None,
            guarantee: DeliveryGuarantee::None,
            prefix: None,
            serializer: None,
            properties: BTreeMap::new(),
            partitioner: SinkPartitioner::Default,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// The brokers to bootstrap from: `host:port[,host:port...]`.
    pub fn bootstrap_servers(mut self, servers: impl Into<String>) -> Self {
        self.bootstrap_servers = Some(servers.into());
        self
    }

    /// The topic records go to (unless their serializer names another).
    pub fn topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }

    /// The delivery guarantee (default `none`, as Flink's).
    pub fn delivery_guarantee(mut self, guarantee: DeliveryGuarantee) -> Self {
        self.guarantee = guarantee;
        self
    }

    /// The prefix of the transactional ids (`<prefix>-<subtask>-<checkpoint>`).
    pub fn transactional_id_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// How a value becomes a record.
    pub fn record_serializer(mut self, serializer: RecordSerializer<T>) -> Self {
        self.serializer = Some(serializer);
        self
    }

    /// A serializer from functions of the value to the key and value bytes.
    pub fn key_value_serializer<K, V>(self, key: K, value: V) -> Self
    where
        K: Fn(&T) -> Option<Vec<u8>> + Send + Sync + 'static,
        V: Fn(&T) -> Vec<u8> + Send + Sync + 'static,
    {
        self.record_serializer(Arc::new(move |v: &T, timestamp| {
            Ok(ProducerRecord {
                key: key(v),
                value: Some(value(v)),
                timestamp,
                ..Default::default()
            })
        }))
    }

    /// How records without a partition are spread.
    pub fn partitioner(mut self, partitioner: SinkPartitioner) -> Self {
        self.partitioner = partitioner;
        self
    }

    /// A producer property (`properties.*` in SQL), passed to the client as is.
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// How long metadata requests, flushes and transaction calls may take
    /// (default 10 s; a flush or commit that takes longer fails the job).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The sink, or an error naming the missing or bad setting.
    pub fn build(self) -> KafkaResult<KafkaSink<T>> {
        let bootstrap_servers = self
            .bootstrap_servers
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| KafkaError::option("bootstrap.servers", "is required"))?;
        let topic = self
            .topic
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| KafkaError::option("topic", "is required"))?;
        let serializer = self
            .serializer
            .ok_or_else(|| KafkaError::option("serializer", "is required"))?;
        let prefix = match (self.guarantee, self.prefix) {
            (DeliveryGuarantee::ExactlyOnce, None) => {
                return Err(KafkaError::option(
                    "sink.transactional-id-prefix",
                    "is required for the exactly-once delivery guarantee",
                ))
            }
            (_, Some(p)) if p.trim().is_empty() => {
                return Err(KafkaError::option(
                    "sink.transactional-id-prefix",
                    "must not be empty",
                ))
            }
            (_, p) => p.unwrap_or_default(),
        };
        Ok(KafkaSink {
            config: Arc::new(SinkConfig {
                bootstrap_servers,
                topic,
                guarantee: self.guarantee,
                transactional_id_prefix: prefix,
                serializer,
                properties: self.properties,
                partitioner: self.partitioner,
                request_timeout: self.request_timeout,
            }),
        })
    }
}
