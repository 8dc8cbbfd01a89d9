//! The JDBC sink of the DataStream API ([`JdbcSink`], Flink's `JdbcSink`):
//! each record becomes a row of [`JdbcValue`]s by a function of the job's,
//! written by the same [`JdbcSinkWriter`] as SQL tables: buffered, upserted
//! by the primary key (or appended without one), deleted where
//! [`JdbcSinkBuilder::deletes`] says so, flushed at checkpoints.
//!
//! ```no_run
//! # use eddy_jdbc::{ConnectionOptions, JdbcSink, JdbcType, JdbcValue};
//! let sink = JdbcSink::<(String, i64)>::builder()
//!     .connection(ConnectionOptions::new("jdbc:postgresql://127.0.0.1:5432/shop?user=eddy"))
//!     .table("counts")
//!     .column("word", JdbcType::Text)
//!     .column("c", JdbcType::BigInt)
//!     .primary_key(["word"])
//!     .row(|(word, count)| vec![JdbcValue::Text(word.clone()), JdbcValue::Int(*count)])
//!     .build()?;
//! // stream.sink_to("JDBC Sink", sink.writer_factory());
//! # Ok::<(), eddy_jdbc::JdbcError>(())
//! ```

use std::sync::Arc;
use std::time::Duration;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int16Builder,
    Int32Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, Int8Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use eddy_core::{Records, Result, StreamRecord};
use eddy_runtime::operators::SinkWriter;
use eddy_runtime::OperatorContext;

use crate::connection::ConnectionOptions;
use crate::error::{JdbcError, JdbcResult};
use crate::sink::{JdbcSinkOptions, JdbcSinkWriter};

/// The type of a column written by a [`JdbcSink`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JdbcType {
    /// `BOOLEAN`.
    Boolean,
    /// `SMALLINT`.
    SmallInt,
    /// `INT`.
    Int,
    /// `BIGINT`.
    BigInt,
    /// `DOUBLE PRECISION`.
    Double,
    /// `NUMERIC(precision, scale)`.
    Decimal(u8, i8),
    /// `TEXT` / `VARCHAR`.
    Text,
    /// `BYTEA`.
    Bytes,
    /// `DATE`.
    Date,
    /// `TIMESTAMP` (milliseconds).
    Timestamp,
}

impl JdbcType {
    fn data_type(self) -> DataType {
        match self {
            JdbcType::Boolean => DataType::Boolean,
            JdbcType::SmallInt => DataType::Int16,
            JdbcType::Int => DataType::Int32,
            JdbcType::BigInt => DataType::Int64,
            JdbcType::Double => DataType::Float64,
            JdbcType::Decimal(p, s) => DataType::Decimal128(p, s),
            JdbcType::Text => DataType::Utf8,
            JdbcType::Bytes => DataType::Binary,
            JdbcType::Date => DataType::Date32,
            JdbcType::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, None),
        }
    }
}

/// A value of one column of a row.
#[derive(Clone, Debug, PartialEq)]
pub enum JdbcValue {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer (for `SMALLINT`, `INT` and `BIGINT`).
    Int(i64),
    /// A floating-point number.
    Double(f64),
    /// A decimal's unscaled value (at the column's scale).
    Decimal(i128),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// Days since 1970-01-01.
    Date(i32),
    /// Milliseconds since 1970-01-01 00:00.
    Timestamp(i64),
}

type RowFn<T> = Arc<dyn Fn(&T) -> Vec<JdbcValue> + Send + Sync>;
type DeleteFn<T> = Arc<dyn Fn(&T) -> bool + Send + Sync>;

/// A JDBC sink for records of type `T`.
pub struct JdbcSink<T> {
    options: JdbcSinkOptions,
    row: RowFn<T>,
    deletes: Option<DeleteFn<T>>,
}

impl<T> Clone for JdbcSink<T> {
    fn clone(&self) -> Self {
        JdbcSink {
            options: self.options.clone(),
            row: self.row.clone(),
            deletes: self.deletes.clone(),
        }
    }
}

/// Builds a [`JdbcSink`].
pub struct JdbcSinkBuilder<T> {
    connection: Option<ConnectionOptions>,
    table: Option<String>,
    columns: Vec<(String, JdbcType)>,
    primary_key: Vec<String>,
    max_rows: usize,
    interval: Option<Duration>,
    max_retries: usize,
    row: Option<RowFn<T>>,
    deletes: Option<DeleteFn<T>>,
}

