//! The heap keyed state backend.

use std::hash::Hash;
use std::sync::Arc;

use eddy_core::key_group::{fold_hash, key_group_for_hash, stable_hash64};
use eddy_core::time::{Clock, SystemClock};
use eddy_core::{Error, KeyGroup, KeyGroupRange, Result};
use serde::{de::DeserializeOwned, Serialize};

use crate::snapshot::{DeferredKeyedSnapshot, KeyGroupStateBytes, KeyedStateSnapshot};
use crate::table::{AnyTable, KeySlot, StateTable};
use crate::ttl::StateTtlConfig;

/// What a key must offer: hashing to a key group, equality, and serialization for
/// snapshots (`Sync`: a snapshot reads the state it shares with the live table from
/// the checkpoint writer's thread).
pub trait Key: Hash + Eq + Clone + Send + Sync + Serialize + DeserializeOwned + 'static {}
impl<T: Hash + Eq + Clone + Send + Sync + Serialize + DeserializeOwned + 'static> Key for T {}

/// What a namespace must offer (`()` for plain keyed state, a window for window
/// contents).
pub trait Namespace: Eq + Clone + Send + Sync + Serialize + DeserializeOwned + 'static {}
impl<T: Eq + Clone + Send + Sync + Serialize + DeserializeOwned + 'static> Namespace for T {}

/// What a stored value must offer. A snapshot shares the state with the live table
/// and serializes it on the checkpoint writer's thread (`Sync`); `Clone` lets the
/// live table copy a value it must change while a snapshot still reads it.
pub trait StateData: Clone + Send + Sync + Serialize + DeserializeOwned + 'static {}
impl<T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static> StateData for T {}

struct Registered<K> {
    name: String,
    table: Box<dyn AnyTable>,
    _key: std::marker::PhantomData<fn() -> K>,
}

/// The keyed state of one operator subtask: one table per registered state, each
/// split by the key groups of the subtask's [`KeyGroupRange`].
pub struct KeyedStateBackend<K> {
    range: KeyGroupRange,
    max_parallelism: u32,
    current_key: Option<K>,
    /// Where the current key lives: its key group and hash, computed once.
    current_slot: KeySlot,
    states: Vec<Registered<K>>,
    /// Restored state of names not registered yet, loaded on registration.
    pending: Vec<(String, Vec<KeyGroupStateBytes>)>,
    clock: Arc<dyn Clock>,
}

