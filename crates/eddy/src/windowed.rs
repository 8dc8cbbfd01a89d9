//! WindowedStream: a keyed stream cut into windows.

use std::sync::Arc;
use std::time::Duration;

use eddy_runtime::operators::{Collector, OutputTag};
use eddy_runtime::window::{
    AggregateContents, ListContents, ReduceContents, Trigger, WindowAssigner, WindowFunction,
    WindowInfo, WindowOperator,
};
use eddy_state::{AggregateFunction, Key, StateData};

use crate::datastream::DataStream;
use crate::keyed::KeyedStream;

/// A keyed stream with a window assigner, awaiting its window function.
pub struct WindowedStream<T, K, A: WindowAssigner> {
    keyed: KeyedStream<T, K>,
    assigner: A,
    trigger: Option<Arc<dyn Trigger<A::W>>>,
    allowed_lateness: i64,
    late_tag: Option<OutputTag<T>>,
}

impl<T, K, A> WindowedStream<T, K, A>
where
    T: Clone + Send + 'static,
    K: Key,
    A: WindowAssigner + Clone,
{
    pub(crate) fn new(keyed: KeyedStream<T, K>, assigner: A) -> Self {
        WindowedStream {
            keyed,
            assigner,
            trigger: None,
            allowed_lateness: 0,
            late_tag: None,
        }
    }

    /// Replaces the assigner's default trigger.
    pub fn trigger(mut self, trigger: impl Trigger<A::W>) -> Self {
        self.trigger = Some(Arc::new(trigger));
        self
    }

    /// Keeps windows for `lateness` after the watermark passed their end; a late
    /// record within it fires an updated result.
    pub fn allowed_lateness(mut self, lateness: Duration) -> Self {
        self.allowed_lateness = i64::try_from(lateness.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// Sends records too late for any window to the side output `tag` instead of
    /// dropping them.
    pub fn side_output_late_data(mut self, tag: &OutputTag<T>) -> Self {
        self.late_tag = Some(tag.clone());
        self
    }

    fn build<C, F, O>(
        self,
        name: &str,
        make_contents: impl Fn() -> C + Send + Sync + 'static,
        function: F,
    ) -> DataStream<O>
    where
        C: eddy_runtime::window::WindowContents<T, A::W>,
        F: WindowFunction<K, A::W, C::Result, O> + Clone + Sync,
        O: Clone + Send + 'static,
    {
        let selector = self.keyed.selector.clone();
        let (assigner, trigger, lateness, tag) = (
            self.assigner,
            self.trigger,
            self.allowed_lateness,
            self.late_tag,
        );
        self.keyed.transform(name, move |_| {
            WindowOperator::new(
                selector.clone(),
                assigner.clone(),
                trigger.clone(),
                lateness,
                tag.clone(),
                make_contents(),
                function.clone(),
            )
        })
    }

    /// Folds each window's records with `f` and emits the result.
    pub fn reduce<F>(self, f: F) -> DataStream<T>
    where
        T: StateData + Sync,
        F: Fn(T, T) -> T + Clone + Send + Sync + 'static,
    {
        self.keyed.stream.env.register_type::<T>();
        let emit =
            |_: &K, _: &WindowInfo<'_, A::W>, value: T, out: &mut Collector<T>| out.collect(value);
        self.build(
            "Window Reduce",
            move || ReduceContents::new(f.clone()),
            emit,
        )
    }

    /// Folds each window's records with `f`, then hands the result to `function`
    /// with the key and window.
    pub fn reduce_with<F, W, O>(self, f: F, function: W) -> DataStream<O>
    where
        T: StateData + Sync,
        F: Fn(T, T) -> T + Clone + Send + Sync + 'static,
        W: WindowFunction<K, A::W, T, O> + Clone + Sync,
        O: Clone + Send + 'static,
    {
        self.keyed.stream.env.register_type::<T>();
        self.build(
            "Window Reduce",
            move || ReduceContents::new(f.clone()),
            function,
        )
    }

    /// Aggregates each window's records with an [`AggregateFunction`].
    pub fn aggregate<G>(self, aggregate: G) -> DataStream<G::Out>
    where
        G: AggregateFunction<In = T> + Clone,
        G::Out: Clone + Send + 'static,
    {
        let emit = |_: &K, _: &WindowInfo<'_, A::W>, value: G::Out, out: &mut Collector<G::Out>| {
            out.collect(value)
        };
        self.build(
            "Window Aggregate",
            move || AggregateContents::new(aggregate.clone()),
            emit,
        )
    }

    /// Aggregates each window's records, then hands the result to `function` with
    /// the key and window (Flink's `aggregate(agg, processWindowFunction)`).
    pub fn aggregate_with<G, W, O>(self, aggregate: G, function: W) -> DataStream<O>
    where
        G: AggregateFunction<In = T> + Clone,
        W: WindowFunction<K, A::W, G::Out, O> + Clone + Sync,
        O: Clone + Send + 'static,
    {
        self.build(
            "Window Aggregate",
            move || AggregateContents::new(aggregate.clone()),
            function,
        )
    }

    /// Hands all records of each window to `function` (keeps them in state).
    pub fn process<W, O>(self, function: W) -> DataStream<O>
    where
        T: StateData + Sync,
        W: WindowFunction<K, A::W, Vec<T>, O> + Clone + Sync,
        O: Clone + Send + 'static,
    {
        self.keyed.stream.env.register_type::<T>();
        self.build("Window Process", ListContents::new, function)
    }
}
