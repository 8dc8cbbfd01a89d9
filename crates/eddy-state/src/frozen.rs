//! The version of a state table that a snapshot reads: the table's chunks as they were
//! at the barrier, shared with the live table until either side is done with them.
//!
//! Taking a [`FrozenTable`] moves each non-empty chunk of the live table into an
//! `Arc` that both hold (no entry is copied). The checkpoint writer then
//! encodes the chunks key group by key group, on its own thread, while processing
//! goes on. When processing is about to write a chunk that a snapshot still shares,
//! it encodes that chunk for the snapshot first ([`FrozenTable::release`]) and so
//! gets it back unshared: the first write to a chunk after a barrier costs the
//! encoding of that one chunk, and no entry is ever held twice in memory.
//!
//! A chunk encodes as the number of its keys (a postcard varint) followed by their
//! postcard rows; a key group's bytes are the total number of rows followed by the
//! rows of its chunks (with one chunk per key group, the chunk's encoding as it is),
//! which is exactly the postcard encoding of `[(key, [(namespace, value,
//! last_access)])]` that `docs/checkpoint-format.md` describes.

use std::sync::{Arc, Mutex};

use eddy_core::codec::append_postcard;
use eddy_core::{Error, KeyGroup, KeyGroupRange, Result};
use serde::Serialize;

use crate::backend::{Key, Namespace, StateData};
use crate::table::{ChunkMap, Entry};
use crate::ttl::StateTtlConfig;

/// A snapshot's part of one chunk.
enum Frozen<K, N, S> {
    /// Not encoded yet: the chunk as it was at the barrier.
    Shared(Arc<ChunkMap<K, N, S>>),
    /// Encoded by the processing thread before it wrote the chunk.
    Encoded(EncodedRows),
    /// Encoding failed (the error is reported when the key group is serialized).
    Failed(String),
    /// Handed to the checkpoint writer.
    Consumed,
}

/// The postcard rows of one chunk, after their number as a varint: on its own,
/// exactly the bytes of a key group made of this one chunk.
struct EncodedRows {
    count: u64,
    /// The length of the varint that `bytes` starts with.
    prefix: usize,
    bytes: Vec<u8>,
}

impl Default for EncodedRows {
    fn default() -> Self {
        EncodedRows {
            count: 0,
            prefix: 1,
            bytes: vec![0],
        }
    }
}

/// A table's chunks at one barrier, read by the snapshot and released chunk by
/// chunk.
pub(crate) struct FrozenTable<K, N, S> {
    range: KeyGroupRange,
    bucket_bits: u32,
    ttl: Option<StateTtlConfig>,
    /// The processing time of the barrier: entries expired then are left out.
    now: i64,
    chunks: Vec<Mutex<Frozen<K, N, S>>>,
}

impl<K: Key, N: Namespace, S: StateData> FrozenTable<K, N, S> {
    /// Shares `chunks` (laid out key group by key group, `1 << bucket_bits` each;
    /// `None` for an empty chunk).
    pub fn new(
        range: KeyGroupRange,
        bucket_bits: u32,
        ttl: Option<StateTtlConfig>,
        now: i64,
        chunks: Vec<Option<Arc<ChunkMap<K, N, S>>>>,
    ) -> Self {
        FrozenTable {
            range,
            bucket_bits,
            ttl,
            now,
            chunks: chunks
                .into_iter()
                .map(|chunk| {
                    Mutex::new(match chunk {
                        Some(chunk) => Frozen::Shared(chunk),
                        None => Frozen::Encoded(EncodedRows::default()),
                    })
                })
                .collect(),
        }
    }

    /// Encodes chunk `index` now if this snapshot still shares `live` there, so the
    /// live table can write it without copying.
    pub fn release(&self, index: usize, live: &Arc<ChunkMap<K, N, S>>) {
        let Some(slot) = self.chunks.get(index) else {
            return;
        };
        let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Frozen::Shared(chunk) = &*slot {
            if Arc::ptr_eq(chunk, live) {
                *slot = match encode_rows(chunk, self.ttl, self.now) {
                    Ok(rows) => Frozen::Encoded(rows),
                    Err(e) => Frozen::Failed(e.to_string()),
                };
            }
        }
    }

    /// The bytes of `key_group`, in the snapshot format. Each chunk is handed over
    /// once: a second call for the same key group is an error.
    pub fn serialize(&self, key_group: KeyGroup) -> Result<Vec<u8>> {
        if !self.range.contains(key_group) {
            return Err(Error::state(format!(
                "key group {key_group} is outside the snapshot's range {}..={}",
                self.range.start, self.range.end
            )));
        }
        let buckets = 1usize << self.bucket_bits;
        let first = ((key_group - self.range.start) as usize) << self.bucket_bits;
        let mut parts = Vec::with_capacity(buckets);
        for slot in &self.chunks[first..first + buckets] {
            let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
            let rows = match std::mem::replace(&mut *slot, Frozen::Consumed) {
                Frozen::Shared(chunk) => encode_rows(&chunk, self.ttl, self.now)
                    .map_err(|e| Error::state(format!("key group {key_group}: {e}")))?,
                Frozen::Encoded(rows) => rows,
                Frozen::Failed(e) => {
                    return Err(Error::state(format!("key group {key_group}: {e}")))
                }
                Frozen::Consumed => {
                    return Err(Error::state(format!(
                        "key group {key_group} was serialized twice"
                    )))
                }
            };
            parts.push(rows);
        }
        if let [_] = parts[..] {
            // One chunk per key group: its encoding is the key group's, no copy.
            return Ok(parts.pop().map(|p| p.bytes).unwrap_or_default());
        }
        let count = parts.iter().map(|p| p.count).sum();
        let body: usize = parts.iter().map(|p| p.bytes.len() - p.prefix).sum();
        let mut bytes = Vec::with_capacity(10 + body);
        push_varint(&mut bytes, count);
        for part in parts {
            bytes.extend_from_slice(&part.bytes[part.prefix..]);
        }
        Ok(bytes)
    }
}

