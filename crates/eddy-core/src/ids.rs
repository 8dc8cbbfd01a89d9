//! Identifiers that carry the protocol's meaning in their type.
//!
//! A [`JobId`] names one run of a job, as Flink's 32-hex-digit job id does: every
//! start of a job (with or without a restore) gets a new one, so a new run never
//! mistakes an older run's checkpoints or output for its own.
//!
//! ```
//! use eddy_core::JobId;
//! let id = JobId::generate();
//! let text = id.to_string();
//! assert_eq!(text.len(), 32);
//! assert_eq!(text.parse::<JobId>().unwrap(), id);
//! assert_ne!(JobId::generate(), id);
//! ```

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// The id of one run of a job: 128 random bits, shown as 32 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JobId(u128);

impl JobId {
    /// A new random id, unique across processes and calls.
    pub fn generate() -> Self {
        static CALLS: AtomicU64 = AtomicU64::new(0);
        let call = CALLS.fetch_add(1, Ordering::Relaxed);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        // Each RandomState is seeded from the OS; mixing in the time, the process id
        // and a counter keeps ids distinct even if two seeds were to repeat.
        let half = |salt: u64| {
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u64(salt);
            hasher.write_u128(now);
            hasher.write_u32(std::process::id());
            hasher.write_u64(call);
            hasher.finish()
        };
        JobId((u128::from(half(1)) << 64) | u128::from(half(2)))
    }

    /// The first eight hex digits: enough to tell runs apart in file names.
    pub fn short(&self) -> String {
        format!("{:08x}", (self.0 >> 96) as u32)
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl FromStr for JobId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.len() != 32 {
            return Err(format!("'{text}' is not a job id (32 hex digits)"));
        }
        u128::from_str_radix(text, 16)
            .map(JobId)
            .map_err(|_| format!("'{text}' is not a job id (32 hex digits)"))
    }
}
