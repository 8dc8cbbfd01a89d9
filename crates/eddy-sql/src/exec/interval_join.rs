//! Interval joins: rows of two append-only streams with equal keys whose
//! event times are within bounds of each other (`l.t - r.t` in
//! `[lower, upper]`), as Flink's time-interval join. Also window joins, which
//! are interval joins on `window_end` with bounds `[0, 0]`.
//!
//! Each side keeps its rows per key only while a row of the other side that
//! is not late could still match: a left row until the watermark reaches
//! `l.t - lower`, a right row until it reaches `r.t + upper`. Then the row is
//! dropped, and on an outer side a row that never matched is emitted padded
//! with nulls. The output is append-only and keeps both sides' time
//! attributes.

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
use crate::exec::changelog::{self, conform};
use crate::exec::join::{Codecs, JoinSide};

/// A side's rows of one key: event time, row (Arrow row format), matched yet.
type Rows = Vec<(i64, Vec<u8>, bool)>;

/// An interval join's plan.
#[derive(Clone)]
pub struct IntervalSpec {
    /// The left input.
    pub left: JoinSide,
    /// The right input.
    pub right: JoinSide,
    /// The left time attribute column.
    pub left_time: usize,
    /// The right time attribute column.
    pub right_time: usize,
    /// Smallest `l.t - r.t`, in milliseconds.
    pub lower: i64,
    /// Largest `l.t - r.t`, in milliseconds.
    pub upper: i64,
    /// The rest of the condition, over the left then right columns.
    pub condition: Option<Arc<dyn PhysicalExpr>>,
    /// The joined schema the condition reads.
    pub joined: SchemaRef,
    /// The output schema (append-only).
    pub output: SchemaRef,
    /// A window join (the time columns are `window_end`): a row whose window
    /// has fired (`window_end - 1 <= watermark`) is late and dropped, as in
    /// Flink's window join, without matching or null padding.
    pub window: bool,
    /// NULL keys match each other (`IS NOT DISTINCT FROM`).
    pub nulls_equal: bool,
}

/// Output rows: left and right row bytes, `None` for nulls.
#[derive(Default)]
struct Pairs {
    left: Vec<Option<Vec<u8>>>,
    right: Vec<Option<Vec<u8>>>,
}

/// See the module docs.
pub struct IntervalJoinOperator {
    spec: IntervalSpec,
    codecs: Option<[Codecs; 2]>,
    backend: Option<KeyedStateBackend<Vec<u8>>>,
    states: Option<[ValueState<Rows>; 2]>,
    timers: TimerService<Vec<u8>, ()>,
}

/// The times of a timestamp column in milliseconds (`None` for nulls).
pub(crate) fn millis(array: &ArrayRef) -> Result<Vec<Option<i64>>> {
    let ms = arrow::compute::cast(
        array,
        &arrow::datatypes::DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, None),
    )
    .map_err(runtime)?;
    Ok(ms
        .as_primitive::<arrow::datatypes::TimestampMillisecondType>()
        .iter()
        .collect())
}

/// Until when (watermark) a row of side `s` at time `t` can still match.
fn expiry(lower: i64, upper: i64, s: usize, t: i64) -> i64 {
    if s == 0 {
        t.saturating_sub(lower)
    } else {
        t.saturating_add(upper)
    }
}

impl IntervalJoinOperator {
    /// An interval join.
    pub fn new(spec: IntervalSpec) -> Self {
        IntervalJoinOperator {
            spec,
            codecs: None,
            backend: None,
            states: None,
            timers: TimerService::new(),
        }
    }

    fn side(&self, s: usize) -> &JoinSide {
        if s == 0 {
            &self.spec.left
        } else {
            &self.spec.right
        }
    }

    /// Until when (watermark) a row of side `s` at time `t` is kept.
    fn expiry(&self, s: usize, t: i64) -> i64 {
        expiry(self.spec.lower, self.spec.upper, s, t)
    }

