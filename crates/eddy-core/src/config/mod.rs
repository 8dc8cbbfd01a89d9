//! Configuration with Flink's keys.
//!
//! A [`Config`] is a map from keys (`parallelism.default`,
//! `execution.buffer-timeout`, ...) to text values, read through typed
//! [`ConfigOption`]s that know their default and how to parse. Values come from code,
//! from `-D key=value` arguments, or from a YAML-like `key: value` file.
//!
//! ```
//! use eddy_core::config::{Config, options};
//! let mut config = Config::new();
//! config.set_from_arg("execution.buffer-timeout=5 ms").unwrap();
//! assert_eq!(config.get(&options::BUFFER_TIMEOUT).unwrap().as_millis(), 5);
//! assert_eq!(config.get(&options::MAX_PARALLELISM).unwrap(), 128);
//! ```

pub mod validate;
pub mod yaml;

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::time::parse_duration;

/// A value type a configuration option can hold.
pub trait ConfigValue: Sized {
    /// Parses the text form of the value.
    fn parse_value(text: &str) -> std::result::Result<Self, String>;
}

impl ConfigValue for u32 {
    fn parse_value(text: &str) -> std::result::Result<Self, String> {
        text.trim()
            .parse()
            .map_err(|_| format!("'{text}' is not a non-negative integer"))
    }
}

impl ConfigValue for u64 {
    fn parse_value(text: &str) -> std::result::Result<Self, String> {
        text.trim()
            .parse()
            .map_err(|_| format!("'{text}' is not a non-negative integer"))
    }
}

impl ConfigValue for usize {
    fn parse_value(text: &str) -> std::result::Result<Self, String> {
        text.trim()
            .parse()
            .map_err(|_| format!("'{text}' is not a non-negative integer"))
    }
}

impl ConfigValue for bool {
    fn parse_value(text: &str) -> std::result::Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("'{text}' is not 'true' or 'false'")),
        }
    }
}

impl ConfigValue for String {
    fn parse_value(text: &str) -> std::result::Result<Self, String> {
        Ok(text.to_string())
    }
}

impl ConfigValue for Duration {
    fn parse_value(text: &str) -> std::result::Result<Self, String> {
        parse_duration(text).map_err(|e| match e {
            Error::InvalidConfig { message, .. } => message,
            other => other.to_string(),
        })
    }
}

/// A typed configuration option: a key, a default and a description.
#[derive(Debug)]
pub struct ConfigOption<T> {
    /// The key, e.g. `parallelism.default`.
    pub key: &'static str,
    /// The default, in its text form.
    pub default: &'static str,
    /// What the option does.
    pub description: &'static str,
    _type: PhantomData<fn() -> T>,
}

impl<T> ConfigOption<T> {
    /// Declares an option.
    pub const fn new(key: &'static str, default: &'static str, description: &'static str) -> Self {
        ConfigOption {
            key,
            default,
            description,
            _type: PhantomData,
        }
    }
}

/// The options eddy's runtime reads, with Flink's keys.
pub mod options {
    use super::ConfigOption;
    use std::time::Duration;

    /// Default parallelism of operators.
    pub const PARALLELISM: ConfigOption<u32> = ConfigOption::new(
        "parallelism.default",
        "1",
        "Default parallelism of operators.",
    );
    /// Number of key groups; the upper bound for rescaling keyed state.
    pub const MAX_PARALLELISM: ConfigOption<u32> = ConfigOption::new(
        "pipeline.max-parallelism",
        "128",
        "Number of key groups, the upper bound of parallelism for keyed state.",
    );
    /// How long a partly filled batch may wait before it is sent downstream.
    pub const BUFFER_TIMEOUT: ConfigOption<Duration> = ConfigOption::new(
        "execution.buffer-timeout",
        "100 ms",
        "How long a partly filled output batch may wait before it is flushed.",
    );
    /// How often watermark generators emit periodic watermarks.
    pub const AUTO_WATERMARK_INTERVAL: ConfigOption<Duration> = ConfigOption::new(
        "pipeline.auto-watermark-interval",
        "200 ms",
        "Interval of periodic watermark emission.",
    );
    /// Rows per output batch before it is flushed.
    pub const BATCH_SIZE: ConfigOption<usize> = ConfigOption::new(
        "execution.batch-size",
        "1024",
        "Number of rows at which an output batch is flushed downstream.",
    );
    /// Batches a channel buffers before its producer blocks (backpressure).
    pub const BUFFERS_PER_CHANNEL: ConfigOption<usize> = ConfigOption::new(
        "taskmanager.network.memory.buffers-per-channel",
        "4",
        "Number of batches in flight per channel before the producer is backpressured.",
    );
    /// Extra batches a task's remote input channels may have in flight, shared
    /// among the remote channels of one input.
    pub const FLOATING_BUFFERS_PER_GATE: ConfigOption<usize> = ConfigOption::new(
        "taskmanager.network.memory.floating-buffers-per-gate",
        "8",
        "Extra batches in flight on the remote channels of one input, shared among them.",
    );
    /// Number of worker threads of the local executor (0 = one per core).
    pub const LOCAL_THREADS: ConfigOption<usize> = ConfigOption::new(
        "taskmanager.numberOfTaskSlots",
        "0",
        "Worker threads of the local executor; 0 means one per core.",
    );

