//! Client configuration shared by the source and the sink.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::error::{KafkaError, KafkaResult};

/// How long a metadata or offset request may take before the connector gives
/// up (an unreachable broker is an error after this, never a hang).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The client configuration: bootstrap servers, eddy's defaults, then the
/// user's `properties` (which win).
pub(crate) fn client_config(
    bootstrap: &str,
    properties: &BTreeMap<String, String>,
) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    config.set("log_level", "3");
    for (key, value) in properties {
        config.set(key, value);
    }
    config
}

/// Creates a client of type `C` from `config`, naming `what` on failure.
pub(crate) fn create<C: rdkafka::config::FromClientConfig>(
    config: &ClientConfig,
    what: &str,
) -> KafkaResult<C> {
    config
        .create()
        .map_err(|e| KafkaError::client(format!("creating the {what}"), e))
}

/// The partitions of `topic`, asking the broker (bounded by `timeout`). A
/// missing topic or an unreachable broker is an error naming the servers.
pub(crate) fn partitions_of(
    consumer: &BaseConsumer,
    bootstrap: &str,
    topic: &str,
    timeout: Duration,
) -> KafkaResult<Vec<i32>> {
    let metadata = consumer.fetch_metadata(Some(topic), timeout).map_err(|e| {
        KafkaError::client(
            format!(
                "reading the metadata of topic '{topic}' from {bootstrap} (within {timeout:?})"
            ),
            e,
        )
    })?;
    let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Err(KafkaError::option(
            "topic",
            format!("topic '{topic}' not found at {bootstrap}"),
        ));
    };
    if let Some(error) = found.error() {
        return Err(KafkaError::option(
            "topic",
            format!(
                "topic '{topic}' at {bootstrap}: {}",
                rdkafka::error::RDKafkaErrorCode::from(error)
            ),
        ));
    }
    let mut partitions: Vec<i32> = found.partitions().iter().map(|p| p.id()).collect();
    partitions.sort_unstable();
    if partitions.is_empty() {
        return Err(KafkaError::option(
            "topic",
            format!("topic '{topic}' has no partitions at {bootstrap}"),
        ));
    }
    Ok(partitions)
}