    fn process(
        &mut self,
        s: usize,
        batch: RecordBatch,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        let o = 1 - s;
        let mine = self.side(s).clone();
        let outer = (self.spec.left.outer, self.spec.right.outer);
        let time_column = if s == 0 {
            self.spec.left_time
        } else {
            self.spec.right_time
        };
        let watermark = self.timers.current_watermark();
        let batch = if self.spec.window {
            let ends = millis(batch.column(time_column))?;
            let on_time: arrow::array::BooleanArray = ends
                .iter()
                .map(|end| Some(end.is_some_and(|end| end - 1 > watermark)))
                .collect();
            arrow::compute::filter_record_batch(&batch, &on_time).map_err(runtime)?
        } else {
            batch
        };
        let times = millis(batch.column(time_column))?;
        let expiries: Vec<Option<i64>> =
            times.iter().map(|t| t.map(|t| self.expiry(s, t))).collect();
        let (Some(codecs), Some(backend), Some(states)) = (
            self.codecs.as_ref(),
            self.backend.as_mut(),
            self.states.as_ref(),
        ) else {
            return Err(runtime("interval join used before open"));
        };
        let keys = (!mine.keys.is_empty())
            .then(|| codecs[s].key.encode(&batch))
            .transpose()
            .map_err(runtime)?;
        let key_of = |i: usize| {
            keys.as_ref()
                .map_or(Vec::new(), |k| k.row(i).data().to_vec())
        };
        let rows = codecs[s].row.encode(&batch).map_err(runtime)?;
        let n = batch.num_rows();
        // Candidate pairs: each row with the other side's rows of its key
        // within the bounds.
        let mut starts = Vec::with_capacity(n + 1);
        let mut candidates: Vec<(usize, usize)> = Vec::new();
        let mut others: Vec<Vec<u8>> = Vec::new();
        for (i, time) in times.iter().enumerate() {
            starts.push(candidates.len());
            let Some(t) = *time else { continue };
            if !self.spec.nulls_equal && mine.keys.iter().any(|&k| batch.column(k).is_null(i)) {
                continue;
            }
            backend.set_current_key(key_of(i));
            let spec = &self.spec;
            states[o].with_mut(backend, |stored| {
                for (j, (other_t, row, _)) in stored.iter().enumerate() {
                    let d = if s == 0 { t - other_t } else { other_t - t };
                    if spec.lower <= d && d <= spec.upper {
                        candidates.push((i, j));
                        others.push(row.clone());
                    }
                }
            });
        }
        starts.push(candidates.len());
        let keep: Vec<bool> = match &self.spec.condition {
            None => vec![true; candidates.len()],
            Some(condition) => {
                let mine_rows: Vec<&[u8]> = candidates
                    .iter()
                    .map(|(i, _)| rows.row(*i).data())
                    .collect();
                let mut columns = Vec::new();
                let mine_columns = codecs[s].row.decode(mine_rows).map_err(runtime)?;
                let other_columns = codecs[o]
                    .row
                    .decode(others.iter().map(Vec::as_slice))
                    .map_err(runtime)?;
                if s == 0 {
                    columns.extend(mine_columns);
                    columns.extend(other_columns);
                } else {
                    columns.extend(other_columns);
                    columns.extend(mine_columns);
                }
                let columns = conform(&self.spec.joined, columns).map_err(runtime)?;
                let joined = changelog::batch(self.spec.joined.clone(), columns, candidates.len())
                    .map_err(runtime)?;
                let mask = evaluate(condition, &joined)?;
                let mask = mask.as_boolean();
                (0..mask.len())
                    .map(|k| mask.is_valid(k) && mask.value(k))
                    .collect()
            }
        };
        let mut pairs = Pairs::default();
        let mut push = |mine: Option<&[u8]>, other: Option<&[u8]>| {
            let (l, r) = if s == 0 { (mine, other) } else { (other, mine) };
            pairs.left.push(l.map(<[u8]>::to_vec));
            pairs.right.push(r.map(<[u8]>::to_vec));
        };
        for i in 0..n {
            let Some(t) = times[i] else { continue };
            let row = rows.row(i).data();
            let hits: Vec<usize> = (starts[i]..starts[i + 1]).filter(|&k| keep[k]).collect();
            for &k in &hits {
                push(Some(row), Some(&others[k]));
            }
            if !hits.is_empty() && (if o == 0 { outer.0 } else { outer.1 }) {
                backend.set_current_key(key_of(i));
                states[o].with_mut(backend, |stored| {
                    for &k in &hits {
                        if let Some(entry) = stored.get_mut(candidates[k].1) {
                            entry.2 = true;
                        }
                    }
                });
            }
            let expiry = expiries[i].unwrap_or(t);
            if expiry > watermark {
                backend.set_current_key(key_of(i));
                let mut own = states[s].take(backend).unwrap_or_default();
                own.push((t, row.to_vec(), !hits.is_empty()));
                states[s].update(backend, own);
                self.timers
                    .register_event_time_timer(expiry, &key_of(i), &());
            } else if hits.is_empty() && mine.outer {
                push(Some(row), None);
            }
        }
        self.emit(pairs, out)
    }

