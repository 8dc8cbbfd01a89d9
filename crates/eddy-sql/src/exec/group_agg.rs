//! Unbounded GROUP BY aggregation: a changelog of each group's result.
//!
//! Rows are processed one by one, as Flink does without mini-batches: the first
//! row of a group emits `+I`, a change emits `-U` (old) and `+U` (new), an
//! unchanged result emits nothing, and a group whose rows are all retracted
//! emits `-D`. State per group: the row count and the accumulators.

use arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::SchemaRef;
use eddy_core::Result;
use eddy_runtime::output::Emitter;
use eddy_runtime::{KeyedState, ManagedState};
use eddy_runtime::{Operator, OperatorContext};
use eddy_state::{KeyedStateBackend, StateTtlConfig, ValueState, ValueStateDescriptor};

use crate::error::runtime;
use crate::exec::accum::Acc;
use crate::exec::aggs::Aggs;
use crate::exec::changelog::{self, conform, RowKind};
use crate::exec::keys::KeyCodec;

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
        }
    }
}

impl Operator for GroupAggOperator {
    type In = RecordBatch;
    type Out = RecordBatch;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let KeyedState { mut backend, .. } = ctx.keyed_state::<Vec<u8>, ()>()?;
        let mut descriptor = ValueStateDescriptor::new("group-aggs");
        if let Some(ttl) = self.ttl_ms {
            descriptor =
                descriptor.with_ttl(StateTtlConfig::new(std::time::Duration::from_millis(ttl)));
        }
        self.state = Some(backend.value_state(descriptor)?);
        self.backend = Some(backend);
        if !self.keys.is_empty() {
            self.codec = Some(KeyCodec::new(&self.input, &self.keys).map_err(runtime)?);
        }
        Ok(())
    }

    fn process_batch(
        &mut self,
        batch: RecordBatch,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        let (Some(backend), Some(state)) = (self.backend.as_mut(), self.state.as_ref()) else {
            return Err(runtime("group aggregation used before open"));
        };
        let keys = match &self.codec {
            Some(codec) => Some(codec.encode(&batch).map_err(runtime)?),
            None => None,
        };
        let inputs = self.aggs.inputs(&batch);
        let kinds = changelog::kinds(&batch);
        let (mut rows, mut out_kinds, mut results) = (Vec::new(), Vec::new(), Vec::new());
        let keep_unchanged = self.ttl_ms.is_some();
        for i in 0..batch.num_rows() {
            let key: &[u8] = keys.as_ref().map_or(&[], |k| k.row(i).data());
            let kind = changelog::kind_at(kinds, i);
            let sign = if kind.is_addition() { 1 } else { -1 };
            backend.set_current_key(key.to_vec());
            let previous = state.take(backend);
            if previous.is_none() && sign < 0 {
                continue; // retraction of a group eddy no longer (or never) had
            }
            let first = previous.is_none();
            let (mut count, mut accs) = previous.unwrap_or_else(|| (0, self.aggs.create()));
            let old = (!first).then(|| self.aggs.results(&accs));
            self.aggs
                .update(&mut accs, &inputs, i, sign)
                .map_err(runtime)?;
            count += sign;
            if count <= 0 {
                if let Some(old) = old {
                    rows.push(i as u32);
                    out_kinds.push(RowKind::Delete);
                    results.push(old);
                }
                continue;
            }
            let new = self.aggs.results(&accs);
            state.update(backend, (count, accs));
            match old {
                None => {
                    rows.push(i as u32);
                    out_kinds.push(RowKind::Insert);
                    results.push(new);
                }
                Some(old) if old != new || keep_unchanged => {
                    rows.extend([i as u32, i as u32]);
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

    fn managed_state(&mut self) -> Option<ManagedState<'_>> {
        Some(ManagedState::new(self.backend.as_mut()?))
    }
}
