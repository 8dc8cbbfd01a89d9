//! User-function interfaces and the contexts handed to them.

use std::any::Any;
use std::collections::HashMap;
use std::marker::PhantomData;

use eddy_core::{Result, StreamRecord, Timestamp};
use eddy_state::{Key, KeyedStateBackend, OperatorStateStore};

use crate::output::Emitter;
use crate::timers::TimerService;
use crate::user_metrics::MetricGroup;

/// Collects the records a user function emits; they carry the timestamp of the
/// input record unless given one.
pub struct Collector<T> {
    records: Vec<StreamRecord<T>>,
    timestamp: Option<Timestamp>,
}

impl<T> Collector<T> {
    /// An empty collector.
    pub fn new() -> Self {
        Collector {
            records: Vec::new(),
            timestamp: None,
        }
    }

    /// Emits a value with the current timestamp.
    pub fn collect(&mut self, value: T) {
        self.records.push(StreamRecord {
            value,
            timestamp: self.timestamp,
        });
    }

    /// Emits a value with an explicit timestamp.
    pub fn collect_with_timestamp(&mut self, value: T, timestamp: Timestamp) {
        self.records
            .push(StreamRecord::with_timestamp(value, timestamp));
    }

    pub(crate) fn set_timestamp(&mut self, timestamp: Option<Timestamp>) {
        self.timestamp = timestamp;
    }

    pub(crate) fn take(&mut self) -> Vec<StreamRecord<T>> {
        std::mem::take(&mut self.records)
    }

    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Collector {
            records: Vec::with_capacity(capacity),
            timestamp: None,
        }
    }
}

impl<T> Default for Collector<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Names a side output and its record type.
///
/// ```
/// use eddy_runtime::operators::OutputTag;
/// let late: OutputTag<String> = OutputTag::new("late-records");
/// assert_eq!(late.id(), "late-records");
/// ```
pub struct OutputTag<T> {
    id: String,
    _type: PhantomData<fn() -> T>,
}

impl<T> OutputTag<T> {
    /// A tag with a unique id.
    pub fn new(id: impl Into<String>) -> Self {
        OutputTag {
            id: id.into(),
            _type: PhantomData,
        }
    }

    /// The tag's id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl<T> Clone for OutputTag<T> {
    fn clone(&self) -> Self {
        OutputTag::new(self.id.clone())
    }
}

/// Side-output records buffered during one call, by tag.
#[derive(Default)]
pub struct SideBuffers {
    /// Per tag: the buffered records and how many.
    buffers: HashMap<String, (Box<dyn Any + Send>, usize)>,
}

impl SideBuffers {
    /// Buffers a record for the side output `tag`.
    pub fn push<T: Send + 'static>(&mut self, tag: &OutputTag<T>, record: StreamRecord<T>) {
        let (buffer, rows) = self
            .buffers
            .entry(tag.id.clone())
            .or_insert_with(|| (Box::new(Vec::<StreamRecord<T>>::new()), 0));
        if let Some(records) = buffer.downcast_mut::<Vec<StreamRecord<T>>>() {
            records.push(record);
            *rows += 1;
        }
    }

    /// Sends every buffered side output.
    pub fn drain<O: Send + 'static>(&mut self, out: &mut Emitter<'_, O>) -> Result<()> {
        if self.buffers.is_empty() {
            return Ok(());
        }
        for (tag, (records, rows)) in self.buffers.drain() {
            out.side_output_any(&tag, records, rows)?;
        }
        Ok(())
    }
}

/// What a [`ProcessFunction`] sees besides the record.
pub struct ProcessContext<'a> {
    pub(crate) timestamp: Option<Timestamp>,
    pub(crate) watermark: Timestamp,
    pub(crate) sides: &'a mut SideBuffers,
    pub(crate) state: Option<&'a mut OperatorStateStore>,
}

impl ProcessContext<'_> {
    /// The timestamp of the current record.
    pub fn timestamp(&self) -> Option<Timestamp> {
        self.timestamp
    }

    /// The current watermark.
    pub fn current_watermark(&self) -> Timestamp {
        self.watermark
    }

    /// Emits `value` to the side output `tag` with the current timestamp.
    pub fn output<T: Send + 'static>(&mut self, tag: &OutputTag<T>, value: T) {
        self.sides.push(
            tag,
            StreamRecord {
                value,
                timestamp: self.timestamp,
            },
        );
    }

    /// The operator (non-keyed) state of this subtask, checkpointed and
    /// redistributed on rescaling (`None` for co-process functions).
    pub fn operator_state(&mut self) -> Option<&mut OperatorStateStore> {
        self.state.as_deref_mut()
    }
}

