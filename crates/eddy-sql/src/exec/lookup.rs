//! Lookup joins (`JOIN t FOR SYSTEM_TIME AS OF s.proctime`): each row of the
//! stream is joined with the rows of a bounded table that have its key, as the
//! table is when the job starts. Every subtask reads the whole table into a
//! hash index when it opens (like Flink's filesystem lookup source, without
//! reloading); the stream is not exchanged. An INNER join drops unmatched rows,
//! a LEFT join pads them with nulls; the stream's row kinds pass through.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use arrow::array::{new_null_array, Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::SchemaRef;
use datafusion_physical_expr::PhysicalExpr;
use eddy_core::Result;
use eddy_runtime::output::Emitter;
use eddy_runtime::{Operator, OperatorContext, SourceEvent, SourceReader};

use crate::connectors::sources::SourceFactory;
use crate::error::runtime;
use crate::exec::calc::evaluate;
use crate::exec::changelog::{self, conform};
use crate::exec::keys::KeyCodec;

/// A lookup join's plan.
#[derive(Clone)]
pub struct LookupSpec {
    /// The stream's Arrow schema.
    pub probe: SchemaRef,
    /// How many leading stream columns are output.
    pub width: usize,
    /// The stream's key columns (typed as the table's key columns).
    pub keys: Vec<usize>,
    /// Reads the table.
    pub table: SourceFactory,
    /// The table's Arrow schema.
    pub table_schema: SchemaRef,
    /// The table's key columns.
    pub table_keys: Vec<usize>,
    /// The rest of the join condition, over the joined columns.
    pub condition: Option<Arc<dyn PhysicalExpr>>,
    /// The joined schema the condition reads (no `__op`).
    pub joined: SchemaRef,
    /// Whether unmatched stream rows are kept (LEFT JOIN).
    pub left_outer: bool,
    /// The output schema.
    pub output: SchemaRef,
    /// The table's name, for errors.
    pub name: String,
}

/// See the module docs.
pub struct LookupJoinOperator {
    spec: LookupSpec,
    index: HashMap<Vec<u8>, Vec<Vec<u8>>>,
    keys: Option<KeyCodec>,
    rows: Option<KeyCodec>,
    null_row: Vec<u8>,
}

impl LookupJoinOperator {
    /// A lookup join for `spec`.
    pub fn new(spec: LookupSpec) -> Self {
        LookupJoinOperator {
            spec,
            index: HashMap::new(),
            keys: None,
            rows: None,
            null_row: Vec::new(),
        }
    }

    /// Reads the whole table into the index.
    fn load(&mut self, ctx: &OperatorContext) -> Result<()> {
        let schema = &self.spec.table_schema;
        let all: Vec<usize> = (0..schema.fields().len()).collect();
        let rows = KeyCodec::new(schema, &all).map_err(runtime)?;
        let keys = KeyCodec::new(schema, &self.spec.table_keys).map_err(runtime)?;
        let nulls: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| new_null_array(f.data_type(), 1))
            .collect();
        let null_batch = changelog::batch(schema.clone(), nulls, 1).map_err(runtime)?;
        self.null_row = rows
            .encode(&null_batch)
            .map_err(runtime)?
            .row(0)
            .data()
            .to_vec();
        // One reader for the whole table, whatever this subtask's index.
        let mut whole = ctx.clone();
        whole.subtask = 0;
        whole.parallelism = 1;
        whole.restored = None;
        let mut reader = (self.spec.table)(0);
        reader.open(&whole)?;
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            match reader.poll_next(&mut cx) {
                Poll::Ready(Ok(SourceEvent::Batch(batch))) => {
                    let encoded_keys = keys.encode(&batch).map_err(runtime)?;
                    let encoded = rows.encode(&batch).map_err(runtime)?;
                    for i in 0..batch.num_rows() {
                        if self
                            .spec
                            .table_keys
                            .iter()
                            .any(|&k| batch.column(k).is_null(i))
                        {
                            continue;
                        }
                        self.index
                            .entry(encoded_keys.row(i).data().to_vec())
                            .or_default()
                            .push(encoded.row(i).data().to_vec());
                    }
                }
                Poll::Ready(Ok(SourceEvent::End)) => break,
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => {
                    return Err(runtime(format!(
                        "reading the lookup table {}: {e}",
                        self.spec.name
                    )))
                }
                Poll::Pending => std::thread::sleep(std::time::Duration::from_millis(1)),
            }
        }
        reader.close()?;
        self.rows = Some(rows);
        Ok(())
    }
}

