//! Checkpointing and restart settings, read from Flink's configuration keys.
//!
//! ```
//! use eddy_core::{Config, checkpointing::{CheckpointingOptions, CheckpointingMode, RestartStrategy}};
//! let mut config = Config::new();
//! config.set("execution.checkpointing.interval", "200ms");
//! config.set("execution.checkpointing.dir", "/tmp/checkpoints");
//! let options = CheckpointingOptions::from_config(&config).unwrap().unwrap();
//! assert_eq!(options.interval.as_millis(), 200);
//! assert_eq!(options.mode, CheckpointingMode::ExactlyOnce);
//! // With checkpointing on and no strategy set, failed jobs restart with exponential delay.
//! assert!(matches!(RestartStrategy::from_config(&config).unwrap(), RestartStrategy::ExponentialDelay { .. }));
//! ```

use std::path::PathBuf;
use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::time::parse_duration;

/// Configuration keys of checkpointing and restarts.
pub mod keys {
    /// Interval between checkpoints; unset disables checkpointing.
    pub const INTERVAL: &str = "execution.checkpointing.interval";
    /// `EXACTLY_ONCE` (barrier alignment) or `AT_LEAST_ONCE`.
    pub const MODE: &str = "execution.checkpointing.mode";
    /// A checkpoint not complete after this long is aborted.
    pub const TIMEOUT: &str = "execution.checkpointing.timeout";
    /// Minimum pause between the end of one checkpoint and the start of the next.
    pub const MIN_PAUSE: &str = "execution.checkpointing.min-pause";
    /// Checkpoints in flight at once.
    pub const MAX_CONCURRENT: &str = "execution.checkpointing.max-concurrent-checkpoints";
    /// Failed checkpoints in a row tolerated before the job fails.
    pub const TOLERABLE_FAILED: &str = "execution.checkpointing.tolerable-failed-checkpoints";
    /// Complete checkpoints kept.
    pub const NUM_RETAINED: &str = "execution.checkpointing.num-retained";
    /// Where checkpoints are written.
    pub const DIR: &str = "execution.checkpointing.dir";
    /// `RETAIN_ON_CANCELLATION` or `DELETE_ON_CANCELLATION`.
    pub const RETENTION: &str = "execution.checkpointing.externalized-checkpoint-retention";
    /// `none`, `fixed-delay` or `exponential-delay`.
    pub const RESTART_TYPE: &str = "restart-strategy.type";
    /// Restart attempts of the fixed-delay strategy.
    pub const FIXED_ATTEMPTS: &str = "restart-strategy.fixed-delay.attempts";
    /// Delay of the fixed-delay strategy.
    pub const FIXED_DELAY: &str = "restart-strategy.fixed-delay.delay";
    /// First delay of the exponential-delay strategy.
    pub const EXP_INITIAL: &str = "restart-strategy.exponential-delay.initial-backoff";
    /// Largest delay of the exponential-delay strategy.
    pub const EXP_MAX: &str = "restart-strategy.exponential-delay.max-backoff";
    /// Growth factor of the exponential-delay strategy.
    pub const EXP_MULTIPLIER: &str = "restart-strategy.exponential-delay.backoff-multiplier";
    /// Restart attempts of the exponential-delay strategy before the job fails.
    pub const EXP_ATTEMPTS: &str =
        "restart-strategy.exponential-delay.attempts-before-reset-backoff";
}

/// Whether multi-input tasks align barriers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckpointingMode {
    /// Align barriers: state reflects exactly the records before the barrier.
    ExactlyOnce,
    /// Do not align: records after a barrier on one input may be in the state, and
    /// are replayed after a failure (duplicates, no loss).
    AtLeastOnce,
}

/// What happens to checkpoints when the job is cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckpointRetention {
    /// Keep them (a cancelled job can resume with `-s`).
    RetainOnCancellation,
    /// Delete them.
    DeleteOnCancellation,
}

/// Checkpointing settings.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointingOptions {
    /// Time between checkpoint triggers.
    pub interval: Duration,
    /// Alignment mode.
    pub mode: CheckpointingMode,
    /// Abort a checkpoint after this long.
    pub timeout: Duration,
    /// Minimum pause between checkpoints.
    pub min_pause: Duration,
    /// Checkpoints in flight at once.
    pub max_concurrent: usize,
    /// Failed checkpoints in a row tolerated.
    pub tolerable_failed: u32,
    /// Complete checkpoints kept on disk.
    pub num_retained: usize,
    /// Checkpoint directory (`None`: checkpoints are kept in memory only, enough for
    /// in-process restarts).
    pub dir: Option<PathBuf>,
    /// Retention on cancellation.
    pub retention: CheckpointRetention,
}

