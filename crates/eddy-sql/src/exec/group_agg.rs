//! Unbounded GROUP BY aggregation: a changelog of each group's result.
//!
//! Without mini-batches, rows are processed one by one, as Flink does: the
//! first row of a group emits `+I`, a change emits `-U` (old) and `+U` (new),
//! an unchanged result emits nothing, and a group whose rows are all retracted
//! emits `-D`. With `table.exec.mini-batch.enabled`, rows are buffered into
//! bundles ([`mini_batch`](super::mini_batch)) and each key of a bundle is one
//! step: its state is read once, all its rows of the bundle are applied in
//! order, and the difference between its result before and after the bundle
//! is emitted the same way (Flink's `MiniBatchGroupAggFunction`). Keys are
//! emitted in the order of their first row in the bundle. State per group:
//! the row count and the accumulators.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::SchemaRef;
use eddy_core::time::Clock;
use eddy_core::time::MAX_WATERMARK;
use eddy_core::{Result, Timestamp};
use eddy_runtime::output::Emitter;
use eddy_runtime::{KeyedState, ManagedState};
use eddy_runtime::{Operator, OperatorContext};
use eddy_state::{KeyedStateBackend, ValueState};

use crate::error::runtime;
use crate::exec::accum::Acc;
use crate::exec::aggs::Aggs;
use crate::exec::changelog::{self, conform, RowKind};
use crate::exec::keys::KeyCodec;
use crate::exec::local_agg::{partial_column, read_partial};
use crate::exec::mini_batch::{rows_by_key, Bundle, MiniBatch};

/// One group's state.
type GroupState = (i64, Vec<Acc>);

/// See the module docs.
pub struct GroupAggOperator {
    keys: Vec<usize>,
    aggs: Aggs,
    input: SchemaRef,
    schema: SchemaRef,
    ttl_ms: Option<u64>,
    codec: Option<KeyCodec>,
    backend: Option<KeyedStateBackend<Vec<u8>>>,
    state: Option<ValueState<GroupState>>,
    /// The rows waiting for their bundle, with mini-batches.
    bundle: Option<Bundle>,
    /// The input rows are partial aggregates of a local phase, merged into
    /// the state instead of accumulated (the global phase).
    merging: bool,
    clock: Option<Arc<dyn Clock>>,
}

impl GroupAggOperator {
    /// Groups `input` by `keys`; the output is the key columns, then the aggregates.
    pub fn new(
        input: SchemaRef,
        keys: Vec<usize>,
        aggs: Aggs,
        schema: SchemaRef,
        ttl_ms: Option<u64>,
    ) -> Self {
        GroupAggOperator {
            keys,
            aggs,
            input,
            schema,
            ttl_ms,
            codec: None,
            backend: None,
            state: None,
            bundle: None,
            merging: false,
            clock: None,
        }
    }

    /// The global phase of a two-phase aggregation: the input is the
    /// [`local_agg`](super::local_agg) phase's keys and partials, keyed by
    /// its first columns.
    pub fn merging_partials(mut self) -> Self {
        self.merging = true;
        self
    }

    /// Processes rows in bundles (`table.exec.mini-batch.*`).
    pub fn mini_batch(mut self, settings: Option<MiniBatch>) -> Self {
        self.bundle = settings.map(Bundle::new);
        self
    }

