//! Event-time temporal joins (`JOIN versioned FOR SYSTEM_TIME AS OF l.rowtime`),
//! as Flink's `TemporalRowTimeJoinOperator`: each row of the append-only left
//! stream is joined with the version of the right table's row of its key that
//! was valid at the left row's event time, the last version whose own event
//! time is not later, unless that version is a deletion.
//!
//! The right side is a versioned table: a changelog with a primary key (part
//! of the join key) and an event-time attribute. Both sides wait in state per
//! key. A left row is joined when the watermark reaches its time (every version
//! that can still precede it has then arrived); a LEFT join pads it with nulls
//! when no version is valid then. Versions older than the last one at or below
//! the watermark can no longer be chosen and are dropped. The output is
//! append-only and keeps the left side's time attribute.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::SchemaRef;
use datafusion_physical_expr::PhysicalExpr;
use eddy_core::{Result, Timestamp};
use eddy_runtime::output::Emitter;
use eddy_runtime::{KeyedState, ManagedState};
use eddy_runtime::{OperatorContext, TimerService, TwoInputOperator};
use eddy_state::{KeyedStateBackend, ValueState, ValueStateDescriptor};

use crate::error::runtime;
use crate::exec::calc::evaluate;
use crate::exec::changelog::{self, conform, RowKind};
use crate::exec::interval_join::millis;
use crate::exec::join::{Codecs, JoinSide};

/// Left rows of a key waiting for the watermark: event time, row.
type Probes = Vec<(i64, Vec<u8>)>;
/// Versions of a key's right row, by event time: the row, or `None` once deleted.
type Versions = Vec<(i64, Option<Vec<u8>>)>;

/// An event-time temporal join's plan.
#[derive(Clone)]
pub struct TemporalSpec {
    /// The left (probe) input, append-only.
    pub left: JoinSide,
    /// The right input: the versioned table's changelog.
    pub right: JoinSide,
    /// The left time attribute column.
    pub left_time: usize,
    /// The right time attribute column.
    pub right_time: usize,
    /// The rest of the condition, over the left then right columns.
    pub condition: Option<Arc<dyn PhysicalExpr>>,
    /// The joined schema the condition reads.
    pub joined: SchemaRef,
    /// The output schema (append-only).
    pub output: SchemaRef,
}

/// See the module docs.
pub struct TemporalJoinOperator {
    spec: TemporalSpec,
    codecs: Option<[Codecs; 2]>,
    backend: Option<KeyedStateBackend<Vec<u8>>>,
    probes: Option<ValueState<Probes>>,
    versions: Option<ValueState<Versions>>,
    timers: TimerService<Vec<u8>, ()>,
}

/// The version valid at `time`: the last one not later than it.
fn valid_at(versions: &Versions, time: i64) -> Option<&[u8]> {
    let after = versions.partition_point(|(t, _)| *t <= time);
    versions[..after].last().and_then(|(_, row)| row.as_deref())
}

impl TemporalJoinOperator {
    /// An event-time temporal join.
    pub fn new(spec: TemporalSpec) -> Self {
        TemporalJoinOperator {
            spec,
            codecs: None,
            backend: None,
            probes: None,
            versions: None,
            timers: TimerService::new(),
        }
    }

    /// Buffers rows of side `s` under their keys, with a timer at their time.
    fn buffer(&mut self, s: usize, batch: RecordBatch) -> Result<()> {
        let (Some(codecs), Some(backend), Some(probes), Some(versions)) = (
            self.codecs.as_ref(),
            self.backend.as_mut(),
            self.probes.as_ref(),
            self.versions.as_ref(),
        ) else {
            return Err(runtime("temporal join used before open"));
        };
        let (side, time_column) = if s == 0 {
            (&self.spec.left, self.spec.left_time)
        } else {
            (&self.spec.right, self.spec.right_time)
        };
        let times = millis(batch.column(time_column))?;
        let keys = codecs[s].key.encode(&batch).map_err(runtime)?;
        let rows = codecs[s].row.encode(&batch).map_err(runtime)?;
        let kinds = changelog::kinds(&batch);
        for (i, time) in times.iter().enumerate() {
            let Some(t) = *time else {
                return Err(runtime(
                    "RowTime field should not be null, please convert it to a non-null long value.",
                ));
            };
            let null_key = side.keys.iter().any(|&k| batch.column(k).is_null(i));
            let key = keys.row(i).data().to_vec();
            if s == 0 {
                // A NULL key matches nothing: an inner join drops the row, a
                // left join still pads it (under its key, as any other).
                if null_key && !self.spec.left.outer {
                    continue;
                }
                backend.set_current_key(key.clone());
                let mut waiting = probes.take(backend).unwrap_or_default();
                waiting.push((t, rows.row(i).data().to_vec()));
                probes.update(backend, waiting);
            } else {
                let row = match changelog::kind_at(kinds, i) {
                    RowKind::UpdateBefore => continue,
                    RowKind::Delete => None,
                    RowKind::Insert | RowKind::UpdateAfter => Some(rows.row(i).data().to_vec()),
                };
                if null_key {
                    continue;
                }
                backend.set_current_key(key.clone());
                let mut history = versions.take(backend).unwrap_or_default();
                let at = history.partition_point(|(vt, _)| *vt <= t);
                history.insert(at, (t, row));
                versions.update(backend, history);
            }
            self.timers.register_event_time_timer(t, &key, &());
        }
        Ok(())
    }

