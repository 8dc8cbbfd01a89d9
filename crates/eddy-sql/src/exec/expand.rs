//! Expand: every input row once per grouping set, for `GROUPING SETS`, `ROLLUP`
//! and `CUBE` (Flink's `Expand` node).
//!
//! Each grouping set is a projection: the input columns, then the grouping
//! expressions with those outside the set as NULL, then the set's grouping id
//! (DataFusion's `__grouping_id`: a bit per grouping expression, set when the
//! expression is NULLed, plus an ordinal for a repeated set). The rows go out in
//! Flink's order, row by row and for each row set by set, so the aggregation
//! behind sees the changelog order Flink's does.

use arrow::array::RecordBatch;
use arrow::compute::interleave_record_batch;
use eddy_core::Result;
use eddy_runtime::output::Emitter;
use eddy_runtime::Operator;

use crate::error::runtime;
use crate::exec::calc::CalcOperator;

/// Emits every input row once per grouping set.
pub struct ExpandOperator {
    sets: Vec<CalcOperator>,
}

impl ExpandOperator {
    /// An expand over one projection per grouping set, all of the same schema.
    pub fn new(sets: Vec<CalcOperator>) -> Self {
        ExpandOperator { sets }
    }

    /// Every row of `batch` once per set, row-major.
    pub fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let expanded = self
            .sets
            .iter()
            .map(|set| set.apply(batch))
            .collect::<Result<Vec<_>>>()?;
        let rows = batch.num_rows();
        let order: Vec<(usize, usize)> = (0..rows)
            .flat_map(|row| (0..expanded.len()).map(move |set| (set, row)))
            .collect();
        let parts: Vec<&RecordBatch> = expanded.iter().collect();
        interleave_record_batch(&parts, &order).map_err(runtime)
    }
}

impl Operator for ExpandOperator {
    type In = RecordBatch;
    type Out = RecordBatch;

    fn process_batch(
        &mut self,
        batch: RecordBatch,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let expanded = self.apply(&batch)?;
        out.collect(expanded)
    }
}
