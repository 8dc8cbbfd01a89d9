//! The snapshot of a keyed state backend: bytes per state and key group.

use eddy_core::KeyGroup;
use serde::{Deserialize, Serialize};

/// The serialized entries of one state in one key group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyGroupStateBytes {
    /// The key group.
    pub key_group: KeyGroup,
    /// The entries, encoded with postcard as `[(key, [(namespace, value, last_access)])]`.
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
