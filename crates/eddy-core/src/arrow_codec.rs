//! Arrow `RecordBatch`es on the network: the Arrow IPC stream format.
//!
//! Every encoded batch is a complete IPC stream (schema message, one record-batch
//! message, end-of-stream marker), so a frame can be decoded on its own, whatever
//! arrived before it. The schema costs a few hundred bytes per batch; a transport
//! that wants to send it once per channel can build on `arrow_ipc` directly.
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{Int64Array, RecordBatch, StringArray};
//! use eddy_core::codec::BatchCodec;
//!
//! let batch = RecordBatch::try_from_iter([
//!     ("id", Arc::new(Int64Array::from(vec![1, 2])) as _),
//!     ("name", Arc::new(StringArray::from(vec![Some("a"), None])) as _),
//! ])
//! .unwrap();
//! let mut bytes = Vec::new();
//! batch.encode_batch(&mut bytes).unwrap();
//! assert_eq!(RecordBatch::decode_batch(&bytes).unwrap(), batch);
//! assert!(RecordBatch::decode_batch(&bytes[..bytes.len() / 2]).is_err());
//! ```

use std::panic::{catch_unwind, AssertUnwindSafe};

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::reader::StreamDecoder;
use arrow_ipc::writer::StreamWriter;

use crate::codec::BatchCodec;
use crate::error::{Error, Result};

const WHAT: &str = "an Arrow record batch";

impl BatchCodec for RecordBatch {
    fn encode_batch(&self, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        let written = StreamWriter::try_new(&mut *out, &self.schema()).and_then(|mut writer| {
            writer.write(self)?;
            writer.finish()
        });
        written.map_err(|e| {
            out.truncate(start);
            Error::codec("encode", WHAT, e)
        })
    }

    /// Reads one batch from one IPC stream. Arrow's schema decoding panics on some
    /// malformed input (an unknown type width, a list without a child); such a panic
    /// is caught here and reported as an error like any other corrupt frame.
    fn decode_batch(bytes: &[u8]) -> Result<Self> {
        match catch_unwind(AssertUnwindSafe(|| decode_stream(bytes))) {
            Ok(result) => result,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "the Arrow IPC reader panicked".to_string());
                Err(Error::decode(WHAT, message))
            }
        }
    }
}

/// The end-of-stream marker of the IPC stream format: a continuation token and a
/// zero length.
const END_OF_STREAM: [u8; 8] = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];