fn bad(key: &str, message: impl Into<String>) -> Error {
    Error::InvalidConfig {
        key: key.to_string(),
        message: message.into(),
    }
}

fn duration(config: &Config, key: &str, default: Duration) -> Result<Duration> {
    match config.get_str(key) {
        None => Ok(default),
        Some(text) => {
            parse_duration(text).map_err(|_| bad(key, format!("'{text}' is not a duration")))
        }
    }
}

fn number<T: std::str::FromStr>(config: &Config, key: &str, default: T) -> Result<T> {
    match config.get_str(key) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| bad(key, format!("'{text}' is not a valid number"))),
    }
}

impl CheckpointingOptions {
    /// The settings, or `None` when `execution.checkpointing.interval` is unset.
    pub fn from_config(config: &Config) -> Result<Option<Self>> {
        let Some(interval_text) = config.get_str(keys::INTERVAL) else {
            return Ok(None);
        };
        let interval = parse_duration(interval_text).map_err(|_| {
            bad(
                keys::INTERVAL,
                format!("'{interval_text}' is not a duration"),
            )
        })?;
        if interval.is_zero() {
            return Err(bad(keys::INTERVAL, "must be positive"));
        }
        let timeout = duration(config, keys::TIMEOUT, Duration::from_secs(600))?;
        if timeout.is_zero() {
            return Err(bad(keys::TIMEOUT, "must be positive"));
        }
        let mode = match config
            .get_str(keys::MODE)
            .unwrap_or("EXACTLY_ONCE")
            .trim()
            .to_ascii_uppercase()
            .as_str()
        {
            "EXACTLY_ONCE" => CheckpointingMode::ExactlyOnce,
            "AT_LEAST_ONCE" => CheckpointingMode::AtLeastOnce,
            other => {
                return Err(bad(
                    keys::MODE,
                    format!("'{other}' is not EXACTLY_ONCE or AT_LEAST_ONCE"),
                ))
            }
        };
        let retention = match config
            .get_str(keys::RETENTION)
            .unwrap_or("RETAIN_ON_CANCELLATION")
            .trim()
            .to_ascii_uppercase()
            .as_str()
        {
            "RETAIN_ON_CANCELLATION" | "NO_EXTERNALIZED_CHECKPOINTS" => {
                CheckpointRetention::RetainOnCancellation
            }
            "DELETE_ON_CANCELLATION" => CheckpointRetention::DeleteOnCancellation,
            other => {
                return Err(bad(
                    keys::RETENTION,
                    format!("'{other}' is not RETAIN_ON_CANCELLATION or DELETE_ON_CANCELLATION"),
                ))
            }
        };
        let max_concurrent: usize = number(config, keys::MAX_CONCURRENT, 1)?;
        let num_retained: usize = number(config, keys::NUM_RETAINED, 1)?;
        if max_concurrent == 0 {
            return Err(bad(keys::MAX_CONCURRENT, "must be at least 1"));
        }
        if num_retained == 0 {
            return Err(bad(keys::NUM_RETAINED, "must be at least 1"));
        }
        Ok(Some(CheckpointingOptions {
            interval,
            mode,
            timeout,
            min_pause: duration(config, keys::MIN_PAUSE, Duration::ZERO)?,
            max_concurrent,
            tolerable_failed: number(config, keys::TOLERABLE_FAILED, 0)?,
            num_retained,
            dir: config.get_str(keys::DIR).map(PathBuf::from),
            retention,
        }))
    }
}

/// How a failed job is restarted (from its latest complete checkpoint).
#[derive(Clone, Debug, PartialEq)]
pub enum RestartStrategy {
    /// Fail the job on the first failure.
    None,
    /// Restart up to `attempts` times, waiting `delay` before each.
    FixedDelay {
        /// Restarts allowed.
        attempts: u32,
        /// Wait before each restart.
        delay: Duration,
    },
    /// Restart with a delay that grows by `multiplier` up to `max_backoff`.
    ExponentialDelay {
        /// The first delay.
        initial_backoff: Duration,
        /// The largest delay.
        max_backoff: Duration,
        /// Growth factor.
        multiplier: f64,
        /// Restarts allowed.
        attempts: u32,
    },
}

