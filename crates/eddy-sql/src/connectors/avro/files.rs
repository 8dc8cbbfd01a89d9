//! The `avro` format of the `filesystem` connector: Avro container files. The
//! sink writes one file per part (rolled at every checkpoint, as Parquet),
//! with the schema derived from the table and `avro.codec` (`snappy`, Flink's
//! default, or `null`); the source reads files (spread over the subtasks,
//! each read whole) with the schema in their header, records matched to the
//! table's columns by name, an error naming the file and record otherwise.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::Arc;
use std::task::{Context, Poll};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use eddy_connectors::sinks::{PartFormat, PartWriter};
use eddy_connectors::sources::list_files;
use eddy_connectors::TextLine;
use eddy_core::{Error, Records, Result};
use eddy_runtime::{OperatorContext, SourceEvent, SourceReader};

use super::binary::{from_json, to_json_records};
use super::container::{Codec, ContainerFile, ContainerWriter};
use super::schema::Schema;
use crate::connectors::encode::{json_row, JsonEncoding};
use crate::connectors::lines::LineDecoder;
use crate::connectors::sources::{BoxedSource, FileFormat, SourceFactory};
use crate::error::{SqlError, SqlResult};

/// The options of the `avro` format of files.
pub const AVRO_FILE_OPTIONS: &[&str] = &["avro.codec"];

/// The codec a table's options ask for (`avro.codec`, default `snappy`).
pub fn codec(table: &str, options: &BTreeMap<String, String>) -> SqlResult<Codec> {
    let name = options.get("avro.codec").map_or("snappy", String::as_str);
    Codec::named(&name.to_ascii_lowercase())
        .map_err(|e| SqlError::new(format!("option 'avro.codec' of table {table}: {e}")))
}

/// Part files of Avro, of the table's `schema`.
pub fn parts(table: &str, schema: SchemaRef, codec: Codec) -> SqlResult<PartFormat<RecordBatch>> {
    let avro = Arc::new(
        Schema::of_table(schema.fields())
            .map_err(|e| SqlError::new(format!("table {table} in format 'avro': {e}")))?,
    );
    let names: Arc<Vec<String>> =
        Arc::new(schema.fields().iter().map(|f| f.name().clone()).collect());
    Ok(Arc::new(move |file| {
        let writer = ContainerWriter::new(BufWriter::with_capacity(1 << 16, file), &avro, codec)?;
        Ok(Box::new(AvroPart {
            writer,
            schema: avro.clone(),
            names: names.clone(),
        }) as Box<dyn PartWriter<RecordBatch>>)
    }))
}

/// One Avro part file being written.
struct AvroPart {
    writer: ContainerWriter<BufWriter<File>>,
    schema: Arc<Schema>,
    names: Arc<Vec<String>>,
}

impl PartWriter<RecordBatch> for AvroPart {
    fn write(&mut self, records: &Records<RecordBatch>) -> std::io::Result<u64> {
        let before = self.writer.size();
        let encoding = JsonEncoding {
            iso_timestamps: false,
            plain_decimals: true,
        };
        for record in records {
            for i in 0..record.value.num_rows() {
                let json = json_row(&record.value, &self.names, i, &encoding);
                from_json(&self.schema, &json, self.writer.block())
                    .map_err(std::io::Error::other)?;
                self.writer.record_added()?;
            }
        }
        Ok(self.writer.size().saturating_sub(before))
    }

    fn finish(self: Box<Self>) -> std::io::Result<File> {
        self.writer
            .finish()?
            .into_inner()
            .map_err(|e| e.into_error())
    }
}

/// A source reading the Avro files under `path` as batches of the table's
/// columns `schema`.
pub fn source(path: String, schema: SchemaRef) -> SourceFactory {
    Arc::new(move |_| {
        BoxedSource(Box::new(AvroSource {
            path: PathBuf::from(&path),
            decoder: LineDecoder::new(
                schema.clone(),
                schema.clone(),
                FileFormat::Json {
                    ignore_errors: false,
                },
            ),
            files: Vec::new(),
            pending: Vec::new(),
            current: None,
            done: BTreeSet::new(),
            resumed: BTreeMap::new(),
        }))
    })
}

/// The file being read: its index, its records (as JSON rows) not emitted
/// yet, and how many were emitted.
struct Current {
    index: usize,
    records: VecDeque<String>,
    emitted: u64,
}

/// One subtask's reader of Avro files.
struct AvroSource {
    path: PathBuf,
    decoder: LineDecoder,
    files: Vec<PathBuf>,
    pending: Vec<usize>,
    current: Option<Current>,
    done: BTreeSet<usize>,
    /// Restored: records of a file already emitted.
    resumed: BTreeMap<usize, u64>,
}

/// Rows per batch.
const BATCH: usize = 1024;

impl AvroSource {
    /// Reads file `index` whole, as JSON rows.
    fn start(&mut self, index: usize) -> Result<()> {
        let path = &self.files[index];
        let malformed = |message: String| Error::MalformedRecord {
            location: path.display().to_string(),
            message,
        };
        let reader = eddy_fs::open(path).map_err(|e| Error::io(path, e))?;
        let file = ContainerFile::read(reader).map_err(malformed)?;
        let mut records = VecDeque::new();
        for (count, data) in &file.blocks {
            records.extend(to_json_records(&file.schema, data, *count).map_err(malformed)?);
        }
        let emitted = self.resumed.get(&index).copied().unwrap_or(0);
        records.drain(..(emitted as usize).min(records.len()));
        self.current = Some(Current {
            index,
            records,
            emitted,
        });
        Ok(())
    }
}

impl SourceReader for AvroSource {
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
            if current.records.is_empty() {
                self.done.insert(current.index);
                self.current = None;
                continue;
            }
            let path: Arc<str> = Arc::from(self.files[current.index].to_string_lossy().as_ref());
            let n = current.records.len().min(BATCH);
            let lines: Vec<TextLine> = current
                .records
                .drain(..n)
                .enumerate()
                .map(|(i, text)| TextLine {
                    path: path.clone(),
                    line_number: current.emitted + i as u64 + 1,
                    text,
                })
                .collect();
            current.emitted += n as u64;
            let refs: Vec<&TextLine> = lines.iter().collect();
            match self.decoder.decode(&refs) {
                Ok(Some(batch)) => return Poll::Ready(Ok(SourceEvent::Batch(batch))),
                Ok(None) => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn snapshot_position(&mut self) -> Result<Vec<u8>> {
        let current = self.current.as_ref().map(|c| (c.index, c.emitted));
        let done: Vec<usize> = self.done.iter().copied().collect();
        postcard::to_stdvec(&(done, current)).map_err(Error::state)
    }

    fn restore_positions(&mut self, positions: Vec<Vec<u8>>) -> Result<()> {
        for bytes in positions.iter().filter(|b| !b.is_empty()) {
            let (done, current): (Vec<usize>, Option<(usize, u64)>) =
                postcard::from_bytes(bytes)
                    .map_err(|e| Error::state(format!("a corrupt Avro source position: {e}")))?;
            self.done.extend(done);
            if let Some((index, emitted)) = current {
                self.resumed.insert(index, emitted);
            }
        }
        Ok(())
    }
}
