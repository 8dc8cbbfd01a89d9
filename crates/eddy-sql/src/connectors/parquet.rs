//! The `parquet` format of the `filesystem` connector, a bulk format: a source
//! reading Parquet files batch by batch (files spread over the subtasks, the
//! table's columns found by name and cast to their types), and part files for
//! the exactly-once file sink (one Parquet file per part, rolled at every
//! checkpoint, its footer written when it closes).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::task::{Context, Poll};

use arrow::array::{Array, ArrayRef, MapArray, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use eddy_connectors::sinks::{PartFormat, PartWriter};
use eddy_connectors::sources::list_files;
use eddy_core::{Error, Records, Result};
use eddy_runtime::{OperatorContext, SourceEvent, SourceReader};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::ChunkReader;

use crate::connectors::sources::{BoxedSource, SourceFactory};
use crate::error::{SqlError, SqlResult};

/// The options of the `parquet` format.
pub const PARQUET_OPTIONS: &[&str] = &["parquet.compression"];

/// The compression a table's options ask for (`parquet.compression`:
/// `SNAPPY`, the default, or `UNCOMPRESSED`).
pub fn compression(
    table: &str,
    options: &std::collections::BTreeMap<String, String>,
) -> SqlResult<Compression> {
    match options
        .get("parquet.compression")
        .map(|c| c.to_ascii_uppercase())
        .as_deref()
    {
        None | Some("SNAPPY") => Ok(Compression::SNAPPY),
        Some("UNCOMPRESSED") | Some("NONE") => Ok(Compression::UNCOMPRESSED),
        Some(other) => Err(SqlError::new(format!(
            "option 'parquet.compression' of table {table}: '{other}' is not one eddy writes (SNAPPY, UNCOMPRESSED)"
        ))),
    }
}

fn io_error(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Part files of Parquet, of the table's `schema`.
pub fn parts(schema: SchemaRef, compression: Compression) -> PartFormat<RecordBatch> {
    Arc::new(move |file| {
        let properties = WriterProperties::builder()
            .set_compression(compression)
            .build();
        let writer =
            ArrowWriter::try_new(file, schema.clone(), Some(properties)).map_err(io_error)?;
        Ok(Box::new(ParquetPart {
            writer,
            schema: schema.clone(),
        }) as Box<dyn PartWriter<RecordBatch>>)
    })
}

/// One Parquet part file being written.
struct ParquetPart {
    writer: ArrowWriter<File>,
    schema: SchemaRef,
}

impl PartWriter<RecordBatch> for ParquetPart {
    fn write(&mut self, records: &Records<RecordBatch>) -> std::io::Result<u64> {
        let before = self.writer.bytes_written() + self.writer.in_progress_size();
        for record in records {
            let width = self.schema.fields().len();
            let columns = record.value.columns()[..width].to_vec();
            let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(io_error)?;
            self.writer.write(&batch).map_err(io_error)?;
        }
        let after = self.writer.bytes_written() + self.writer.in_progress_size();
        Ok(after.saturating_sub(before) as u64)
    }

    fn finish(self: Box<Self>) -> std::io::Result<File> {
        self.writer.into_inner().map_err(io_error)
    }
}

/// A source reading the Parquet files under `path` as batches of `output`
/// (the table's columns, nullable).
pub fn source(table: &str, path: String, output: SchemaRef) -> SourceFactory {
    let table = table.to_string();
    Arc::new(move |_| {
        BoxedSource(Box::new(ParquetSource {
            table: table.clone(),
            path: PathBuf::from(&path),
            output: output.clone(),
            files: Vec::new(),
            pending: Vec::new(),
            current: None,
            done: BTreeSet::new(),
            resumed: BTreeMap::new(),
        }))
    })
}

/// The file being read: its index, its reader, and the batches read of it.
struct Current {
    index: usize,
    reader: ParquetRecordBatchReader,
    /// Where each of the table's columns is in the file's batches.
    columns: Vec<usize>,
    read: u64,
    skip: u64,
}

/// One subtask's reader of Parquet files.
struct ParquetSource {
    table: String,
    path: PathBuf,
    output: SchemaRef,
    files: Vec<PathBuf>,
    /// This subtask's files not begun yet, by index.
    pending: Vec<usize>,
    current: Option<Current>,
    done: BTreeSet<usize>,
    /// Restored: batches of a file already emitted.
    resumed: BTreeMap<usize, u64>,
}

impl ParquetSource {
    fn file_error(&self, index: usize, message: impl std::fmt::Display) -> Error {
        let path = self.files.get(index).cloned().unwrap_or_default();
        Error::Other(format!(
            "Parquet file {} of table {}: {message}",
            path.display(),
            self.table
        ))
    }

    /// Opens file `index`, finding the table's columns in it. A file in an
    /// object store is read whole first (a Parquet reader jumps to its footer).
    fn start(&mut self, index: usize) -> Result<()> {
        let path = &self.files[index];
        let (reader, columns) = if eddy_fs::is_remote(path) {
            let bytes = eddy_fs::read(path).map_err(|e| Error::io(path, e))?;
            self.open_reader(index, bytes::Bytes::from(bytes))?
        } else {
            let file = File::open(path).map_err(|e| Error::io(path, e))?;
            self.open_reader(index, file)?
        };
        self.current = Some(Current {
            index,
            reader,
            columns,
            read: 0,
            skip: self.resumed.get(&index).copied().unwrap_or(0),
        });
        Ok(())
    }

    /// A reader of the table's columns in `input`, the contents of file
    /// `index`, and where each column lands in its batches.
    fn open_reader<T: ChunkReader + 'static>(
        &self,
        index: usize,
        input: T,
    ) -> Result<(ParquetRecordBatchReader, Vec<usize>)> {
        let builder = ParquetRecordBatchReaderBuilder::try_new(input)
            .map_err(|e| self.file_error(index, e))?;
        let file_schema = builder.schema().clone();
        let mut roots = Vec::new();
        for field in self.output.fields() {
            let found = file_schema
                .index_of(field.name())
                .ok()
                .or_else(|| {
                    file_schema
                        .fields()
                        .iter()
                        .position(|f| f.name().eq_ignore_ascii_case(field.name()))
                })
                .ok_or_else(|| self.file_error(index, format!("no column {}", field.name())))?;
            roots.push(found);
        }
        let mut sorted = roots.clone();
        sorted.sort_unstable();
        sorted.dedup();
        // The reader keeps the file's column order: where each root lands.
        let columns = roots
            .iter()
            .map(|r| sorted.iter().position(|s| s == r).unwrap_or(0))
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), sorted);
        let reader = builder
            .with_projection(mask)
            .with_batch_size(8192)
            .build()
            .map_err(|e| self.file_error(index, e))?;
        Ok((reader, columns))
    }

    /// A batch of the file as one of the table's: its columns in the table's
    /// order, cast to the table's types.
    fn conform(&self, index: usize, columns: &[usize], batch: &RecordBatch) -> Result<RecordBatch> {
        let mut out: Vec<ArrayRef> = Vec::with_capacity(columns.len());
        for (field, &c) in self.output.fields().iter().zip(columns) {
            let column = batch.column(c);
            out.push(if column.data_type() == field.data_type() {
                column.clone()
            } else {
                cast_to(column, field.data_type()).map_err(|e| {
                    self.file_error(
                        index,
                        format!(
                            "column {} is {} in the file, which does not fit {}: {e}",
                            field.name(),
                            column.data_type(),
                            field.data_type()
                        ),
                    )
                })?
            });
        }
        RecordBatch::try_new(self.output.clone(), out).map_err(|e| self.file_error(index, e))
    }
}

