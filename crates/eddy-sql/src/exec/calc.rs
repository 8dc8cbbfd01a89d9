//! Projection and filter: DataFusion's vectorized expressions over each batch.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::SchemaRef;
use datafusion_physical_expr::PhysicalExpr;
use eddy_core::Result;
use eddy_runtime::output::Emitter;
use eddy_runtime::Operator;

use crate::error::runtime;
use crate::exec::changelog::{self, conform};
use crate::exec::failure;

/// Evaluates `expr` over every row of `batch`; an error says which part of the
/// expression failed and why, in SQL terms (see [`crate::exec::failure`]).
pub(crate) fn evaluate(expr: &Arc<dyn PhysicalExpr>, batch: &RecordBatch) -> Result<ArrayRef> {
    expr.evaluate(batch)
        .and_then(|v| v.into_array(batch.num_rows()))
        .map_err(|e| {
            eddy_core::Error::External(Box::new(failure::expression_error(expr, batch, e)))
        })
}

/// Filters rows, then computes the output columns. The row kind column of an
/// updating stream passes through.
pub struct CalcOperator {
    /// The input columns the expressions read (the rest are not filtered).
    input_columns: Option<Vec<usize>>,
    filter: Option<Arc<dyn PhysicalExpr>>,
    projection: Vec<Arc<dyn PhysicalExpr>>,
    schema: SchemaRef,
    updating: bool,
}

impl CalcOperator {
    /// A calc producing `schema` (with `__op` last when `updating`).
    pub fn new(
        filter: Option<Arc<dyn PhysicalExpr>>,
        projection: Vec<Arc<dyn PhysicalExpr>>,
        schema: SchemaRef,
        updating: bool,
    ) -> Self {
        CalcOperator {
            input_columns: None,
            filter,
            projection,
            schema,
            updating,
        }
    }

    /// Reads only these input columns (the expressions are planned over
    /// them, in this order); `__op` is kept when the stream updates.
    pub fn reading(mut self, columns: Vec<usize>) -> Self {
        self.input_columns = Some(columns);
        self
    }

    /// Evaluates the calc over one batch.
    pub fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let narrowed;
        let batch = match &self.input_columns {
            Some(columns) => {
                let mut columns = columns.clone();
                if changelog::kinds(batch).is_some() {
                    columns.push(batch.num_columns() - 1);
                }
                narrowed = batch.project(&columns).map_err(runtime)?;
                &narrowed
            }
            None => batch,
        };
        let input = batch;
        let (batch, mask) = match &self.filter {
            Some(filter) => {
                let mask = evaluate(filter, input)?;
                let filtered = filter_record_batch(input, mask.as_boolean()).map_err(runtime)?;
                (filtered, Some(mask))
            }
            None => (input.clone(), None),
        };
        let rows = batch.num_rows();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.projection.len() + 1);
        for expr in &self.projection {
            let column = evaluate(expr, &batch).map_err(|e| match &mask {
                // A row of the filtered batch is the n-th row the filter kept.
                Some(mask) => failure::with_input_origin(e, input, |n| {
                    let kept = mask.as_boolean();
                    (0..kept.len())
                        .filter(|&i| kept.value(i) && kept.is_valid(i))
                        .nth(n)
                }),
                None => failure::with_input_origin(e, input, Some),
            })?;
            columns.push(column);
        }
        if self.updating {
            if let Some(kinds) = changelog::kinds(&batch) {
                columns.push(Arc::new(kinds.clone()));
            }
        }
        let columns = conform(&self.schema, columns).map_err(runtime)?;
        changelog::batch(self.schema.clone(), columns, rows).map_err(runtime)
    }
}

impl Operator for CalcOperator {
    type In = RecordBatch;
    type Out = RecordBatch;

    fn process_batch(
        &mut self,
        batch: RecordBatch,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        let result = self.apply(&batch)?;
        out.collect(result)
    }
}