    fn emit(&self, pairs: Pairs, out: &mut Emitter<'_, RecordBatch>) -> Result<()> {
        let Some(codecs) = self.codecs.as_ref() else {
            return Ok(());
        };
        let n = pairs.left.len();
        if n == 0 {
            return Ok(());
        }
        let mut columns = Vec::new();
        for (side, rows) in [(0, &pairs.left), (1, &pairs.right)] {
            let null_row = codecs[side].null_row.as_slice();
            columns.extend(
                codecs[side]
                    .row
                    .decode(rows.iter().map(|r| r.as_deref().unwrap_or(null_row)))
                    .map_err(runtime)?,
            );
        }
        let columns = conform(&self.spec.output, columns).map_err(runtime)?;
        out.collect(changelog::batch(self.spec.output.clone(), columns, n).map_err(runtime)?)
    }

    /// Drops the rows the watermark has passed; unmatched outer rows are
    /// emitted padded with nulls.
    fn expire(&mut self, out: &mut Emitter<'_, RecordBatch>) -> Result<()> {
        let watermark = self.timers.current_watermark();
        let (lower, upper) = (self.spec.lower, self.spec.upper);
        let mut pairs = Pairs::default();
        while let Some(timer) = self.timers.pop_event_time() {
            let (Some(backend), Some(states)) = (self.backend.as_mut(), self.states.as_ref())
            else {
                return Ok(());
            };
            backend.set_current_key(timer.key.clone());
            for (s, side) in states.iter().enumerate() {
                let Some(mut rows) = side.take(backend) else {
                    continue;
                };
                let outer = if s == 0 {
                    self.spec.left.outer
                } else {
                    self.spec.right.outer
                };
                rows.retain(|(t, row, matched)| {
                    let expired = expiry(lower, upper, s, *t) <= watermark;
                    if expired && outer && !matched {
                        let (l, r) = if s == 0 {
                            (Some(row.clone()), None)
                        } else {
                            (None, Some(row.clone()))
                        };
                        pairs.left.push(l);
                        pairs.right.push(r);
                    }
                    !expired
                });
                if !rows.is_empty() {
                    side.update(backend, rows);
                }
            }
        }
        self.emit(pairs, out)
    }
}

impl TwoInputOperator for IntervalJoinOperator {
    type In1 = RecordBatch;
    type In2 = RecordBatch;
    type Out = RecordBatch;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let KeyedState {
            mut backend,
            timers,
        } = ctx.keyed_state::<Vec<u8>, ()>()?;
        self.timers = timers;
        self.states = Some([
            backend.value_state(ValueStateDescriptor::new("left-rows"))?,
            backend.value_state(ValueStateDescriptor::new("right-rows"))?,
        ]);
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

    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        self.timers.advance_watermark(watermark);
        self.expire(out)?;
        out.emit_watermark(watermark)
    }

    fn managed_state(&mut self) -> Option<ManagedState<'_>> {
        Some(ManagedState::new(self.backend.as_mut()?).with_timers(&self.timers))
    }
}