impl Operator for LookupJoinOperator {
    type In = RecordBatch;
    type Out = RecordBatch;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.keys = Some(KeyCodec::new(&self.spec.probe, &self.spec.keys).map_err(runtime)?);
        self.load(ctx)
    }

    fn process_batch(
        &mut self,
        batch: RecordBatch,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        let (Some(keys), Some(rows)) = (self.keys.as_ref(), self.rows.as_ref()) else {
            return Err(runtime("lookup join used before open"));
        };
        let encoded = keys.encode(&batch).map_err(runtime)?;
        let empty: Vec<Vec<u8>> = Vec::new();
        let candidates: Vec<&Vec<Vec<u8>>> = (0..batch.num_rows())
            .map(|i| {
                let null = self.spec.keys.iter().any(|&k| batch.column(k).is_null(i));
                if null {
                    &empty
                } else {
                    self.index.get(encoded.row(i).data()).unwrap_or(&empty)
                }
            })
            .collect();
        // Every (row, table row) pair, then the condition over all of them.
        let (mut probe, mut found): (Vec<u32>, Vec<&[u8]>) = (Vec::new(), Vec::new());
        for (i, list) in candidates.iter().enumerate() {
            for row in list.iter() {
                probe.push(i as u32);
                found.push(row);
            }
        }
        let columns = |probe: &[Option<u32>], found: &[&[u8]]| -> Result<Vec<ArrayRef>> {
            let indices = UInt32Array::from(probe.to_vec());
            let mut columns = batch.columns()[..self.spec.width]
                .iter()
                .map(|c| take(c.as_ref(), &indices, None))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(runtime)?;
            columns.extend(rows.decode(found.iter().copied()).map_err(runtime)?);
            Ok(columns)
        };
        let pairs: Vec<Option<u32>> = probe.iter().map(|&i| Some(i)).collect();
        let keep: Vec<bool> = match &self.spec.condition {
            None => vec![true; pairs.len()],
            Some(condition) => {
                let joined =
                    conform(&self.spec.joined, columns(&pairs, &found)?).map_err(runtime)?;
                let joined = changelog::batch(self.spec.joined.clone(), joined, pairs.len())
                    .map_err(runtime)?;
                let mask = evaluate(condition, &joined)?;
                let mask = mask.as_boolean();
                (0..mask.len())
                    .map(|k| mask.is_valid(k) && mask.value(k))
                    .collect()
            }
        };
        let (mut out_probe, mut out_found) = (Vec::new(), Vec::new());
        let mut k = 0;
        for (i, list) in candidates.iter().enumerate() {
            let mut matched = false;
            for _ in 0..list.len() {
                if keep[k] {
                    out_probe.push(Some(i as u32));
                    out_found.push(found[k]);
                    matched = true;
                }
                k += 1;
            }
            if !matched && self.spec.left_outer {
                out_probe.push(Some(i as u32));
                out_found.push(self.null_row.as_slice());
            }
        }
        if out_probe.is_empty() {
            return Ok(());
        }
        let n = out_probe.len();
        let mut output = columns(&out_probe, &out_found)?;
        if let Some(kinds) = changelog::kinds(&batch) {
            let indices = UInt32Array::from(out_probe);
            output.push(take(kinds, &indices, None).map_err(runtime)?);
        }
        let output = conform(&self.spec.output, output).map_err(runtime)?;
        out.collect(changelog::batch(self.spec.output.clone(), output, n).map_err(runtime)?)
    }
}
