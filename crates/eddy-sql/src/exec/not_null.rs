//! The NOT NULL columns of a sink table, enforced as Flink does
//! (`table.exec.sink.not-null-enforcer`): a null fails the job (`ERROR`), or
//! its row is dropped (`DROP`).

use arrow::array::{Array, BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use eddy_core::Result;
use eddy_runtime::output::Emitter;
use eddy_runtime::Operator;

use crate::error::runtime;

/// See the module docs.
pub struct NotNullEnforcer {
    columns: Vec<(usize, String)>,
    drop: bool,
}

impl NotNullEnforcer {
    /// Checks `columns` (index, name); `drop` drops offending rows instead of
    /// failing.
    pub fn new(columns: Vec<(usize, String)>, drop: bool) -> Self {
        NotNullEnforcer { columns, drop }
    }
}

impl Operator for NotNullEnforcer {
    type In = RecordBatch;
    type Out = RecordBatch;

    fn process_batch(
        &mut self,
        batch: RecordBatch,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        let offending: Vec<&(usize, String)> = self
            .columns
            .iter()
            .filter(|(c, _)| batch.column(*c).null_count() > 0)
            .collect();
        let Some((_, name)) = offending.first() else {
            return out.collect(batch);
        };
        if !self.drop {
            return Err(runtime(format!(
                "Column '{name}' is NOT NULL, however, a null value is being written into it. You can set job configuration 'table.exec.sink.not-null-enforcer'='DROP' to suppress this exception and drop such records silently."
            )));
        }
        let keep = BooleanArray::from_iter(
            (0..batch.num_rows())
                .map(|i| Some(offending.iter().all(|(c, _)| batch.column(*c).is_valid(i)))),
        );
        out.collect(filter_record_batch(&batch, &keep).map_err(runtime)?)
    }
}
