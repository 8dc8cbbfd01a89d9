//! Serde helpers that write byte vectors as byte strings (`serialize_bytes`)
//! rather than as sequences of `u8`.
//!
//! In postcard both are a varint length followed by the raw bytes, so the encoding
//! does not change; but a sequence goes through the serializer one byte at a time,
//! and a byte string in one copy. State snapshots are mostly such bytes.
//!
//! ```
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Part {
//!     #[serde(with = "eddy_core::byte_buf")]
//!     bytes: Vec<u8>,
//! }
//! ```

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// Serializes `bytes` as a byte string.
pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(bytes)
}

/// Deserializes a byte string (or a sequence of bytes, from self-describing formats).
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    deserializer.deserialize_byte_buf(BytesVisitor)
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("bytes")
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(out)
    }
}

/// The same for a list of `(id, bytes)` pairs (per key group, say).
pub mod pairs {
    use super::*;

    #[derive(Serialize)]
    struct Ref<'a>(u32, #[serde(with = "super")] &'a Vec<u8>);

    #[derive(Deserialize)]
    struct Owned(u32, #[serde(with = "super")] Vec<u8>);

    /// Serializes the pairs, each one's bytes as a byte string.
    pub fn serialize<S: Serializer>(
        pairs: &[(u32, Vec<u8>)],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(pairs.len()))?;
        for (id, bytes) in pairs {
            seq.serialize_element(&Ref(*id, bytes))?;
        }
        seq.end()
    }

    /// Deserializes what [`serialize`] wrote.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<(u32, Vec<u8>)>, D::Error> {
        let pairs = Vec::<Owned>::deserialize(deserializer)?;
        Ok(pairs
            .into_iter()
            .map(|Owned(id, bytes)| (id, bytes))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Fast {
        #[serde(with = "crate::byte_buf")]
        bytes: Vec<u8>,
        #[serde(with = "crate::byte_buf::pairs")]
        groups: Vec<(u32, Vec<u8>)>,
    }

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Plain {
        bytes: Vec<u8>,
        groups: Vec<(u32, Vec<u8>)>,
    }

    #[test]
    fn postcard_encoding_is_that_of_a_plain_vector() {
        let bytes: Vec<u8> = (0..=255).collect();
        let fast = Fast {
            bytes: bytes.clone(),
            groups: vec![(3, bytes.clone()), (300, Vec::new())],
        };
        let plain = Plain {
            bytes: bytes.clone(),
            groups: vec![(3, bytes), (300, Vec::new())],
        };
        let encoded = postcard::to_stdvec(&fast).unwrap();
        assert_eq!(encoded, postcard::to_stdvec(&plain).unwrap());
        assert_eq!(postcard::from_bytes::<Fast>(&encoded).unwrap(), fast);
        let json = serde_json::to_string(&plain).unwrap();
        assert_eq!(serde_json::from_str::<Fast>(&json).unwrap(), fast);
    }
}
