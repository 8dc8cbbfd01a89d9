//! One registered state's entries: per key group, per key, per namespace.

use std::any::Any;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use eddy_core::key_group::StableHasher;
use eddy_core::{KeyGroup, KeyGroupRange};
use serde::{de::DeserializeOwned, Serialize};

use crate::backend::{Key, Namespace, StateData};
use crate::slots::Slots;
use crate::ttl::{StateTtlConfig, TtlUpdateType, TtlVisibility};
use eddy_core::{Error, Result};

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<StableHasher>>;

/// A stored value and the processing time it was last written (for TTL).
#[derive(Clone, Debug)]
pub(crate) struct Entry<S> {
    pub value: S,
    pub last_access: i64,
}

/// The namespaces of one key; few per key (a handful of open windows), so a vector.
pub(crate) type Namespaces<N, S> = Slots<(N, Entry<S>)>;

/// The entries of one state, split by key group.
pub(crate) struct StateTable<K, N, S> {
    range: KeyGroupRange,
    groups: Vec<FastMap<K, Namespaces<N, S>>>,
    pub ttl: Option<StateTtlConfig>,
    /// The previous snapshot copy's allocation, returned after serialization and
    /// reused by the next copy (no fresh pages to fault in at the barrier).
    spare: Spare<K, N, S>,
}

type Groups<K, N, S> = Vec<FastMap<K, Namespaces<N, S>>>;
type Spare<K, N, S> = std::sync::Arc<std::sync::Mutex<Option<Groups<K, N, S>>>>;

impl<K: Key, N: Namespace, S: StateData> StateTable<K, N, S> {
    pub fn new(range: KeyGroupRange, ttl: Option<StateTtlConfig>) -> Self {
        StateTable {
            range,
            groups: (0..range.len()).map(|_| FastMap::default()).collect(),
            ttl,
            spare: Default::default(),
        }
    }

    #[inline]
    fn group_mut(&mut self, key_group: KeyGroup) -> &mut FastMap<K, Namespaces<N, S>> {
        let index = (key_group - self.range.start) as usize;
        &mut self.groups[index]
    }

    /// The entry of (key, namespace), applying TTL: an expired entry is removed and
    /// reported absent (unless visibility says otherwise); a read refreshes it when
    /// the update type asks for that.
    pub fn get_mut(&mut self, kg: KeyGroup, key: &K, ns: &N, now: i64) -> Option<&mut S> {
        let ttl = self.ttl;
        let group = self.group_mut(kg);
        if let Some(ttl) = ttl {
            let namespaces = group.get_mut(key)?;
            let position = namespaces.iter().position(|(n, _)| n == ns)?;
            let entry = &mut namespaces[position].1;
            if ttl.is_expired(entry.last_access, now) {
                if ttl.visibility() == TtlVisibility::NeverReturnExpired {
                    namespaces.swap_remove(position);
                    if namespaces.is_empty() {
                        group.remove(key);
                    }
                    return None;
                }
            } else if ttl.update_type() == TtlUpdateType::OnReadAndWrite {
                entry.last_access = now;
            }
        }
        let namespaces = group.get_mut(key)?;
        namespaces
            .iter_mut()
            .find(|(n, _)| n == ns)
            .map(|(_, e)| &mut e.value)
    }

    /// The entry of (key, namespace) for writing, created with `init` when absent or
    /// expired. Refreshes the last-access time.
    pub fn get_or_insert_with(
        &mut self,
        kg: KeyGroup,
        key: &K,
        ns: &N,
        now: i64,
        init: impl FnOnce() -> S,
    ) -> &mut S {
        let ttl = self.ttl;
        let group = self.group_mut(kg);
        if !group.contains_key(key) {
            group.insert(key.clone(), Slots::default());
        }
        let Some(namespaces) = group.get_mut(key) else {
            unreachable!("inserted above")
        };
        let position = match namespaces.iter().position(|(n, _)| n == ns) {
            Some(p) => {
                if ttl.is_some_and(|t| t.is_expired(namespaces[p].1.last_access, now)) {
                    namespaces[p].1.value = init();
                }
                p
            }
            None => {
                namespaces.push((
                    ns.clone(),
                    Entry {
                        value: init(),
                        last_access: now,
                    },
                ));
                namespaces.len() - 1
            }
        };
        let entry = &mut namespaces[position].1;
        entry.last_access = now;
        &mut entry.value
    }

    /// Replaces the entry of (key, namespace) with `f(current)`, where `current` is
    /// `None` when absent or expired: one lookup, no reallocation.
    pub fn update_with(
        &mut self,
        kg: KeyGroup,
        key: &K,
        ns: &N,
        now: i64,
        f: impl FnOnce(Option<S>) -> S,
    ) {
        let ttl = self.ttl;
        let group = self.group_mut(kg);
        if let Some(namespaces) = group.get_mut(key) {
            if let Some(position) = namespaces.iter().position(|(n, _)| n == ns) {
                let (n, entry) = namespaces.swap_remove(position);
                let current = match ttl {
                    Some(t) if t.is_expired(entry.last_access, now) => None,
                    _ => Some(entry.value),
                };
                namespaces.push((
                    n,
                    Entry {
                        value: f(current),
                        last_access: now,
                    },
                ));
                return;
            }
            namespaces.push((
                ns.clone(),
                Entry {
                    value: f(None),
                    last_access: now,
                },
            ));
            return;
        }
        group.insert(
            key.clone(),
            Slots::one((
                ns.clone(),
                Entry {
                    value: f(None),
                    last_access: now,
                },
            )),
        );
    }

