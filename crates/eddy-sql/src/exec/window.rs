//! Window TVFs (assigning rows to windows) and window aggregation (one final row
//! per group and window when the watermark passes the window's end).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use arrow::array::{
    ArrayRef, AsArray, Int8Array, RecordBatch, TimestampMillisecondArray, UInt32Array,
};
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit, TimestampMillisecondType};
use eddy_core::KeyGroupRange;
use eddy_core::{Result, Timestamp};
use eddy_runtime::output::Emitter;
use eddy_runtime::window::TimeWindow;
use eddy_runtime::{KeyedState, ManagedState};
use eddy_runtime::{Operator, OperatorContext, OperatorSnapshot, TimerService};
use eddy_state::{KeyedStateBackend, ValueState, ValueStateDescriptor};

use crate::error::runtime;
use crate::exec::accum::Acc;
use crate::exec::aggs::{AggInputs, Aggs};
use crate::exec::changelog::{self, conform};
use crate::exec::keys::KeyCodec;
use crate::exec::session_panes::SessionPanes;
use crate::exec::slice_panes::SlicePanes;
use crate::exec::val::Val;
use crate::exec::window_panes::{self, PaneStore, Panes};

pub use eddy_runtime::window::WindowSpec;

/// A hash map with eddy's fast, stable hasher.
type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<eddy_core::key_group::StableHasher>>;

/// Adds row `i` (or retracts it, by its row kind) to `accs`.
fn add_row(
    aggs: &Aggs,
    accs: &mut [Acc],
    inputs: &AggInputs,
    kinds: Option<&Int8Array>,
    i: usize,
) -> Result<()> {
    let sign = if changelog::kind_at(kinds, i).is_addition() {
        1
    } else {
        -1
    };
    aggs.update(accs, inputs, i, sign).map_err(runtime)
}

/// Folds each run of rows with one window (or slice) into the group of its key
/// in that window's pane, one probe a row; returns how many rows were late.
fn fold_runs<'k>(
    store: &mut dyn PaneStore,
    aggs: &Aggs,
    (starts, ends): (&TimestampMillisecondArray, &TimestampMillisecondArray),
    key: impl Fn(usize) -> &'k [u8],
    add: impl Fn(&mut [Acc], usize) -> Result<()>,
    watermark: Timestamp,
) -> Result<u64> {
    let mut late = 0;
    for rows in runs(starts, ends) {
        let window = TimeWindow::new(starts.value(rows.start), ends.value(rows.start));
        let Some(pane) = store.pane_for(window, watermark) else {
            late += rows.len() as u64;
            continue;
        };
        for i in rows {
            let key = key(i);
            add(
                pane.accs(key, window_panes::key_hash(key), |all| aggs.push_new(all)),
                i,
            )?;
        }
    }
    Ok(late)
}

/// The runs of consecutive rows with the same window bounds.
fn runs<'a>(
    starts: &'a TimestampMillisecondArray,
    ends: &'a TimestampMillisecondArray,
) -> impl Iterator<Item = std::ops::Range<usize>> + 'a {
    let n = starts.len();
    let mut at = 0;
    std::iter::from_fn(move || {
        let start = at;
        if start >= n {
            return None;
        }
        let same =
            |j: usize| starts.value(j) == starts.value(start) && ends.value(j) == ends.value(start);
        at = (start + 1..n).find(|&j| !same(j)).unwrap_or(n);
        Some(start..at)
    })
}

fn millis(array: &ArrayRef) -> Result<TimestampMillisecondArray> {
    let ms = cast(array, &DataType::Timestamp(TimeUnit::Millisecond, None)).map_err(runtime)?;
    Ok(ms.as_primitive::<TimestampMillisecondType>().clone())
}

/// Adds `window_start`, `window_end`, `window_time` to each row, one row per
/// window it falls into. As Flink's window table function, it drops no row as
/// late (only rows without a time): the window aggregation, Top-N,
/// deduplication or join that reads it decides lateness per window.
///
/// Read by a window aggregation that merges slices, it assigns each row its
/// one slice instead ([`WindowTvfOperator::slicing`]).
pub struct WindowTvfOperator {
    spec: WindowSpec,
    time_column: usize,
    schema: SchemaRef,
    slicing: bool,
}

