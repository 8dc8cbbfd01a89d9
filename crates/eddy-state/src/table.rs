//! One registered state's entries: per key group, per key, per namespace.
//!
//! A table is split into chunks, one per key group and hash bucket (about
//! [`TARGET_CHUNKS`] per table), each a hash map. Between snapshots the table owns
//! its chunks outright. A snapshot moves each chunk into an `Arc` that it shares
//! with the table ([`FrozenTable`]), which costs one small allocation per chunk
//! and copies no entry; the first use of a shared chunk after that has the
//! snapshots encode it, then takes it back, so a chunk is never copied and the
//! pause a write sees after a barrier is at most the encoding of one small chunk.
//! Copy-on-write in the manner of Flink's `CopyOnWriteStateMap`, at the granularity
//! of chunks rather than entries.

use std::any::Any;
use std::sync::{Arc, Weak};

use eddy_core::key_group::stable_hash64;
use eddy_core::{KeyGroup, KeyGroupRange};
use hashbrown::hash_table::Entry as TableEntry;
use hashbrown::HashTable;
use serde::{de::DeserializeOwned, Serialize};

use crate::backend::{Key, Namespace, StateData};
use crate::frozen::FrozenTable;
use crate::slots::Slots;
use crate::ttl::{StateTtlConfig, TtlUpdateType, TtlVisibility};
use eddy_core::{Error, Result};

/// A stored value and the processing time it was last written (for TTL).
#[derive(Clone, Debug)]
pub(crate) struct Entry<S> {
    pub value: S,
    pub last_access: i64,
}

/// The namespaces of one key; few per key (a handful of open windows), so a vector.
pub(crate) type Namespaces<N, S> = Slots<(N, Entry<S>)>;

/// The keys of one chunk (a key group's hash bucket), each with its namespaces,
/// found by the key's [`stable_hash64`], which the backend computes once when it
/// sets the key.
pub(crate) type ChunkMap<K, N, S> = HashTable<(K, Namespaces<N, S>)>;

/// Where the current key lives: its key group and its [`stable_hash64`], both
/// computed once when the backend's key is set.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeySlot {
    pub group: KeyGroup,
    pub hash: u64,
}

impl KeySlot {
    /// The slot of `key` in `group`.
    pub fn of<K: Key>(group: KeyGroup, key: &K) -> Self {
        KeySlot {
            group,
            hash: stable_hash64(key),
        }
    }
}

/// Rehashes an entry when a chunk grows.
fn rehash<K: Key, V>(entry: &(K, V)) -> u64 {
    stable_hash64(&entry.0)
}

/// One chunk of a live table.
enum Chunk<K, N, S> {
    /// Not in any snapshot since it was last used: read and written in place.
    Owned(ChunkMap<K, N, S>),
    /// Shared with the snapshots taken since it was last used.
    Shared(Arc<ChunkMap<K, N, S>>),
}

/// About how many chunks a table is split into: enough that one chunk is a small
/// part of the state (the most a write after a barrier encodes), few enough that
/// sharing them all at a barrier is quick.
pub(crate) const TARGET_CHUNKS: usize = 128;

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
    /// TTL tables: the processing time of the last snapshot. A shared chunk drops
    /// the entries expired then when it is taken back (the cleanup a snapshot does,
    /// spread over the accesses that follow it).
    purge_time: i64,
}

impl<K: Key, N: Namespace, S: StateData> StateTable<K, N, S> {
    pub fn new(range: KeyGroupRange, ttl: Option<StateTtlConfig>) -> Self {
        let groups = range.len().max(1);
        let per_group = (TARGET_CHUNKS / groups).max(1);
        let bucket_bits = per_group.ilog2().min(MAX_BUCKET_BITS);
        StateTable {
            range,
            bucket_bits,
            chunks: (0..range.len() << bucket_bits)
                .map(|_| Chunk::Owned(ChunkMap::default()))
                .collect(),
            ttl,
            snapshots: Vec::new(),
            purge_time: 0,
        }
    }

    /// The index of the chunk of the key at `slot`.
    #[inline]
    fn chunk_index(&self, slot: KeySlot) -> usize {
        let group = (slot.group - self.range.start) as usize;
        if self.bucket_bits == 0 {
            return group;
        }
        let bucket = (slot.hash >> BUCKET_SHIFT) as usize & ((1 << self.bucket_bits) - 1);
        (group << self.bucket_bits) | bucket
    }

