//! One registered state's entries: per key group, per key, per namespace.
//!
//! A table is split into chunks, one per key group and hash bucket (about
//! [`TARGET_CHUNKS`] per table), each a hash map held in an `Arc`. A snapshot shares
//! the chunks instead of copying them ([`FrozenTable`]); a write to a chunk that a
//! snapshot still shares first has the snapshot encode that chunk, then writes it
//! in place, so the barrier costs one `Arc` clone per chunk and a write after it at
//! most the encoding of one small chunk. Copy-on-write in the manner of Flink's
//! `CopyOnWriteStateMap`, at the granularity of chunks rather than entries.

use std::any::Any;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Weak};

use eddy_core::key_group::StableHasher;
use eddy_core::{KeyGroup, KeyGroupRange};
use serde::{de::DeserializeOwned, Serialize};

use crate::backend::{Key, Namespace, StateData};
use crate::frozen::FrozenTable;
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

/// The keys of one chunk (a key group's hash bucket).
pub(crate) type ChunkMap<K, N, S> = FastMap<K, Namespaces<N, S>>;

/// A chunk, shared with the snapshots taken since it was last written.
pub(crate) type Chunk<K, N, S> = Arc<ChunkMap<K, N, S>>;

/// About how many chunks a table is split into: enough that one chunk is a small
/// part of the state (the most a write after a barrier encodes), few enough that
/// sharing them all at a barrier is quick.
pub(crate) const TARGET_CHUNKS: usize = 4096;

/// At most this many bits of hash bucket per key group.
const MAX_BUCKET_BITS: u32 = 8;

/// The bits of a key's hash that pick its bucket: clear of the low bits that index a
/// hash map's slots and of the top seven bits it keeps as tags.
const BUCKET_SHIFT: u32 = 40;

/// The entries of one state, split by key group and hash bucket.
pub(crate) struct StateTable<K, N, S> {
    range: KeyGroupRange,
    /// Each key group has `1 << bucket_bits` chunks.
    bucket_bits: u32,
    chunks: Vec<Chunk<K, N, S>>,
    pub ttl: Option<StateTtlConfig>,
    /// Snapshots that may still share chunks with this table.
    snapshots: Vec<Weak<FrozenTable<K, N, S>>>,
    /// TTL tables: the processing time of the last snapshot, and the chunks that
    /// still have to drop the entries expired then before they are next used (the
    /// cleanup a snapshot does, spread over the accesses that follow it).
    purge_time: i64,
    purge_due: Vec<bool>,
}

impl<K: Key, N: Namespace, S: StateData> StateTable<K, N, S> {
    pub fn new(range: KeyGroupRange, ttl: Option<StateTtlConfig>) -> Self {
        let groups = range.len().max(1);
        let per_group = (TARGET_CHUNKS / groups).max(1);
        let bucket_bits = per_group.ilog2().min(MAX_BUCKET_BITS);
        let count = range.len() << bucket_bits;
        // Every chunk starts as the same empty map; the first write gives it its own.
        let empty: Chunk<K, N, S> = Arc::default();
        StateTable {
            range,
            bucket_bits,
            chunks: vec![empty; count],
            ttl,
            snapshots: Vec::new(),
            purge_time: 0,
            purge_due: if ttl.is_some() {
                vec![false; count]
            } else {
                Vec::new()
            },
        }
    }

    /// The index of the chunk of `key` in `key_group`.
    #[inline]
    fn chunk_index(&self, key_group: KeyGroup, key: &K) -> usize {
        let group = (key_group - self.range.start) as usize;
        if self.bucket_bits == 0 {
            return group;
        }
        let mut hasher = StableHasher::default();
        key.hash(&mut hasher);
        let bucket = (hasher.finish() >> BUCKET_SHIFT) as usize & ((1 << self.bucket_bits) - 1);
        (group << self.bucket_bits) | bucket
    }

    /// The chunk of `key` in `key_group`, for reading and writing: released by the
    /// snapshots that share it, and cleaned of the entries a snapshot found expired.
    #[inline]
    fn chunk_mut(&mut self, key_group: KeyGroup, key: &K) -> &mut ChunkMap<K, N, S> {
        let index = self.chunk_index(key_group, key);
        self.chunk_at(index)
    }

    fn chunk_at(&mut self, index: usize) -> &mut ChunkMap<K, N, S> {
        if Arc::strong_count(&self.chunks[index]) != 1 {
            self.release(index);
        }
        let due = self.purge_due.get_mut(index).is_some_and(std::mem::take);
        let (ttl, purge_time) = (self.ttl, self.purge_time);
        // Unique after the release (one snapshot's share or the shared empty map
        // otherwise: copying that is cheap).
        let chunk = Arc::make_mut(&mut self.chunks[index]);
        if let (true, Some(ttl)) = (due, ttl) {
            purge(chunk, ttl, purge_time);
        }
        chunk
    }