impl WindowTvfOperator {
    /// An operator assigning windows by `time_column`, producing `schema`.
    pub fn new(spec: WindowSpec, time_column: usize, schema: SchemaRef) -> Self {
        WindowTvfOperator {
            spec,
            time_column,
            schema,
            slicing: false,
        }
    }

    /// Assigns each row the slice holding it (see [`WindowSpec::slice`]) in
    /// `window_start` and `window_end`: only for a window aggregation that
    /// merges slices.
    pub fn slicing(mut self) -> Self {
        self.slicing = true;
        self
    }
}

impl Operator for WindowTvfOperator {
    type In = RecordBatch;
    type Out = RecordBatch;

    fn process_batch(
        &mut self,
        batch: RecordBatch,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        let ts = millis(batch.column(self.time_column))?;
        let (mut rows, mut starts, mut ends) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..batch.num_rows() {
            if arrow::array::Array::is_null(&ts, i) {
                continue;
            }
            if self.slicing {
                let slice = self.spec.slice(ts.value(i));
                rows.push(i as u32);
                starts.push(slice.start);
                ends.push(slice.end);
                continue;
            }
            self.spec.assign(ts.value(i), |TimeWindow { start, end }| {
                rows.push(i as u32);
                starts.push(start);
                ends.push(end);
            });
        }
        let data = changelog::data_columns(&batch);
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(data.len() + 3);
        if rows.len() == batch.num_rows() && rows.iter().enumerate().all(|(i, &r)| r as usize == i)
        {
            // One window a row (TUMBLE, slices): the columns pass as they are.
            columns.extend(data.iter().cloned());
        } else {
            let indices = UInt32Array::from(rows.clone());
            for c in data {
                columns.push(take(c.as_ref(), &indices, None).map_err(runtime)?);
            }
        }
        let time_type = self.schema.field(data.len() + 2).data_type().clone();
        let n = starts.len();
        let times: Vec<i64> = ends.iter().map(|e| e - 1).collect();
        columns.push(std::sync::Arc::new(TimestampMillisecondArray::from(starts)));
        columns.push(std::sync::Arc::new(TimestampMillisecondArray::from(ends)));
        let times: ArrayRef = std::sync::Arc::new(TimestampMillisecondArray::from(times));
        columns.push(cast(&times, &time_type).map_err(runtime)?);
        if let Some(kinds) = changelog::kinds(&batch) {
            // A changelog's rows keep their kinds, last as always.
            let indices = UInt32Array::from(rows);
            columns.push(take(kinds, &indices, None).map_err(runtime)?);
        }
        let columns = conform(&self.schema, columns).map_err(runtime)?;
        out.collect(changelog::batch(self.schema.clone(), columns, n).map_err(runtime)?)
    }
}

/// The keyed state of a window aggregation: accumulators per key and window.
const WINDOW_STATE: &str = "window-aggs";

/// The keyed state of a slicing window aggregation: accumulators per key and
/// slice, with a timer at the end of the slice's next window.
const SLICE_STATE: &str = "slice-aggs";

/// Where an output column of a window aggregation comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowOut {
    /// The `i`-th key column.
    Key(usize),
    /// `window_start`.
    Start,
    /// `window_end`.
    End,
    /// `window_time` (end - 1 ms).
    Time,
    /// The `i`-th aggregate.
    Agg(usize),
}

/// Aggregates rows per group and window in keyed state; emits each window's rows
/// once the watermark passes its end.
pub struct WindowAggOperator {
    keys: Vec<usize>,
    start: usize,
    end: usize,
    aggs: Aggs,
    outputs: Vec<WindowOut>,
    input: SchemaRef,
    schema: SchemaRef,
    codec: Option<KeyCodec>,
    backend: Option<KeyedStateBackend<Vec<u8>>>,
    state: Option<ValueState<Vec<Acc>, TimeWindow>>,
    merging: bool,
    proctime: bool,
    /// Slicing mode: rows arrive by slice (see [`crate::exec::slice_panes`]).
    slicing: Option<WindowSpec>,
    slice_panes: Option<SlicePanes>,
    /// Event-time windows that never merge: the groups in memory, window by
    /// window, with no timers (see [`crate::exec::window_panes`]).
    panes: Option<Panes>,
    /// Session windows: each key's open sessions in memory
    /// (see [`crate::exec::session_panes`]).
    session_panes: Option<SessionPanes>,
    /// The subtask's key groups and the max parallelism (for snapshots of the
    /// panes).
    key_groups: (KeyGroupRange, u32),
    timers: TimerService<Vec<u8>, TimeWindow>,
    late: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    /// Over a changelog: the aggregate counting a window's rows; a window
    /// whose rows were all retracted emits nothing.
    row_count: Option<usize>,
}

