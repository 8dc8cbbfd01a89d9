//! Checking a whole configuration before a job starts: every value eddy reads
//! parses and lies in a range the machine can honour, and keys eddy does not know
//! are reported (with the nearest known key, since a typo such as
//! `execution.checkpointing.intervall` would otherwise silently turn checkpoints
//! off).
//!
//! ```
//! use eddy_core::config::{validate, Config};
//! let mut config = Config::new();
//! config.set("pipeline.max-parallelism", "100000000");
//! let err = validate::check(&config).unwrap_err().to_string();
//! assert!(err.contains("pipeline.max-parallelism") && err.contains("32768"));
//!
//! let mut config = Config::new();
//! config.set("execution.checkpointing.intervall", "1s");
//! let unknown = validate::unknown_keys(&config, &[]);
//! assert_eq!(unknown[0].0, "execution.checkpointing.intervall");
//! assert_eq!(unknown[0].1.as_deref(), Some("execution.checkpointing.interval"));
//! ```

use std::time::Duration;

use super::{options, Config, ConfigOption, ConfigValue};
use crate::checkpointing::{keys, CheckpointingOptions, RestartStrategy};
use crate::error::{Error, Result};

/// The largest number of key groups (and so of parallelism), as in Flink.
pub const MAX_KEY_GROUPS: u32 = 32_768;
/// The most rows one output batch may hold.
pub const MAX_BATCH_SIZE: usize = 1 << 20;
/// The most batches a channel may buffer.
pub const MAX_BUFFERS_PER_CHANNEL: usize = 1 << 16;
/// The most worker threads of the local executor.
pub const MAX_LOCAL_THREADS: usize = 1024;

/// Keys read by eddy's runtime and the examples' command line, besides the typed
/// [`options`] and the checkpointing [`keys`].
const OTHER_KEYS: &[&str] = &[
    "execution.state-recovery.path",
    "execution.state-recovery.ignore-unclaimed-state",
    "pipeline.name",
    "execution.checkpointing.savepoint-dir",
    "rest.port",
    "rest.address",
    "rest.bind-address",
    "rest.auth.token",
    "rest.auth.token-file",
    "security.ssl.rest.enabled",
    "security.ssl.rest.keystore",
    "security.ssl.rest.key",
    "security.ssl.rest.keystore-type",
    "security.ssl.rest.truststore",
    "security.ssl.rest.authentication-enabled",
    "security.ssl.internal.enabled",
    "security.ssl.internal.keystore",
    "security.ssl.internal.key",
    "security.ssl.internal.truststore",
    "env.log.dir",
    "rootLogger.level",
    "table.dml-sync",
    "high-availability.storageDir",
    // The S3 file system (eddy-fs), for checkpoints, savepoints and files.
    "s3.endpoint",
    "s3.access-key",
    "s3.secret-key",
    "s3.path.style.access",
    "s3.region",
    "s3.endpoint.region",
];

/// Every key the runtime reads.
pub fn known_keys() -> Vec<&'static str> {
    let mut known: Vec<&'static str> = options::all().into_iter().map(|(k, _, _)| k).collect();
    known.extend([
        keys::INTERVAL,
        keys::MODE,
        keys::TIMEOUT,
        keys::MIN_PAUSE,
        keys::MAX_CONCURRENT,
        keys::TOLERABLE_FAILED,
        keys::NUM_RETAINED,
        keys::DIR,
        keys::RETENTION,
        keys::RESTART_TYPE,
        keys::FIXED_ATTEMPTS,
        keys::FIXED_DELAY,
        keys::EXP_INITIAL,
        keys::EXP_MAX,
        keys::EXP_MULTIPLIER,
        keys::EXP_ATTEMPTS,
    ]);
    known.extend(OTHER_KEYS);
    known
}

fn out_of_range(key: &str, message: String) -> Error {
    Error::InvalidConfig {
        key: key.to_string(),
        message,
    }
}

