//! OVER aggregation: `agg(...) OVER (PARTITION BY ... ORDER BY rowtime
//! ROWS|RANGE BETWEEN ... PRECEDING AND CURRENT ROW)`, as Flink runs it.
//!
//! Rows wait in keyed state until the watermark passes their time, then are
//! processed in time order (arrival order among equal times). Each row is
//! emitted with the aggregates over its frame: the preceding `n` rows and
//! itself (ROWS), or the rows within the interval before its time and all rows
//! of its time (RANGE; rows of equal time are peers and get the same values).
//! Unbounded frames keep running accumulators; bounded ones keep the rows of
//! the frame and fold them per output row. Late rows are dropped. The output
//! is append-only.

use serde::{Deserialize, Serialize};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit, TimestampMillisecondType};
use eddy_core::{Result, Timestamp};
use eddy_runtime::operators::{backend_for, restore_keyed_and_timers};
use eddy_runtime::output::Emitter;
use eddy_runtime::{Operator, OperatorContext, OperatorSnapshot, TimerService};
use eddy_state::{KeyedStateBackend, ValueState, ValueStateDescriptor};

use crate::error::runtime;
use crate::exec::accum::Acc;
use crate::exec::aggs::Aggs;
use crate::exec::changelog::{self, conform};
use crate::exec::keys::KeyCodec;
use crate::exec::snapshot;
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
}

/// See the module docs.
pub struct OverAggOperator {
    spec: OverSpec,
    keys: Option<KeyCodec>,
    rows: Option<KeyCodec>,
    backend: Option<KeyedStateBackend<Vec<u8>>>,
    state: Option<ValueState<Partition>>,
    timers: TimerService<Vec<u8>, ()>,
    restored: Vec<OperatorSnapshot>,
    late: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
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
            restored: Vec::new(),
            late: None,
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
        let mut ready: Vec<(i64, Vec<u8>, Inputs)> = Vec::new();
        partition.pending.retain(|(t, row, inputs)| {
            let due = *t <= watermark;
            if due {
                ready.push((*t, row.clone(), inputs.clone()));
            }
            !due
        });
        ready.sort_by_key(|(t, _, _)| *t);
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
                Frame::Range(Some(p)) => {
                    partition
                        .frame
                        .extend(group.iter().map(|(t, _, i)| (*t, i.clone())));
                    partition.frame.retain(|(u, _)| *u >= t.saturating_sub(p));
                    let mut accs = self.spec.aggs.create();
                    for (_, inputs) in &partition.frame {
                        self.fold(&mut accs, inputs)?;
                    }
                    self.spec.aggs.results(&accs)
                }
            };
            for (_, row, _) in group {
                out.push((row.clone(), results.clone()));
            }
            at = group_end;
        }
        Ok(out)
    }
}

impl Operator for OverAggOperator {
    type In = RecordBatch;
    type Out = RecordBatch;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let mut backend: KeyedStateBackend<Vec<u8>> = backend_for(ctx);
        self.state = Some(backend.value_state(ValueStateDescriptor::new("over"))?);
        restore_keyed_and_timers(
            &mut backend,
            std::mem::take(&mut self.restored),
            &mut self.timers,
        )?;
        self.backend = Some(backend);
        if !self.spec.keys.is_empty() {
            self.keys = Some(KeyCodec::new(&self.spec.input, &self.spec.keys).map_err(runtime)?);
        }
        let all: Vec<usize> = (0..self.spec.width).collect();
        self.rows = Some(KeyCodec::new(&self.spec.input, &all).map_err(runtime)?);
        self.late = Some(ctx.counter("numLateRecordsDropped"));
        Ok(())
    }

    fn process_batch(
        &mut self,
        batch: RecordBatch,
        _: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
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
        let mut late = 0;
        for i in 0..batch.num_rows() {
            if times.is_null(i) || times.value(i) <= watermark {
                late += 1;
                continue;
            }
            let t = times.value(i);
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
            state.update_with(backend, |p| {
                let mut p = p.unwrap_or_default();
                p.pending.push((t, row, inputs));
                p
            });
            self.timers.register_event_time_timer(t, &key, &());
        }
        if late > 0 {
            if let Some(c) = &self.late {
                c.fetch_add(late, std::sync::atomic::Ordering::Relaxed);
            }
        }
        Ok(())
    }

    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        self.timers.advance_watermark(watermark);
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
        out.emit_watermark(watermark)
    }

    fn snapshot_state(&mut self, _: u64) -> Result<OperatorSnapshot> {
        snapshot::keyed_with_timers(self.backend.as_mut(), &self.timers, "OVER aggregation")
    }

    fn restore_state(&mut self, snapshots: Vec<OperatorSnapshot>) -> Result<()> {
        self.restored = snapshots;
        Ok(())
    }
}
