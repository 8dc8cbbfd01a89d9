//! Table sinks: rows encoded as lines and handed to eddy's sink writers (print,
//! discard, the exactly-once file sink), or collected for `SELECT`.

use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use eddy_core::{Records, Result, StreamRecord, Timestamp};
use eddy_runtime::operators::SinkWriter;
use eddy_runtime::output::Emitter;
use eddy_runtime::{Operator, OperatorContext, OperatorSnapshot};

use crate::connectors::encode::{CsvEncoding, JsonEncoding};
use crate::connectors::encode_batch::{csv_lines, json_lines, Lines};
use crate::connectors::format::cell;
use crate::exec::changelog::{self, RowKind};

/// How rows become lines.
#[derive(Clone, Debug)]
pub enum LineFormat {
    /// `+I[a, b]` (the print connector).
    Print,
    /// CSV.
    Csv(CsvEncoding),
    /// One JSON object per row, in the table's column order.
    Json(JsonEncoding),
    /// One Debezium JSON message per row: `{"before":..,"after":..,"op":..}`.
    DebeziumJson(JsonEncoding),
    /// The value of the table's one column as is (`raw`; NULL is empty).
    Raw,
}

impl LineFormat {
    /// How a file table with these options writes its rows.
    pub fn for_file(
        table: &str,
        options: &std::collections::BTreeMap<String, String>,
    ) -> crate::SqlResult<LineFormat> {
        use crate::connectors::sources::FileFormat;
        let flag = |key: &str, default: bool| match options.get(key).map(String::as_str) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(crate::SqlError::new(format!(
                "option '{key}' of table {table} must be true or false, not '{v}'"
            ))),
        };
        let json = |prefix: &str| -> crate::SqlResult<JsonEncoding> {
            let key = format!("{prefix}.timestamp-format.standard");
            let iso_timestamps = match options.get(&key).map(String::as_str) {
                None | Some("SQL") => false,
                Some("ISO-8601") => true,
                Some(other) => {
                    return Err(crate::SqlError::new(format!(
                    "Unsupported value '{other}' for {key}. Supported values are [SQL, ISO-8601]."
                )))
                }
            };
            Ok(JsonEncoding {
                iso_timestamps,
                plain_decimals: flag(&format!("{prefix}.encode.decimal-as-plain-number"), false)?,
            })
        };
        // Accepted as Flink accepts it; Flink 2.3 writes decimals the same either way.
        flag("csv.write-bigdecimal-in-scientific-notation", true)?;
        Ok(match FileFormat::from_options(table, options)? {
            FileFormat::Csv {
                delimiter,
                quote,
                null_literal,
                ..
            } => LineFormat::Csv(CsvEncoding {
                delimiter,
                quote: (!flag("csv.disable-quote-character", false)?).then_some(quote),
                null_literal: null_literal.unwrap_or_default(),
                array_delimiter: options
                    .get("csv.array-element-delimiter")
                    .cloned()
                    .unwrap_or_else(|| ";".into()),
            }),
            FileFormat::Json { .. } => LineFormat::Json(json("json")?),
            FileFormat::DebeziumJson { .. } => LineFormat::DebeziumJson(json("debezium-json")?),
            FileFormat::Raw => LineFormat::Raw,
        })
    }
}

/// Result rows collected for `SELECT`: row kind and cells.
pub type Collected = Arc<Mutex<Vec<(RowKind, Vec<Option<String>>)>>>;

enum Target {
    Writer(Box<dyn SinkWriter<String>>),
    /// A writer of typed rows (a database): batches as they come, `__op` included.
    Rows(Box<dyn SinkWriter<RecordBatch>>),
    Collect(Collected),
    /// The blackhole connector: rows are dropped unformatted.
    Discard,
}

/// The sink operator of a table.
pub struct TableSinkOperator {
    target: Target,
    format: LineFormat,
    names: Vec<String>,
    /// The writer takes a batch's lines as one record, joined by `\n` (a
    /// file writer: the bytes written are the same, with one record and one
    /// copy per batch instead of per row).
    blocks: bool,
}

impl TableSinkOperator {
    /// A sink writing lines of `format` to `writer`; `names` are the column names.
    pub fn writer(
        writer: Box<dyn SinkWriter<String>>,
        format: LineFormat,
        names: Vec<String>,
    ) -> Self {
        TableSinkOperator {
            target: Target::Writer(writer),
            format,
            names,
            blocks: false,
        }
    }

    /// A sink writing lines of `format` to `writer`, which writes each
    /// record it is given followed by a line ending (a file writer): it is
    /// given a batch's lines at once, as one record.
    pub fn file(
        writer: Box<dyn SinkWriter<String>>,
        format: LineFormat,
        names: Vec<String>,
    ) -> Self {
        TableSinkOperator {
            blocks: true,
            ..Self::writer(writer, format, names)
        }
    }

    /// A sink handing each batch as is to `writer` (a connector of typed
    /// rows); `names` are the column names.
    pub fn rows(writer: Box<dyn SinkWriter<RecordBatch>>, names: Vec<String>) -> Self {
        TableSinkOperator {
            target: Target::Rows(writer),
            format: LineFormat::Print,
            names,
            blocks: false,
        }
    }

    /// A sink dropping every row (the blackhole connector).
    pub fn discard(names: Vec<String>) -> Self {
        TableSinkOperator {
            target: Target::Discard,
            format: LineFormat::Print,
            names,
            blocks: false,
        }
    }

