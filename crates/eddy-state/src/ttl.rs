//! Time-to-live of state entries, in processing time (as in Flink).

use std::time::Duration;

/// When the last-access time of an entry is refreshed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TtlUpdateType {
    /// On creation and every write (Flink's default).
    #[default]
    OnCreateAndWrite,
    /// On creation, every write and every read.
    OnReadAndWrite,
}

/// Whether an expired entry that was not yet cleaned up may still be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TtlVisibility {
    /// Expired entries are never returned (Flink's default).
    #[default]
    NeverReturnExpired,
    /// Expired entries are returned until they are cleaned up.
    ReturnExpiredIfNotCleanedUp,
}

/// The time-to-live of a state: entries not updated for `ttl` expire. Expired entries
/// are removed when they are read and when a snapshot is taken.
///
/// ```
/// use std::time::Duration;
/// use eddy_state::{StateTtlConfig, TtlUpdateType};
/// let ttl = StateTtlConfig::new(Duration::from_secs(60))
///     .with_update_type(TtlUpdateType::OnReadAndWrite);
/// assert_eq!(ttl.ttl_millis(), 60_000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateTtlConfig {
    ttl: Duration,
    update_type: TtlUpdateType,
    visibility: TtlVisibility,
}

impl StateTtlConfig {
    /// Entries expire `ttl` after their last update.
    pub fn new(ttl: Duration) -> Self {
        StateTtlConfig {
            ttl,
            update_type: TtlUpdateType::default(),
            visibility: TtlVisibility::default(),
        }
    }

    /// When the last-access time is refreshed.
    pub fn with_update_type(mut self, update_type: TtlUpdateType) -> Self {
        self.update_type = update_type;
        self
    }

    /// Whether expired, not yet removed entries are visible.
    pub fn with_visibility(mut self, visibility: TtlVisibility) -> Self {
        self.visibility = visibility;
        self
    }

    /// The time-to-live in milliseconds.
    pub fn ttl_millis(&self) -> i64 {
        i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX)
    }

    /// When the last-access time is refreshed.
    pub fn update_type(&self) -> TtlUpdateType {
        self.update_type
    }

    /// Whether expired entries are visible.
    pub fn visibility(&self) -> TtlVisibility {
        self.visibility
    }

    pub(crate) fn is_expired(&self, last_access: i64, now: i64) -> bool {
        now.saturating_sub(last_access) >= self.ttl_millis()
    }
}