impl WindowAggOperator {
    /// A window aggregation of `input` grouped by `keys` and the window columns
    /// `start`, `end`, producing `schema` laid out by `outputs`.
    pub fn new(
        input: SchemaRef,
        keys: Vec<usize>,
        start: usize,
        end: usize,
        aggs: Aggs,
        outputs: Vec<WindowOut>,
        schema: SchemaRef,
    ) -> Self {
        WindowAggOperator {
            keys,
            start,
            end,
            aggs,
            outputs,
            input,
            schema,
            codec: None,
            backend: None,
            state: None,
            merging: false,
            proctime: false,
            slicing: None,
            slice_panes: None,
            panes: None,
            session_panes: None,
            key_groups: (KeyGroupRange::new(0, 0), 1),
            timers: TimerService::new(),
            late: None,
            row_count: None,
        }
    }

    /// Over a changelog: aggregate `row_count` (a `COUNT(*)` the output does
    /// not show) counts each window's rows, and a window left with none
    /// emits nothing.
    pub fn counting_rows(mut self, row_count: Option<usize>) -> Self {
        self.row_count = row_count;
        self
    }

    /// Merges overlapping windows per key (session windows).
    pub fn merging(mut self) -> Self {
        self.merging = true;
        self
    }

    /// Fires windows by processing time (their end passes the clock).
    pub fn processing_time(mut self) -> Self {
        self.proctime = true;
        self
    }

    /// Aggregates the slices of `spec`'s windows (the input's `start`, `end`
    /// are slices, from [`WindowTvfOperator::slicing`]) and merges them when a
    /// window fires. Only for aggregates whose merge ignores arrival order.
    pub fn slicing(mut self, spec: WindowSpec) -> Self {
        self.slicing = Some(spec);
        self
    }

    /// Emits the windows whose timers are due: event-time timers up to the
    /// watermark, or processing-time timers up to `now`.
    fn fire(&mut self, out: &mut Emitter<'_, RecordBatch>, now: Option<Timestamp>) -> Result<()> {
        let (Some(backend), Some(state)) = (self.backend.as_mut(), self.state.as_ref()) else {
            return Ok(());
        };
        let watermark = self.timers.current_watermark();
        let mut due = Vec::new();
        if let Some(panes) = &mut self.panes {
            while let Some(pane) = panes.pop_due(watermark) {
                due.push(pane);
            }
        }
        if let Some(slices) = &mut self.slice_panes {
            while let Some(window) = slices.pop_due(watermark, &self.aggs) {
                due.push(window);
            }
        }
        if self.panes.is_some() || self.slice_panes.is_some() {
            if due.is_empty() {
                return Ok(());
            }
            let windows: Vec<TimeWindow> = due
                .iter()
                .flat_map(|(w, pane)| std::iter::repeat_n(*w, pane.len()))
                .collect();
            let groups = || due.iter().flat_map(|(_, pane)| pane.groups());
            let accs: Vec<&[Acc]> = groups().map(|(_, accs)| accs).collect();
            let aggs = self.aggs.result_columns(&accs).map_err(runtime)?;
            return self.emit(out, groups().map(|(key, _)| key), &windows, aggs);
        }
        let mut fired: Vec<(Vec<u8>, TimeWindow, Vec<Val>)> = Vec::new();
        if let Some(sessions) = &mut self.session_panes {
            while let Some((key, session)) = sessions.pop_due(watermark) {
                fired.push((key, session.window, self.aggs.results(&session.accs)));
            }
        }
        while let Some(timer) = match now {
            None => self.timers.pop_event_time(),
            Some(now) => self.timers.pop_processing_time(now),
        } {
            backend.set_current_key(timer.key.clone());
            if let Some(accs) = state.take_in(backend, &timer.namespace) {
                let results = self.aggs.results(&accs);
                fired.push((timer.key, timer.namespace, results));
            }
        }
        if fired.is_empty() {
            return Ok(());
        }
        let windows: Vec<TimeWindow> = fired.iter().map(|(_, w, _)| *w).collect();
        let results: Vec<&[Val]> = fired.iter().map(|(_, _, r)| r.as_slice()).collect();
        let aggs = self.aggs.columns(&results).map_err(runtime)?;
        self.emit(
            out,
            fired.iter().map(|(k, _, _)| k.as_slice()),
            &windows,
            aggs,
        )
    }

