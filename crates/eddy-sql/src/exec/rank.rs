//! Top-N and deduplication: `ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...)`
//! filtered on its number.
//!
//! Top-N keeps each partition's rows sorted (sort keys in Arrow's row format,
//! which compares as bytes in the ORDER BY's order) and emits what changed in
//! the requested ranks: with the row number in the output, every rank whose
//! row changed is updated (`-U`/`+U`, `+I` for a new rank, `-D` for one that
//! is gone); without it, a row entering the ranks is `+I` and one leaving them
//! is `-D`. Rows of equal sort key keep their arrival order. On an append-only
//! input only the top `end` rows are kept; an updating input keeps all rows,
//! since a retraction can promote any of them.
//!
//! Deduplication (`rownum = 1` ordered by a time attribute, number not
//! selected) keeps one row per partition, as Flink does: the first or last by
//! event time (a row of equal time replaces the last row), or the first or
//! last to arrive for processing time. Keeping the first row by processing
//! time is append-only; keeping the first by event time of an append-only
//! input is [`first_row`](super::first_row)'s, append-only too.
//!
//! Window Top-N and window deduplication (the partition includes a window's
//! `window_start` and `window_end`) keep each window's top rows until the
//! watermark passes the window's end, then emit them once (`+I`) and forget
//! the window.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch, UInt64Array};
use arrow::compute::SortOptions;
use arrow::datatypes::SchemaRef;
use arrow::row::{RowConverter, SortField};
use eddy_core::{Result, Timestamp};
use eddy_runtime::output::Emitter;
use eddy_runtime::{KeyedState, ManagedState};
use eddy_runtime::{Operator, OperatorContext, TimerService};
use eddy_state::{KeyedStateBackend, ValueState};

use crate::error::runtime;
use crate::exec::changelog::{self, conform, RowKind};
use crate::exec::keys::KeyCodec;

/// What the operator does per partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RankMode {
    /// Rows ranked `start..=end` by the sort key.
    TopN {
        /// The first rank emitted (1-based).
        start: u64,
        /// The last rank emitted.
        end: u64,
        /// Whether the row number is an output column.
        output_rank: bool,
    },
    /// One row per partition by event time.
    RowtimeDedup {
        /// Keep the latest row (ORDER BY ... DESC) rather than the first.
        keep_last: bool,
    },
    /// One row per partition by arrival.
    ProctimeDedup {
        /// Keep the latest row rather than the first.
        keep_last: bool,
    },
    /// Top-N per window (the partition includes the window bounds), emitted
    /// once when the watermark passes the window's end.
    WindowTopN {
        /// The first rank emitted (1-based).
        start: u64,
        /// The last rank emitted.
        end: u64,
        /// Whether the row number is an output column.
        output_rank: bool,
        /// Among rows of equal sort key, the last to arrive ranks first
        /// (window deduplication keeping the last row).
        last_first: bool,
        /// The `window_end` column.
        window_end: usize,
    },
}

/// A rank operator's plan.
#[derive(Clone)]
pub struct RankSpec {
    /// The input's Arrow schema.
    pub input: SchemaRef,
    /// How many leading input columns are output.
    pub width: usize,
    /// The partition key columns.
    pub keys: Vec<usize>,
    /// The ORDER BY columns and directions.
    pub order: Vec<(usize, SortOptions)>,
    /// What to compute.
    pub mode: RankMode,
    /// The output schema: the input's columns, the row number, `__op` when
    /// updating.
    pub output: SchemaRef,
    /// Retention of a partition's rows, from `table.exec.state.ttl`.
    pub ttl_ms: Option<u64>,
}

/// A partition's rows: (sort key, row), sorted by sort key.
type Ranked = Vec<(Vec<u8>, Vec<u8>)>;

/// Rows to emit: kind, row, row number.
#[derive(Default)]
struct Emits {
    kinds: Vec<RowKind>,
    rows: Vec<Vec<u8>>,
    ranks: Vec<Option<u64>>,
}

impl Emits {
    fn push(&mut self, kind: RowKind, row: &[u8], rank: Option<u64>) {
        self.kinds.push(kind);
        self.rows.push(row.to_vec());
        self.ranks.push(rank);
    }
}

/// See the module docs.
pub struct RankOperator {
    spec: RankSpec,
    keys: Option<KeyCodec>,
    rows: Option<KeyCodec>,
    sort: Option<RowConverter>,
    backend: Option<KeyedStateBackend<Vec<u8>>>,
    state: Option<ValueState<Ranked>>,
    timers: TimerService<Vec<u8>, ()>,
}

impl RankOperator {
    /// A rank operator for `spec`.
    pub fn new(spec: RankSpec) -> Self {
        RankOperator {
            spec,
            keys: None,
            rows: None,
            sort: None,
            backend: None,
            state: None,
            timers: TimerService::new(),
        }
    }