impl<T: Send + 'static> JdbcSink<T> {
    /// A builder with Flink's defaults (flush at 100 rows or every second, 3 retries).
    pub fn builder() -> JdbcSinkBuilder<T> {
        JdbcSinkBuilder {
            connection: None,
            table: None,
            columns: Vec::new(),
            primary_key: Vec::new(),
            max_rows: 100,
            interval: Some(Duration::from_secs(1)),
            max_retries: 3,
            row: None,
            deletes: None,
        }
    }

    /// Builds each subtask's writer, for `DataStream::sink_to`.
    pub fn writer_factory(&self) -> impl Fn(usize) -> JdbcRecordWriter<T> + Send + Sync + 'static {
        let sink = self.clone();
        move |_| JdbcRecordWriter {
            writer: JdbcSinkWriter::new(sink.options.clone()),
            sink: sink.clone(),
        }
    }
}

impl<T: Send + 'static> JdbcSinkBuilder<T> {
    /// Where to connect.
    pub fn connection(mut self, connection: ConnectionOptions) -> Self {
        self.connection = Some(connection);
        self
    }

    /// The database table.
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = Some(table.into());
        self
    }

    /// The next column of each row.
    pub fn column(mut self, name: impl Into<String>, ty: JdbcType) -> Self {
        self.columns.push((name.into(), ty));
        self
    }

    /// The primary key: rows are upserted and deleted by it.
    pub fn primary_key<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.primary_key = columns.into_iter().map(Into::into).collect();
        self
    }

    /// Flush when this many rows wait (0: no limit).
    pub fn buffer_flush_max_rows(mut self, rows: usize) -> Self {
        self.max_rows = rows;
        self
    }

    /// Flush this often (`None`: only at the limit, checkpoints and the end).
    pub fn buffer_flush_interval(mut self, interval: Option<Duration>) -> Self {
        self.interval = interval;
        self
    }

    /// Retries of a failed flush.
    pub fn max_retries(mut self, retries: usize) -> Self {
        self.max_retries = retries;
        self
    }

    /// A record's row: one value per column, in column order.
    pub fn row(mut self, row: impl Fn(&T) -> Vec<JdbcValue> + Send + Sync + 'static) -> Self {
        self.row = Some(Arc::new(row));
        self
    }

    /// Which records delete their key's row instead (needs a primary key).
    pub fn deletes(mut self, deletes: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        self.deletes = Some(Arc::new(deletes));
        self
    }

    /// The sink, or what is missing.
    pub fn build(self) -> JdbcResult<JdbcSink<T>> {
        let connection = self
            .connection
            .ok_or_else(|| JdbcError::option("connection", "no connection given"))?;
        connection.client_config()?;
        let table = self
            .table
            .ok_or_else(|| JdbcError::option("table", "no table given"))?;
        if self.columns.is_empty() {
            return Err(JdbcError::option("column", "no columns given"));
        }
        for key in &self.primary_key {
            if !self.columns.iter().any(|(name, _)| name == key) {
                return Err(JdbcError::option(
                    "primary_key",
                    format!("{key} is not one of the columns"),
                ));
            }
        }
        if self.deletes.is_some() && self.primary_key.is_empty() {
            return Err(JdbcError::option(
                "deletes",
                "deleting rows needs a primary key",
            ));
        }
        let row = self
            .row
            .ok_or_else(|| JdbcError::option("row", "no row function given"))?;
        let schema: SchemaRef = Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|(name, ty)| Field::new(name, ty.data_type(), true))
                .collect::<Vec<_>>(),
        ));
        Ok(JdbcSink {
            options: JdbcSinkOptions {
                primary_key: self.primary_key,
                max_rows: self.max_rows,
                interval: self.interval,
                max_retries: self.max_retries,
                ..JdbcSinkOptions::new(connection, table, schema)
            },
            row,
            deletes: self.deletes,
        })
    }
}

/// One subtask's writer of a [`JdbcSink`].
pub struct JdbcRecordWriter<T> {
    writer: JdbcSinkWriter,
    sink: JdbcSink<T>,
}

