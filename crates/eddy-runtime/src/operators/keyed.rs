//! Operators on keyed streams: process functions with state and timers, running
//! reduce and running aggregate.

use std::marker::PhantomData;
use std::sync::Arc;

use eddy_core::{Error, Records, Result, StreamRecord, Timestamp};
use eddy_state::{
    AggregateFunction, AggregatingState, AggregatingStateDescriptor, Key, KeyedStateBackend,
    StateData, ValueState, ValueStateDescriptor,
};

use crate::keyed_state::{KeyedState, ManagedState};
use crate::operator::{Operator, OperatorContext};
use crate::operators::functions::{Collector, KeyedContext, KeyedProcessFunction, SideBuffers};
use crate::output::Emitter;
use crate::timers::TimerService;

/// Extracts the key of a record.
pub type KeySelector<T, K> = Arc<dyn Fn(&T) -> K + Send + Sync>;

fn not_open() -> Error {
    Error::Other("operator used before open".into())
}

/// Runs a [`KeyedProcessFunction`]: sets the key of each record, hands it the
/// state and timer services, and fires timers as the watermark and the clock advance.
pub struct KeyedProcessOperator<K, T, O, F> {
    key_selector: KeySelector<T, K>,
    function: F,
    backend: Option<KeyedStateBackend<K>>,
    timers: TimerService<K, ()>,
    sides: SideBuffers,
    clock: Option<Arc<dyn eddy_core::time::Clock>>,
    _types: PhantomData<fn(T) -> O>,
}

impl<K: Key, T, O, F> KeyedProcessOperator<K, T, O, F> {
    /// A keyed process operator.
    pub fn new(key_selector: KeySelector<T, K>, function: F) -> Self {
        KeyedProcessOperator {
            key_selector,
            function,
            backend: None,
            timers: TimerService::new(),
            sides: SideBuffers::default(),
            clock: None,
            _types: PhantomData,
        }
    }
}

impl<K, T, O, F> KeyedProcessOperator<K, T, O, F>
where
    K: Key,
    T: Clone + Send + 'static,
    O: Clone + Send + 'static,
    F: KeyedProcessFunction<K, T, O>,
{
    fn fire(
        &mut self,
        timer: crate::timers::Timer<K, ()>,
        collector: &mut Collector<O>,
    ) -> Result<()> {
        let backend = self.backend.as_mut().ok_or_else(not_open)?;
        backend.set_current_key(timer.key);
        collector.set_timestamp(Some(timer.timestamp));
        let now = self.clock.as_ref().map_or(0, |c| c.now_millis());
        let mut ctx = KeyedContext {
            timestamp: Some(timer.timestamp),
            now,
            state: backend,
            timers: &mut self.timers,
            sides: &mut self.sides,
        };
        self.function.on_timer(timer.timestamp, &mut ctx, collector)
    }
}

impl<K, T, O, F> Operator for KeyedProcessOperator<K, T, O, F>
where
    K: Key,
    T: Clone + Send + 'static,
    O: Clone + Send + 'static,
    F: KeyedProcessFunction<K, T, O>,
{
    type In = Records<T>;
    type Out = Records<O>;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let KeyedState {
            mut backend,
            timers,
        } = ctx.keyed_state::<K, ()>()?;
        self.function.register_metrics(&ctx.metric_group())?;
        self.function.open(&mut backend)?;
        self.backend = Some(backend);
        self.timers = timers;
        self.clock = Some(ctx.clock.clone());
        Ok(())
    }

    fn process_batch(
        &mut self,
        batch: Records<T>,
        out: &mut Emitter<'_, Records<O>>,
    ) -> Result<()> {
        let backend = self.backend.as_mut().ok_or_else(not_open)?;
        let now = self.clock.as_ref().map_or(0, |c| c.now_millis());
        let mut collector = Collector::with_capacity(batch.len());
        for record in batch {
            backend.set_current_key((self.key_selector)(&record.value));
            collector.set_timestamp(record.timestamp);
            let mut ctx = KeyedContext {
                timestamp: record.timestamp,
                now,
                state: backend,
                timers: &mut self.timers,
                sides: &mut self.sides,
            };
            self.function
                .process_element(record.value, &mut ctx, &mut collector)?;
        }
        self.sides.drain(out)?;
        out.collect(collector.take())
    }

    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        out: &mut Emitter<'_, Records<O>>,
    ) -> Result<()> {
        self.timers.advance_watermark(watermark);
        let mut collector = Collector::new();
        while let Some(timer) = self.timers.pop_event_time() {
            self.fire(timer, &mut collector)?;
        }
        self.sides.drain(out)?;
        out.collect(collector.take())?;
        out.emit_watermark(watermark)
    }

    fn next_processing_time(&self) -> Option<Timestamp> {
        self.timers.peek_processing_time()
    }

    fn on_processing_time(
        &mut self,
        now: Timestamp,
        out: &mut Emitter<'_, Records<O>>,
    ) -> Result<()> {
        let mut collector = Collector::new();
        while let Some(timer) = self.timers.pop_processing_time(now) {
            self.fire(timer, &mut collector)?;
        }
        self.sides.drain(out)?;
        out.collect(collector.take())
    }

    fn end_input(&mut self, out: &mut Emitter<'_, Records<O>>) -> Result<()> {
        // Bounded input: pending processing-time timers fire too, so nothing waits
        // for a time that will never come to this job.
        self.on_processing_time(Timestamp::MAX, out)
    }

    fn managed_state(&mut self) -> Option<ManagedState<'_>> {
        Some(ManagedState::new(self.backend.as_mut()?).with_timers(&self.timers))
    }
}

