//! [`KafkaSourceBuilder`]: Flink's `KafkaSource.builder()`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::client::DEFAULT_REQUEST_TIMEOUT;
use crate::error::{KafkaError, KafkaResult};
use crate::offsets::OffsetsInitializer;
use crate::record::{ConsumedRecord, RecordDeserializer};
use crate::source::{KafkaSource, SourceConfig};

/// Builds a [`KafkaSource`]. Bootstrap servers, topics and a deserializer are
/// required; the rest has Flink's defaults (start from the group's committed
/// offsets, else earliest; unbounded; no partition discovery).
pub struct KafkaSourceBuilder<T> {
    bootstrap_servers: Option<String>,
    topics: Vec<String>,
    group_id: Option<String>,
    starting: OffsetsInitializer,
    stopping: Option<OffsetsInitializer>,
    deserializer: Option<RecordDeserializer<T>>,
    properties: BTreeMap<String, String>,
    discovery_interval: Option<Duration>,
    request_timeout: Duration,
    commit_offsets_on_checkpoint: bool,
}

impl<T: Clone + Send + 'static> KafkaSourceBuilder<T> {
    pub(crate) fn new() -> Self {
        KafkaSourceBuilder {
            bootstrap_servers: None,
            topics: Vec::new(),
            group_id: None,
            starting: OffsetsInitializer::Committed,
            stopping: None,
            deserializer: None,
            properties: BTreeMap::new(),
            discovery_interval: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            commit_offsets_on_checkpoint: true,
        }
    }

    /// The brokers to bootstrap from: `host:port[,host:port...]`.
    pub fn bootstrap_servers(mut self, servers: impl Into<String>) -> Self {
        self.bootstrap_servers = Some(servers.into());
        self
    }

    /// The topics to read.
    pub fn topics<I, S>(mut self, topics: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.topics = topics.into_iter().map(Into::into).collect();
        self
    }

    /// The consumer group (`group.id`): where offsets are committed on
    /// checkpoint completion and read by [`OffsetsInitializer::Committed`].
    pub fn group_id(mut self, group: impl Into<String>) -> Self {
        self.group_id = Some(group.into());
        self
    }

    /// Where to start reading partitions that are not in a restored checkpoint.
    pub fn starting_offsets(mut self, offsets: OffsetsInitializer) -> Self {
        self.starting = offsets;
        self
    }

    /// Makes the source bounded: every partition is read up to (not including)
    /// these offsets, then the source ends.
    pub fn bounded(mut self, stopping: OffsetsInitializer) -> Self {
        self.stopping = Some(stopping);
        self
    }

    /// How a record becomes a value.
    pub fn deserializer(mut self, deserializer: RecordDeserializer<T>) -> Self {
        self.deserializer = Some(deserializer);
        self
    }

    /// A deserializer of the value alone (e.g. [`crate::value_as_string`]).
    pub fn value_only_deserializer(self, deserializer: RecordDeserializer<T>) -> Self {
        self.deserializer(deserializer)
    }

    /// A deserializer from a function of the value's bytes.
    pub fn value_deserializer<F>(self, f: F) -> Self
    where
        F: Fn(&[u8]) -> Result<T, String> + Send + Sync + 'static,
    {
        self.deserializer(Arc::new(move |r: &ConsumedRecord<'_>| {
            f(r.value.unwrap_or_default()).map_err(|message| KafkaError::Malformed {
                topic: r.topic.to_string(),
                partition: r.partition,
                offset: r.offset,
                message,
            })
        }))
    }

    /// A client property (`properties.*` in SQL), passed to the Kafka client as is.
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// Looks for new partitions of the topics this often
    /// (`scan.topic-partition-discovery.interval`); off by default.
    pub fn partition_discovery_interval(mut self, interval: Duration) -> Self {
        self.discovery_interval = Some(interval).filter(|d| !d.is_zero());
        self
    }

    /// How long metadata and offset requests may take (default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Whether to commit offsets to the group when a checkpoint completes
    /// (default true, when a group id is set).
    pub fn commit_offsets_on_checkpoint(mut self, commit: bool) -> Self {
        self.commit_offsets_on_checkpoint = commit;
        self
    }

    /// The source, or an error naming the missing or bad setting.
    pub fn build(self) -> KafkaResult<KafkaSource<T>> {
        let bootstrap_servers = self
            .bootstrap_servers
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| KafkaError::option("bootstrap.servers", "is required"))?;
        if self.topics.is_empty() || self.topics.iter().any(|t| t.trim().is_empty()) {
            return Err(KafkaError::option(
                "topic",
                "at least one non-empty topic is required",
            ));
        }
        let deserializer = self
            .deserializer
            .ok_or_else(|| KafkaError::option("deserializer", "is required"))?;
        if matches!(self.starting, OffsetsInitializer::Committed) && self.group_id.is_none() {
            return Err(KafkaError::option(
                "group.id",
                "starting from the group's committed offsets needs a group id",
            ));
        }
        Ok(KafkaSource {
            config: Arc::new(SourceConfig {
                bootstrap_servers,
                topics: self.topics,
                group_id: self.group_id,
                starting: self.starting,
                stopping: self.stopping,
                deserializer,
                properties: self.properties,
                discovery_interval: self.discovery_interval,
                request_timeout: self.request_timeout,
                commit_offsets_on_checkpoint: self.commit_offsets_on_checkpoint,
            }),
        })
    }
}