    /// Joins the left rows the watermark has reached, per key whose timer fired,
    /// and drops the versions no later row can choose.
    fn fire(&mut self, out: &mut Emitter<'_, RecordBatch>) -> Result<()> {
        let watermark = self.timers.current_watermark();
        let mut keys = BTreeSet::new();
        while let Some(timer) = self.timers.pop_event_time() {
            keys.insert(timer.key);
        }
        let (Some(backend), Some(probes), Some(versions)) = (
            self.backend.as_mut(),
            self.probes.as_ref(),
            self.versions.as_ref(),
        ) else {
            return Ok(());
        };
        // (left row, right row or None for padding)
        let mut pairs: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        for key in keys {
            backend.set_current_key(key);
            let mut waiting = probes.take(backend).unwrap_or_default();
            let mut history = versions.take(backend).unwrap_or_default();
            waiting.sort_by_key(|(t, _)| *t);
            let due = waiting.partition_point(|(t, _)| *t <= watermark);
            for (t, row) in waiting.drain(..due) {
                let version = valid_at(&history, t).map(<[u8]>::to_vec);
                if version.is_some() || self.spec.left.outer {
                    pairs.push((row, version));
                }
            }
            // Keep the last version at or below the watermark (later rows may
            // still choose it) unless it is a deletion, and every later one.
            let settled = history.partition_point(|(t, _)| *t <= watermark);
            let keep_from = match settled.checked_sub(1) {
                Some(last) if history[last].1.is_some() => last,
                Some(last) => last + 1,
                None => 0,
            };
            history.drain(..keep_from);
            if !waiting.is_empty() {
                probes.update(backend, waiting);
            }
            if !history.is_empty() {
                versions.update(backend, history);
            }
        }
        self.emit(pairs, out)
    }

    /// The joined rows that pass the condition (LEFT: padded when none does).
    fn emit(
        &self,
        pairs: Vec<(Vec<u8>, Option<Vec<u8>>)>,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        let Some(codecs) = self.codecs.as_ref() else {
            return Ok(());
        };
        if pairs.is_empty() {
            return Ok(());
        }
        let decode = |rights: &[Option<&[u8]>], lefts: &[&[u8]]| -> Result<Vec<ArrayRef>> {
            let mut columns = codecs[0]
                .row
                .decode(lefts.iter().copied())
                .map_err(runtime)?;
            columns.extend(
                codecs[1]
                    .row
                    .decode(rights.iter().map(|r| r.unwrap_or(&codecs[1].null_row)))
                    .map_err(runtime)?,
            );
            Ok(columns)
        };
        let lefts: Vec<&[u8]> = pairs.iter().map(|(l, _)| l.as_slice()).collect();
        let mut rights: Vec<Option<&[u8]>> = pairs.iter().map(|(_, r)| r.as_deref()).collect();
        if let Some(condition) = &self.spec.condition {
            let columns = conform(&self.spec.joined, decode(&rights, &lefts)?).map_err(runtime)?;
            let joined = changelog::batch(self.spec.joined.clone(), columns, pairs.len())
                .map_err(runtime)?;
            let mask = evaluate(condition, &joined)?;
            let mask = mask.as_boolean();
            for (k, right) in rights.iter_mut().enumerate() {
                if right.is_some() && !(mask.is_valid(k) && mask.value(k)) {
                    // The version fails the condition: no match for this row.
                    *right = None;
                }
            }
        }
        let keep: Vec<usize> = (0..pairs.len())
            .filter(|&k| rights[k].is_some() || self.spec.left.outer)
            .collect();
        if keep.is_empty() {
            return Ok(());
        }
        let lefts: Vec<&[u8]> = keep.iter().map(|&k| lefts[k]).collect();
        let rights: Vec<Option<&[u8]>> = keep.iter().map(|&k| rights[k]).collect();
        let columns = conform(&self.spec.output, decode(&rights, &lefts)?).map_err(runtime)?;
        out.collect(
            changelog::batch(self.spec.output.clone(), columns, keep.len()).map_err(runtime)?,
        )
    }
}

impl TwoInputOperator for TemporalJoinOperator {
    type In1 = RecordBatch;
    type In2 = RecordBatch;
    type Out = RecordBatch;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let KeyedState {
            mut backend,
            timers,
        } = ctx.keyed_state::<Vec<u8>, ()>()?;
        self.timers = timers;
        self.probes = Some(backend.value_state(ValueStateDescriptor::new("left-rows"))?);
        self.versions = Some(backend.value_state(ValueStateDescriptor::new("right-versions"))?);
        self.backend = Some(backend);
        self.codecs = Some([
            Codecs::new(&self.spec.left).map_err(runtime)?,
            Codecs::new(&self.spec.right).map_err(runtime)?,
        ]);
        Ok(())
    }

    fn process_batch1(
        &mut self,
        batch: RecordBatch,
        _: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        self.buffer(0, batch)
    }

    fn process_batch2(
        &mut self,
        batch: RecordBatch,
        _: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        self.buffer(1, batch)
    }

    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        self.timers.advance_watermark(watermark);
        self.fire(out)?;
        out.emit_watermark(watermark)
    }

    fn managed_state(&mut self) -> Option<ManagedState<'_>> {
        Some(ManagedState::new(self.backend.as_mut()?).with_timers(&self.timers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_valid_at_a_time_is_the_last_not_later() {
        let versions: Versions = vec![
            (10, Some(b"a".to_vec())),
            (20, Some(b"b".to_vec())),
            (30, None),
            (40, Some(b"d".to_vec())),
        ];
        assert_eq!(valid_at(&versions, 5), None);
        assert_eq!(valid_at(&versions, 10), Some(&b"a"[..]));
        assert_eq!(valid_at(&versions, 29), Some(&b"b"[..]));
        assert_eq!(valid_at(&versions, 35), None, "deleted");
        assert_eq!(valid_at(&versions, 99), Some(&b"d"[..]));
    }
}