    /// How many bytes of a text file one split covers: larger files are read
    /// by several subtasks, a byte range each.
    pub const FILE_SPLIT_SIZE: ConfigOption<u64> = ConfigOption::new(
        "source.file.split-size",
        "16777216",
        "Bytes of a text file per split; a larger file is read in byte ranges by several subtasks.",
    );

    /// The keyed state backend: `hashmap` (state as objects on the heap, with
    /// copy-on-write snapshots) is the one eddy has.
    pub const STATE_BACKEND: ConfigOption<String> = ConfigOption::new(
        "state.backend.type",
        "hashmap",
        "The keyed state backend: 'hashmap' keeps state on the heap.",
    );

    /// The address of the JobManager's RPC endpoint, which TaskManagers
    /// register with.
    pub const JOBMANAGER_RPC_ADDRESS: ConfigOption<String> = ConfigOption::new(
        "jobmanager.rpc.address",
        "localhost",
        "The host of the JobManager's RPC endpoint; TaskManagers register there.",
    );

    /// The port of the JobManager's RPC endpoint.
    pub const JOBMANAGER_RPC_PORT: ConfigOption<u32> = ConfigOption::new(
        "jobmanager.rpc.port",
        "6123",
        "The port of the JobManager's RPC endpoint.",
    );

    /// The address a TaskManager binds its data port to and announces to its
    /// peers.
    pub const TASKMANAGER_HOST: ConfigOption<String> = ConfigOption::new(
        "taskmanager.host",
        "localhost",
        "The address a TaskManager binds its data port to and announces to the other TaskManagers.",
    );

    /// The port a TaskManager serves its channels to other TaskManagers on
    /// (0 = any free port).
    pub const TASKMANAGER_DATA_PORT: ConfigOption<u32> = ConfigOption::new(
        "taskmanager.data.port",
        "0",
        "The TaskManager's data port for channels to other TaskManagers (0 = any free port).",
    );

    /// How often a TaskManager tells the JobManager it is alive.
    pub const HEARTBEAT_INTERVAL: ConfigOption<Duration> = ConfigOption::new(
        "heartbeat.interval",
        "10 s",
        "How often TaskManagers and the JobManager exchange heartbeats.",
    );

    /// How long a silent TaskManager is waited for before it is declared lost.
    pub const HEARTBEAT_TIMEOUT: ConfigOption<Duration> = ConfigOption::new(
        "heartbeat.timeout",
        "50 s",
        "How long without a heartbeat before a TaskManager is declared lost and its tasks fail.",
    );

    /// How long a job waits for the slots it needs before it fails.
    pub const SLOT_REQUEST_TIMEOUT: ConfigOption<Duration> = ConfigOption::new(
        "slot.request.timeout",
        "5 min",
        "How long a job waits for enough free slots before it fails.",
    );

    /// The shared secret cluster processes authenticate each other with.
    pub const CLUSTER_SECRET: ConfigOption<String> = ConfigOption::new(
        "security.cluster.secret",
        "",
        "A secret every JobManager and TaskManager of the cluster shares; peers without it are refused.",
    );