    /// Emits the windows the watermark has passed.
    fn fire(&mut self, out: &mut Emitter<'_, RecordBatch>) -> Result<()> {
        let RankMode::WindowTopN {
            start, output_rank, ..
        } = self.spec.mode
        else {
            return Ok(());
        };
        let (Some(backend), Some(state)) = (self.backend.as_mut(), self.state.as_ref()) else {
            return Ok(());
        };
        let mut emits = Emits::default();
        while let Some(timer) = self.timers.pop_event_time() {
            backend.set_current_key(timer.key);
            let Some(list) = state.take(backend) else {
                continue;
            };
            for (k, (_, row)) in list
                .iter()
                .enumerate()
                .skip(start.saturating_sub(1) as usize)
            {
                let rank = output_rank.then_some(k as u64 + 1);
                emits.push(RowKind::Insert, row, rank);
            }
        }
        self.emit(emits, out)
    }

    fn emit(&self, emits: Emits, out: &mut Emitter<'_, RecordBatch>) -> Result<()> {
        if emits.kinds.is_empty() {
            return Ok(());
        }
        let Some(rows) = self.rows.as_ref() else {
            return Err(runtime("rank used before open"));
        };
        let count = emits.kinds.len();
        let mut columns = rows
            .decode(emits.rows.iter().map(Vec::as_slice))
            .map_err(runtime)?;
        columns.push(Arc::new(UInt64Array::from(emits.ranks)));
        if self.spec.output.fields().len() > columns.len() {
            columns.push(changelog::kind_column(&emits.kinds));
        }
        let columns = conform(&self.spec.output, columns).map_err(runtime)?;
        out.collect(changelog::batch(self.spec.output.clone(), columns, count).map_err(runtime)?)
    }
}

/// Applies one row to a sorted partition and records the changed ranks.
#[allow(clippy::too_many_arguments)]
fn top_n(
    list: &mut Ranked,
    sort_key: &[u8],
    row: &[u8],
    addition: bool,
    (start, end, output_rank): (u64, u64, bool),
    keep_all: bool,
    out: &mut Emits,
) {
    let (first, end) = (start.saturating_sub(1) as usize, end as usize);
    let position = if addition {
        let at = list.partition_point(|(k, _)| k.as_slice() <= sort_key);
        if at >= end && !keep_all {
            return;
        }
        at
    } else {
        match list
            .iter()
            .position(|(k, r)| k.as_slice() == sort_key && r.as_slice() == row)
        {
            Some(at) => at,
            None => return, // a retraction of a row that is not kept
        }
    };
    let from = position.max(first);
    let before: Vec<Vec<u8>> = list
        .get(from..end.min(list.len()))
        .unwrap_or_default()
        .iter()
        .map(|(_, r)| r.clone())
        .collect();
    if addition {
        list.insert(position, (sort_key.to_vec(), row.to_vec()));
        if !keep_all {
            list.truncate(end);
        }
    } else {
        list.remove(position);
    }
    if position >= end {
        return;
    }
    let after: Vec<&[u8]> = list
        .get(from..end.min(list.len()))
        .unwrap_or_default()
        .iter()
        .map(|(_, r)| r.as_slice())
        .collect();
    if output_rank {
        for k in 0..before.len().max(after.len()) {
            let rank = Some((from + k + 1) as u64);
            match (before.get(k), after.get(k)) {
                (Some(old), Some(new)) if old.as_slice() != *new => {
                    out.push(RowKind::UpdateBefore, old, rank);
                    out.push(RowKind::UpdateAfter, new, rank);
                }
                (Some(_), Some(_)) => {}
                (None, Some(new)) => out.push(RowKind::Insert, new, rank),
                (Some(old), None) => out.push(RowKind::Delete, old, rank),
                (None, None) => {}
            }
        }
    } else {
        // Rows leave and enter the ranks; both lists hold each row once per
        // occurrence.
        let mut entered: Vec<&[u8]> = after.clone();
        for old in &before {
            match entered.iter().position(|r| *r == old.as_slice()) {
                Some(at) => {
                    entered.remove(at);
                }
                None => out.push(RowKind::Delete, old, None),
            }
        }
        for new in entered {
            out.push(RowKind::Insert, new, None);
        }
    }
}

