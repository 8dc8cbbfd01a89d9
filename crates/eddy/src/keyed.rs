//! KeyedStream: a stream partitioned by key, with keyed state, timers and windows.

use std::sync::Arc;

use eddy_core::key_group::stable_hash;
use eddy_core::{Partitioning, Records};
use eddy_runtime::operators::{
    KeySelector, KeyedAggregateOperator, KeyedProcessFunction, KeyedProcessOperator,
    KeyedReduceOperator,
};
use eddy_runtime::partitioner::KeyHasher;
use eddy_runtime::window::WindowAssigner;
use eddy_runtime::{EdgeFactory, Operator, TypedEdge};
use eddy_state::{AggregateFunction, Key};
use serde::{de::DeserializeOwned, Serialize};

use crate::datastream::DataStream;
use crate::windowed::WindowedStream;

/// A stream partitioned by a key: every record of a key is processed by the same
/// subtask, with that key's state.
pub struct KeyedStream<T, K> {
    pub(crate) stream: DataStream<T>,
    pub(crate) selector: KeySelector<T, K>,
}

impl<T, K> Clone for KeyedStream<T, K> {
    fn clone(&self) -> Self {
        KeyedStream {
            stream: self.stream.clone(),
            selector: self.selector.clone(),
        }
    }
}

impl<T: Clone + Send + 'static, K: Key> KeyedStream<T, K> {
    pub(crate) fn new(stream: DataStream<T>, selector: KeySelector<T, K>) -> Self {
        KeyedStream { stream, selector }
    }

    /// The edge that routes records to the subtask owning their key group.
    pub(crate) fn edge(&self) -> Arc<dyn EdgeFactory> {
        let selector = self.selector.clone();
        let hasher: KeyHasher<Records<T>> =
            Arc::new(move |batch: &Records<T>, out: &mut Vec<i32>| {
                out.extend(batch.iter().map(|r| stable_hash(&selector(&r.value))));
            });
        let max_parallelism = self.stream.env.max_parallelism().unwrap_or(128);
        Arc::new(TypedEdge::keyed(hasher, max_parallelism))
    }

    /// Adds a keyed operator after the hash exchange.
    pub fn transform<O, Op, F>(&self, name: &str, create: F) -> DataStream<O>
    where
        O: Clone + Send + 'static,
        Op: Operator<In = Records<T>, Out = Records<O>>,
        F: Fn(usize) -> Op + Send + Sync + 'static,
    {
        self.stream
            .transform(name, self.edge(), Some(Partitioning::Hash), create)
    }

    /// A running reduce: folds each record into its key's value and emits the result.
    pub fn reduce<F>(&self, f: F) -> DataStream<T>
    where
        T: Serialize + DeserializeOwned + Sync,
        F: FnMut(T, T) -> T + Clone + Send + Sync + 'static,
    {
        self.stream.env.register_type::<T>();
        let selector = self.selector.clone();
        self.transform("Keyed Reduce", move |_| {
            KeyedReduceOperator::new(selector.clone(), f.clone())
        })
    }

    /// A running aggregate: adds each record to its key's accumulator and emits the
    /// current result.
    pub fn aggregate<A>(&self, function: A) -> DataStream<A::Out>
    where
        A: AggregateFunction<In = T> + Clone,
        A::Out: Clone + Send + 'static,
    {
        let selector = self.selector.clone();
        self.transform("Keyed Aggregate", move |_| {
            KeyedAggregateOperator::new(selector.clone(), function.clone())
        })
    }

    /// Runs a [`KeyedProcessFunction`] with keyed state and timers.
    pub fn process<O, F>(&self, function: F) -> DataStream<O>
    where
        O: Clone + Send + 'static,
        F: KeyedProcessFunction<K, T, O> + Clone + Sync,
    {
        let selector = self.selector.clone();
        self.transform("Keyed Process", move |_| {
            KeyedProcessOperator::new(selector.clone(), function.clone())
        })
    }

    /// Groups each key's records into windows.
    pub fn window<A: WindowAssigner + Clone>(&self, assigner: A) -> WindowedStream<T, K, A> {
        WindowedStream::new(self.clone(), assigner)
    }
}