    /// A sink collecting rows into `rows`.
    pub fn collect(rows: Collected, names: Vec<String>) -> Self {
        TableSinkOperator {
            target: Target::Collect(rows),
            format: LineFormat::Print,
            names,
            blocks: false,
        }
    }

    /// The rows of `batch` as lines of the sink's format.
    fn lines(&self, batch: &RecordBatch) -> Lines {
        let kinds = changelog::kinds(batch);
        let n = self.names.len();
        match &self.format {
            LineFormat::Csv(encoding) => csv_lines(batch, n, encoding),
            LineFormat::Json(encoding) => {
                json_lines(batch, &self.names, encoding, |_, row, out| {
                    out.push_str(row)
                })
            }
            LineFormat::DebeziumJson(encoding) => {
                json_lines(batch, &self.names, encoding, |i, row, out| {
                    let (before, after, op) = match changelog::kind_at(kinds, i) {
                        RowKind::Insert | RowKind::UpdateAfter => ("null", row, "c"),
                        RowKind::UpdateBefore | RowKind::Delete => (row, "null", "d"),
                    };
                    out.push_str("{\"before\":");
                    out.push_str(before);
                    out.push_str(",\"after\":");
                    out.push_str(after);
                    out.push_str(",\"op\":\"");
                    out.push_str(op);
                    out.push_str("\"}");
                })
            }
            LineFormat::Print | LineFormat::Raw => {
                let mut lines = Lines::default();
                for i in 0..batch.num_rows() {
                    if matches!(self.format, LineFormat::Raw) {
                        lines
                            .text
                            .push_str(&cell(batch.column(0), i).unwrap_or_default());
                    } else {
                        let cells: Vec<String> = (0..n)
                            .map(|c| cell(batch.column(c), i).unwrap_or_else(|| "NULL".into()))
                            .collect();
                        let kind = changelog::kind_at(kinds, i);
                        lines
                            .text
                            .push_str(&format!("{}[{}]", kind.short(), cells.join(", ")));
                    }
                    lines.end_line();
                }
                lines
            }
        }
    }

    /// The records handed to the writer: one per line, or the batch's lines
    /// as one record for a writer of whole lines.
    fn records(&self, batch: &RecordBatch) -> Records<String> {
        let lines = self.lines(batch);
        if lines.is_empty() {
            return Records::new();
        }
        if self.blocks {
            return vec![StreamRecord::new(lines.joined())];
        }
        (0..lines.len())
            .map(|i| StreamRecord::new(lines.line(i).to_string()))
            .collect()
    }
}

impl Operator for TableSinkOperator {
    type In = RecordBatch;
    type Out = Records<()>;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        match &mut self.target {
            Target::Writer(w) => {
                w.restore(ctx.restored_operator_state())?;
                w.open(ctx)
            }
            Target::Rows(w) => {
                w.restore(ctx.restored_operator_state())?;
                w.open(ctx)
            }
            Target::Collect(_) | Target::Discard => Ok(()),
        }
    }

    fn process_batch(
        &mut self,
        batch: RecordBatch,
        _: &mut Emitter<'_, Records<()>>,
    ) -> Result<()> {
        match &self.target {
            Target::Collect(rows) => {
                let kinds = changelog::kinds(&batch);
                let cells = crate::connectors::format::rows(&batch, self.names.len());
                let mut rows = rows
                    .lock()
                    .map_err(|_| crate::error::runtime("result buffer poisoned"))?;
                for (i, row) in cells.into_iter().enumerate() {
                    rows.push((changelog::kind_at(kinds, i), row));
                }
                Ok(())
            }
            Target::Writer(_) => {
                let lines = self.records(&batch);
                match &mut self.target {
                    Target::Writer(w) => w.write_batch(lines),
                    Target::Rows(_) | Target::Collect(_) | Target::Discard => Ok(()),
                }
            }
            Target::Rows(_) => match &mut self.target {
                Target::Rows(w) => w.write_batch(vec![StreamRecord::new(batch)]),
                _ => Ok(()),
            },
            Target::Discard => Ok(()),
        }
    }

    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        _: &mut Emitter<'_, Records<()>>,
    ) -> Result<()> {
        match &mut self.target {
            Target::Writer(w) => w.on_watermark(watermark),
            Target::Rows(w) => w.on_watermark(watermark),
            Target::Collect(_) | Target::Discard => Ok(()),
        }
    }

    fn end_input(&mut self, _: &mut Emitter<'_, Records<()>>) -> Result<()> {
        match &mut self.target {
            Target::Writer(w) => w.finish(),
            Target::Rows(w) => w.finish(),
            Target::Collect(_) | Target::Discard => Ok(()),
        }
    }

    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<OperatorSnapshot> {
        match &mut self.target {
            Target::Writer(w) => Ok(OperatorSnapshot {
                operator: w.snapshot(checkpoint_id)?,
                ..Default::default()
            }),
            Target::Rows(w) => Ok(OperatorSnapshot {
                operator: w.snapshot(checkpoint_id)?,
                ..Default::default()
            }),
            Target::Collect(_) | Target::Discard => Ok(OperatorSnapshot::default()),
        }
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        match &mut self.target {
            Target::Writer(w) => w.notify_checkpoint_complete(checkpoint_id),
            Target::Rows(w) => w.notify_checkpoint_complete(checkpoint_id),
            Target::Collect(_) | Target::Discard => Ok(()),
        }
    }
}