fn within<T>(config: &Config, option: &ConfigOption<T>, min: T, max: T) -> Result<T>
where
    T: ConfigValue + PartialOrd + std::fmt::Display + Copy,
{
    let value = config.get(option)?;
    if value < min || value > max {
        return Err(out_of_range(
            option.key,
            format!("{value} is out of range: it must be between {min} and {max}"),
        ));
    }
    Ok(value)
}

/// Checks every value the runtime reads: it parses and lies in its range. The
/// error names the key and the allowed range.
pub fn check(config: &Config) -> Result<()> {
    within(config, &options::PARALLELISM, 1, MAX_KEY_GROUPS)?;
    within(config, &options::MAX_PARALLELISM, 1, MAX_KEY_GROUPS)?;
    within(config, &options::BATCH_SIZE, 1, MAX_BATCH_SIZE)?;
    within(
        config,
        &options::BUFFERS_PER_CHANNEL,
        1,
        MAX_BUFFERS_PER_CHANNEL,
    )?;
    within(config, &options::LOCAL_THREADS, 0, MAX_LOCAL_THREADS)?;
    within(
        config,
        &options::FLOATING_BUFFERS_PER_GATE,
        0,
        MAX_BUFFERS_PER_CHANNEL,
    )?;
    let day = Duration::from_secs(24 * 3600);
    for option in [&options::BUFFER_TIMEOUT, &options::AUTO_WATERMARK_INTERVAL] {
        let value = config.get(option)?;
        if value > day {
            return Err(out_of_range(
                option.key,
                format!("{value:?} is out of range: it must be at most a day"),
            ));
        }
    }
    if let Some(checkpointing) = CheckpointingOptions::from_config(config)? {
        if checkpointing.interval < Duration::from_millis(10) {
            return Err(out_of_range(
                keys::INTERVAL,
                format!(
                    "{:?} is too short: checkpoints must be at least 10 ms apart",
                    checkpointing.interval
                ),
            ));
        }
        for (key, value, max) in [
            (keys::MAX_CONCURRENT, checkpointing.max_concurrent, 1000),
            (keys::NUM_RETAINED, checkpointing.num_retained, 10_000),
        ] {
            if value > max {
                return Err(out_of_range(
                    key,
                    format!("{value} is out of range: it must be between 1 and {max}"),
                ));
            }
        }
    }
    for option in [
        &options::HEARTBEAT_INTERVAL,
        &options::HEARTBEAT_TIMEOUT,
        &options::SLOT_REQUEST_TIMEOUT,
    ] {
        if config.get(option)?.is_zero() {
            return Err(out_of_range(option.key, "must be longer than zero".into()));
        }
    }
    within(config, &options::JOBMANAGER_RPC_PORT, 0, 65535)?;
    within(config, &options::TASKMANAGER_DATA_PORT, 0, 65535)?;
    RestartStrategy::from_config(config)?;
    state_backend(config)?;
    Ok(())
}

/// The state backends Flink knows, and whether eddy has each.
const STATE_BACKENDS: &[(&str, bool)] = &[("hashmap", true), ("rocksdb", false), ("forst", false)];

/// The keyed state backend `state.backend.type` names: `hashmap`, the one eddy
/// has (Flink's other names, `rocksdb` and `forst`, are refused with that said).
pub fn state_backend(config: &Config) -> Result<String> {
    let name = config.get(&options::STATE_BACKEND)?.to_ascii_lowercase();
    match STATE_BACKENDS.iter().find(|(known, _)| *known == name) {
        Some((_, true)) => Ok(name),
        Some((_, false)) => Err(out_of_range(
            options::STATE_BACKEND.key,
            format!("the '{name}' state backend is not available in eddy; use 'hashmap'"),
        )),
        None => Err(out_of_range(
            options::STATE_BACKEND.key,
            format!("unknown state backend '{name}'; eddy has 'hashmap'"),
        )),
    }
}