    /// Emits one row per window with its group's key and aggregate columns.
    fn emit<'a>(
        &self,
        out: &mut Emitter<'_, RecordBatch>,
        keys: impl Iterator<Item = &'a [u8]>,
        windows: &[TimeWindow],
        agg_columns: Vec<ArrayRef>,
    ) -> Result<()> {
        let key_columns = match &self.codec {
            Some(codec) => codec.decode(keys).map_err(runtime)?,
            None => Vec::new(),
        };
        let starts: ArrayRef = std::sync::Arc::new(TimestampMillisecondArray::from_iter_values(
            windows.iter().map(|w| w.start),
        ));
        let ends: ArrayRef = std::sync::Arc::new(TimestampMillisecondArray::from_iter_values(
            windows.iter().map(|w| w.end),
        ));
        let times: ArrayRef = std::sync::Arc::new(TimestampMillisecondArray::from_iter_values(
            windows.iter().map(|w| w.end - 1),
        ));
        let columns: Vec<ArrayRef> = self
            .outputs
            .iter()
            .map(|o| match o {
                WindowOut::Key(i) => key_columns[*i].clone(),
                WindowOut::Start => starts.clone(),
                WindowOut::End => ends.clone(),
                WindowOut::Time => times.clone(),
                WindowOut::Agg(i) => agg_columns[*i].clone(),
            })
            .collect();
        let columns = conform(&self.schema, columns).map_err(runtime)?;
        let batch =
            changelog::batch(self.schema.clone(), columns, windows.len()).map_err(runtime)?;
        let Some(count) = self.row_count else {
            return out.collect(batch);
        };
        // Windows whose rows were all retracted hold no row.
        let kept = arrow::compute::kernels::cmp::gt(
            &agg_columns[count],
            &arrow::array::Int64Array::new_scalar(0),
        )
        .map_err(runtime)?;
        let batch = arrow::compute::filter_record_batch(&batch, &kept).map_err(runtime)?;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        out.collect(batch)
    }
}

