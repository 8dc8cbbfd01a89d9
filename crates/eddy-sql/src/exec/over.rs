//! OVER aggregation: `agg(...) OVER (PARTITION BY ... ORDER BY rowtime
//! ROWS|RANGE BETWEEN ... PRECEDING AND CURRENT ROW)`, as Flink runs it.
//!
//! Rows wait in keyed state until the watermark passes their time, then are
//! processed in time order (arrival order among equal times). Each row is
//! emitted with the aggregates over its frame: the preceding `n` rows and
//! itself (ROWS), or the rows within the interval before its time and all rows
//! of its time (RANGE; rows of equal time are peers and get the same values).
//! Unbounded frames keep running accumulators; bounded ones keep the rows of
//! the frame and fold them per output row. The output is append-only.
//!
//! Late rows are dropped as Flink drops them: with an unbounded frame a row at
//! or behind the watermark; with a bounded frame a row at or behind the last
//! time its partition emitted (so a row behind the watermark but ahead of its
//! partition's rows still counts).
//!
//! Ordered by a processing-time attribute, rows are taken in arrival order at
//! the operator's clock (never earlier than the rows before them) and emitted
//! at once, as Flink's processing-time OVER functions do; nothing is late.

use serde::{Deserialize, Serialize};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit, TimestampMillisecondType};
use eddy_core::{Result, Timestamp};
use eddy_runtime::output::Emitter;
use eddy_runtime::{KeyedState, ManagedState};
use eddy_runtime::{Operator, OperatorContext, TimerService};
use eddy_state::{KeyedStateBackend, ValueState, ValueStateDescriptor};

use crate::error::runtime;
use crate::exec::accum::Acc;
use crate::exec::aggs::Aggs;
use crate::exec::changelog::{self, conform};
use crate::exec::keys::KeyCodec;
use crate::exec::val::{self, Val};

/// The frame of an OVER window (it always ends at the current row).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// `ROWS BETWEEN n PRECEDING` (`None`: UNBOUNDED).
    Rows(Option<u64>),
    /// `RANGE BETWEEN interval PRECEDING`, in milliseconds (`None`: UNBOUNDED).
    Range(Option<i64>),
}

/// An OVER aggregation's plan.
#[derive(Clone)]
pub struct OverSpec {
    /// The input's Arrow schema.
    pub input: SchemaRef,
    /// How many leading input columns are output.
    pub width: usize,
    /// The partition key columns.
    pub keys: Vec<usize>,
    /// The time attribute the window is ordered by.
    pub time: usize,
    /// The frame.
    pub frame: Frame,
    /// The aggregate calls.
    pub aggs: Aggs,
    /// The output schema: the input's columns, then the aggregates.
    pub output: SchemaRef,
    /// Ordered by processing time (the operator's clock) instead of event time.
    pub proctime: bool,
}

/// One row's inputs to the aggregates: the value of each call, `None` when
/// its FILTER rejects the row.
type Inputs = Vec<Option<Val>>;

/// A partition's state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Partition {
    /// Rows waiting for the watermark: time, row, inputs.
    pending: Vec<(i64, Vec<u8>, Inputs)>,
    /// Bounded frames: the rows that may still be in a frame.
    frame: Vec<(i64, Inputs)>,
    /// Unbounded frames: the running accumulators.
    accs: Option<Vec<Acc>>,
    /// The time of the last rows emitted (0 before any, as in Flink).
    #[serde(default)]
    last_emitted: i64,
    /// Bounded RANGE frames: Flink's event-time timers of the partition not
    /// yet fired (row times and state cleanup times), and the current cleanup
    /// time. See [`Partition::range_timers`].
    #[serde(default)]
    timers: Vec<i64>,
    #[serde(default)]
    cleanup_at: Option<i64>,
}

