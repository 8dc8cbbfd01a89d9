//! The local phase of a two-phase (local-global) aggregation: before the hash
//! exchange, each bundle of rows (a [`mini_batch`](super::mini_batch)) is
//! folded per key into partial accumulators, so the exchange carries one row
//! per key and bundle instead of every row (Flink's `LocalGroupAggregate`).
//!
//! ```text
//!  rows ─▶ LocalGroupAggregate ── key columns + partial ──▶ hash(key) ──▶ GlobalGroupAggregate
//!          (bundle: per key,        (count, accumulators)                (merges partials into
//!           accumulate ±rows)                                             its state, emits changes)
//! ```
//!
//! A partial is the signed number of rows and the accumulators, postcard in a
//! binary column. Rows are accumulated with their sign and never dropped here:
//! a retraction whose group only the global phase knows must reach it. The
//! local phase keeps no state; its bundles end before every checkpoint
//! barrier, so no partial is ever in flight when the job snapshots.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BinaryArray, BinaryBuilder, RecordBatch, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use eddy_core::time::{Clock, MAX_WATERMARK};
use eddy_core::{Result, Timestamp};
use eddy_runtime::output::Emitter;
use eddy_runtime::{Operator, OperatorContext};

use crate::error::{runtime, SqlError, SqlResult};
use crate::exec::accum::Acc;
use crate::exec::aggs::Aggs;
use crate::exec::changelog;
use crate::exec::keys::KeyCodec;
use crate::exec::mini_batch::{rows_by_key, Bundle, MiniBatch};

/// The name of the partial column.
pub const PARTIAL_COLUMN: &str = "__partial";

/// One key's partial aggregate: its signed row count and accumulators.
pub type Partial = (i64, Vec<Acc>);

/// The schema of the local phase's output: the group keys of `input`, then
/// the partial.
pub fn partial_schema(input: &SchemaRef, keys: &[usize]) -> SchemaRef {
    let mut fields: Vec<Field> = keys
        .iter()
        .map(|&k| input.field(k).as_ref().clone())
        .collect();
    fields.push(Field::new(PARTIAL_COLUMN, DataType::Binary, false));
    Arc::new(Schema::new(fields))
}

/// Reads partial `row` of a partial column.
pub fn read_partial(column: &BinaryArray, row: usize) -> SqlResult<Partial> {
    postcard::from_bytes(column.value(row))
        .map_err(|e| SqlError::new(format!("a partial aggregate is corrupt: {e}")))
}

/// See the module docs.
pub struct LocalGroupAggOperator {
    keys: Vec<usize>,
    aggs: Aggs,
    input: SchemaRef,
    schema: SchemaRef,
    codec: Option<KeyCodec>,
    bundle: Bundle,
    clock: Option<Arc<dyn Clock>>,
}

impl LocalGroupAggOperator {
    /// Folds `input` by `keys` in bundles of `settings`.
    pub fn new(input: SchemaRef, keys: Vec<usize>, aggs: Aggs, settings: MiniBatch) -> Self {
        LocalGroupAggOperator {
            schema: partial_schema(&input, &keys),
            keys,
            aggs,
            input,
            codec: None,
            bundle: Bundle::new(settings),
            clock: None,
        }
    }

    /// Emits one partial per key of `rows`.
    fn fold(&self, rows: &RecordBatch, out: &mut Emitter<'_, RecordBatch>) -> Result<()> {
        let keys = match &self.codec {
            Some(codec) => Some(codec.encode(rows).map_err(runtime)?),
            None => None,
        };
        let inputs = self.aggs.inputs(rows);
        let kinds = changelog::kinds(rows);
        let mut firsts = Vec::new();
        let mut partials = BinaryBuilder::new();
        for step in rows_by_key(keys.as_ref(), rows.num_rows()) {
            let (mut count, mut accs) = (0i64, self.aggs.create());
            for &i in &step {
                let sign = if changelog::kind_at(kinds, i).is_addition() {
                    1
                } else {
                    -1
                };
                self.aggs
                    .update(&mut accs, &inputs, i, sign)
                    .map_err(runtime)?;
                count += sign;
            }
            let partial: Partial = (count, accs);
            let bytes = postcard::to_allocvec(&partial)
                .map_err(|e| runtime(format!("cannot encode a partial aggregate: {e}")))?;
            partials.append_value(&bytes);
            firsts.push(step[0] as u32);
        }
        if firsts.is_empty() {
            return Ok(());
        }
        let indices = UInt32Array::from(firsts);
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.keys.len() + 1);
        for &k in &self.keys {
            columns.push(take(rows.column(k).as_ref(), &indices, None).map_err(runtime)?);
        }
        columns.push(Arc::new(partials.finish()));
        let n = indices.len();
        out.collect(changelog::batch(self.schema.clone(), columns, n).map_err(runtime)?)
    }

    fn finish_bundle(&mut self, out: &mut Emitter<'_, RecordBatch>) -> Result<()> {
        match self.bundle.take().map_err(runtime)? {
            Some(rows) => self.fold(&rows, out),
            None => Ok(()),
        }
    }
}

impl Operator for LocalGroupAggOperator {
    type In = RecordBatch;
    type Out = RecordBatch;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        if !self.keys.is_empty() {
            self.codec = Some(KeyCodec::new(&self.input, &self.keys).map_err(runtime)?);
        }
        self.clock = Some(ctx.clock.clone());
        Ok(())
    }

    fn process_batch(
        &mut self,
        batch: RecordBatch,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        let now = self.clock.as_ref().map_or(0, |c| c.now_millis());
        for full in self.bundle.add(batch, now).map_err(runtime)? {
            self.fold(&full, out)?;
        }
        Ok(())
    }

    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        if watermark == MAX_WATERMARK {
            self.finish_bundle(out)?;
        }
        out.emit_watermark(watermark)
    }

    fn next_processing_time(&self) -> Option<Timestamp> {
        self.bundle.due()
    }

    fn on_processing_time(
        &mut self,
        now: Timestamp,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        if self.bundle.due().is_some_and(|due| due <= now) {
            self.finish_bundle(out)?;
        }
        Ok(())
    }

    fn end_input(&mut self, out: &mut Emitter<'_, RecordBatch>) -> Result<()> {
        self.finish_bundle(out)
    }

    fn prepare_snapshot_pre_barrier(
        &mut self,
        _checkpoint_id: u64,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        self.finish_bundle(out)
    }
}

/// The partial column of a batch of the local phase's output.
pub fn partial_column(batch: &RecordBatch) -> SqlResult<&BinaryArray> {
    batch
        .columns()
        .last()
        .and_then(|c| c.as_any().downcast_ref::<BinaryArray>())
        .ok_or_else(|| SqlError::new("a global aggregation got rows without partials"))
}
