//! Group keys: encoded in Arrow's row format, hashed for the exchange and used as
//! state keys. The exchange and the state backend hash the same bytes, so a key's
//! rows and its state land in the same key group.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::row::{RowConverter, Rows, SortField};
use eddy_core::key_group::stable_hash;
use eddy_runtime::partitioner::KeyHasher;

use crate::error::{runtime, SqlResult};

/// Encodes and decodes the key columns of a stream.
pub struct KeyCodec {
    columns: Vec<usize>,
    types: Vec<DataType>,
    converter: RowConverter,
}

impl KeyCodec {
    /// A codec for `columns` of `schema`.
    pub fn new(schema: &SchemaRef, columns: &[usize]) -> SqlResult<Self> {
        let types: Vec<DataType> = columns
            .iter()
            .map(|&c| schema.field(c).data_type().clone())
            .collect();
        let converter = RowConverter::new(types.iter().cloned().map(SortField::new).collect())?;
        Ok(KeyCodec {
            columns: columns.to_vec(),
            types,
            converter,
        })
    }

    /// The key columns' types.
    pub fn types(&self) -> &[DataType] {
        &self.types
    }

    /// Encodes the keys of every row of `batch`.
    pub fn encode(&self, batch: &RecordBatch) -> SqlResult<Rows> {
        let columns: Vec<ArrayRef> = self
            .columns
            .iter()
            .map(|&c| batch.column(c).clone())
            .collect();
        Ok(self.converter.convert_columns(&columns)?)
    }

    /// Decodes encoded keys back into key columns.
    pub fn decode<'a>(&self, keys: impl IntoIterator<Item = &'a [u8]>) -> SqlResult<Vec<ArrayRef>> {
        let parser = self.converter.parser();
        let rows: Vec<_> = keys.into_iter().map(|k| parser.parse(k)).collect();
        Ok(self.converter.convert_rows(rows)?)
    }
}

/// The exchange's hash of the key `columns` of each row.
pub fn key_hasher(schema: SchemaRef, columns: Vec<usize>) -> KeyHasher<RecordBatch> {
    Arc::new(move |batch: &RecordBatch, out: &mut Vec<i32>| {
        out.clear();
        if columns.is_empty() {
            let empty: Vec<u8> = Vec::new();
            out.resize(batch.num_rows(), stable_hash(&empty));
            return;
        }
        // The converter fails only on unsupported types, which the planner rejects.
        match KeyCodec::new(&schema, &columns).and_then(|c| c.encode(batch)) {
            Ok(rows) => out.extend(rows.iter().map(|r| stable_hash(r.as_ref()))),
            Err(e) => {
                let _ = runtime(e);
                out.resize(batch.num_rows(), 0);
            }
        }
    })
}
