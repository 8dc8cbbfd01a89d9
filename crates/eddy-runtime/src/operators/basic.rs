//! Stateless record-at-a-time operators: map, flat_map, filter, process.

use std::marker::PhantomData;

use eddy_core::{Records, Result, StreamRecord, Timestamp, MIN_WATERMARK};
use eddy_state::OperatorStateStore;

use crate::operator::{Operator, OperatorContext, OperatorSnapshot};
use crate::operators::functions::{process_records, Collector, ProcessFunction, SideBuffers};
use crate::output::Emitter;

/// Applies a function to every record.
pub struct MapOperator<T, O, F> {
    function: F,
    _types: PhantomData<fn(T) -> O>,
}

impl<T, O, F> MapOperator<T, O, F> {
    /// A map operator.
    pub fn new(function: F) -> Self {
        MapOperator {
            function,
            _types: PhantomData,
        }
    }
}

impl<T, O, F> Operator for MapOperator<T, O, F>
where
    T: Clone + Send + 'static,
    O: Clone + Send + 'static,
    F: FnMut(T) -> O + Send + 'static,
{
    type In = Records<T>;
    type Out = Records<O>;

    fn process_batch(
        &mut self,
        batch: Records<T>,
        out: &mut Emitter<'_, Records<O>>,
    ) -> Result<()> {
        let f = &mut self.function;
        let mapped: Records<O> = batch
            .into_iter()
            .map(|r| StreamRecord {
                value: f(r.value),
                timestamp: r.timestamp,
            })
            .collect();
        out.collect(mapped)
    }
}

/// Keeps the records for which a predicate holds.
pub struct FilterOperator<T, F> {
    predicate: F,
    _types: PhantomData<fn(T)>,
}

impl<T, F> FilterOperator<T, F> {
    /// A filter operator.
    pub fn new(predicate: F) -> Self {
        FilterOperator {
            predicate,
            _types: PhantomData,
        }
    }
}

impl<T, F> Operator for FilterOperator<T, F>
where
    T: Clone + Send + 'static,
    F: FnMut(&T) -> bool + Send + 'static,
{
    type In = Records<T>;
    type Out = Records<T>;

    fn process_batch(
        &mut self,
        mut batch: Records<T>,
        out: &mut Emitter<'_, Records<T>>,
    ) -> Result<()> {
        let p = &mut self.predicate;
        batch.retain(|r| p(&r.value));
        out.collect(batch)
    }
}

/// Turns every record into zero or more records.
pub struct FlatMapOperator<T, O, F> {
    function: F,
    _types: PhantomData<fn(T) -> O>,
}

impl<T, O, F> FlatMapOperator<T, O, F> {
    /// A flat-map operator.
    pub fn new(function: F) -> Self {
        FlatMapOperator {
            function,
            _types: PhantomData,
        }
    }
}

impl<T, O, F> Operator for FlatMapOperator<T, O, F>
where
    T: Clone + Send + 'static,
    O: Clone + Send + 'static,
    F: FnMut(T, &mut Collector<O>) + Send + 'static,
{
    type In = Records<T>;
    type Out = Records<O>;

    fn process_batch(
        &mut self,
        batch: Records<T>,
        out: &mut Emitter<'_, Records<O>>,
    ) -> Result<()> {
        let mut collector = Collector::with_capacity(batch.len());
        for record in batch {
            collector.set_timestamp(record.timestamp);
            (self.function)(record.value, &mut collector);
        }
        out.collect(collector.take())
    }
}

/// Runs a [`ProcessFunction`] over every record.
pub struct ProcessOperator<T, O, F> {
    function: F,
    watermark: Timestamp,
    sides: SideBuffers,
    state: OperatorStateStore,
    _types: PhantomData<fn(T) -> O>,
}

impl<T, O, F> ProcessOperator<T, O, F> {
    /// A process operator.
    pub fn new(function: F) -> Self {
        ProcessOperator {
            function,
            watermark: MIN_WATERMARK,
            sides: SideBuffers::default(),
            state: OperatorStateStore::default(),
            _types: PhantomData,
        }
    }
}

impl<T, O, F> Operator for ProcessOperator<T, O, F>
where
    T: Clone + Send + 'static,
    O: Clone + Send + 'static,
    F: ProcessFunction<T, O>,
{
    type In = Records<T>;
    type Out = Records<O>;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let restored = ctx.restored_operator_state();
        if !restored.is_empty() {
            self.state = OperatorStateStore::restore(&restored, ctx.subtask, ctx.parallelism)?;
        }
        self.function.register_metrics(&ctx.metric_group())?;
        self.function.open(&mut self.state)
    }

    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<OperatorSnapshot> {
        let _ = checkpoint_id;
        Ok(OperatorSnapshot {
            operator: if self.state.is_empty() {
                Vec::new()
            } else {
                self.state.snapshot()?
            },
            ..Default::default()
        })
    }

    fn process_batch(
        &mut self,
        batch: Records<T>,
        out: &mut Emitter<'_, Records<O>>,
    ) -> Result<()> {
        let function = &mut self.function;
        process_records(
            batch,
            self.watermark,
            &mut self.sides,
            Some(&mut self.state),
            out,
            |v, ctx, c| function.process_element(v, ctx, c),
        )
    }

    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        out: &mut Emitter<'_, Records<O>>,
    ) -> Result<()> {
        self.watermark = watermark;
        out.emit_watermark(watermark)
    }
}