/// Decodes a stream that holds exactly one record batch and ends with the
/// end-of-stream marker (so that a stream cut right after its batch is noticed).
/// The decoder only buffers bytes that are present, so a corrupt length cannot make
/// it allocate more than the input's size.
fn decode_stream(bytes: &[u8]) -> Result<RecordBatch> {
    let Some(messages) = bytes.strip_suffix(&END_OF_STREAM) else {
        return Err(Error::decode(
            WHAT,
            "the IPC stream does not end with its end-of-stream marker",
        ));
    };
    let mut buffer = Buffer::from_slice_ref(messages);
    let mut decoder = StreamDecoder::new();
    let mut batch = None;
    while !buffer.is_empty() {
        match decoder.decode(&mut buffer) {
            Ok(Some(b)) if batch.is_none() => batch = Some(b),
            Ok(Some(_)) => {
                return Err(Error::decode(WHAT, "the frame holds more than one batch"));
            }
            Ok(None) => {}
            Err(e) => return Err(Error::codec("decode", WHAT, e)),
        }
    }
    decoder
        .finish()
        .map_err(|e| Error::codec("decode", WHAT, e))?;
    batch.ok_or_else(|| Error::decode(WHAT, "the IPC stream holds no record batch"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::{Int32Builder, ListBuilder, StringBuilder};
    use arrow_array::{
        ArrayRef, BooleanArray, Decimal128Array, Float64Array, Int64Array, StringArray,
        StructArray, TimestampMillisecondArray,
    };
    use arrow_schema::{DataType, Field};

    use super::*;
    use crate::codec::tests::XorShift;
    use crate::codec::{decode_element, encode_element};
    use crate::Element;

    /// Nullable, decimal, timestamp (with a zone), string, list and struct columns.
    fn wide_batch() -> RecordBatch {
        let decimal = Decimal128Array::from(vec![Some(12_345), None, Some(-1)])
            .with_precision_and_scale(10, 2)
            .unwrap();
        let ts = TimestampMillisecondArray::from(vec![Some(1_700_000_000_000), Some(0), None])
            .with_timezone("+01:00");
        let mut list = ListBuilder::new(Int32Builder::new());
        list.append_value([Some(1), None, Some(3)]);
        list.append_null();
        list.append_value([]);
        let mut strings = StringBuilder::new();
        strings.append_value("x");
        strings.append_null();
        strings.append_value("ünïcode");
        let structs = StructArray::from(vec![
            (
                Arc::new(Field::new("flag", DataType::Boolean, true)),
                Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("score", DataType::Float64, false)),
                Arc::new(Float64Array::from(vec![0.5, -1.25, f64::MAX])) as ArrayRef,
            ),
        ]);
        RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
            (
                "nullable",
                Arc::new(Int64Array::from(vec![None, Some(7), None])) as ArrayRef,
            ),
            ("price", Arc::new(decimal) as ArrayRef),
            ("ts", Arc::new(ts) as ArrayRef),
            ("name", Arc::new(strings.finish()) as ArrayRef),
            ("tags", Arc::new(list.finish()) as ArrayRef),
            ("info", Arc::new(structs) as ArrayRef),
        ])
        .unwrap()
    }

    #[test]
    fn batches_with_every_column_kind_round_trip() {
        let batch = wide_batch();
        let mut bytes = Vec::new();
        batch.encode_batch(&mut bytes).unwrap();
        let back = RecordBatch::decode_batch(&bytes).unwrap();
        assert_eq!(back, batch);
        assert_eq!(back.schema(), batch.schema());

        let empty = batch.slice(0, 0);
        bytes.clear();
        empty.encode_batch(&mut bytes).unwrap();
        assert_eq!(RecordBatch::decode_batch(&bytes).unwrap(), empty);

        // A slice encodes only its rows.
        let tail = batch.slice(1, 2);
        bytes.clear();
        tail.encode_batch(&mut bytes).unwrap();
        assert_eq!(RecordBatch::decode_batch(&bytes).unwrap(), tail);
    }

    #[test]
    fn batches_round_trip_as_elements() {
        let mut frame = Vec::new();
        encode_element(&Element::Batch(wide_batch()), &mut frame).unwrap();
        match decode_element::<RecordBatch>(&frame).unwrap() {
            Element::Batch(b) => assert_eq!(b, wide_batch()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn two_batches_or_none_are_errors() {
        let batch = wide_batch();
        let mut two = Vec::new();
        let mut writer = StreamWriter::try_new(&mut two, &batch.schema()).unwrap();
        writer.write(&batch).unwrap();
        writer.write(&batch).unwrap();
        writer.finish().unwrap();
        drop(writer);
        assert!(RecordBatch::decode_batch(&two).is_err());

        let mut none = Vec::new();
        StreamWriter::try_new(&mut none, &batch.schema())
            .unwrap()
            .finish()
            .unwrap();
        assert!(RecordBatch::decode_batch(&none).is_err());
        assert!(RecordBatch::decode_batch(&[]).is_err());
    }

    /// Every truncation, byte flips and random bytes: errors, never a panic that
    /// escapes, never a huge allocation.
    #[test]
    fn truncated_and_corrupt_ipc_never_panics() {
        let batch = RecordBatch::try_from_iter([
            ("a", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
            (
                "b",
                Arc::new(StringArray::from(vec![Some("x"), None])) as ArrayRef,
            ),
        ])
        .unwrap();
        let mut bytes = Vec::new();
        batch.encode_batch(&mut bytes).unwrap();
        for cut in 0..bytes.len() {
            assert!(
                RecordBatch::decode_batch(&bytes[..cut]).is_err(),
                "cut {cut}"
            );
        }
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        for _ in 0..2_000 {
            let mut bad = bytes.clone();
            for _ in 0..=rng.below(3) {
                let at = rng.below(bad.len());
                bad[at] = rng.next() as u8;
            }
            if let Ok(decoded) = RecordBatch::decode_batch(&bad) {
                // A flip in padding or in a value decodes; it must still be valid.
                assert!(decoded.num_rows() <= 1 << 20);
            }
        }
        for _ in 0..2_000 {
            let len = rng.below(256);
            let random: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            assert!(RecordBatch::decode_batch(&random).is_err());
        }
    }
}
