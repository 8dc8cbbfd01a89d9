//! The error type of eddy's lower layers.

use std::path::PathBuf;

/// A result with eddy's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, said so that the user knows what they did wrong or which part
/// failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value could not be parsed or is out of range.
    #[error("invalid configuration{}: {message}", if key.is_empty() { String::new() } else { format!(" for '{key}'") })]
    InvalidConfig {
        /// The configuration key, if known.
        key: String,
        /// What is wrong with the value.
        message: String,
    },
    /// The job graph is not well formed (e.g. an edge to a missing vertex).
    #[error("invalid job graph: {0}")]
    InvalidGraph(String),
    /// Reading or writing a file failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A network operation failed.
    #[error("network error ({context}): {source}")]
    Network {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An input record could not be parsed.
    #[error("malformed record at {location}: {message}")]
    MalformedRecord {
        /// Where the record was found (file and line, or source name and offset).
        location: String,
        /// What is wrong with it.
        message: String,
    },
    /// State could not be serialized, deserialized or restored.
    #[error("state error: {0}")]
    State(String),
    /// Bytes could not be encoded for, or decoded from, the network: a truncated or
    /// corrupt frame, or a value the codec cannot represent. Retrying the same bytes
    /// does not help.
    #[error("cannot {action} {what}: {message}")]
    Codec {
        /// `encode` or `decode`.
        action: &'static str,
        /// What was being encoded or decoded (an element, a batch of records, ...).
        what: &'static str,
        /// What is wrong.
        message: String,
        /// The codec's own error, if it had one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// User code returned an error or panicked inside an operator.
    #[error("operator '{operator}' (subtask {subtask}) failed: {message}")]
    UserCode {
        /// The operator's name.
        operator: String,
        /// The subtask index.
        subtask: usize,
        /// The error or panic message.
        message: String,
    },
    /// An operator of a higher layer (the SQL front, say) failed with its own
    /// error, which already says what failed in that layer's terms; kept whole
    /// so that the layer can read it back.
    #[error(transparent)]
    External(Box<dyn std::error::Error + Send + Sync>),
    /// The job was cancelled.
    #[error("job was cancelled")]
    Cancelled,
    /// Anything else, with a message.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// An I/O error on a path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A decoding error without an underlying cause.
    pub fn decode(what: &'static str, message: impl Into<String>) -> Self {
        Error::Codec {
            action: "decode",
            what,
            message: message.into(),
            source: None,
        }
    }

    /// An encoding or decoding error caused by a codec's own error, kept as the source.
    pub fn codec(
        action: &'static str,
        what: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Codec {
            action,
            what,
            message: source.to_string(),
            source: Some(Box::new(source)),
        }
    }

    /// A state error from anything printable.
    pub fn state(message: impl std::fmt::Display) -> Self {
        Error::State(message.to_string())
    }
}