    /// The chunk of the key at `slot`, for reading and writing.
    #[inline]
    fn chunk_mut(&mut self, slot: KeySlot) -> &mut ChunkMap<K, N, S> {
        let index = self.chunk_index(slot);
        if let Chunk::Shared(_) = self.chunks[index] {
            self.take_back(index);
        }
        match &mut self.chunks[index] {
            Chunk::Owned(chunk) => chunk,
            // Not reached: `take_back` made it owned.
            Chunk::Shared(chunk) => Arc::make_mut(chunk),
        }
    }

    /// Takes chunk `index` back from the snapshots that share it: each encodes it
    /// first (a snapshot that is gone needs nothing); then drops the entries the
    /// last snapshot found expired.
    #[cold]
    #[inline(never)]
    fn take_back(&mut self, index: usize) {
        let placeholder = Chunk::Owned(ChunkMap::default());
        let Chunk::Shared(shared) = std::mem::replace(&mut self.chunks[index], placeholder) else {
            return;
        };
        self.snapshots.retain(|snapshot| match snapshot.upgrade() {
            Some(frozen) => {
                frozen.release(index, &shared);
                true
            }
            None => false,
        });
        // The snapshots let go of it above; copied only if one could not.
        let mut chunk = Arc::try_unwrap(shared).unwrap_or_else(|shared| (*shared).clone());
        if let Some(ttl) = self.ttl {
            purge(&mut chunk, ttl, self.purge_time);
        }
        self.chunks[index] = Chunk::Owned(chunk);
    }

    /// The entry of (key, namespace), applying TTL: an expired entry is removed and
    /// reported absent (unless visibility says otherwise); a read refreshes it when
    /// the update type asks for that.
    pub fn get_mut(&mut self, at: KeySlot, key: &K, ns: &N, now: i64) -> Option<&mut S> {
        let ttl = self.ttl;
        let group = self.chunk_mut(at);
        if let Some(ttl) = ttl {
            let TableEntry::Occupied(mut found) = group.entry(at.hash, |(k, _)| k == key, rehash)
            else {
                return None;
            };
            let namespaces = &mut found.get_mut().1;
            let position = namespaces.iter().position(|(n, _)| n == ns)?;
            let entry = &mut namespaces[position].1;
            if ttl.is_expired(entry.last_access, now) {
                if ttl.visibility() == TtlVisibility::NeverReturnExpired {
                    namespaces.swap_remove(position);
                    if namespaces.is_empty() {
                        found.remove();
                    }
                    return None;
                }
            } else if ttl.update_type() == TtlUpdateType::OnReadAndWrite {
                entry.last_access = now;
            }
        }
        let (_, namespaces) = group.find_mut(at.hash, |(k, _)| k == key)?;
        namespaces
            .iter_mut()
            .find(|(n, _)| n == ns)
            .map(|(_, e)| &mut e.value)
    }

