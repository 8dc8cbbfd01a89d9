//! Arrow `RecordBatch` as a [`Batch`]: the batch type of SQL pipelines.

use arrow_array::{RecordBatch, UInt32Array};
use arrow_select::{concat::concat_batches, take::take_record_batch};

use crate::batch::Batch;

impl Batch for RecordBatch {
    fn num_rows(&self) -> usize {
        RecordBatch::num_rows(self)
    }

    fn scatter_into(self, targets: &[u32], outs: &mut [Option<Self>]) {
        if outs.len() == 1 {
            append_to(&mut outs[0], self);
            return;
        }
        let mut indices: Vec<Vec<u32>> = vec![Vec::new(); outs.len()];
        for (row, &target) in targets.iter().enumerate() {
            indices[target as usize].push(row as u32);
        }
        for (slot, rows) in outs.iter_mut().zip(indices) {
            if rows.is_empty() {
                continue;
            }
            let part = if rows.len() == RecordBatch::num_rows(&self) {
                self.clone()
            } else {
                take_record_batch(&self, &UInt32Array::from(rows))
                    .expect("row indices come from this batch and are in range")
            };
            append_to(slot, part);
        }
    }

    fn append(&mut self, other: Self) {
        if RecordBatch::num_rows(self) == 0 {
            *self = other;
            return;
        }
        *self = concat_batches(&self.schema(), [&*self, &other])
            .expect("batches on one channel share one schema");
    }

    fn byte_size_estimate(&self) -> usize {
        // The bytes of these rows: a slice counts its part of a shared buffer,
        // not the whole buffer.
        self.columns()
            .iter()
            .map(|c| {
                c.to_data()
                    .get_slice_memory_size()
                    .unwrap_or_else(|_| c.get_array_memory_size())
            })
            .sum()
    }
}

fn append_to(slot: &mut Option<RecordBatch>, batch: RecordBatch) {
    match slot {
        Some(existing) => existing.append(batch),
        None => *slot = Some(batch),
    }
}