    /// Applies the rows of `batch` to their groups and emits the changes:
    /// each row a step of its own, or, for a bundle, each key one step.
    fn apply(
        &mut self,
        batch: &RecordBatch,
        bundled: bool,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        let (Some(backend), Some(state)) = (self.backend.as_mut(), self.state.as_ref()) else {
            return Err(runtime("group aggregation used before open"));
        };
        let keys = match &self.codec {
            Some(codec) => Some(codec.encode(batch).map_err(runtime)?),
            None => None,
        };
        let key = |i: usize| -> &[u8] { keys.as_ref().map_or(&[], |k| k.row(i).data()) };
        let steps: Vec<Vec<usize>> = if bundled {
            rows_by_key(keys.as_ref(), batch.num_rows())
        } else {
            (0..batch.num_rows()).map(|i| vec![i]).collect()
        };
        let partials = match self.merging {
            true => Some(partial_column(batch).map_err(runtime)?),
            false => None,
        };
        let inputs = (!self.merging).then(|| self.aggs.inputs(batch));
        let kinds = changelog::kinds(batch);
        let (mut rows, mut out_kinds, mut results) = (Vec::new(), Vec::new(), Vec::new());
        let keep_unchanged = self.ttl_ms.is_some();
        for step in steps {
            let first = step[0];
            backend.set_current_key(key(first).to_vec());
            let previous = state.take(backend);
            let old = previous.as_ref().map(|(_, accs)| self.aggs.results(accs));
            let (mut count, mut accs) = previous.unwrap_or_else(|| (0, self.aggs.create()));
            for i in step {
                if let Some(partials) = partials {
                    let (rows, later) = read_partial(partials, i).map_err(runtime)?;
                    count += rows;
                    self.aggs.merge(&mut accs, later);
                    continue;
                }
                let sign = if changelog::kind_at(kinds, i).is_addition() {
                    1
                } else {
                    -1
                };
                if count <= 0 && sign < 0 {
                    continue; // retraction of a group eddy no longer (or never) had
                }
                if let Some(inputs) = &inputs {
                    self.aggs
                        .update(&mut accs, inputs, i, sign)
                        .map_err(runtime)?;
                }
                count += sign;
                if count <= 0 {
                    // Every row retracted: the group starts afresh.
                    (count, accs) = (0, self.aggs.create());
                }
            }
            let row = first as u32;
            if count <= 0 {
                if let Some(old) = old {
                    rows.push(row);
                    out_kinds.push(RowKind::Delete);
                    results.push(old);
                }
                continue;
            }
            let new = self.aggs.results(&accs);
            state.update(backend, (count, accs));
            match old {
                None => {
                    rows.push(row);
                    out_kinds.push(RowKind::Insert);
                    results.push(new);
                }
                Some(old) if old != new || keep_unchanged => {
                    rows.extend([row, row]);
                    out_kinds.extend([RowKind::UpdateBefore, RowKind::UpdateAfter]);
                    results.push(old);
                    results.push(new);
                }
                Some(_) => {}
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        let indices = UInt32Array::from(rows);
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for &k in &self.keys {
            columns.push(take(batch.column(k).as_ref(), &indices, None).map_err(runtime)?);
        }
        columns.extend(self.aggs.columns(&results).map_err(runtime)?);
        columns.push(changelog::kind_column(&out_kinds));
        let columns = conform(&self.schema, columns).map_err(runtime)?;
        let n = indices.len();
        out.collect(changelog::batch(self.schema.clone(), columns, n).map_err(runtime)?)
    }

    /// Processes the buffered rows, if any.
    fn finish_bundle(&mut self, out: &mut Emitter<'_, RecordBatch>) -> Result<()> {
        let Some(bundle) = self.bundle.as_mut() else {
            return Ok(());
        };
        match bundle.take().map_err(runtime)? {
            Some(rows) => self.apply(&rows, true, out),
            None => Ok(()),
        }
    }
}

impl Operator for GroupAggOperator {
    type In = RecordBatch;
    type Out = RecordBatch;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let KeyedState { mut backend, .. } = ctx.keyed_state::<Vec<u8>, ()>()?;
        self.state = Some(backend.value_state(super::value_state("group-aggs", self.ttl_ms))?);
        self.backend = Some(backend);
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
        let Some(bundle) = self.bundle.as_mut() else {
            return self.apply(&batch, false, out);
        };
        let now = self.clock.as_ref().map_or(0, |c| c.now_millis());
        for full in bundle.add(batch, now).map_err(runtime)? {
            self.apply(&full, true, out)?;
        }
        Ok(())
    }

    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        // Event time does not end a bundle (Flink's processing-time mini-batch
        // assigner drops the input's watermarks; an aggregation's changelog
        // has no time attribute), except at the end of the input.
        if watermark == MAX_WATERMARK {
            self.finish_bundle(out)?;
        }
        out.emit_watermark(watermark)
    }

    fn next_processing_time(&self) -> Option<Timestamp> {
        self.bundle.as_ref()?.due()
    }

    fn on_processing_time(
        &mut self,
        now: Timestamp,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        if self.next_processing_time().is_some_and(|due| due <= now) {
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

    fn managed_state(&mut self) -> Option<ManagedState<'_>> {
        Some(ManagedState::new(self.backend.as_mut()?))
    }
}