/// Encodes the unexpired entries of a chunk as postcard rows `(key, [(namespace,
/// value, last_access)])`, leaving out keys without any.
fn encode_rows<K, N, S>(
    chunk: &ChunkMap<K, N, S>,
    ttl: Option<StateTtlConfig>,
    now: i64,
) -> std::result::Result<EncodedRows, postcard::Error>
where
    K: Serialize,
    N: Serialize,
    S: Serialize,
{
    let alive = |e: &Entry<S>| ttl.is_none_or(|t| !t.is_expired(e.last_access, now));
    let count = chunk
        .iter()
        .filter(|(_, namespaces)| namespaces.iter().any(|(_, e)| alive(e)))
        .count();
    let mut rows = EncodedRows {
        count: count as u64,
        prefix: 0,
        bytes: Vec::with_capacity(8 * count + 10),
    };
    push_varint(&mut rows.bytes, rows.count);
    rows.prefix = rows.bytes.len();
    for (key, namespaces) in chunk.iter() {
        let live = namespaces.iter().filter(|(_, e)| alive(e)).count();
        if live == 0 {
            continue;
        }
        append_postcard(key, &mut rows.bytes)?;
        push_varint(&mut rows.bytes, live as u64);
        for (namespace, entry) in namespaces.iter().filter(|(_, e)| alive(e)) {
            append_postcard(
                &(namespace, &entry.value, entry.last_access),
                &mut rows.bytes,
            )?;
        }
    }
    Ok(rows)
}

/// Appends `value` as a postcard varint (LEB128: seven bits a byte, low bits first),
/// the encoding of a sequence's length.
fn push_varint(bytes: &mut Vec<u8>, mut value: u64) {
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            bytes.push(low);
            return;
        }
        bytes.push(low | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slots::Slots;

    #[test]
    fn varints_match_postcard_sequence_lengths() {
        for n in [0usize, 1, 127, 128, 300, 16_383, 16_384, 2_000_000] {
            let mut mine = Vec::new();
            push_varint(&mut mine, n as u64);
            let theirs = postcard::to_stdvec(&vec![(); n]).unwrap();
            assert_eq!(mine, theirs, "length {n}");
        }
    }

    fn insert<S>(chunk: &mut ChunkMap<u64, (), S>, key: u64, namespaces: Slots<((), Entry<S>)>) {
        let hash = eddy_core::key_group::stable_hash64(&key);
        chunk.insert_unique(hash, (key, namespaces), |(k, _)| {
            eddy_core::key_group::stable_hash64(k)
        });
    }

    #[test]
    fn rows_match_postcard_encoding_of_the_whole_group() {
        let mut chunk: ChunkMap<u64, (), String> = ChunkMap::default();
        for k in 0..200u64 {
            let entry = Entry {
                value: format!("v{k}"),
                last_access: k as i64,
            };
            insert(&mut chunk, k, Slots::one(((), entry)));
        }
        let chunk = Arc::new(chunk);
        let range = KeyGroupRange::new(0, 0);
        let frozen = FrozenTable::new(range, 0, None, 0, vec![Some(chunk.clone())]);
        let bytes = frozen.serialize(0).unwrap();
        type Row<'a> = (&'a u64, Vec<((), &'a String, i64)>);
        let rows: Vec<Row<'_>> = chunk
            .iter()
            .map(|(k, ns)| {
                (
                    k,
                    ns.iter()
                        .map(|(n, e)| (*n, &e.value, e.last_access))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(bytes, postcard::to_stdvec(&rows).unwrap());
        assert!(frozen.serialize(0).is_err(), "a chunk is handed over once");
    }

    #[test]
    fn a_key_group_of_several_chunks_encodes_as_one_sequence() {
        let chunk = |keys: std::ops::Range<u64>| {
            let mut chunk: ChunkMap<u64, (), u64> = ChunkMap::default();
            for k in keys {
                let entry = Entry {
                    value: k * 2,
                    last_access: 0,
                };
                insert(&mut chunk, k, Slots::one(((), entry)));
            }
            Arc::new(chunk)
        };
        let (a, b) = (chunk(0..100), chunk(100..300));
        let range = KeyGroupRange::new(5, 5);
        let frozen = FrozenTable::new(range, 1, None, 0, vec![Some(a.clone()), Some(b.clone())]);
        frozen.release(1, &b);
        let bytes = frozen.serialize(5).unwrap();
        type Row = (u64, Vec<((), u64, i64)>);
        let mut rows: Vec<Row> = postcard::from_bytes(&bytes).unwrap();
        rows.sort_by_key(|r| r.0);
        let expected: Vec<Row> = (0..300).map(|k| (k, vec![((), k * 2, 0)])).collect();
        assert_eq!(rows, expected);
    }
}