impl Partition {
    /// Bounded RANGE frames, as Flink's `RowTimeRangeBoundedPrecedingFunction`
    /// keeps them: a row at `t` also sets a state cleanup timer at
    /// `t + 1.5 * preceding + 1` unless the current one is at least
    /// `t + preceding + 1`. Every timer that fires without clearing the state
    /// moves the time of the last emission (which decides lateness) to its
    /// own time; the cleanup timer that fires at the cleanup time clears the
    /// partition, rows and that time included. Returns the timer to register.
    fn range_timers(&mut self, t: i64, preceding: i64) -> Option<i64> {
        if !self.timers.contains(&t) {
            self.timers.push(t);
        }
        let earliest = t.saturating_add(preceding).saturating_add(1);
        if self.cleanup_at.is_some_and(|c| c >= earliest) {
            return None;
        }
        let at = t
            .saturating_add(preceding.saturating_mul(3) / 2)
            .saturating_add(1);
        self.cleanup_at = Some(at);
        if !self.timers.contains(&at) {
            self.timers.push(at);
        }
        Some(at)
    }
}

/// See the module docs.
pub struct OverAggOperator {
    spec: OverSpec,
    keys: Option<KeyCodec>,
    rows: Option<KeyCodec>,
    backend: Option<KeyedStateBackend<Vec<u8>>>,
    state: Option<ValueState<Partition>>,
    timers: TimerService<Vec<u8>, ()>,
    late: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    clock: Option<std::sync::Arc<dyn eddy_core::time::Clock>>,
    /// Processing time: the time of the last batch (rows never go back).
    last_now: i64,
}

impl OverAggOperator {
    /// An OVER aggregation for `spec`.
    pub fn new(spec: OverSpec) -> Self {
        OverAggOperator {
            spec,
            keys: None,
            rows: None,
            backend: None,
            state: None,
            timers: TimerService::new(),
            late: None,
            clock: None,
            last_now: 0,
        }
    }

    fn fold(&self, accs: &mut [Acc], inputs: &Inputs) -> Result<()> {
        for ((spec, acc), value) in self.spec.aggs.specs.iter().zip(accs.iter_mut()).zip(inputs) {
            if let Some(v) = value {
                spec.update(acc, v, 1).map_err(runtime)?;
            }
        }
        Ok(())
    }

    /// Processes the rows of `partition` the watermark has passed; returns
    /// each emitted row with its aggregates.
    fn advance(
        &self,
        partition: &mut Partition,
        watermark: i64,
    ) -> Result<Vec<(Vec<u8>, Vec<Val>)>> {
        if let Frame::Range(Some(preceding)) = self.spec.frame {
            return self.advance_range(partition, watermark, preceding);
        }
        let mut ready: Vec<(i64, Vec<u8>, Inputs)> = Vec::new();
        partition.pending.retain(|(t, row, inputs)| {
            let due = *t <= watermark;
            if due {
                ready.push((*t, row.clone(), inputs.clone()));
            }
            !due
        });
        ready.sort_by_key(|(t, _, _)| *t);
        if let Some((t, _, _)) = ready.last() {
            partition.last_emitted = partition.last_emitted.max(*t);
        }
        let mut out = Vec::with_capacity(ready.len());
        let mut at = 0;
        while at < ready.len() {
            // RANGE frames take all rows of one time together.
            let t = ready[at].0;
            let group_end = match self.spec.frame {
                Frame::Range(_) => ready[at..]
                    .iter()
                    .position(|(u, _, _)| *u != t)
                    .map_or(ready.len(), |k| at + k),
                Frame::Rows(_) => at + 1,
            };
            let group = &ready[at..group_end];
            let results = match self.spec.frame {
                Frame::Rows(None) | Frame::Range(None) => {
                    let mut accs = partition
                        .accs
                        .take()
                        .unwrap_or_else(|| self.spec.aggs.create());
                    for (_, _, inputs) in group {
                        self.fold(&mut accs, inputs)?;
                    }
                    let results = self.spec.aggs.results(&accs);
                    partition.accs = Some(accs);
                    results
                }
                Frame::Rows(Some(n)) => {
                    partition
                        .frame
                        .extend(group.iter().map(|(t, _, i)| (*t, i.clone())));
                    let keep = n as usize + 1;
                    if partition.frame.len() > keep {
                        partition.frame.drain(..partition.frame.len() - keep);
                    }
                    let mut accs = self.spec.aggs.create();
                    for (_, inputs) in &partition.frame {
                        self.fold(&mut accs, inputs)?;
                    }
                    self.spec.aggs.results(&accs)
                }
                // Never here: `advance_range` runs these.
                Frame::Range(Some(_)) => Vec::new(),
            };
            for (_, row, _) in group {
                out.push((row.clone(), results.clone()));
            }
            at = group_end;
        }
        Ok(out)
    }
}