impl<K: Key> KeyedStateBackend<K> {
    /// A backend for the key groups in `range` out of `max_parallelism`.
    pub fn new(range: KeyGroupRange, max_parallelism: u32) -> Self {
        KeyedStateBackend {
            range,
            max_parallelism,
            current_key: None,
            current_slot: KeySlot {
                group: range.start,
                hash: 0,
            },
            states: Vec::new(),
            pending: Vec::new(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Uses `clock` as processing time for TTL.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The job's number of key groups.
    pub fn max_parallelism(&self) -> u32 {
        self.max_parallelism
    }

    /// The key groups this backend holds.
    pub fn key_group_range(&self) -> KeyGroupRange {
        self.range
    }

    /// Sets the key that state handles read and write. Panics in debug builds if the
    /// key does not belong to this subtask's key groups (a routing bug).
    #[inline]
    pub fn set_current_key(&mut self, key: K) {
        let hash = stable_hash64(&key);
        let group = key_group_for_hash(fold_hash(hash), self.max_parallelism);
        debug_assert!(
            self.range.contains(group),
            "key routed to the wrong subtask"
        );
        self.current_slot = KeySlot { group, hash };
        self.current_key = Some(key);
    }

    /// Sets the current key when its key group is already known.
    #[inline]
    pub fn set_current_key_with_group(&mut self, key: K, key_group: KeyGroup) {
        self.current_slot = KeySlot::of(key_group, &key);
        self.current_key = Some(key);
    }

    /// The key group of the current key.
    pub fn current_key_group(&self) -> KeyGroup {
        self.current_slot.group
    }

    /// The current key.
    pub fn current_key(&self) -> Option<&K> {
        self.current_key.as_ref()
    }

    /// The current processing time of the backend's clock.
    pub fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    /// Registers a state table, or returns the id of the one with this name.
    pub(crate) fn register<N: Namespace, S: StateData>(
        &mut self,
        name: &str,
        ttl: Option<StateTtlConfig>,
    ) -> Result<usize> {
        if let Some(id) = self.states.iter().position(|s| s.name == name) {
            if self.states[id]
                .table
                .as_any_mut()
                .downcast_mut::<StateTable<K, N, S>>()
                .is_none()
            {
                return Err(Error::state(format!(
                    "state '{name}' is already registered with another type"
                )));
            }
            return Ok(id);
        }
        let mut table = StateTable::<K, N, S>::new(self.range, ttl);
        if let Some(index) = self.pending.iter().position(|(n, _)| n == name) {
            let (_, groups) = self.pending.swap_remove(index);
            for group in groups {
                table.restore_group(group.key_group, &group.bytes)?;
            }
        }
        self.states.push(Registered {
            name: name.to_string(),
            table: Box::new(table),
            _key: std::marker::PhantomData,
        });
        Ok(self.states.len() - 1)
    }

    /// The table of a registered state and the current key. Panics if no key is set
    /// (state accessed outside of a keyed context, a bug in the operator).
    #[inline]
    pub(crate) fn table<N: Namespace, S: StateData>(
        &mut self,
        id: usize,
    ) -> (&mut StateTable<K, N, S>, KeySlot, &K, i64) {
        let table = self.states[id]
            .table
            .as_any_mut()
            .downcast_mut::<StateTable<K, N, S>>()
            .expect("state handles are typed by their registration");
        let now = if table.ttl.is_some() {
            self.clock.now_millis()
        } else {
            0
        };
        let key = self
            .current_key
            .as_ref()
            .expect("keyed state is used only while a key is set");
        (table, self.current_slot, key, now)
    }

    /// The number of (key, namespace) entries across all states.
    pub fn entry_count(&self) -> usize {
        self.states.iter().map(|s| s.table.entry_count()).sum()
    }

    /// Serializes every state, key group by key group (entries expired by TTL are
    /// left out): [`KeyedStateBackend::snapshot_deferred`], finished at once.
    pub fn snapshot(&mut self) -> Result<KeyedStateSnapshot> {
        self.snapshot_deferred().finish()
    }

    /// Takes a snapshot whose serialization runs later, off the processing thread
    /// ([`DeferredKeyedSnapshot::finish`]), while processing goes on.
    ///
    /// Nothing is copied now: each state's chunks (a key group's hash buckets) are
    /// shared with the snapshot, which costs one reference count per chunk. The
    /// first write to a chunk the snapshot still shares has that chunk encoded for
    /// the snapshot first, so the snapshot holds the state exactly as it was here,
    /// and no entry is ever held twice. Entries expired by TTL at this time are left
    /// out of the snapshot and dropped from the live state as their chunks are next
    /// used.
    pub fn snapshot_deferred(&mut self) -> DeferredKeyedSnapshot {
        let now = self.clock.now_millis();
        let versions = self
            .states
            .iter_mut()
            .map(|registered| (registered.name.clone(), registered.table.snapshot(now)))
            .collect();
        DeferredKeyedSnapshot::new(
            self.max_parallelism,
            self.range,
            versions,
            self.pending.clone(),
        )
    }

    /// Loads the key groups of this backend's range from snapshots (possibly taken at
    /// another parallelism, so several snapshots may contribute). A state that is
    /// not registered yet is kept and loaded when the operator registers it; until
    /// then it is carried into every new snapshot unchanged.
    pub fn restore(&mut self, snapshots: &[KeyedStateSnapshot]) -> Result<()> {
        self.restore_owned(snapshots.to_vec())
    }

    /// [`KeyedStateBackend::restore`], taking the snapshots: the bytes of states
    /// not registered yet are kept as they are, not copied.
    pub fn restore_owned(&mut self, snapshots: Vec<KeyedStateSnapshot>) -> Result<()> {
        for snapshot in snapshots {
            if snapshot.max_parallelism != self.max_parallelism {
                return Err(Error::state(format!(
                    "state was written with max parallelism {} but the job has {}; \
                     max parallelism cannot change",
                    snapshot.max_parallelism, self.max_parallelism
                )));
            }
            for (name, groups) in snapshot.states {
                let range = self.range;
                let mine = groups.into_iter().filter(|g| range.contains(g.key_group));
                if let Some(registered) = self.states.iter_mut().find(|s| s.name == name) {
                    for group in mine {
                        registered
                            .table
                            .restore_group(group.key_group, &group.bytes)?;
                    }
                } else if let Some((_, pending)) = self.pending.iter_mut().find(|(n, _)| *n == name)
                {
                    pending.extend(mine);
                } else {
                    self.pending.push((name, mine.collect()));
                }
            }
        }
        Ok(())
    }
}
