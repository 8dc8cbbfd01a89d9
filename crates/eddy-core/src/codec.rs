//! Encoding elements for the network: batches and control elements as bytes.
//!
//! A transport between processes sends [`Element`]s as **frames**. A frame is a tag
//! byte, the payload's length as a little-endian `u32`, and the payload:
//!
//! ```text
//!  ┌─────┬───────────────┬──────────────────────────────────────────────┐
//!  │ tag │ length (u32LE)│ payload (length bytes)                       │
//!  └─────┴───────────────┴──────────────────────────────────────────────┘
//!  tag 0  batch            the batch's own encoding (BatchCodec)
//!  tag 1  watermark        i64 LE                                  8 bytes
//!  tag 2  watermark status 0 = active, 1 = idle                    1 byte
//!  tag 3  barrier          checkpoint id u64 LE, timestamp i64 LE,
//!                          savepoint flag (0 or 1), then the    17 bytes
//!                          target directory in UTF-8, if any      + target
//!  tag 4  end of input     (empty)                                 0 bytes
//! ```
//!
//! A batch encodes itself through [`BatchCodec`]: typed [`Records`] with postcard
//! (a compact serde format: varints, no field names), Arrow `RecordBatch`es with the
//! Arrow IPC stream format (feature `arrow`). Decoding never trusts its input:
//! truncated, oversized or corrupt bytes are an [`Error::Codec`], never a panic.
//!
//! ```
//! use eddy_core::codec::{decode_element, encode_element};
//! use eddy_core::{Element, Records, StreamRecord};
//!
//! let batch: Records<String> = vec![StreamRecord::with_timestamp("a".to_string(), 7)];
//! let mut frame = Vec::new();
//! encode_element(&Element::Batch(batch.clone()), &mut frame).unwrap();
//! encode_element(&Element::<Records<String>>::Watermark(7), &mut frame).unwrap();
//!
//! // Frames are self-delimiting: a reader splits the stream with `frame_len`.
//! let first = eddy_core::codec::frame_len(&frame).unwrap();
//! match decode_element::<Records<String>>(&frame[..first]).unwrap() {
//!     Element::Batch(got) => assert_eq!(got, batch),
//!     other => panic!("{other:?}"),
//! }
//! assert!(matches!(
//!     decode_element::<Records<String>>(&frame[first..]).unwrap(),
//!     Element::Watermark(7)
//! ));
//! assert!(decode_element::<Records<String>>(&frame[..first - 1]).is_err());
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::batch::{Batch, Records, StreamRecord};
use crate::element::{CheckpointBarrier, Element, WatermarkStatus};
use crate::error::{Error, Result};

/// The bytes before a frame's payload: the tag and the payload length.
pub const FRAME_HEADER_LEN: usize = 5;

const TAG_BATCH: u8 = 0;
const TAG_WATERMARK: u8 = 1;
const TAG_STATUS: u8 = 2;
const TAG_BARRIER: u8 = 3;
const TAG_END_OF_PARTITION: u8 = 4;
const TAG_END_OF_DATA: u8 = 5;

const WHAT: &str = "element";

/// A batch that can travel between processes: encoded to bytes and decoded back.
///
/// `decode_batch(encode_batch(b))` equals `b`. Decoding must reject any bytes it
/// cannot read (truncated, corrupt, trailing garbage) with an error and never panic:
/// the bytes come from the network.
pub trait BatchCodec: Batch {
    /// Appends the encoding of this batch to `out`. On error, `out` holds what it
    /// held before.
    fn encode_batch(&self, out: &mut Vec<u8>) -> Result<()>;

    /// Reads a batch from exactly these bytes.
    fn decode_batch(bytes: &[u8]) -> Result<Self>;
}

/// Typed records travel with postcard: each record's value, then its optional
/// timestamp (a zigzag varint).
impl<T> BatchCodec for Records<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + 'static,
{
    fn encode_batch(&self, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        let written = append_postcard(self, out);
        written.map_err(|e| {
            out.truncate(start);
            Error::codec("encode", "a batch of records", e)
        })
    }

    fn decode_batch(bytes: &[u8]) -> Result<Self> {
        let (records, rest): (Vec<StreamRecord<T>>, _) = postcard::take_from_bytes(bytes)
            .map_err(|e| Error::codec("decode", "a batch of records", e))?;
        if !rest.is_empty() {
            return Err(Error::decode(
                "a batch of records",
                format!("{} bytes after the last record", rest.len()),
            ));
        }
        Ok(records)
    }
}

