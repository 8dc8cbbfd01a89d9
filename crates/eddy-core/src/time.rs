//! Event time and durations.
//!
//! Time is `i64` milliseconds since the Unix epoch, Flink's convention. A watermark
//! `W` means "no more records with timestamp `<= W` are expected".

use std::time::Duration;

use crate::error::{Error, Result};

/// Milliseconds since the Unix epoch.
pub type Timestamp = i64;

/// The watermark before any event time has been seen.
pub const MIN_WATERMARK: Timestamp = i64::MIN;

/// The watermark at the end of input: every timer and window fires.
pub const MAX_WATERMARK: Timestamp = i64::MAX;

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_millis() -> Timestamp {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Parses a duration written the way Flink's configuration writes them:
/// a number followed by an optional unit (`ms`, `s`, `min`, `h`, `d` and their long
/// forms), with or without a space. A bare number is milliseconds.
///
/// ```
/// use std::time::Duration;
/// use eddy_core::time::parse_duration;
/// assert_eq!(parse_duration("100 ms").unwrap(), Duration::from_millis(100));
/// assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
/// assert_eq!(parse_duration("1 min").unwrap(), Duration::from_secs(60));
/// assert!(parse_duration("ten seconds").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let value: u64 = number.parse().map_err(|_| Error::InvalidConfig {
        key: String::new(),
        message: format!("'{text}' is not a duration (expected e.g. '100 ms', '5 s', '1 min')"),
    })?;
    let millis_per_unit: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
        "min" | "mins" | "minute" | "minutes" | "m" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        other => {
            return Err(Error::InvalidConfig {
                key: String::new(),
                message: format!("'{text}' has an unknown time unit '{other}'"),
            })
        }
    };
    Ok(Duration::from_millis(value.saturating_mul(millis_per_unit)))
}

/// A source of processing time. The runtime reads processing time only through a
/// clock, so tests can drive timers and state TTL with a [`ManualClock`].
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current processing time in milliseconds since the epoch.
    fn now_millis(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> Timestamp {
        now_millis()
    }
}

/// A clock that moves only when told to; shared by clones.
///
/// ```
/// use eddy_core::time::{Clock, ManualClock};
/// let clock = ManualClock::new(1_000);
/// clock.advance(500);
/// assert_eq!(clock.now_millis(), 1_500);
/// ```
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    now: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl ManualClock {
    /// A manual clock set to `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            now: std::sync::Arc::new(std::sync::atomic::AtomicI64::new(start)),
        }
    }

    /// Sets the time (never moves it backwards).
    pub fn set(&self, now: Timestamp) {
        self.now.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
    }

    /// Moves the time forward by `millis`.
    pub fn advance(&self, millis: i64) {
        self.now
            .fetch_add(millis, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> Timestamp {
        self.now.load(std::sync::atomic::Ordering::SeqCst)
    }
}