    /// The entry of (key, namespace) for writing, created with `init` when absent or
    /// expired. Refreshes the last-access time.
    pub fn get_or_insert_with(
        &mut self,
        at: KeySlot,
        key: &K,
        ns: &N,
        now: i64,
        init: impl FnOnce() -> S,
    ) -> &mut S {
        let ttl = self.ttl;
        let group = self.chunk_mut(at);
        let (_, namespaces) = group
            .entry(at.hash, |(k, _)| k == key, rehash)
            .or_insert_with(|| (key.clone(), Slots::default()))
            .into_mut();
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
        at: KeySlot,
        key: &K,
        ns: &N,
        now: i64,
        f: impl FnOnce(Option<S>) -> S,
    ) {
        let ttl = self.ttl;
        let group = self.chunk_mut(at);
        if let Some((_, namespaces)) = group.find_mut(at.hash, |(k, _)| k == key) {
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
        group.insert_unique(
            at.hash,
            (
                key.clone(),
                Slots::one((
                    ns.clone(),
                    Entry {
                        value: f(None),
                        last_access: now,
                    },
                )),
            ),
            rehash,
        );
    }

    /// Sets the entry of (key, namespace).
    pub fn put(&mut self, at: KeySlot, key: &K, ns: &N, now: i64, value: S) {
        let mut value = Some(value);
        let slot = self.get_or_insert_with(at, key, ns, now, || {
            value.take().unwrap_or_else(|| unreachable!("taken once"))
        });
        if let Some(value) = value {
            *slot = value;
        }
    }

    /// Removes the entry of (key, namespace) and returns it unless TTL hides
    /// it (as [`StateTable::get_mut`] would): one lookup.
    pub fn take(&mut self, at: KeySlot, key: &K, ns: &N, now: i64) -> Option<S> {
        let ttl = self.ttl;
        let entry = self.remove_entry(at, key, ns)?;
        let hidden = ttl.is_some_and(|t| {
            t.is_expired(entry.last_access, now)
                && t.visibility() == TtlVisibility::NeverReturnExpired
        });
        (!hidden).then_some(entry.value)
    }

    /// Removes and returns the entry of (key, namespace), expired or not.
    pub fn remove(&mut self, at: KeySlot, key: &K, ns: &N) -> Option<S> {
        self.remove_entry(at, key, ns).map(|entry| entry.value)
    }

    /// Removes the entry of (key, namespace), with its last access time.
    fn remove_entry(&mut self, at: KeySlot, key: &K, ns: &N) -> Option<Entry<S>> {
        let group = self.chunk_mut(at);
        let Ok(mut found) = group.find_entry(at.hash, |(k, _)| k == key) else {
            return None;
        };
        let namespaces = &mut found.get_mut().1;
        let position = namespaces.iter().position(|(n, _)| n == ns)?;
        let (_, entry) = namespaces.swap_remove(position);
        if namespaces.is_empty() {
            found.remove();
        }
        Some(entry)
    }

    /// The number of (key, namespace) entries (not counting those a snapshot found
    /// expired and that are yet to be dropped).
    pub fn len(&self) -> usize {
        let (ttl, purge_time) = (self.ttl, self.purge_time);
        self.chunks
            .iter()
            .map(|chunk| match (chunk, ttl) {
                (Chunk::Owned(chunk), _) => chunk.iter().map(|(_, ns)| ns.len()).sum(),
                (Chunk::Shared(chunk), Some(ttl)) => chunk
                    .iter()
                    .flat_map(|(_, ns)| ns.iter())
                    .filter(|(_, e)| !ttl.is_expired(e.last_access, purge_time))
                    .count(),
                (Chunk::Shared(chunk), None) => chunk.iter().map(|(_, ns)| ns.len()).sum(),
            })
            .sum()
    }

    /// Shares every chunk with a new snapshot taken at processing time `now`; the
    /// snapshot leaves out the entries expired at `now`, and the live table drops
    /// them chunk by chunk when it next uses each chunk.
    fn freeze(&mut self, now: i64) -> Arc<FrozenTable<K, N, S>> {
        self.snapshots.retain(|s| s.strong_count() > 0);
        let shared = self
            .chunks
            .iter_mut()
            .map(|chunk| match chunk {
                Chunk::Owned(map) if map.is_empty() => None,
                Chunk::Owned(map) => {
                    let map = Arc::new(std::mem::take(map));
                    *chunk = Chunk::Shared(map.clone());
                    Some(map)
                }
                Chunk::Shared(map) => Some(map.clone()),
            })
            .collect();
        let frozen = Arc::new(FrozenTable::new(
            self.range,
            self.bucket_bits,
            self.ttl,
            now,
            shared,
        ));
        self.snapshots.push(Arc::downgrade(&frozen));
        self.purge_time = now;
        frozen
    }
}

/// Drops the entries of `chunk` expired at `now`.
fn purge<K, N, S>(chunk: &mut ChunkMap<K, N, S>, ttl: StateTtlConfig, now: i64) {
    chunk.retain(|(_, namespaces)| {
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
            let at = KeySlot::of(key_group, &key);
            match self
                .chunk_mut(at)
                .entry(at.hash, |(k, _)| *k == key, rehash)
            {
                TableEntry::Occupied(mut found) => found.get_mut().1 = entries,
                TableEntry::Vacant(vacant) => {
                    vacant.insert((key, entries));
                }
            }
        }
        Ok(())
    }

    fn entry_count(&self) -> usize {
        self.len()
    }
}