impl Operator for RankOperator {
    type In = RecordBatch;
    type Out = RecordBatch;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let KeyedState {
            mut backend,
            timers,
        } = ctx.keyed_state::<Vec<u8>, ()>()?;
        self.timers = timers;
        self.state = Some(backend.value_state(super::value_state("rank", self.spec.ttl_ms))?);
        self.backend = Some(backend);
        let input = &self.spec.input;
        if !self.spec.keys.is_empty() {
            self.keys = Some(KeyCodec::new(input, &self.spec.keys).map_err(runtime)?);
        }
        let all: Vec<usize> = (0..self.spec.width).collect();
        self.rows = Some(KeyCodec::new(input, &all).map_err(runtime)?);
        let fields = self
            .spec
            .order
            .iter()
            .map(|(c, o)| SortField::new_with_options(input.field(*c).data_type().clone(), *o))
            .collect();
        self.sort = Some(RowConverter::new(fields).map_err(runtime)?);
        Ok(())
    }

    fn process_batch(
        &mut self,
        batch: RecordBatch,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        let (Some(backend), Some(state), Some(rows), Some(sort)) = (
            self.backend.as_mut(),
            self.state.as_ref(),
            self.rows.as_ref(),
            self.sort.as_ref(),
        ) else {
            return Err(runtime("rank used before open"));
        };
        let n = batch.num_rows();
        let keys = match &self.keys {
            Some(codec) => Some(codec.encode(&batch).map_err(runtime)?),
            None => None,
        };
        let encoded = rows.encode(&batch).map_err(runtime)?;
        let order: Vec<ArrayRef> = self
            .spec
            .order
            .iter()
            .map(|(c, _)| batch.column(*c).clone())
            .collect();
        let sort_keys = sort.convert_columns(&order).map_err(runtime)?;
        let kinds = changelog::kinds(&batch);
        let keep_all = kinds.is_some();
        let window_ends = match self.spec.mode {
            RankMode::WindowTopN { window_end, .. } => {
                let ends = arrow::compute::cast(
                    batch.column(window_end),
                    &arrow::datatypes::DataType::Timestamp(
                        arrow::datatypes::TimeUnit::Millisecond,
                        None,
                    ),
                )
                .map_err(runtime)?;
                Some(
                    ends.as_primitive::<arrow::datatypes::TimestampMillisecondType>()
                        .values()
                        .to_vec(),
                )
            }
            _ => None,
        };
        let watermark = self.timers.current_watermark();
        let mut emits = Emits::default();
        for i in 0..n {
            if let Some(ends) = &window_ends {
                if ends[i] - 1 <= watermark {
                    continue; // the window has fired: a late row
                }
            }
            backend.set_current_key(
                keys.as_ref()
                    .map_or(Vec::new(), |k| k.row(i).data().to_vec()),
            );
            let addition = changelog::kind_at(kinds, i).is_addition();
            let (row, sort_key) = (encoded.row(i), sort_keys.row(i));
            let (row, sort_key) = (row.data(), sort_key.data());
            let mut list = state.take(backend).unwrap_or_default();
            match self.spec.mode {
                RankMode::TopN {
                    start,
                    end,
                    output_rank,
                } => top_n(
                    &mut list,
                    sort_key,
                    row,
                    addition,
                    (start, end, output_rank),
                    keep_all,
                    &mut emits,
                ),
                RankMode::RowtimeDedup { keep_last } => match list.first_mut() {
                    None => {
                        emits.push(RowKind::Insert, row, None);
                        list.push((sort_key.to_vec(), row.to_vec()));
                    }
                    Some((kept_key, kept)) => {
                        // Sort keys encode the ORDER BY direction: the
                        // preferred row has the smaller key; for the last
                        // row, one of equal time replaces the kept one.
                        let replace = if keep_last {
                            sort_key <= kept_key.as_slice()
                        } else {
                            sort_key < kept_key.as_slice()
                        };
                        if replace {
                            emits.push(RowKind::UpdateBefore, kept, None);
                            emits.push(RowKind::UpdateAfter, row, None);
                            *kept_key = sort_key.to_vec();
                            *kept = row.to_vec();
                        }
                    }
                },
                RankMode::WindowTopN {
                    end, last_first, ..
                } => {
                    let at = if last_first {
                        list.partition_point(|(k, _)| k.as_slice() < sort_key)
                    } else {
                        list.partition_point(|(k, _)| k.as_slice() <= sort_key)
                    };
                    if list.is_empty() {
                        if let Some(ends) = &window_ends {
                            let key = keys
                                .as_ref()
                                .map_or(Vec::new(), |k| k.row(i).data().to_vec());
                            self.timers
                                .register_event_time_timer(ends[i] - 1, &key, &());
                        }
                    }
                    if (at as u64) < end {
                        list.insert(at, (sort_key.to_vec(), row.to_vec()));
                        list.truncate(end as usize);
                    }
                }
                RankMode::ProctimeDedup { keep_last } => match list.first_mut() {
                    None => {
                        emits.push(RowKind::Insert, row, None);
                        list.push((Vec::new(), row.to_vec()));
                    }
                    Some((_, kept)) if keep_last => {
                        emits.push(RowKind::UpdateBefore, kept, None);
                        emits.push(RowKind::UpdateAfter, row, None);
                        *kept = row.to_vec();
                    }
                    Some(_) => {}
                },
            }
            if !list.is_empty() {
                state.update(backend, list);
            }
        }
        self.emit(emits, out)
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