    /// Every option above, for documentation and validation.
    pub fn all() -> Vec<(&'static str, &'static str, &'static str)> {
        vec![
            (
                PARALLELISM.key,
                PARALLELISM.default,
                PARALLELISM.description,
            ),
            (
                MAX_PARALLELISM.key,
                MAX_PARALLELISM.default,
                MAX_PARALLELISM.description,
            ),
            (
                FILE_SPLIT_SIZE.key,
                FILE_SPLIT_SIZE.default,
                FILE_SPLIT_SIZE.description,
            ),
            (
                BUFFER_TIMEOUT.key,
                BUFFER_TIMEOUT.default,
                BUFFER_TIMEOUT.description,
            ),
            (
                AUTO_WATERMARK_INTERVAL.key,
                AUTO_WATERMARK_INTERVAL.default,
                AUTO_WATERMARK_INTERVAL.description,
            ),
            (BATCH_SIZE.key, BATCH_SIZE.default, BATCH_SIZE.description),
            (
                STATE_BACKEND.key,
                STATE_BACKEND.default,
                STATE_BACKEND.description,
            ),
            (
                BUFFERS_PER_CHANNEL.key,
                BUFFERS_PER_CHANNEL.default,
                BUFFERS_PER_CHANNEL.description,
            ),
            (
                LOCAL_THREADS.key,
                LOCAL_THREADS.default,
                LOCAL_THREADS.description,
            ),
            (
                FLOATING_BUFFERS_PER_GATE.key,
                FLOATING_BUFFERS_PER_GATE.default,
                FLOATING_BUFFERS_PER_GATE.description,
            ),
            (
                JOBMANAGER_RPC_ADDRESS.key,
                JOBMANAGER_RPC_ADDRESS.default,
                JOBMANAGER_RPC_ADDRESS.description,
            ),
            (
                JOBMANAGER_RPC_PORT.key,
                JOBMANAGER_RPC_PORT.default,
                JOBMANAGER_RPC_PORT.description,
            ),
            (
                TASKMANAGER_HOST.key,
                TASKMANAGER_HOST.default,
                TASKMANAGER_HOST.description,
            ),
            (
                TASKMANAGER_DATA_PORT.key,
                TASKMANAGER_DATA_PORT.default,
                TASKMANAGER_DATA_PORT.description,
            ),
            (
                HEARTBEAT_INTERVAL.key,
                HEARTBEAT_INTERVAL.default,
                HEARTBEAT_INTERVAL.description,
            ),
            (
                HEARTBEAT_TIMEOUT.key,
                HEARTBEAT_TIMEOUT.default,
                HEARTBEAT_TIMEOUT.description,
            ),
            (
                SLOT_REQUEST_TIMEOUT.key,
                SLOT_REQUEST_TIMEOUT.default,
                SLOT_REQUEST_TIMEOUT.description,
            ),
            (
                CLUSTER_SECRET.key,
                CLUSTER_SECRET.default,
                CLUSTER_SECRET.description,
            ),
        ]
    }
}

/// Configuration: keys to text values, read through typed options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    values: BTreeMap<String, String>,
}

impl Config {
    /// An empty configuration: every option has its default.
    pub fn new() -> Self {
        Config::default()
    }

    /// Sets a key to a value.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.values.insert(key.into(), value.into());
        self
    }

    /// Sets a key from a `key=value` argument, as given to `-D`.
    pub fn set_from_arg(&mut self, arg: &str) -> Result<()> {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(Error::InvalidConfig {
                key: arg.to_string(),
                message: format!("'-D {arg}' must have the form key=value"),
            });
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(Error::InvalidConfig {
                key: String::new(),
                message: format!("'-D {arg}' has an empty key"),
            });
        }
        self.set(key, value.trim());
        Ok(())
    }

    /// Sets the keys of a Flink `config.yaml` ([`yaml`]: nested or flat keys);
    /// errors name `origin` and the line.
    pub fn merge_yaml(&mut self, text: &str, origin: &str) -> Result<()> {
        for (key, value) in yaml::parse(text, origin)? {
            self.set(key, value);
        }
        Ok(())
    }

    /// The text value of a key, if set.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Whether a key is set.
    pub fn contains(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// The typed value of an option: the configured value or its default.
    pub fn get<T: ConfigValue>(&self, option: &ConfigOption<T>) -> Result<T> {
        let text = self.get_str(option.key).unwrap_or(option.default);
        T::parse_value(text).map_err(|message| Error::InvalidConfig {
            key: option.key.to_string(),
            message,
        })
    }

    /// Every key and value set, as plain data (for a message or a file).
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.values.clone()
    }

    /// The configuration holding `values`.
    pub fn from_map(values: BTreeMap<String, String>) -> Config {
        Config { values }
    }

    /// Every key and value set, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_name_the_key() {
        let mut config = Config::new();
        config.set("parallelism.default", "two");
        let err = config.get(&options::PARALLELISM).unwrap_err().to_string();
        assert!(err.contains("parallelism.default"), "{err}");
        assert!(err.contains("'two'"), "{err}");
    }

    #[test]
    fn yaml_lines_and_errors() {
        let mut config = Config::new();
        config
            .merge_yaml("# c\nparallelism.default: 4\n", "conf.yaml")
            .unwrap();
        assert_eq!(config.get(&options::PARALLELISM).unwrap(), 4);
        let err = config
            .merge_yaml("ok: 1\nbroken line\n", "conf.yaml")
            .unwrap_err();
        assert!(err.to_string().contains("conf.yaml:2"), "{err}");
        assert!(config.set_from_arg("novalue").is_err());
    }
}