/// Appends the postcard encoding of `value` to `out`. Postcard writes a varint or a
/// short string as a small slice; a plain `Vec` extension would copy each through
/// `memmove`, which is most of the cost of encoding small values (keyed state in a
/// snapshot, typed records): short slices are pushed byte by byte here.
pub fn append_postcard<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> std::result::Result<(), postcard::Error> {
    postcard::serialize_with_flavor(value, Appender(out))
}

/// The postcard flavor of [`append_postcard`].
struct Appender<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Appender<'_> {
    type Output = ();

    #[inline]
    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.push(byte);
        Ok(())
    }

    #[inline]
    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        if bytes.len() <= 16 {
            self.0.reserve(bytes.len());
            for &b in bytes {
                self.0.push(b);
            }
        } else {
            self.0.extend_from_slice(bytes);
        }
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Appends one frame holding `element` to `out`.
///
/// Fails only if the batch cannot be encoded or its encoding exceeds 4 GiB; `out`
/// then holds what it held before.
pub fn encode_element<B: BatchCodec>(element: &Element<B>, out: &mut Vec<u8>) -> Result<()> {
    let start = out.len();
    let tag = match element {
        Element::Batch(_) => TAG_BATCH,
        Element::Watermark(_) => TAG_WATERMARK,
        Element::Status(_) => TAG_STATUS,
        Element::Barrier(_) => TAG_BARRIER,
        Element::EndOfData => TAG_END_OF_DATA,
        Element::EndOfPartition => TAG_END_OF_PARTITION,
    };
    out.push(tag);
    out.extend_from_slice(&[0; 4]);
    let written = match element {
        Element::Batch(batch) => batch.encode_batch(out),
        Element::Watermark(ts) => {
            out.extend_from_slice(&ts.to_le_bytes());
            Ok(())
        }
        Element::Status(status) => {
            out.push(match status {
                WatermarkStatus::Active => 0,
                WatermarkStatus::Idle => 1,
            });
            Ok(())
        }
        Element::Barrier(barrier) => {
            out.extend_from_slice(&barrier.checkpoint_id.to_le_bytes());
            out.extend_from_slice(&barrier.timestamp.to_le_bytes());
            out.push(u8::from(barrier.is_savepoint));
            if let Some(target) = &barrier.target {
                out.extend_from_slice(target.as_bytes());
            }
            Ok(())
        }
        Element::EndOfData | Element::EndOfPartition => Ok(()),
    };
    let payload = out.len() - start - FRAME_HEADER_LEN;
    let result = written.and_then(|()| {
        u32::try_from(payload).map_err(|_| Error::Codec {
            action: "encode",
            what: WHAT,
            message: format!("a frame holds at most 4 GiB, this batch has {payload} bytes"),
            source: None,
        })
    });
    match result {
        Ok(len) => {
            out[start + 1..start + FRAME_HEADER_LEN].copy_from_slice(&len.to_le_bytes());
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// The length of the frame at the start of `bytes` (header and payload), or `None`
/// while fewer than [`FRAME_HEADER_LEN`] bytes have arrived.
///
/// A stream reader reads until it holds that many bytes and hands exactly them to
/// [`decode_element`]. The length is not checked against a limit: a transport
/// should refuse frames larger than it is willing to buffer.
pub fn frame_len(bytes: &[u8]) -> Option<usize> {
    let header: [u8; FRAME_HEADER_LEN] = bytes.get(..FRAME_HEADER_LEN)?.try_into().ok()?;
    let payload = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
    Some(FRAME_HEADER_LEN + payload as usize)
}

/// Reads the element in `frame`, which must be exactly one frame.
pub fn decode_element<B: BatchCodec>(frame: &[u8]) -> Result<Element<B>> {
    let Some(len) = frame_len(frame) else {
        return Err(Error::decode(
            WHAT,
            format!(
                "a frame starts with a {FRAME_HEADER_LEN}-byte header, got {} bytes",
                frame.len()
            ),
        ));
    };
    if len != frame.len() {
        return Err(Error::decode(
            WHAT,
            format!("the frame says {len} bytes, got {}", frame.len()),
        ));
    }
    let payload = &frame[FRAME_HEADER_LEN..];
    match frame[0] {
        TAG_BATCH => B::decode_batch(payload).map(Element::Batch),
        TAG_WATERMARK => Ok(Element::Watermark(i64::from_le_bytes(fixed(
            payload,
            "watermark",
        )?))),
        TAG_STATUS => match fixed::<1>(payload, "watermark status")? {
            [0] => Ok(Element::Status(WatermarkStatus::Active)),
            [1] => Ok(Element::Status(WatermarkStatus::Idle)),
            [other] => Err(Error::decode(
                WHAT,
                format!("unknown watermark status {other}"),
            )),
        },
        TAG_BARRIER => {
            if payload.len() < 17 {
                return Err(Error::decode(
                    WHAT,
                    format!(
                        "a barrier has at least 17 payload bytes, got {}",
                        payload.len()
                    ),
                ));
            }
            let (bytes, target) = payload.split_at(17);
            let target = match target {
                [] => None,
                text => Some(
                    std::str::from_utf8(text)
                        .map_err(|_| Error::decode(WHAT, "a barrier's target is not UTF-8"))?
                        .to_string(),
                ),
            };
            let mut id = [0; 8];
            let mut ts = [0; 8];
            id.copy_from_slice(&bytes[..8]);
            ts.copy_from_slice(&bytes[8..16]);
            let is_savepoint = match bytes[16] {
                0 => false,
                1 => true,
                other => {
                    return Err(Error::decode(
                        WHAT,
                        format!("barrier savepoint flag is {other}, not 0 or 1"),
                    ))
                }
            };
            Ok(Element::Barrier(CheckpointBarrier {
                checkpoint_id: u64::from_le_bytes(id),
                timestamp: i64::from_le_bytes(ts),
                is_savepoint,
                target,
            }))
        }
        TAG_END_OF_DATA => {
            fixed::<0>(payload, "end of data")?;
            Ok(Element::EndOfData)
        }
        TAG_END_OF_PARTITION => {
            fixed::<0>(payload, "end of partition")?;
            Ok(Element::EndOfPartition)
        }
        tag => Err(Error::decode(WHAT, format!("unknown frame tag {tag}"))),
    }
}

/// The payload as an array of exactly `N` bytes.
fn fixed<const N: usize>(payload: &[u8], kind: &str) -> Result<[u8; N]> {
    payload.try_into().map_err(|_| {
        Error::decode(
            WHAT,
            format!("a {kind} has {N} payload bytes, got {}", payload.len()),
        )
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    type Typed = Records<(String, i64)>;

    fn round_trip(element: &Element<Typed>) -> Element<Typed> {
        let mut frame = Vec::new();
        encode_element(element, &mut frame).unwrap();
        assert_eq!(frame_len(&frame), Some(frame.len()));
        decode_element(&frame).unwrap()
    }

    fn sample_batch() -> Typed {
        vec![
            StreamRecord::with_timestamp(("a".into(), 1), i64::MIN),
            StreamRecord::new(("".into(), -1)),
            StreamRecord::with_timestamp(("ünïcode ✓".into(), i64::MAX), 1_700_000_000_000),
        ]
    }

    #[test]
    fn every_element_kind_round_trips() {
        match round_trip(&Element::Batch(sample_batch())) {
            Element::Batch(b) => assert_eq!(b, sample_batch()),
            other => panic!("{other:?}"),
        }
        match round_trip(&Element::Batch(Vec::new())) {
            Element::Batch(b) => assert!(b.is_empty()),
            other => panic!("{other:?}"),
        }
        for ts in [i64::MIN, -1, 0, 42, i64::MAX] {
            assert!(
                matches!(round_trip(&Element::Watermark(ts)), Element::Watermark(t) if t == ts)
            );
        }
        for status in [WatermarkStatus::Active, WatermarkStatus::Idle] {
            assert!(
                matches!(round_trip(&Element::Status(status)), Element::Status(s) if s == status)
            );
        }
        for barrier in [
            CheckpointBarrier {
                checkpoint_id: 1,
                timestamp: 1_700_000_000_000,
                is_savepoint: false,
                target: None,
            },
            CheckpointBarrier {
                checkpoint_id: u64::MAX,
                timestamp: -5,
                is_savepoint: true,
                target: Some("/tmp/savepoints/savepoint-ü-7".into()),
            },
        ] {
            assert!(
                matches!(round_trip(&Element::Barrier(barrier.clone())), Element::Barrier(b) if b == barrier)
            );
        }
        assert!(matches!(
            round_trip(&Element::EndOfData),
            Element::EndOfData
        ));
        assert!(matches!(
            round_trip(&Element::EndOfPartition),
            Element::EndOfPartition
        ));
    }

    #[test]
    fn frames_concatenate_and_split() {
        let elements = [
            Element::Batch(sample_batch()),
            Element::Watermark(3),
            Element::Status(WatermarkStatus::Idle),
            Element::EndOfData,
            Element::EndOfPartition,
        ];
        let mut stream = Vec::new();
        for e in &elements {
            encode_element(e, &mut stream).unwrap();
        }
        let mut rest = &stream[..];
        let mut kinds = Vec::new();
        while let Some(len) = frame_len(rest) {
            let e: Element<Typed> = decode_element(&rest[..len]).unwrap();
            kinds.push(std::mem::discriminant(&e));
            rest = &rest[len..];
        }
        assert!(rest.is_empty());
        let expected: Vec<_> = elements.iter().map(std::mem::discriminant).collect();
        assert_eq!(kinds, expected);
    }

    #[test]
    fn malformed_frames_are_errors() {
        let mut frame = Vec::new();
        encode_element(&Element::<Typed>::Watermark(9), &mut frame).unwrap();
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![TAG_WATERMARK, 8, 0, 0],
            frame[..frame.len() - 1].to_vec(),
            [&frame[..], &[0]].concat(),
            vec![9, 0, 0, 0, 0],
            vec![TAG_STATUS, 1, 0, 0, 0, 2],
            vec![TAG_END_OF_DATA, 1, 0, 0, 0, 0],
            vec![TAG_END_OF_PARTITION, 1, 0, 0, 0, 0],
            [&[TAG_BARRIER, 17, 0, 0, 0][..], &[0; 16], &[7]].concat(),
            vec![TAG_BATCH, 1, 0, 0, 0, 0xff],
            // One record announced, none present.
            vec![TAG_BATCH, 1, 0, 0, 0, 1],
            // An empty batch followed by a stray byte.
            vec![TAG_BATCH, 2, 0, 0, 0, 0, 0],
        ];
        for bytes in cases {
            let got = decode_element::<Typed>(&bytes);
            assert!(
                matches!(got, Err(Error::Codec { .. })),
                "{bytes:?} gave {got:?}"
            );
        }
    }

    /// A value whose `Serialize` impl fails.
    #[derive(Clone, serde::Deserialize)]
    struct Unencodable;

    impl Serialize for Unencodable {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("refused"))
        }
    }

    #[test]
    fn a_failed_encoding_leaves_the_buffer_as_it_was() {
        let mut out = vec![1, 2, 3];
        let batch = vec![StreamRecord::new(Unencodable)];
        let err = encode_element(&Element::Batch(batch.clone()), &mut out).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Codec {
                    action: "encode",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(out, [1, 2, 3]);
        assert!(batch.encode_batch(&mut out).is_err());
        assert_eq!(out, [1, 2, 3]);
    }

    #[test]
    fn decode_error_names_the_problem() {
        let err = decode_element::<Typed>(&[TAG_WATERMARK, 3, 0, 0, 0, 1, 2, 3]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot decode element: a watermark has 8 payload bytes, got 3"
        );
    }

    /// A small deterministic generator, so that a failing case can be reproduced.
    pub(crate) struct XorShift(pub u64);

    impl XorShift {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        pub(crate) fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Random bytes, random frames with valid headers, every truncation and single
    /// byte flips of valid frames: each decodes or errs, none panics.
    #[test]
    fn random_and_truncated_bytes_never_panic() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut valid = Vec::new();
        for e in [
            Element::Batch(sample_batch()),
            Element::Watermark(5),
            Element::Status(WatermarkStatus::Active),
            Element::Barrier(CheckpointBarrier {
                checkpoint_id: 3,
                timestamp: 4,
                is_savepoint: true,
                target: Some("/sp".into()),
            }),
            Element::EndOfData,
            Element::EndOfPartition,
        ] {
            let mut frame = Vec::new();
            encode_element(&e, &mut frame).unwrap();
            valid.push(frame);
        }
        for frame in &valid {
            for cut in 0..frame.len() {
                assert!(decode_element::<Typed>(&frame[..cut]).is_err());
            }
            for _ in 0..200 {
                let mut bad = frame.clone();
                let at = rng.below(bad.len());
                bad[at] ^= 1 << rng.below(8);
                let _ = decode_element::<Typed>(&bad);
            }
        }
        for _ in 0..5_000 {
            let len = rng.below(64);
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if len >= FRAME_HEADER_LEN && rng.below(2) == 0 {
                bytes[0] = rng.below(5) as u8;
                let payload = (len - FRAME_HEADER_LEN) as u32;
                bytes[1..5].copy_from_slice(&payload.to_le_bytes());
            }
            let _ = decode_element::<Typed>(&bytes);
        }
    }
}
