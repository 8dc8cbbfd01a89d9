//! # eddy-state
//!
//! Keyed state, organised by key group, and the heap state backend.
//!
//! An operator that runs on a keyed stream owns one [`KeyedStateBackend`]. Before it
//! hands a record to user code it sets the backend's current key; every state handle
//! ([`ValueState`], [`ListState`], [`MapState`], [`ReducingState`],
//! [`AggregatingState`]) then reads and writes the entry of that key (and of a
//! namespace, e.g. a window). Entries live in one table per registered state, split by
//! key group, so a snapshot is a set of `(state name, key group) -> bytes` and a
//! restore at another parallelism loads whole key groups.
//!
//! Snapshots do not copy the state. [`KeyedStateBackend::snapshot_deferred`] shares
//! each table's chunks (key groups, split further into hash buckets when a subtask
//! has few key groups) with the snapshot, copy-on-write: processing goes on at once,
//! the checkpoint writer serializes the state as it was at the barrier on its own
//! thread, and the first write to a chunk the snapshot still shares has that one
//! chunk encoded for the snapshot before it changes. The synchronous part of a
//! snapshot is one small allocation per non-empty chunk, and no entry is ever held
//! twice in memory.
//!
//! ```
//! use eddy_state::{KeyedStateBackend, ValueStateDescriptor};
//! use eddy_core::KeyGroupRange;
//!
//! let mut backend: KeyedStateBackend<String> =
//!     KeyedStateBackend::new(KeyGroupRange::new(0, 127), 128);
//! let count = backend.value_state(ValueStateDescriptor::<u64>::new("count")).unwrap();
//! backend.set_current_key("alice".to_string());
//! let next = count.value(&mut backend).unwrap_or(0) + 1;
//! count.update(&mut backend, next);
//! assert_eq!(count.value(&mut backend), Some(1));
//! ```

mod backend;
mod descriptor;
mod frozen;
mod handles;
mod operator_state;
mod slots;
mod snapshot;
mod table;
mod ttl;

pub use backend::{Key, KeyedStateBackend, Namespace, StateData};
pub use descriptor::{
    AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor, ReducingStateDescriptor,
    ValueStateDescriptor,
};
pub use handles::{
    AggregateFunction, AggregatingState, ListState, MapState, ReducingState, ValueState,
};
pub use operator_state::{OperatorListState, OperatorStateStore, Redistribution};
pub use snapshot::{DeferredKeyedSnapshot, KeyGroupStateBytes, KeyedStateSnapshot};
pub use ttl::{StateTtlConfig, TtlUpdateType, TtlVisibility};