impl OverAggOperator {
    /// [`OverAggOperator::advance`] for a bounded RANGE frame: fires the
    /// partition's timers up to the watermark in time order (see
    /// [`Partition::range_timers`]).
    fn advance_range(
        &self,
        partition: &mut Partition,
        watermark: i64,
        preceding: i64,
    ) -> Result<Vec<(Vec<u8>, Vec<Val>)>> {
        let mut due: Vec<i64> = partition
            .timers
            .iter()
            .copied()
            .filter(|t| *t <= watermark)
            .collect();
        due.sort_unstable();
        partition.timers.retain(|t| *t > watermark);
        let mut out = Vec::new();
        for t in due {
            if partition.cleanup_at.is_some_and(|c| c <= t) {
                partition.pending.clear();
                partition.frame.clear();
                partition.last_emitted = 0;
                partition.cleanup_at = None;
                continue;
            }
            let mut group: Vec<(Vec<u8>, Inputs)> = Vec::new();
            partition.pending.retain(|(u, row, inputs)| {
                if *u == t {
                    group.push((row.clone(), inputs.clone()));
                }
                *u != t
            });
            partition.last_emitted = t;
            if group.is_empty() {
                continue;
            }
            partition
                .frame
                .extend(group.iter().map(|(_, i)| (t, i.clone())));
            partition
                .frame
                .retain(|(u, _)| *u >= t.saturating_sub(preceding));
            let mut accs = self.spec.aggs.create();
            for (_, inputs) in &partition.frame {
                self.fold(&mut accs, inputs)?;
            }
            let results = self.spec.aggs.results(&accs);
            out.extend(group.into_iter().map(|(row, _)| (row, results.clone())));
        }
        Ok(out)
    }
}

impl Operator for OverAggOperator {
    type In = RecordBatch;
    type Out = RecordBatch;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let KeyedState {
            mut backend,
            timers,
        } = ctx.keyed_state::<Vec<u8>, ()>()?;
        self.timers = timers;
        self.state = Some(backend.value_state(ValueStateDescriptor::new("over"))?);
        self.backend = Some(backend);
        if !self.spec.keys.is_empty() {
            self.keys = Some(KeyCodec::new(&self.spec.input, &self.spec.keys).map_err(runtime)?);
        }
        let all: Vec<usize> = (0..self.spec.width).collect();
        self.rows = Some(KeyCodec::new(&self.spec.input, &all).map_err(runtime)?);
        self.late = Some(ctx.counter("numLateRecordsDropped"));
        self.clock = Some(ctx.clock.clone());
        Ok(())
    }

    fn process_batch(
        &mut self,
        batch: RecordBatch,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        // Processing time: every row of the batch now, emitted at once.
        let now = if self.spec.proctime {
            let now = self
                .clock
                .as_ref()
                .map_or(0, |c| c.now_millis())
                .max(self.last_now);
            self.last_now = now;
            Some(now)
        } else {
            None
        };
        self.buffer(batch, now)?;
        match now {
            Some(now) => {
                self.timers.advance_watermark(now);
                self.fire(now, out)
            }
            None => Ok(()),
        }
    }

    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        if !self.spec.proctime {
            self.timers.advance_watermark(watermark);
            self.fire(watermark, out)?;
        }
        out.emit_watermark(watermark)
    }

    fn managed_state(&mut self) -> Option<ManagedState<'_>> {
        Some(ManagedState::new(self.backend.as_mut()?).with_timers(&self.timers))
    }
}

