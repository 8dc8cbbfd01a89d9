//! Keeping the first row per key by event time, insert-only (Flink 2.3's
//! `Deduplicate(keep=[FirstRow], order=[ROWTIME], outputInsertOnly=[true])`
//! over an append-only input).
//!
//! A row older than the watermark is late: dropped and counted in
//! `numLateRecordsDropped`. Otherwise it becomes its key's candidate if it is
//! the first or older than the candidate, with an event-time timer at its
//! time. When the watermark reaches the candidate's time, the candidate is
//! emitted (`+I`, once) and the key takes no more rows. The result is
//! append-only, so it may go to any sink, and the rows are emitted before the
//! watermark that passed them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch, UInt64Array};
use arrow::datatypes::{DataType, TimeUnit, TimestampMillisecondType};
use eddy_core::{Result, Timestamp};
use eddy_runtime::output::Emitter;
use eddy_runtime::{KeyedState, ManagedState};
use eddy_runtime::{Operator, OperatorContext, TimerService};
use eddy_state::{KeyedStateBackend, ValueState};
use serde::{Deserialize, Serialize};

use crate::error::runtime;
use crate::exec::changelog::{self, conform};
use crate::exec::keys::KeyCodec;
use crate::exec::rank::RankSpec;

/// A key's state.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum FirstRow {
    /// The oldest row so far (its event time and encoded row), waiting for
    /// the watermark.
    Waiting(Timestamp, Vec<u8>),
    /// The first row was emitted.
    Emitted,
}

/// See the module docs.
pub struct RowtimeFirstRowOperator {
    spec: RankSpec,
    time_column: usize,
    keys: Option<KeyCodec>,
    rows: Option<KeyCodec>,
    backend: Option<KeyedStateBackend<Vec<u8>>>,
    state: Option<ValueState<FirstRow>>,
    timers: TimerService<Vec<u8>, ()>,
    late: Option<Arc<AtomicU64>>,
}

impl RowtimeFirstRowOperator {
    /// Deduplicates by the event time in `time_column` (the ORDER BY column).
    pub fn new(spec: RankSpec, time_column: usize) -> Self {
        RowtimeFirstRowOperator {
            spec,
            time_column,
            keys: None,
            rows: None,
            backend: None,
            state: None,
            timers: TimerService::new(),
            late: None,
        }
    }

    /// Emits the candidates the watermark reached.
    fn fire(&mut self, out: &mut Emitter<'_, RecordBatch>) -> Result<()> {
        let (Some(backend), Some(state)) = (self.backend.as_mut(), self.state.as_ref()) else {
            return Ok(());
        };
        let watermark = self.timers.current_watermark();
        let mut rows: Vec<Vec<u8>> = Vec::new();
        while let Some(timer) = self.timers.pop_event_time() {
            backend.set_current_key(timer.key);
            // A timer of a candidate that an older row replaced finds the
            // key emitted already, or a candidate not yet due.
            if let Some(FirstRow::Waiting(time, row)) = state.value(backend) {
                if time <= watermark {
                    rows.push(row);
                    state.update(backend, FirstRow::Emitted);
                }
            }
        }
        self.emit(rows, out)
    }

    fn emit(&self, rows: Vec<Vec<u8>>, out: &mut Emitter<'_, RecordBatch>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let Some(codec) = self.rows.as_ref() else {
            return Err(runtime("deduplication used before open"));
        };
        let count = rows.len();
        let mut columns = codec
            .decode(rows.iter().map(Vec::as_slice))
            .map_err(runtime)?;
        // The row number, which a deduplication does not output.
        columns.push(Arc::new(UInt64Array::new_null(count)));
        let columns = conform(&self.spec.output, columns).map_err(runtime)?;
        out.collect(changelog::batch(self.spec.output.clone(), columns, count).map_err(runtime)?)
    }
}

impl Operator for RowtimeFirstRowOperator {
    type In = RecordBatch;
    type Out = RecordBatch;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let KeyedState {
            mut backend,
            timers,
        } = ctx.keyed_state::<Vec<u8>, ()>()?;
        self.timers = timers;
        self.state = Some(backend.value_state(super::value_state("first-row", self.spec.ttl_ms))?);
        self.backend = Some(backend);
        let input = &self.spec.input;
        if !self.spec.keys.is_empty() {
            self.keys = Some(KeyCodec::new(input, &self.spec.keys).map_err(runtime)?);
        }
        let all: Vec<usize> = (0..self.spec.width).collect();
        self.rows = Some(KeyCodec::new(input, &all).map_err(runtime)?);
        self.late = Some(ctx.counter("numLateRecordsDropped"));
        Ok(())
    }

    fn process_batch(
        &mut self,
        batch: RecordBatch,
        _out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        let (Some(backend), Some(state), Some(rows)) = (
            self.backend.as_mut(),
            self.state.as_ref(),
            self.rows.as_ref(),
        ) else {
            return Err(runtime("deduplication used before open"));
        };
        let keys = match &self.keys {
            Some(codec) => Some(codec.encode(&batch).map_err(runtime)?),
            None => None,
        };
        let encoded = rows.encode(&batch).map_err(runtime)?;
        let times = arrow::compute::cast(
            batch.column(self.time_column),
            &DataType::Timestamp(TimeUnit::Millisecond, None),
        )
        .map_err(runtime)?;
        let times = times.as_primitive::<TimestampMillisecondType>();
        let watermark = self.timers.current_watermark();
        for i in 0..batch.num_rows() {
            if times.is_null(i) {
                return Err(runtime(
                    "a row's time attribute is NULL: its event time is undefined",
                ));
            }
            let time = times.value(i);
            if time < watermark {
                if let Some(late) = &self.late {
                    late.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            }
            let key = keys
                .as_ref()
                .map_or(Vec::new(), |k| k.row(i).data().to_vec());
            backend.set_current_key(key.clone());
            let replace = match state.value(backend) {
                None => true,
                Some(FirstRow::Waiting(candidate, _)) => time < candidate,
                Some(FirstRow::Emitted) => false,
            };
            if replace {
                self.timers.register_event_time_timer(time, &key, &());
                state.update(
                    backend,
                    FirstRow::Waiting(time, encoded.row(i).data().to_vec()),
                );
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
        self.fire(out)?;
        out.emit_watermark(watermark)
    }

    fn managed_state(&mut self) -> Option<ManagedState<'_>> {
        Some(ManagedState::new(self.backend.as_mut()?).with_timers(&self.timers))
    }
}