    /// Sets the entry of (key, namespace).
    pub fn put(&mut self, kg: KeyGroup, key: &K, ns: &N, now: i64, value: S) {
        let mut value = Some(value);
        let slot = self.get_or_insert_with(kg, key, ns, now, || {
            value.take().unwrap_or_else(|| unreachable!("taken once"))
        });
        if let Some(value) = value {
            *slot = value;
        }
    }

    /// Removes and returns the entry of (key, namespace), expired or not.
    pub fn remove(&mut self, kg: KeyGroup, key: &K, ns: &N) -> Option<S> {
        let group = self.group_mut(kg);
        let namespaces = group.get_mut(key)?;
        let position = namespaces.iter().position(|(n, _)| n == ns)?;
        let (_, entry) = namespaces.swap_remove(position);
        if namespaces.is_empty() {
            group.remove(key);
        }
        Some(entry.value)
    }

    /// Drops every expired entry.
    pub fn purge_expired(&mut self, now: i64) {
        let Some(ttl) = self.ttl else { return };
        for group in &mut self.groups {
            group.retain(|_, namespaces| {
                namespaces.retain(|(_, e)| !ttl.is_expired(e.last_access, now));
                !namespaces.is_empty()
            });
        }
    }

    /// The number of (key, namespace) entries.
    pub fn len(&self) -> usize {
        self.groups
            .iter()
            .flat_map(|g| g.values())
            .map(Slots::len)
            .sum()
    }
}

/// A copied table, serialized off the processing thread.
pub(crate) trait TableCopy: Send {
    fn serialize(&self, key_group: KeyGroup) -> Result<Vec<u8>>;
}

/// A copy of a table for one snapshot; gives its allocation back when dropped.
struct TableSnapshot<K, N, S> {
    table: Option<StateTable<K, N, S>>,
    spare: Spare<K, N, S>,
}

impl<K, N, S> TableCopy for TableSnapshot<K, N, S>
where
    K: Key + Serialize + DeserializeOwned,
    N: Namespace,
    S: StateData,
{
    fn serialize(&self, key_group: KeyGroup) -> Result<Vec<u8>> {
        match &self.table {
            Some(table) => table.snapshot_group(key_group),
            None => Ok(Vec::new()),
        }
    }
}

impl<K, N, S> Drop for TableSnapshot<K, N, S> {
    fn drop(&mut self) {
        if let Some(table) = self.table.take() {
            *self.spare.lock().unwrap_or_else(|p| p.into_inner()) = Some(table.groups);
        }
    }
}

/// One key's entries in a snapshot: `(key, [(namespace, value, last access)])`.
type SnapshotRow<K, N, S> = (K, Vec<(N, S, i64)>);

/// The type-erased face of a [`StateTable`], for snapshots and bookkeeping.
pub(crate) trait AnyTable: Send {
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// A copy of the entries, to serialize later on another thread.
    fn copy(&self) -> Box<dyn TableCopy>;
    fn snapshot_group(&self, key_group: KeyGroup) -> Result<Vec<u8>>;
    fn restore_group(&mut self, key_group: KeyGroup, bytes: &[u8]) -> Result<()>;
    fn purge_expired(&mut self, now: i64);
    fn entry_count(&self) -> usize;
}

impl<K, N, S> AnyTable for StateTable<K, N, S>
where
    K: Key + Serialize + DeserializeOwned,
    N: Namespace,
    S: StateData,
{
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn copy(&self) -> Box<dyn TableCopy> {
        let reused = self.spare.lock().unwrap_or_else(|p| p.into_inner()).take();
        let groups = match reused {
            Some(mut groups) if groups.len() == self.groups.len() => {
                for (copy, live) in groups.iter_mut().zip(&self.groups) {
                    copy.clone_from(live);
                }
                groups
            }
            _ => self.groups.clone(),
        };
        Box::new(TableSnapshot {
            table: Some(StateTable {
                range: self.range,
                groups,
                ttl: self.ttl,
                spare: Default::default(),
            }),
            spare: self.spare.clone(),
        })
    }

    fn snapshot_group(&self, key_group: KeyGroup) -> Result<Vec<u8>> {
        let index = (key_group - self.range.start) as usize;
        let rows: Vec<SnapshotRow<&K, &N, &S>> = self.groups[index]
            .iter()
            .map(|(k, namespaces)| {
                (
                    k,
                    namespaces
                        .iter()
                        .map(|(n, e)| (n, &e.value, e.last_access))
                        .collect(),
                )
            })
            .collect();
        postcard::to_stdvec(&rows).map_err(Error::state)
    }

    fn restore_group(&mut self, key_group: KeyGroup, bytes: &[u8]) -> Result<()> {
        if !self.range.contains(key_group) {
            return Err(Error::state(format!(
                "key group {key_group} is outside this subtask's range {}..={}",
                self.range.start, self.range.end
            )));
        }
        let rows: Vec<SnapshotRow<K, N, S>> = postcard::from_bytes(bytes)
            .map_err(|e| Error::state(format!("key group {key_group} cannot be decoded: {e}")))?;
        let group = self.group_mut(key_group);
        for (key, namespaces) in rows {
            let entries = namespaces
                .into_iter()
                .map(|(n, value, last_access)| (n, Entry { value, last_access }))
                .collect();
            group.insert(key, entries);
        }
        Ok(())
    }

    fn purge_expired(&mut self, now: i64) {
        StateTable::purge_expired(self, now);
    }

    fn entry_count(&self) -> usize {
        self.len()
    }
}