impl RestartStrategy {
    /// The strategy of `restart-strategy.type`; when unset, `exponential-delay` if
    /// checkpointing is on and `none` otherwise (Flink's defaults).
    pub fn from_config(config: &Config) -> Result<Self> {
        let default = if config.contains(keys::INTERVAL) {
            "exponential-delay"
        } else {
            "none"
        };
        let kind = config
            .get_str(keys::RESTART_TYPE)
            .unwrap_or(default)
            .trim()
            .to_ascii_lowercase();
        match kind.as_str() {
            "none" | "off" | "disable" => Ok(RestartStrategy::None),
            "fixed-delay" | "fixeddelay" => Ok(RestartStrategy::FixedDelay {
                attempts: number(config, keys::FIXED_ATTEMPTS, 1)?,
                delay: duration(config, keys::FIXED_DELAY, Duration::from_secs(1))?,
            }),
            "exponential-delay" | "exponentialdelay" => {
                let multiplier: f64 = number(config, keys::EXP_MULTIPLIER, 1.5)?;
                if !multiplier.is_finite() || multiplier < 1.0 {
                    return Err(bad(
                        keys::EXP_MULTIPLIER,
                        "must be a number of at least 1.0",
                    ));
                }
                Ok(RestartStrategy::ExponentialDelay {
                    initial_backoff: duration(config, keys::EXP_INITIAL, Duration::from_secs(1))?,
                    max_backoff: duration(config, keys::EXP_MAX, Duration::from_secs(60))?,
                    multiplier,
                    attempts: number(config, keys::EXP_ATTEMPTS, u32::MAX)?,
                })
            }
            other => Err(bad(
                keys::RESTART_TYPE,
                format!("'{other}' is not none, fixed-delay or exponential-delay"),
            )),
        }
    }

    /// Whether the strategy restarts without a bound on attempts (the default with
    /// checkpointing).
    pub fn is_unbounded(&self) -> bool {
        match self {
            RestartStrategy::None => false,
            RestartStrategy::FixedDelay { attempts, .. }
            | RestartStrategy::ExponentialDelay { attempts, .. } => *attempts == u32::MAX,
        }
    }

    /// The delay before restart number `attempt` (1-based), or `None` if no
    /// restart is allowed any more.
    pub fn delay_before(&self, attempt: u32) -> Option<Duration> {
        match self {
            RestartStrategy::None => None,
            RestartStrategy::FixedDelay { attempts, delay } => {
                (attempt <= *attempts).then_some(*delay)
            }
            RestartStrategy::ExponentialDelay {
                initial_backoff,
                max_backoff,
                multiplier,
                attempts,
            } => {
                if attempt > *attempts {
                    return None;
                }
                let factor = multiplier.powi(attempt.saturating_sub(1).min(64) as i32);
                let delay = initial_backoff.as_secs_f64() * factor;
                Some(Duration::from_secs_f64(
                    delay.min(max_backoff.as_secs_f64()),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_name_their_key() {
        let mut config = Config::new();
        config.set(keys::INTERVAL, "1s");
        config.set(keys::MODE, "SOMETIMES");
        let err = CheckpointingOptions::from_config(&config)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(keys::MODE) && err.contains("SOMETIMES"),
            "{err}"
        );
        config.set(keys::MODE, "at_least_once");
        let options = CheckpointingOptions::from_config(&config).unwrap().unwrap();
        assert_eq!(options.mode, CheckpointingMode::AtLeastOnce);
        config.set(keys::RESTART_TYPE, "sometimes");
        assert!(RestartStrategy::from_config(&config).is_err());
    }

    #[test]
    fn restart_delays() {
        let fixed = RestartStrategy::FixedDelay {
            attempts: 2,
            delay: Duration::from_millis(10),
        };
        assert_eq!(fixed.delay_before(2), Some(Duration::from_millis(10)));
        assert_eq!(fixed.delay_before(3), None);
        let exp = RestartStrategy::ExponentialDelay {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(250),
            multiplier: 2.0,
            attempts: 10,
        };
        assert_eq!(exp.delay_before(1), Some(Duration::from_millis(100)));
        assert_eq!(exp.delay_before(2), Some(Duration::from_millis(200)));
        assert_eq!(exp.delay_before(3), Some(Duration::from_millis(250)));
        assert_eq!(RestartStrategy::None.delay_before(1), None);
    }
}