    /// Has every snapshot that shares chunk `index` encode it.
    #[cold]
    fn release(&mut self, index: usize) {
        let live = &self.chunks[index];
        self.snapshots.retain(|snapshot| match snapshot.upgrade() {
            Some(frozen) => {
                frozen.release(index, live);
                true
            }
            None => false,
        });
    }

    /// The entry of (key, namespace), applying TTL: an expired entry is removed and
    /// reported absent (unless visibility says otherwise); a read refreshes it when
    /// the update type asks for that.
    pub fn get_mut(&mut self, kg: KeyGroup, key: &K, ns: &N, now: i64) -> Option<&mut S> {
        let ttl = self.ttl;
        let group = self.chunk_mut(kg, key);
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
        let group = self.chunk_mut(kg, key);
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
        let group = self.chunk_mut(kg, key);
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
        let group = self.chunk_mut(kg, key);
        let namespaces = group.get_mut(key)?;
        let position = namespaces.iter().position(|(n, _)| n == ns)?;
        let (_, entry) = namespaces.swap_remove(position);
        if namespaces.is_empty() {
            group.remove(key);
        }
        Some(entry.value)
    }

    /// The number of (key, namespace) entries (not counting those a snapshot found
    /// expired and that are yet to be dropped).
    pub fn len(&self) -> usize {
        let ttl = self.ttl;
        self.chunks
            .iter()
            .enumerate()
            .map(|(index, chunk)| match ttl {
                Some(ttl) if self.purge_due.get(index).copied().unwrap_or(false) => chunk
                    .values()
                    .flat_map(Slots::iter)
                    .filter(|(_, e)| !ttl.is_expired(e.last_access, self.purge_time))
                    .count(),
                _ => chunk.values().map(Slots::len).sum(),
            })
            .sum()
    }

    /// Shares every chunk with a new snapshot taken at processing time `now`; the
    /// snapshot leaves out the entries expired at `now`, and the live table drops
    /// them chunk by chunk when it next uses each chunk.
    fn freeze(&mut self, now: i64) -> Arc<FrozenTable<K, N, S>> {
        self.snapshots.retain(|s| s.strong_count() > 0);
        let frozen = Arc::new(FrozenTable::new(
            self.range,
            self.bucket_bits,
            self.ttl,
            now,
            &self.chunks,
        ));
        self.snapshots.push(Arc::downgrade(&frozen));
        if self.ttl.is_some() {
            self.purge_time = now;
            self.purge_due.fill(true);
        }
        frozen
    }
}

/// Drops the entries of `chunk` expired at `now`.
fn purge<K, N, S>(chunk: &mut ChunkMap<K, N, S>, ttl: StateTtlConfig, now: i64) {
    chunk.retain(|_, namespaces| {
        namespaces.retain(|(_, e)| !ttl.is_expired(e.last_access, now));
        !namespaces.is_empty()
    });
}

/// A table's version for one snapshot, serialized off the processing thread.
pub(crate) trait TableVersion: Send {
    /// The bytes of one key group (once per key group).
    fn serialize(&self, key_group: KeyGroup) -> Result<Vec<u8>>;
}

impl<K: Key, N: Namespace, S: StateData> TableVersion for Arc<FrozenTable<K, N, S>> {
    fn serialize(&self, key_group: KeyGroup) -> Result<Vec<u8>> {
        FrozenTable::serialize(self, key_group)
    }
}

/// One key's entries in a snapshot: `(key, [(namespace, value, last access)])`.
type SnapshotRow<K, N, S> = (K, Vec<(N, S, i64)>);

/// The type-erased face of a [`StateTable`], for snapshots and bookkeeping.
pub(crate) trait AnyTable: Send {
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// The table's current version for a snapshot at processing time `now`,
    /// serialized later on another thread while this table keeps changing.
    fn snapshot(&mut self, now: i64) -> Box<dyn TableVersion>;
    fn restore_group(&mut self, key_group: KeyGroup, bytes: &[u8]) -> Result<()>;
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

    fn snapshot(&mut self, now: i64) -> Box<dyn TableVersion> {
        Box::new(self.freeze(now))
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
        for (key, namespaces) in rows {
            let entries = namespaces
                .into_iter()
                .map(|(n, value, last_access)| (n, Entry { value, last_access }))
                .collect();
            self.chunk_mut(key_group, &key).insert(key, entries);
        }
        Ok(())
    }

    fn entry_count(&self) -> usize {
        self.len()
    }
}
