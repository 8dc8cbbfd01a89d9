//! Row kinds of a changelog and how they travel: streams that update carry one
//! more column, `__op` (INT8), after their data columns.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int8Array, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{DataType, Field, Int8Type, Schema, SchemaRef};
use datafusion_common::DFSchema;

use crate::error::SqlResult;

/// The name of the row-kind column of updating streams.
pub const OP_COLUMN: &str = "__op";

/// Flink's row kinds, with Flink's byte values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i8)]
pub enum RowKind {
    /// `+I`.
    Insert = 0,
    /// `-U`.
    UpdateBefore = 1,
    /// `+U`.
    UpdateAfter = 2,
    /// `-D`.
    Delete = 3,
}

impl RowKind {
    /// `+I`, `-U`, `+U` or `-D`.
    pub fn short(self) -> &'static str {
        match self {
            RowKind::Insert => "+I",
            RowKind::UpdateBefore => "-U",
            RowKind::UpdateAfter => "+U",
            RowKind::Delete => "-D",
        }
    }

    /// From Flink's byte value.
    pub fn from_i8(v: i8) -> RowKind {
        match v {
            1 => RowKind::UpdateBefore,
            2 => RowKind::UpdateAfter,
            3 => RowKind::Delete,
            _ => RowKind::Insert,
        }
    }

    /// Whether the row adds (`+I`, `+U`) rather than retracts (`-U`, `-D`).
    pub fn is_addition(self) -> bool {
        matches!(self, RowKind::Insert | RowKind::UpdateAfter)
    }
}

/// The Arrow schema of a stream: every field nullable (NOT NULL is checked at
/// the sinks, as Flink does), plus `__op` when the stream updates.
pub fn physical_schema(schema: &DFSchema, updating: bool) -> SchemaRef {
    let mut fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| Field::new(f.name(), f.data_type().clone(), true))
        .collect();
    if updating {
        fields.push(Field::new(OP_COLUMN, DataType::Int8, false));
    }
    Arc::new(Schema::new(fields))
}

/// The row kinds of a batch of an updating stream (its last column).
pub fn kinds(batch: &RecordBatch) -> Option<&Int8Array> {
    let last = batch.schema().fields().last()?.clone();
    (last.name() == OP_COLUMN).then(|| {
        batch
            .column(batch.num_columns() - 1)
            .as_primitive::<Int8Type>()
    })
}

/// The kind of row `i` (`+I` for append-only streams).
pub fn kind_at(kinds: Option<&Int8Array>, i: usize) -> RowKind {
    kinds.map_or(RowKind::Insert, |k| RowKind::from_i8(k.value(i)))
}

/// A batch of `schema` from columns, with an explicit row count (for batches
/// without columns).
pub fn batch(schema: SchemaRef, columns: Vec<ArrayRef>, rows: usize) -> SqlResult<RecordBatch> {
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(RecordBatch::try_new_with_options(
        schema, columns, &options,
    )?)
}

/// Casts each column to the schema's type where they differ (expressions may
/// produce an equivalent but different type, e.g. a dictionary).
pub fn conform(schema: &SchemaRef, columns: Vec<ArrayRef>) -> SqlResult<Vec<ArrayRef>> {
    columns
        .into_iter()
        .zip(schema.fields())
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(c)
            } else {
                Ok(arrow::compute::cast(&c, f.data_type())?)
            }
        })
        .collect()
}

/// A row-kind column.
pub fn kind_column(kinds: &[RowKind]) -> ArrayRef {
    Arc::new(Int8Array::from_iter_values(kinds.iter().map(|k| *k as i8)))
}

/// The data columns of a batch (without `__op`).
pub fn data_columns(batch: &RecordBatch) -> &[ArrayRef] {
    let n = batch.num_columns();
    if kinds(batch).is_some() {
        &batch.columns()[..n - 1]
    } else {
        batch.columns()
    }
}
