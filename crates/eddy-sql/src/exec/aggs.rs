//! A list of aggregate calls evaluated together over the rows of a group.

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};

use crate::error::SqlResult;
use crate::exec::accum::{Acc, AggSpec};
use crate::exec::val::{self, Val};

/// The aggregate calls of one aggregation.
#[derive(Clone, Debug)]
pub struct Aggs {
    /// The calls, in output order.
    pub specs: Vec<AggSpec>,
}

/// The argument and filter columns of one batch.
pub struct AggInputs {
    args: Vec<Option<ArrayRef>>,
    filters: Vec<Option<ArrayRef>>,
}

impl Aggs {
    /// Fresh accumulators.
    pub fn create(&self) -> Vec<Acc> {
        self.specs.iter().map(AggSpec::create).collect()
    }

    /// `COUNT(*)` alone, for tests.
    #[cfg(test)]
    pub fn count_star() -> Aggs {
        Aggs {
            specs: vec![AggSpec {
                kind: crate::functions::AggKind::Count,
                arg: None,
                filter: None,
                distinct: false,
                input_type: None,
                output_type: arrow::datatypes::DataType::Int64,
                retracting: false,
                lag: None,
                separator: None,
            }],
        }
    }

    /// Pushes fresh accumulators onto `accs`.
    pub fn push_new(&self, accs: &mut Vec<Acc>) {
        accs.extend(self.specs.iter().map(AggSpec::create));
    }

    /// The columns the calls read in `batch`.
    pub fn inputs(&self, batch: &RecordBatch) -> AggInputs {
        AggInputs {
            args: self
                .specs
                .iter()
                .map(|s| s.arg.map(|c| batch.column(c).clone()))
                .collect(),
            filters: self
                .specs
                .iter()
                .map(|s| s.filter.map(|c| batch.column(c).clone()))
                .collect(),
        }
    }

    /// Accumulates (`sign` 1) or retracts (`sign` -1) row `row`.
    pub fn update(
        &self,
        accs: &mut [Acc],
        inputs: &AggInputs,
        row: usize,
        sign: i64,
    ) -> SqlResult<()> {
        for (k, spec) in self.specs.iter().enumerate() {
            if let Some(filter) = &inputs.filters[k] {
                let f = filter.as_boolean();
                if f.is_null(row) || !f.value(row) {
                    continue;
                }
            }
            let value = match &inputs.args[k] {
                Some(array) => val::read(array, row)?,
                None => Val::Bool(true),
            };
            spec.update(&mut accs[k], &value, sign)?;
        }
        Ok(())
    }

    /// Whether partial accumulators of these calls merge into the same result
    /// as accumulating every row, so the aggregation may run in two phases.
    /// Over an updating input, a partial must carry retractions: counts,
    /// sums, averages, retracting MIN/MAX and DISTINCT calls can; the calls
    /// that keep values in arrival order (FIRST_VALUE, LAST_VALUE, LISTAGG,
    /// ARRAY_AGG) only over an append-only input.
    pub fn mergeable(&self, updating: bool) -> bool {
        use crate::functions::AggKind;
        self.specs.iter().all(|spec| match spec.kind {
            _ if spec.distinct => true,
            AggKind::Count
            | AggKind::Sum
            | AggKind::Avg
            | AggKind::Min
            | AggKind::Max
            | AggKind::Collect => true,
            AggKind::FirstValue | AggKind::LastValue | AggKind::ListAgg | AggKind::ArrayAgg => {
                !updating
            }
            AggKind::Lag => false,
        })
    }

    /// Folds the accumulators of later rows into `accs`.
    pub fn merge(&self, accs: &mut [Acc], later: Vec<Acc>) {
        for ((spec, acc), other) in self.specs.iter().zip(accs.iter_mut()).zip(later) {
            spec.merge(acc, other);
        }
    }

    /// The results of the accumulators.
    pub fn results(&self, accs: &[Acc]) -> Vec<Val> {
        self.specs
            .iter()
            .zip(accs)
            .map(|(s, a)| s.result(a))
            .collect()
    }

    /// The results of groups' accumulators, as columns.
    pub fn result_columns(&self, groups: &[&[Acc]]) -> SqlResult<Vec<ArrayRef>> {
        let mut columns = Vec::with_capacity(self.specs.len());
        for (k, spec) in self.specs.iter().enumerate() {
            let values: Vec<Val> = groups.iter().map(|accs| spec.result(&accs[k])).collect();
            columns.push(val::to_array(&values, &spec.output_type)?);
        }
        Ok(columns)
    }

    /// Result rows as columns.
    pub fn columns<R: AsRef<[Val]>>(&self, rows: &[R]) -> SqlResult<Vec<ArrayRef>> {
        let mut columns = Vec::with_capacity(self.specs.len());
        for (k, spec) in self.specs.iter().enumerate() {
            let values: Vec<Val> = rows.iter().map(|r| r.as_ref()[k].clone()).collect();
            columns.push(val::to_array(&values, &spec.output_type)?);
        }
        Ok(columns)
    }
}