impl<T> JdbcRecordWriter<T> {
    /// The records as a batch of the sink's columns (and row kinds when some delete).
    fn batch(&self, records: &Records<T>) -> JdbcResult<RecordBatch> {
        let options = &self.sink.options;
        let schema = &options.schema;
        let rows: Vec<Vec<JdbcValue>> = records.iter().map(|r| (self.sink.row)(&r.value)).collect();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for (c, field) in schema.fields().iter().enumerate() {
            let error = |message: String| JdbcError::Value {
                table: options.table.clone(),
                column: field.name().clone(),
                message,
            };
            let values = rows
                .iter()
                .map(|row| row.get(c).unwrap_or(&JdbcValue::Null));
            columns.push(column(field.data_type(), values).map_err(error)?);
        }
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        if let Some(deletes) = &self.sink.deletes {
            // Flink's row kinds: +I (0) and -D (3).
            columns.push(Arc::new(Int8Array::from_iter_values(
                records
                    .iter()
                    .map(|r| if deletes(&r.value) { 3 } else { 0 }),
            )));
            fields.push(Field::new("__op", DataType::Int8, false));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| {
            JdbcError::Schema {
                table: options.table.clone(),
                message: e.to_string(),
            }
        })
    }
}

/// One column of `values`, of type `data_type` (one of [`JdbcType`]'s).
fn column<'a>(
    data_type: &DataType,
    values: impl Iterator<Item = &'a JdbcValue>,
) -> std::result::Result<ArrayRef, String> {
    let wrong = |v: &JdbcValue| format!("{v:?} does not fit a {data_type} column");
    macro_rules! build {
        ($builder:expr, $($pattern:pat => $value:expr),+) => {{
            let mut builder = $builder;
            for v in values {
                match v {
                    JdbcValue::Null => builder.append_null(),
                    $($pattern => builder.append_value($value),)+
                    other => return Err(wrong(other)),
                }
            }
            Arc::new(builder.finish()) as ArrayRef
        }};
    }
    let narrow = |v: i64, what: &str| format!("{v} does not fit {what}");
    Ok(match data_type {
        DataType::Boolean => build!(BooleanBuilder::new(), JdbcValue::Bool(b) => *b),
        DataType::Int16 => build!(Int16Builder::new(), JdbcValue::Int(i) =>
            i16::try_from(*i).map_err(|_| narrow(*i, "SMALLINT"))?),
        DataType::Int32 => build!(Int32Builder::new(), JdbcValue::Int(i) =>
            i32::try_from(*i).map_err(|_| narrow(*i, "INT"))?),
        DataType::Int64 => build!(Int64Builder::new(), JdbcValue::Int(i) => *i),
        DataType::Float64 => build!(Float64Builder::new(), JdbcValue::Double(d) => *d),
        DataType::Decimal128(p, s) => {
            let array = build!(Decimal128Builder::new(), JdbcValue::Decimal(d) => *d);
            let array = array
                .as_any()
                .downcast_ref::<arrow_array::Decimal128Array>()
                .ok_or("not a decimal column")?
                .clone()
                .with_precision_and_scale(*p, *s)
                .map_err(|e| e.to_string())?;
            Arc::new(array)
        }
        DataType::Utf8 => build!(StringBuilder::new(), JdbcValue::Text(t) => t),
        DataType::Binary => build!(BinaryBuilder::new(), JdbcValue::Bytes(b) => b),
        DataType::Date32 => build!(Date32Builder::new(), JdbcValue::Date(d) => *d),
        DataType::Timestamp(..) => {
            build!(TimestampMillisecondBuilder::new(), JdbcValue::Timestamp(t) => *t)
        }
        other => return Err(format!("no JDBC type for {other}")),
    })
}

impl<T: Send + 'static> SinkWriter<T> for JdbcRecordWriter<T> {
    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.writer.open(ctx)
    }

    fn write_batch(&mut self, records: Records<T>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let batch = self.batch(&records)?;
        self.writer.write_batch(vec![StreamRecord::new(batch)])
    }

    fn finish(&mut self) -> Result<()> {
        self.writer.finish()
    }

    fn snapshot(&mut self, checkpoint_id: u64) -> Result<Vec<u8>> {
        self.writer.snapshot(checkpoint_id)
    }
}