/// `column` as `target`: Arrow's casts, and maps whose entries are named
/// otherwise (Parquet's `key_value` for eddy's `entries`).
fn cast_to(column: &ArrayRef, target: &DataType) -> std::result::Result<ArrayRef, String> {
    if let (DataType::Map(_, _), DataType::Map(field, ordered)) = (column.data_type(), target) {
        let map = column
            .as_any()
            .downcast_ref::<MapArray>()
            .ok_or("not a map")?;
        let DataType::Struct(fields) = field.data_type() else {
            return Err("a map without entries".into());
        };
        let entries = map.entries();
        let keys = cast_to(entries.column(0), fields[0].data_type())?;
        let values = cast_to(entries.column(1), fields[1].data_type())?;
        let entries = arrow::array::StructArray::try_new(
            fields.clone(),
            vec![keys, values],
            entries.nulls().cloned(),
        )
        .map_err(|e| e.to_string())?;
        return MapArray::try_new(
            field.clone(),
            map.offsets().clone(),
            entries,
            map.nulls().cloned(),
            *ordered,
        )
        .map(|m| Arc::new(m) as ArrayRef)
        .map_err(|e| e.to_string());
    }
    arrow::compute::cast(column, target).map_err(|e| e.to_string())
}

impl SourceReader for ParquetSource {
    type Out = RecordBatch;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.files = list_files(&self.path)?;
        let parallelism = ctx.parallelism.max(1);
        self.pending = (0..self.files.len())
            .filter(|i| i % parallelism == ctx.subtask && !self.done.contains(i))
            .rev()
            .collect();
        self.done.retain(|i| i % parallelism == ctx.subtask);
        Ok(())
    }

    fn poll_next(&mut self, _: &mut Context<'_>) -> Poll<Result<SourceEvent<RecordBatch>>> {
        loop {
            if self.current.is_none() {
                let Some(index) = self.pending.pop() else {
                    return Poll::Ready(Ok(SourceEvent::End));
                };
                if let Err(e) = self.start(index) {
                    return Poll::Ready(Err(e));
                }
            }
            let Some(current) = self.current.as_mut() else {
                continue;
            };
            match current.reader.next() {
                Some(Ok(batch)) => {
                    current.read += 1;
                    if current.read <= current.skip {
                        continue;
                    }
                    let (index, columns) = (current.index, current.columns.clone());
                    return Poll::Ready(
                        self.conform(index, &columns, &batch)
                            .map(SourceEvent::Batch),
                    );
                }
                Some(Err(e)) => {
                    let index = current.index;
                    return Poll::Ready(Err(self.file_error(index, e)));
                }
                None => {
                    self.done.insert(current.index);
                    self.current = None;
                }
            }
        }
    }

    fn snapshot_position(&mut self) -> Result<Vec<u8>> {
        let current = self.current.as_ref().map(|c| (c.index, c.read.max(c.skip)));
        let done: Vec<usize> = self.done.iter().copied().collect();
        postcard::to_stdvec(&(done, current)).map_err(Error::state)
    }

    fn restore_positions(&mut self, positions: Vec<Vec<u8>>) -> Result<()> {
        for bytes in positions.iter().filter(|b| !b.is_empty()) {
            let (done, current): (Vec<usize>, Option<(usize, u64)>) =
                postcard::from_bytes(bytes)
                    .map_err(|e| Error::state(format!("a corrupt Parquet source position: {e}")))?;
            self.done.extend(done);
            if let Some((index, read)) = current {
                self.resumed.insert(index, read);
            }
        }
        Ok(())
    }
}
