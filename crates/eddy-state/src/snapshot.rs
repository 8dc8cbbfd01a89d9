//! The snapshot of a keyed state backend: bytes per state and key group.

use std::sync::{Arc, Mutex};

use eddy_core::{KeyGroup, KeyGroupRange, Result};
use serde::{Deserialize, Serialize};

use crate::table::TableVersion;

/// The serialized entries of one state in one key group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyGroupStateBytes {
    /// The key group.
    pub key_group: KeyGroup,
    /// The entries, encoded with postcard as `[(key, [(namespace, value, last_access)])]`.
    #[serde(with = "eddy_core::byte_buf")]
    pub bytes: Vec<u8>,
}

/// A keyed state backend's snapshot: for each state name, its key groups.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyedStateSnapshot {
    /// The number of key groups of the job (cannot change across restores).
    pub max_parallelism: u32,
    /// `(state name, key groups)` for every state.
    pub states: Vec<(String, Vec<KeyGroupStateBytes>)>,
}

impl KeyedStateSnapshot {
    /// The total number of bytes of state.
    pub fn byte_size(&self) -> usize {
        self.states
            .iter()
            .flat_map(|(_, groups)| groups.iter())
            .map(|g| g.bytes.len())
            .sum()
    }
}

struct DeferredParts {
    max_parallelism: u32,
    range: KeyGroupRange,
    versions: Vec<(String, Box<dyn TableVersion>)>,
    pending: Vec<(String, Vec<KeyGroupStateBytes>)>,
}

/// A keyed state snapshot taken but not yet serialized: it shares the state as it
/// was at the barrier with the live backend (copy-on-write, chunk by chunk); call
/// [`DeferredKeyedSnapshot::finish`] (once, on any thread) to get the bytes.
/// Dropping it unfinished releases the shared state.
#[derive(Clone)]
pub struct DeferredKeyedSnapshot {
    parts: Arc<Mutex<Option<DeferredParts>>>,
}

impl std::fmt::Debug for DeferredKeyedSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeferredKeyedSnapshot")
    }
}

impl PartialEq for DeferredKeyedSnapshot {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.parts, &other.parts)
    }
}

impl Eq for DeferredKeyedSnapshot {}

impl DeferredKeyedSnapshot {
    pub(crate) fn new(
        max_parallelism: u32,
        range: KeyGroupRange,
        versions: Vec<(String, Box<dyn TableVersion>)>,
        pending: Vec<(String, Vec<KeyGroupStateBytes>)>,
    ) -> Self {
        DeferredKeyedSnapshot {
            parts: Arc::new(Mutex::new(Some(DeferredParts {
                max_parallelism,
                range,
                versions,
                pending,
            }))),
        }
    }

    /// Serializes the state as it was at the barrier, key group by key group.
    pub fn finish(&self) -> Result<KeyedStateSnapshot> {
        let parts = self
            .parts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| eddy_core::Error::state("a deferred snapshot was finished twice"))?;
        let mut states = Vec::with_capacity(parts.versions.len() + parts.pending.len());
        for (name, version) in parts.versions {
            let mut groups = Vec::with_capacity(parts.range.len());
            for kg in parts.range.iter() {
                groups.push(KeyGroupStateBytes {
                    key_group: kg,
                    bytes: version.serialize(kg)?,
                });
            }
            states.push((name, groups));
        }
        states.extend(parts.pending);
        Ok(KeyedStateSnapshot {
            max_parallelism: parts.max_parallelism,
            states,
        })
    }
}