/// Runs `element` over every record of `batch` with a [`ProcessContext`], then
/// emits the collected records and side outputs: the loop shared by process and
/// co-process operators.
pub(crate) fn process_records<T, O: Clone + Send + 'static>(
    batch: Vec<StreamRecord<T>>,
    watermark: Timestamp,
    sides: &mut SideBuffers,
    mut state: Option<&mut OperatorStateStore>,
    out: &mut Emitter<'_, Vec<StreamRecord<O>>>,
    mut element: impl FnMut(T, &mut ProcessContext<'_>, &mut Collector<O>) -> Result<()>,
) -> Result<()> {
    let mut collector = Collector::with_capacity(batch.len());
    for record in batch {
        collector.set_timestamp(record.timestamp);
        let mut ctx = ProcessContext {
            timestamp: record.timestamp,
            watermark,
            sides: &mut *sides,
            state: state.as_deref_mut(),
        };
        element(record.value, &mut ctx, &mut collector)?;
    }
    sides.drain(out)?;
    out.collect(collector.take())
}

/// A function over each record of a (non-keyed) stream, with access to timestamps,
/// the watermark, side outputs and operator state.
pub trait ProcessFunction<T, O>: Send + 'static {
    /// Registers operator list states (restored ones already hold their share);
    /// called once per subtask before any record.
    fn open(&mut self, state: &mut OperatorStateStore) -> Result<()> {
        let _ = state;
        Ok(())
    }

    /// Registers user-defined metrics (counters, gauges, histograms, meters)
    /// in this subtask's group; called once per subtask before any record.
    fn register_metrics(&mut self, metrics: &MetricGroup) -> Result<()> {
        let _ = metrics;
        Ok(())
    }

    /// Processes one record.
    fn process_element(
        &mut self,
        value: T,
        ctx: &mut ProcessContext<'_>,
        out: &mut Collector<O>,
    ) -> Result<()>;
}

/// What a [`KeyedProcessFunction`] sees: the key, its state, timers, side outputs.
pub struct KeyedContext<'a, K> {
    pub(crate) timestamp: Option<Timestamp>,
    pub(crate) now: Timestamp,
    pub(crate) state: &'a mut KeyedStateBackend<K>,
    pub(crate) timers: &'a mut TimerService<K, ()>,
    pub(crate) sides: &'a mut SideBuffers,
}

impl<K: Key> KeyedContext<'_, K> {
    /// The timestamp of the current record (or of the firing timer).
    pub fn timestamp(&self) -> Option<Timestamp> {
        self.timestamp
    }

    /// The current key.
    pub fn current_key(&self) -> &K {
        self.state
            .current_key()
            .expect("the runtime sets the key before calling a keyed function")
    }

    /// The keyed state backend, for state handles (`handle.value(ctx.state())`).
    pub fn state(&mut self) -> &mut KeyedStateBackend<K> {
        self.state
    }

    /// The current watermark.
    pub fn current_watermark(&self) -> Timestamp {
        self.timers.current_watermark()
    }

    /// The current processing time.
    pub fn current_processing_time(&self) -> Timestamp {
        self.now
    }

    /// Calls [`KeyedProcessFunction::on_timer`] for the current key once the
    /// watermark reaches `time`.
    pub fn register_event_time_timer(&mut self, time: Timestamp) {
        let key = self.current_key().clone();
        self.timers.register_event_time_timer(time, &key, &());
    }

    /// Calls [`KeyedProcessFunction::on_timer`] once processing time reaches `time`.
    pub fn register_processing_time_timer(&mut self, time: Timestamp) {
        let key = self.current_key().clone();
        self.timers.register_processing_time_timer(time, &key, &());
    }

    /// Deletes an event-time timer of the current key.
    pub fn delete_event_time_timer(&mut self, time: Timestamp) {
        let key = self.current_key().clone();
        self.timers.delete_event_time_timer(time, &key, &());
    }

    /// Deletes a processing-time timer of the current key.
    pub fn delete_processing_time_timer(&mut self, time: Timestamp) {
        let key = self.current_key().clone();
        self.timers.delete_processing_time_timer(time, &key, &());
    }

    /// Emits `value` to the side output `tag` with the current timestamp.
    pub fn output<T: Send + 'static>(&mut self, tag: &OutputTag<T>, value: T) {
        self.sides.push(
            tag,
            StreamRecord {
                value,
                timestamp: self.timestamp,
            },
        );
    }
}

/// A function over each record of a keyed stream, with keyed state and timers.
pub trait KeyedProcessFunction<K, T, O>: Send + 'static {
    /// Registers state handles; called once per subtask before any record.
    fn open(&mut self, state: &mut KeyedStateBackend<K>) -> Result<()> {
        let _ = state;
        Ok(())
    }

    /// Registers user-defined metrics in this subtask's group; called once per
    /// subtask before any record.
    fn register_metrics(&mut self, metrics: &MetricGroup) -> Result<()> {
        let _ = metrics;
        Ok(())
    }

    /// Processes one record of the current key.
    fn process_element(
        &mut self,
        value: T,
        ctx: &mut KeyedContext<'_, K>,
        out: &mut Collector<O>,
    ) -> Result<()>;

    /// A timer of the current key fired at `timestamp` (event or processing time).
    fn on_timer(
        &mut self,
        timestamp: Timestamp,
        ctx: &mut KeyedContext<'_, K>,
        out: &mut Collector<O>,
    ) -> Result<()> {
        let _ = (timestamp, ctx, out);
        Ok(())
    }
}
