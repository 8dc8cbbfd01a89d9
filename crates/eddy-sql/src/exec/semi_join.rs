//! Semi and anti joins: `WHERE [NOT] EXISTS (...)` and `WHERE x [NOT] IN
//! (SELECT ...)` over unbounded streams, as Flink's streaming semi/anti join
//! runs them.
//!
//! Both sides keep their rows per key; each left row keeps how many right rows
//! match it. A semi join emits a left row while it has at least one match: when
//! it arrives matched, or when its first match arrives (`+I`), and retracts it
//! when its last match goes (`-D`). An anti join does the opposite: a left row
//! is out while it has no match. Only left columns are output.

use arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::take;
use eddy_core::Result;
use eddy_runtime::output::Emitter;
use eddy_runtime::ManagedState;
use eddy_runtime::{OperatorContext, TwoInputOperator};

use crate::error::runtime;
use crate::exec::changelog::{self, conform, RowKind};
use crate::exec::join::{JoinSpec, Prepared, Sides};

/// See the module docs.
pub struct SemiJoinOperator {
    spec: JoinSpec,
    /// Anti join (`NOT EXISTS`, `NOT IN`) rather than semi join.
    anti: bool,
    /// `NOT IN`'s three-valued logic: an unknown comparison counts as a match.
    null_aware: bool,
    sides: Option<Sides>,
}

/// The output rows of a batch: rows of the batch (left batches) or encoded left
/// rows (right batches), with their kinds.
#[derive(Default)]
struct Out {
    kinds: Vec<RowKind>,
    rows: Vec<u32>,
    encoded: Vec<Vec<u8>>,
}

impl SemiJoinOperator {
    /// A semi join, or an anti join with `anti`. `spec.output` holds the left
    /// columns (and `__op` when the join updates).
    pub fn new(spec: JoinSpec, anti: bool) -> Self {
        SemiJoinOperator {
            spec,
            anti,
            null_aware: false,
            sides: None,
        }
    }

    /// With `null_aware`, a comparison that is NULL excludes a row from an anti
    /// join as a match does (`x NOT IN (...)` with a NULL on either side).
    pub fn null_aware(mut self, null_aware: bool) -> Self {
        self.null_aware = null_aware;
        self
    }

    fn process(
        &mut self,
        s: usize,
        batch: RecordBatch,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        let o = 1 - s;
        let Some(sides) = self.sides.as_mut() else {
            return Err(runtime("join used before open"));
        };
        let prepared = sides.prepare(&self.spec, s, &batch, self.null_aware)?;
        let Sides {
            codecs,
            backend,
            states,
        } = sides;
        let Prepared {
            rows,
            null_key,
            matched,
            ..
        } = &prepared;
        let key_of = |i: usize| prepared.key(i);
        let kinds = changelog::kinds(&batch);
        let n = batch.num_rows();
        let anti = self.anti;
        let emitted = |matches: u32| (matches > 0) != anti;
        let mut result = Out::default();
        for i in 0..n {
            let kind = changelog::kind_at(kinds, i);
            let adding = kind.is_addition();
            let row = rows.row(i).data();
            backend.set_current_key(key_of(i));
            // Counts this row's matches; a right row moves the left rows' counts.
            let hits = if null_key[i] {
                0
            } else {
                states[o]
                    .with_mut(backend, |other| {
                        let mut hits = 0;
                        for (j, (other_row, count)) in other.iter_mut().enumerate() {
                            if let Some((starts, flags)) = &matched {
                                if !flags.get(starts[i] + j).copied().unwrap_or(false) {
                                    continue;
                                }
                            }
                            hits += 1;
                            if s == 1 {
                                let before = emitted(*count);
                                *count = if adding {
                                    *count + 1
                                } else {
                                    count.saturating_sub(1)
                                };
                                let after = emitted(*count);
                                if before != after {
                                    let kind = if after {
                                        RowKind::Insert
                                    } else {
                                        RowKind::Delete
                                    };
                                    result.kinds.push(kind);
                                    result.encoded.push(other_row.clone());
                                }
                            }
                        }
                        hits
                    })
                    .unwrap_or(0)
            };
            if s == 0 && emitted(hits) {
                result.kinds.push(if adding {
                    RowKind::Insert
                } else {
                    RowKind::Delete
                });
                result.rows.push(i as u32);
            }
            let mut own = states[s].take(backend).unwrap_or_default();
            if adding {
                own.push((row.to_vec(), hits));
            } else if let Some(at) = own.iter().position(|(r, _)| r.as_slice() == row) {
                own.remove(at);
            }
            if !own.is_empty() {
                states[s].update(backend, own);
            }
        }
        if result.kinds.is_empty() {
            return Ok(());
        }
        let width = self.spec.left.width;
        let mut columns: Vec<ArrayRef> = if s == 0 {
            let indices = UInt32Array::from(result.rows);
            batch.columns()[..width]
                .iter()
                .map(|c| take(c.as_ref(), &indices, None))
                .collect::<std::result::Result<_, _>>()
                .map_err(runtime)?
        } else {
            codecs[0]
                .row
                .decode(result.encoded.iter().map(Vec::as_slice))
                .map_err(runtime)?
        };
        let count = result.kinds.len();
        if self.spec.output.fields().len() > columns.len() {
            columns.push(changelog::kind_column(&result.kinds));
        }
        let columns = conform(&self.spec.output, columns).map_err(runtime)?;
        out.collect(changelog::batch(self.spec.output.clone(), columns, count).map_err(runtime)?)
    }
}

impl TwoInputOperator for SemiJoinOperator {
    type In1 = RecordBatch;
    type In2 = RecordBatch;
    type Out = RecordBatch;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.sides = Some(Sides::open(ctx, &self.spec)?);
        Ok(())
    }

    fn process_batch1(
        &mut self,
        batch: RecordBatch,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        self.process(0, batch, out)
    }

    fn process_batch2(
        &mut self,
        batch: RecordBatch,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        self.process(1, batch, out)
    }

    fn managed_state(&mut self) -> Option<ManagedState<'_>> {
        Some(ManagedState::new(&mut self.sides.as_mut()?.backend))
    }
}