/// A running reduce per key: every record is folded into the key's value and the
/// new value is emitted.
pub struct KeyedReduceOperator<K, T, F> {
    key_selector: KeySelector<T, K>,
    reduce: F,
    backend: Option<KeyedStateBackend<K>>,
    state: Option<ValueState<T>>,
}

impl<K, T, F> KeyedReduceOperator<K, T, F> {
    /// A running reduce.
    pub fn new(key_selector: KeySelector<T, K>, reduce: F) -> Self {
        KeyedReduceOperator {
            key_selector,
            reduce,
            backend: None,
            state: None,
        }
    }
}

impl<K, T, F> Operator for KeyedReduceOperator<K, T, F>
where
    K: Key,
    T: StateData,
    F: FnMut(T, T) -> T + Send + 'static,
{
    type In = Records<T>;
    type Out = Records<T>;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let KeyedState { mut backend, .. } = ctx.keyed_state::<K, ()>()?;
        self.state = Some(backend.value_state(ValueStateDescriptor::new("reduce"))?);
        self.backend = Some(backend);
        Ok(())
    }

    fn process_batch(
        &mut self,
        batch: Records<T>,
        out: &mut Emitter<'_, Records<T>>,
    ) -> Result<()> {
        let (Some(backend), Some(state)) = (self.backend.as_mut(), self.state.as_ref()) else {
            return Err(not_open());
        };
        let mut results = Vec::with_capacity(batch.len());
        for record in batch {
            backend.set_current_key((self.key_selector)(&record.value));
            let reduce = &mut self.reduce;
            let mut emitted = None;
            state.update_with(backend, |current| {
                let next = match current {
                    Some(current) => reduce(current, record.value),
                    None => record.value,
                };
                emitted = Some(next.clone());
                next
            });
            if let Some(value) = emitted {
                results.push(StreamRecord {
                    value,
                    timestamp: record.timestamp,
                });
            }
        }
        out.collect(results)
    }

    fn managed_state(&mut self) -> Option<ManagedState<'_>> {
        Some(ManagedState::new(self.backend.as_mut()?))
    }
}

/// A running aggregate per key: every record is added to the key's accumulator and
/// the current result is emitted.
pub struct KeyedAggregateOperator<K, T, A: AggregateFunction> {
    key_selector: KeySelector<T, K>,
    function: Option<A>,
    backend: Option<KeyedStateBackend<K>>,
    state: Option<AggregatingState<A>>,
}

impl<K, T, A: AggregateFunction> KeyedAggregateOperator<K, T, A> {
    /// A running aggregate.
    pub fn new(key_selector: KeySelector<T, K>, function: A) -> Self {
        KeyedAggregateOperator {
            key_selector,
            function: Some(function),
            backend: None,
            state: None,
        }
    }
}

impl<K, T, A> Operator for KeyedAggregateOperator<K, T, A>
where
    K: Key,
    T: Clone + Send + 'static,
    A: AggregateFunction<In = T>,
    A::Out: Clone + Send + 'static,
{
    type In = Records<T>;
    type Out = Records<A::Out>;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let KeyedState { mut backend, .. } = ctx.keyed_state::<K, ()>()?;
        let function = self.function.take().ok_or_else(not_open)?;
        self.state = Some(
            backend.aggregating_state(AggregatingStateDescriptor::new("aggregate", function))?,
        );
        self.backend = Some(backend);
        Ok(())
    }

    fn process_batch(
        &mut self,
        batch: Records<T>,
        out: &mut Emitter<'_, Records<A::Out>>,
    ) -> Result<()> {
        let (Some(backend), Some(state)) = (self.backend.as_mut(), self.state.as_ref()) else {
            return Err(not_open());
        };
        let mut results = Vec::with_capacity(batch.len());
        for record in batch {
            backend.set_current_key((self.key_selector)(&record.value));
            state.add(backend, record.value);
            if let Some(value) = state.get(backend) {
                results.push(StreamRecord {
                    value,
                    timestamp: record.timestamp,
                });
            }
        }
        out.collect(results)
    }

    fn managed_state(&mut self) -> Option<ManagedState<'_>> {
        Some(ManagedState::new(self.backend.as_mut()?))
    }
}
