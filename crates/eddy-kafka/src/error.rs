//! The errors of the Kafka connector.

use rdkafka::error::KafkaError as ClientError;

/// What went wrong talking to Kafka or configuring the connector.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// The Kafka client failed (unreachable broker, missing topic, rejected
    /// request, fenced producer, ...).
    #[error("Kafka {context}: {source}")]
    Client {
        /// What the connector was doing.
        context: String,
        /// The client's error.
        #[source]
        source: ClientError,
    },
    /// A connector option is missing or has a bad value.
    #[error("Kafka connector option '{option}': {message}")]
    Option {
        /// The option (builder method or SQL option name).
        option: String,
        /// What is wrong.
        message: String,
    },
    /// A record could not be turned into a value (or a value into a record).
    #[error("malformed Kafka record in topic {topic}, partition {partition}, offset {offset}: {message}")]
    Malformed {
        /// The record's topic.
        topic: String,
        /// The record's partition.
        partition: i32,
        /// The record's offset (-1 for a record being written).
        offset: i64,
        /// What is wrong.
        message: String,
    },
    /// Checkpointed connector state could not be read.
    #[error("Kafka connector state: {0}")]
    State(String),
}

impl KafkaError {
    /// A client error while doing `context`.
    pub fn client(context: impl Into<String>, source: ClientError) -> Self {
        KafkaError::Client {
            context: context.into(),
            source,
        }
    }

    /// A bad or missing option.
    pub fn option(option: impl Into<String>, message: impl Into<String>) -> Self {
        KafkaError::Option {
            option: option.into(),
            message: message.into(),
        }
    }
}

impl From<KafkaError> for eddy_core::Error {
    fn from(error: KafkaError) -> Self {
        eddy_core::Error::External(Box::new(error))
    }
}

/// The connector's result type.
pub type KafkaResult<T> = std::result::Result<T, KafkaError>;
