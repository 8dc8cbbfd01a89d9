//! Table sinks: rows encoded as lines and handed to eddy's sink writers (print,
//! discard, the exactly-once file sink), or collected for `SELECT`.

use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use eddy_core::{Records, Result, StreamRecord, Timestamp};
use eddy_runtime::operators::SinkWriter;
use eddy_runtime::output::Emitter;
use eddy_runtime::{Operator, OperatorContext, OperatorSnapshot};

use crate::connectors::format::{cell, csv_field, json_value};
use crate::exec::changelog::{self, RowKind};

/// How rows become lines.
#[derive(Clone, Debug)]
pub enum LineFormat {
    /// `+I[a, b]` (the print connector).
    Print,
    /// CSV.
    Csv {
        /// Field delimiter.
        delimiter: char,
        /// Quote character.
        quote: char,
    },
    /// One JSON object per row.
    Json,
    /// One Debezium JSON message per row.
    DebeziumJson,
}

/// Result rows collected for `SELECT`: row kind and cells.
pub type Collected = Arc<Mutex<Vec<(RowKind, Vec<Option<String>>)>>>;

enum Target {
    Writer(Box<dyn SinkWriter<String>>),
    Collect(Collected),
    /// The blackhole connector: rows are dropped unformatted.
    Discard,
}

/// The sink operator of a table.
pub struct TableSinkOperator {
    target: Target,
    format: LineFormat,
    names: Vec<String>,
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
        }
    }

    /// A sink dropping every row (the blackhole connector).
    pub fn discard(names: Vec<String>) -> Self {
        TableSinkOperator {
            target: Target::Discard,
            format: LineFormat::Print,
            names,
        }
    }

    /// A sink collecting rows into `rows`.
    pub fn collect(rows: Collected, names: Vec<String>) -> Self {
        TableSinkOperator {
            target: Target::Collect(rows),
            format: LineFormat::Print,
            names,
        }
    }

    fn lines(&self, batch: &RecordBatch) -> Records<String> {
        let kinds = changelog::kinds(batch);
        let n = self.names.len();
        let mut out = Vec::with_capacity(batch.num_rows());
        for i in 0..batch.num_rows() {
            let kind = changelog::kind_at(kinds, i);
            let line = match &self.format {
                LineFormat::Print => {
                    let cells: Vec<String> = (0..n)
                        .map(|c| cell(batch.column(c), i).unwrap_or_else(|| "NULL".into()))
                        .collect();
                    format!("{}[{}]", kind.short(), cells.join(", "))
                }
                LineFormat::Csv { delimiter, quote } => (0..n)
                    .map(|c| {
                        cell(batch.column(c), i)
                            .map(|v| csv_field(&v, *delimiter, *quote))
                            .unwrap_or_default()
                    })
                    .collect::<Vec<_>>()
                    .join(&delimiter.to_string()),
                LineFormat::Json => self.object(batch, i).to_string(),
                LineFormat::DebeziumJson => {
                    let row = self.object(batch, i);
                    let (before, after, op) = match kind {
                        RowKind::Insert | RowKind::UpdateAfter => {
                            (serde_json::Value::Null, row, "c")
                        }
                        RowKind::UpdateBefore | RowKind::Delete => {
                            (row, serde_json::Value::Null, "d")
                        }
                    };
                    serde_json::json!({"before": before, "after": after, "op": op}).to_string()
                }
            };
            out.push(StreamRecord::new(line));
        }
        out
    }

    fn object(&self, batch: &RecordBatch, i: usize) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for (c, name) in self.names.iter().enumerate() {
            map.insert(name.clone(), json_value(batch.column(c), i));
        }
        serde_json::Value::Object(map)
    }
}

impl Operator for TableSinkOperator {
    type In = RecordBatch;
    type Out = Records<()>;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        match &mut self.target {
            Target::Writer(w) => w.open(ctx),
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
                let lines = self.lines(&batch);
                match &mut self.target {
                    Target::Writer(w) => w.write_batch(lines),
                    Target::Collect(_) | Target::Discard => Ok(()),
                }
            }
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
            Target::Collect(_) | Target::Discard => Ok(()),
        }
    }

    fn end_input(&mut self, _: &mut Emitter<'_, Records<()>>) -> Result<()> {
        match &mut self.target {
            Target::Writer(w) => w.finish(),
            Target::Collect(_) | Target::Discard => Ok(()),
        }
    }

    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<OperatorSnapshot> {
        match &mut self.target {
            Target::Writer(w) => Ok(OperatorSnapshot {
                operator: w.snapshot(checkpoint_id)?,
                ..Default::default()
            }),
            Target::Collect(_) | Target::Discard => Ok(OperatorSnapshot::default()),
        }
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        match &mut self.target {
            Target::Writer(w) => w.notify_checkpoint_complete(checkpoint_id),
            Target::Collect(_) | Target::Discard => Ok(()),
        }
    }

    fn restore_state(&mut self, snapshots: Vec<OperatorSnapshot>) -> Result<()> {
        match &mut self.target {
            Target::Writer(w) => w.restore(snapshots.into_iter().map(|s| s.operator).collect()),
            Target::Collect(_) | Target::Discard => Ok(()),
        }
    }
}