impl Operator for WindowAggOperator {
    type In = RecordBatch;
    type Out = RecordBatch;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let KeyedState {
            mut backend,
            timers,
        } = ctx.keyed_state::<Vec<u8>, TimeWindow>()?;
        self.timers = timers;
        // Slices and windows are different state: neither restores as the other.
        let name = match self.slicing {
            Some(_) => SLICE_STATE,
            None => WINDOW_STATE,
        };
        self.state = Some(backend.value_state_in(ValueStateDescriptor::new(name))?);
        if !self.proctime {
            let restored = self.restored_windows(&mut backend);
            if let Some(spec) = self.slicing {
                let mut slices = SlicePanes::new(spec, self.aggs.specs.len());
                for (key, slice, next, accs) in restored {
                    slices.insert(slice, next, &key, accs);
                }
                self.slice_panes = Some(slices);
            } else if self.merging {
                let mut sessions = SessionPanes::default();
                for (key, window, _, accs) in restored {
                    sessions.insert(&key, window, accs);
                }
                self.session_panes = Some(sessions);
            } else {
                let mut panes = Panes::new(self.aggs.specs.len());
                for (key, window, _, accs) in restored {
                    panes.pane(window).insert(&key, accs);
                }
                self.panes = Some(panes);
            }
        }
        self.key_groups = (ctx.key_group_range(), ctx.max_parallelism);
        self.backend = Some(backend);
        if !self.keys.is_empty() {
            self.codec = Some(KeyCodec::new(&self.input, &self.keys).map_err(runtime)?);
        }
        self.late = Some(ctx.counter("numLateRecordsDropped"));
        Ok(())
    }

    fn process_batch(
        &mut self,
        batch: RecordBatch,
        _: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        let (Some(backend), Some(state)) = (self.backend.as_mut(), self.state.as_ref()) else {
            return Err(runtime("window aggregation used before open"));
        };
        let starts = millis(batch.column(self.start))?;
        let ends = millis(batch.column(self.end))?;
        let keys = match &self.codec {
            Some(codec) => Some(codec.encode(&batch).map_err(runtime)?),
            None => None,
        };
        let inputs = self.aggs.inputs(&batch);
        let watermark = self.timers.current_watermark();
        let kinds = changelog::kinds(&batch);
        let key = |i: usize| -> &[u8] { keys.as_ref().map_or(&[], |k| k.row(i).data()) };
        let add = |accs: &mut [Acc], i: usize| add_row(&self.aggs, accs, &inputs, kinds, i);
        let late = if let Some(sessions) = &mut self.session_panes {
            let mut late = 0;
            for i in 0..batch.num_rows() {
                let window = TimeWindow::new(starts.value(i), ends.value(i));
                match sessions.merge(key(i), window, watermark, &self.aggs) {
                    Some(accs) => add(accs, i)?,
                    None => late += 1,
                }
            }
            Some(late)
        } else {
            let store: Option<&mut dyn PaneStore> = match (&mut self.slice_panes, &mut self.panes) {
                (Some(slices), _) => Some(slices),
                (_, Some(panes)) => Some(panes),
                _ => None,
            };
            match store {
                Some(store) => Some(fold_runs(
                    store,
                    &self.aggs,
                    (&starts, &ends),
                    key,
                    add,
                    watermark,
                )?),
                None => None,
            }
        };
        if let Some(late) = late {
            self.count_late(late);
            return Ok(());
        }
        // Processing-time windows: in keyed state, fired by timers. Rows of
        // one group and window are folded together: one state access each. A
        // group's rows are chained: `next[row]` is its next row.
        let mut groups: FastMap<(&[u8], i64, i64), (usize, usize)> =
            FastMap::with_capacity_and_hasher(batch.num_rows(), Default::default());
        let mut order = Vec::new();
        let mut next = vec![usize::MAX; batch.num_rows()];
        for i in 0..batch.num_rows() {
            let (start, end) = (starts.value(i), ends.value(i));
            match groups.entry((key(i), start, end)) {
                Entry::Occupied(mut group) => {
                    let (_, last) = group.get_mut();
                    next[*last] = i;
                    *last = i;
                }
                Entry::Vacant(group) => {
                    group.insert((i, i));
                    order.push((key(i), start, end, i));
                }
            }
        }
        for (key, start, end, first) in order {
            let rows =
                std::iter::successors(Some(first), |&i| Some(next[i]).filter(|&n| n != usize::MAX));
            backend.set_current_key(key.to_vec());
            let window = TimeWindow { start, end };
            let mut created = false;
            let mut failure = None;
            state.update_with_in(backend, &window, |accs| {
                let mut accs = accs.unwrap_or_else(|| {
                    created = true;
                    self.aggs.create()
                });
                for i in rows {
                    if let Err(e) = add(&mut accs, i) {
                        failure.get_or_insert(e);
                    }
                }
                accs
            });
            if let Some(e) = failure {
                return Err(e);
            }
            if created {
                self.timers
                    .register_processing_time_timer(end - 1, &key.to_vec(), &window);
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
        self.fire(out, None)?;
        out.emit_watermark(watermark)
    }

    fn next_processing_time(&self) -> Option<Timestamp> {
        self.timers.peek_processing_time()
    }

    fn on_processing_time(
        &mut self,
        now: Timestamp,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        self.fire(out, Some(now))
    }

    /// A bounded input's processing-time windows are emitted when it ends.
    fn end_input(&mut self, out: &mut Emitter<'_, RecordBatch>) -> Result<()> {
        self.fire(out, Some(Timestamp::MAX))
    }

    fn managed_state(&mut self) -> Option<ManagedState<'_>> {
        Some(ManagedState::new(self.backend.as_mut()?).with_timers(&self.timers))
    }

    /// Windows held in memory are written as keyed state and timers of their
    /// own backend.
    fn snapshot_state(&mut self, _: u64) -> Result<OperatorSnapshot> {
        match self.snapshot_in_memory() {
            Some(snapshot) => snapshot,
            None => self
                .managed_state()
                .map_or_else(|| Ok(OperatorSnapshot::default()), |s| s.snapshot()),
        }
    }
}