impl OverAggOperator {
    /// Keeps the rows of `batch` in their partitions until their time comes
    /// (`now`: processing time, for every row; else each row's event time).
    fn buffer(&mut self, batch: RecordBatch, now: Option<i64>) -> Result<()> {
        let (Some(backend), Some(state), Some(rows)) = (
            self.backend.as_mut(),
            self.state.as_ref(),
            self.rows.as_ref(),
        ) else {
            return Err(runtime("OVER aggregation used before open"));
        };
        let times = arrow::compute::cast(
            batch.column(self.spec.time),
            &DataType::Timestamp(TimeUnit::Millisecond, None),
        )
        .map_err(runtime)?;
        let times = times.as_primitive::<TimestampMillisecondType>();
        let keys = match &self.keys {
            Some(codec) => Some(codec.encode(&batch).map_err(runtime)?),
            None => None,
        };
        let encoded = rows.encode(&batch).map_err(runtime)?;
        let args: Vec<Option<ArrayRef>> = self
            .spec
            .aggs
            .specs
            .iter()
            .map(|s| s.arg.map(|c| batch.column(c).clone()))
            .collect();
        let filters: Vec<Option<ArrayRef>> = self
            .spec
            .aggs
            .specs
            .iter()
            .map(|s| s.filter.map(|c| batch.column(c).clone()))
            .collect();
        let watermark = self.timers.current_watermark();
        let bounded = matches!(
            self.spec.frame,
            Frame::Rows(Some(_)) | Frame::Range(Some(_))
        );
        let mut late = 0;
        for i in 0..batch.num_rows() {
            let t = match now {
                Some(now) => now,
                None if times.is_null(i) || (!bounded && times.value(i) <= watermark) => {
                    late += 1;
                    continue;
                }
                None => times.value(i),
            };
            let mut inputs = Vec::with_capacity(args.len());
            for (arg, filter) in args.iter().zip(&filters) {
                let passes = filter.as_ref().is_none_or(|f| {
                    let f = f.as_boolean();
                    f.is_valid(i) && f.value(i)
                });
                inputs.push(if !passes {
                    None
                } else {
                    Some(match arg {
                        Some(a) => val::read(a, i).map_err(runtime)?,
                        None => Val::Bool(true),
                    })
                });
            }
            let key = keys
                .as_ref()
                .map_or(Vec::new(), |k| k.row(i).data().to_vec());
            backend.set_current_key(key.clone());
            let row = encoded.row(i).data().to_vec();
            let mut on_time = true;
            let mut cleanup = None;
            let range = match self.spec.frame {
                Frame::Range(Some(preceding)) => Some(preceding),
                _ => None,
            };
            state.update_with(backend, |p| {
                let mut p = p.unwrap_or_default();
                if bounded && now.is_none() && t <= p.last_emitted {
                    on_time = false;
                } else {
                    p.pending.push((t, row, inputs));
                    if let Some(preceding) = range {
                        cleanup = p.range_timers(t, preceding);
                    }
                }
                p
            });
            if on_time {
                self.timers.register_event_time_timer(t, &key, &());
                if let Some(at) = cleanup {
                    self.timers.register_event_time_timer(at, &key, &());
                }
            } else {
                late += 1;
            }
        }
        if late > 0 {
            if let Some(c) = &self.late {
                c.fetch_add(late, std::sync::atomic::Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// Emits the rows whose timers `watermark` (event or processing time) has
    /// reached, with their aggregates.
    fn fire(&mut self, watermark: Timestamp, out: &mut Emitter<'_, RecordBatch>) -> Result<()> {
        let mut emitted: Vec<(Vec<u8>, Vec<Val>)> = Vec::new();
        while let Some(timer) = self.timers.pop_event_time() {
            let (Some(backend), Some(state)) = (self.backend.as_mut(), self.state.as_ref()) else {
                break;
            };
            backend.set_current_key(timer.key.clone());
            let Some(mut partition) = state.take(backend) else {
                continue;
            };
            emitted.extend(self.advance(&mut partition, watermark)?);
            let (Some(backend), Some(state)) = (self.backend.as_mut(), self.state.as_ref()) else {
                break;
            };
            backend.set_current_key(timer.key);
            state.update(backend, partition);
        }
        if !emitted.is_empty() {
            let Some(rows) = self.rows.as_ref() else {
                return Err(runtime("OVER aggregation used before open"));
            };
            let n = emitted.len();
            let mut columns = rows
                .decode(emitted.iter().map(|(r, _)| r.as_slice()))
                .map_err(runtime)?;
            let results: Vec<Vec<Val>> = emitted.into_iter().map(|(_, r)| r).collect();
            columns.extend(self.spec.aggs.columns(&results).map_err(runtime)?);
            let columns = conform(&self.spec.output, columns).map_err(runtime)?;
            out.collect(changelog::batch(self.spec.output.clone(), columns, n).map_err(runtime)?)?;
        }
        Ok(())
    }
}