/// The keys set in `config` that neither the runtime nor `also_known` reads, each
/// with the nearest known key when one is close (a likely typo). Keys under
/// `table.` (the SQL front's) and `eddy.internal.` are left to their owners.
pub fn unknown_keys(config: &Config, also_known: &[&str]) -> Vec<(String, Option<String>)> {
    let mut known = known_keys();
    known.extend(also_known);
    config
        .iter()
        .map(|(key, _)| key)
        .filter(|key| {
            !key.starts_with("table.")
                && !key.starts_with("eddy.internal.")
                && !key.starts_with("metrics.reporter.")
        })
        .filter(|key| !known.contains(key))
        .map(|key| (key.to_string(), nearest(key, &known)))
        .collect()
}

/// The known key closest to `key`, if it is a few edits away.
pub fn nearest(key: &str, known: &[&str]) -> Option<String> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, k)| k.to_string())
}

/// Levenshtein distance between two strings, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(key: &str, value: &str) -> Config {
        let mut config = Config::new();
        config.set(key, value);
        config
    }

    #[test]
    fn values_out_of_range_name_key_and_range() {
        for (key, value, says) in [
            ("parallelism.default", "0", "between 1 and 32768"),
            (
                "pipeline.max-parallelism",
                "100000000",
                "between 1 and 32768",
            ),
            (
                "execution.batch-size",
                "100000000000",
                "between 1 and 1048576",
            ),
            ("execution.batch-size", "0", "between 1"),
            (
                "taskmanager.numberOfTaskSlots",
                "100000",
                "between 0 and 1024",
            ),
            (
                "taskmanager.network.memory.buffers-per-channel",
                "0",
                "between 1",
            ),
            ("execution.buffer-timeout", "400d", "at most a day"),
            ("execution.checkpointing.interval", "1ms", "at least 10 ms"),
            ("parallelism.default", "two", "'two'"),
            ("state.backend.type", "rocksdb", "not available in eddy"),
            ("state.backend.type", "heap", "unknown state backend 'heap'"),
        ] {
            let mut config = with(key, value);
            if key.starts_with("execution.checkpointing") {
                config.set(keys::DIR, "/tmp/x");
            }
            let err = check(&config).unwrap_err().to_string();
            assert!(
                err.contains(key) && err.contains(says),
                "{key}={value}: {err}"
            );
        }
        check(&Config::new()).unwrap();
        check(&with("state.backend.type", "HashMap")).unwrap();
    }

    #[test]
    fn checkpointing_and_restart_values_are_checked() {
        let mut config = with(keys::INTERVAL, "1s");
        config.set(keys::TIMEOUT, "0");
        assert!(check(&config)
            .unwrap_err()
            .to_string()
            .contains(keys::TIMEOUT));
        let mut config = with(keys::INTERVAL, "1s");
        config.set(keys::MAX_CONCURRENT, "1000000");
        assert!(check(&config)
            .unwrap_err()
            .to_string()
            .contains(keys::MAX_CONCURRENT));
        let mut config = with(keys::RESTART_TYPE, "exponential-delay");
        config.set(keys::EXP_MULTIPLIER, "NaN");
        assert!(check(&config)
            .unwrap_err()
            .to_string()
            .contains(keys::EXP_MULTIPLIER));
    }

    #[test]
    fn unknown_keys_come_with_the_nearest_known_one() {
        let mut config = with("execution.checkpointing.intervall", "1s");
        config.set("table.exec.state.ttl", "1h");
        config.set("parallelism.default", "2");
        config.set("my.own.key", "x");
        let unknown = unknown_keys(&config, &[]);
        assert_eq!(
            unknown,
            vec![
                (
                    "execution.checkpointing.intervall".to_string(),
                    Some("execution.checkpointing.interval".to_string())
                ),
                ("my.own.key".to_string(), None),
            ]
        );
        assert!(unknown_keys(&config, &["my.own.key"]).len() == 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