impl WindowAggOperator {
    fn count_late(&self, late: u64) {
        if let (true, Some(c)) = (late > 0, &self.late) {
            c.fetch_add(late, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Takes the restored windows out of keyed state: key, window (or slice),
    /// the end its timer stands for, and accumulators, found by their timers
    /// (in the order the timers would fire).
    fn restored_windows(
        &mut self,
        backend: &mut KeyedStateBackend<Vec<u8>>,
    ) -> Vec<(Vec<u8>, TimeWindow, Timestamp, Vec<Acc>)> {
        let Some(state) = &self.state else {
            return Vec::new();
        };
        let restored = std::mem::take(&mut self.timers).snapshot();
        let mut windows = Vec::new();
        for timer in restored.event_time {
            backend.set_current_key(timer.key.clone());
            if let Some(accs) = state.take_in(backend, &timer.namespace) {
                let fires = timer.timestamp.saturating_add(1);
                windows.push((timer.key, timer.namespace, fires, accs));
            }
        }
        windows
    }

    /// The windows in memory (panes or sessions), as keyed state and timers in
    /// the layout of the keyed path, in a backend of their own: its snapshot.
    fn snapshot_in_memory(&self) -> Option<Result<OperatorSnapshot>> {
        type Window<'a> = (&'a [u8], TimeWindow, Timestamp, &'a [Acc]);
        let windows: Vec<Window<'_>> = match (&self.panes, &self.session_panes, &self.slice_panes) {
            (Some(panes), _, _) => panes
                .iter()
                .flat_map(|(w, pane)| pane.groups().map(move |(k, accs)| (k, *w, w.end, accs)))
                .collect(),
            (_, Some(sessions), _) => sessions
                .iter()
                .map(|(k, s)| (k, s.window, s.window.end, s.accs.as_slice()))
                .collect(),
            (_, _, Some(slices)) => slices
                .iter()
                .map(|(slice, next, k, accs)| (k, slice, next, accs))
                .collect(),
            _ => return None,
        };
        Some(self.snapshot_windows(windows))
    }

    /// Keyed state per key and window (or slice) with a timer at the end it
    /// fires (or next fires) at.
    fn snapshot_windows(
        &self,
        windows: Vec<(&[u8], TimeWindow, Timestamp, &[Acc])>,
    ) -> Result<OperatorSnapshot> {
        let (range, max_parallelism) = self.key_groups;
        let mut backend = KeyedStateBackend::new(range, max_parallelism);
        let mut timers = TimerService::<Vec<u8>, TimeWindow>::new();
        let name = match self.slicing {
            Some(_) => SLICE_STATE,
            None => WINDOW_STATE,
        };
        let state: ValueState<Vec<Acc>, TimeWindow> =
            backend.value_state_in(ValueStateDescriptor::new(name))?;
        let sessions: Option<ValueState<Vec<(i64, i64)>>> = match self.merging {
            true => Some(backend.value_state(ValueStateDescriptor::new("sessions"))?),
            false => None,
        };
        for (key, window, fires, accs) in windows {
            let key = key.to_vec();
            backend.set_current_key(key.clone());
            state.update_in(&mut backend, &window, accs.to_vec());
            if let Some(sessions) = &sessions {
                let mut open = sessions.take(&mut backend).unwrap_or_default();
                open.push((window.start, window.end));
                sessions.update(&mut backend, open);
            }
            timers.register_event_time_timer(fires - 1, &key, &window);
        }
        ManagedState::new(&mut backend)
            .with_timers(&timers)
            .snapshot()
    }
}
