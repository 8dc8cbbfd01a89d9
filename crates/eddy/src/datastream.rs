//! DataStream: a stream of typed records and its transformations.

use std::fmt::Debug;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use eddy_connectors::{CollectSink, DiscardSink, FileSink, PrintSink};
use eddy_core::graph::VertexKind;
use eddy_core::{Partitioning, Records, VertexId};
use eddy_runtime::operators::{
    Collector, FilterOperator, FlatMapOperator, KeySelector, MapOperator, OutputTag,
    ProcessFunction, ProcessOperator, SinkOperator, SinkWriter, TimestampsAndWatermarksOperator,
    WatermarkStrategy,
};
use eddy_runtime::{EdgeFactory, Operator, OperatorVertex, TypedEdge};
use eddy_state::Key;

use crate::connected::ConnectedStreams;
use crate::env::StreamExecutionEnvironment;
use crate::keyed::KeyedStream;
use eddy_runtime::graph_builder::PendingEdge;

/// A stream of records of type `T`.
pub struct DataStream<T> {
    pub(crate) env: StreamExecutionEnvironment,
    pub(crate) id: VertexId,
    pub(crate) side: Option<String>,
    pub(crate) partitioning: Option<Partitioning>,
    /// Streams merged into this one by `union`: `(vertex, side output)`.
    pub(crate) unioned: Vec<(VertexId, Option<String>)>,
    pub(crate) _type: PhantomData<fn() -> T>,
}

impl<T> Clone for DataStream<T> {
    fn clone(&self) -> Self {
        DataStream {
            env: self.env.clone(),
            id: self.id,
            side: self.side.clone(),
            partitioning: self.partitioning,
            unioned: self.unioned.clone(),
            _type: PhantomData,
        }
    }
}

impl<T: Clone + Send + 'static> DataStream<T> {
    pub(crate) fn new(env: StreamExecutionEnvironment, id: VertexId) -> Self {
        DataStream {
            env,
            id,
            side: None,
            partitioning: None,
            unioned: Vec::new(),
            _type: PhantomData,
        }
    }

    /// Adds an operator vertex fed by this stream through `edge`.
    pub fn transform<O, Op, F>(
        &self,
        name: &str,
        edge: Arc<dyn EdgeFactory>,
        partitioning: Option<Partitioning>,
        create: F,
    ) -> DataStream<O>
    where
        O: Clone + Send + 'static,
        Op: Operator<In = Records<T>, Out = Records<O>>,
        F: Fn(usize) -> Op + Send + Sync + 'static,
    {
        self.add_vertex(name, VertexKind::OneInput, edge, partitioning, create)
    }

    fn add_vertex<O, Op, F>(
        &self,
        name: &str,
        kind: VertexKind,
        edge: Arc<dyn EdgeFactory>,
        partitioning: Option<Partitioning>,
        create: F,
    ) -> DataStream<O>
    where
        O: Clone + Send + 'static,
        Op: Operator<In = Records<T>, Out = Records<O>>,
        F: Fn(usize) -> Op + Send + Sync + 'static,
    {
        let (p, mp) = match (self.env.parallelism(), self.env.max_parallelism()) {
            (Ok(p), Ok(mp)) => (p, mp),
            (Err(e), _) | (_, Err(e)) => {
                self.env.record_build_error(e);
                (1, 128)
            }
        };
        let mut inner = self.env.inner.borrow_mut();
        let id = inner
            .graph
            .add_vertex(name, kind, p, mp, Arc::new(OperatorVertex::new(create)));
        let partitioning = partitioning.or(self.partitioning);
        let inputs =
            std::iter::once((self.id, self.side.clone())).chain(self.unioned.iter().cloned());
        for (source, side_output) in inputs {
            inner.graph.add_edge(PendingEdge {
                source,
                target: id,
                partitioning,
                input: 0,
                side_output,
                factory: edge.clone(),
            });
        }
        drop(inner);
        DataStream::new(self.env.clone(), id)
    }

    fn typed_edge() -> Arc<dyn EdgeFactory> {
        Arc::new(TypedEdge::<Records<T>>::new())
    }

    /// Applies `f` to every record.
    pub fn map<O, F>(&self, f: F) -> DataStream<O>
    where
        O: Clone + Send + 'static,
        F: FnMut(T) -> O + Clone + Send + Sync + 'static,
    {
        self.transform("Map", Self::typed_edge(), None, move |_| {
            MapOperator::new(f.clone())
        })
    }

    /// Turns every record into zero or more records.
    pub fn flat_map<O, F>(&self, f: F) -> DataStream<O>
    where
        O: Clone + Send + 'static,
        F: FnMut(T, &mut Collector<O>) + Clone + Send + Sync + 'static,
    {
        self.transform("FlatMap", Self::typed_edge(), None, move |_| {
            FlatMapOperator::new(f.clone())
        })
    }

    /// Keeps the records for which `predicate` holds.
    pub fn filter<F>(&self, predicate: F) -> DataStream<T>
    where
        F: FnMut(&T) -> bool + Clone + Send + Sync + 'static,
    {
        self.transform("Filter", Self::typed_edge(), None, move |_| {
            FilterOperator::new(predicate.clone())
        })
    }

    /// Runs a [`ProcessFunction`] (timestamps, watermark, side outputs).
    pub fn process<O, F>(&self, function: F) -> DataStream<O>
    where
        O: Clone + Send + 'static,
        F: ProcessFunction<T, O> + Clone + Sync,
    {
        self.transform("Process", Self::typed_edge(), None, move |_| {
            ProcessOperator::new(function.clone())
        })
    }

    /// Assigns event-time timestamps and generates watermarks.
    pub fn assign_timestamps_and_watermarks(&self, strategy: WatermarkStrategy<T>) -> DataStream<T>
    where
        T: 'static,
    {
        let strategy = Arc::new(strategy);
        self.transform(
            "Timestamps/Watermarks",
            Self::typed_edge(),
            None,
            move |_| TimestampsAndWatermarksOperator::new((*strategy).clone()),
        )
    }

    /// Partitions the stream by key: records with equal keys go to the same subtask.
    pub fn key_by<K, F>(&self, key_selector: F) -> KeyedStream<T, K>
    where
        K: Key,
        F: Fn(&T) -> K + Send + Sync + 'static,
    {
        let selector: KeySelector<T, K> = Arc::new(key_selector);
        KeyedStream::new(self.clone(), selector)
    }

    /// Merges streams of the same type into one.
    pub fn union(&self, others: &[DataStream<T>]) -> DataStream<T> {
        let mut merged = self.clone();
        for other in others {
            merged.unioned.push((other.id, other.side.clone()));
            merged.unioned.extend(other.unioned.iter().cloned());
        }
        merged
    }

    /// Pairs this stream with another, for [`ConnectedStreams::map`] and
    /// [`ConnectedStreams::process`].
    pub fn connect<U: Clone + Send + 'static>(
        &self,
        other: &DataStream<U>,
    ) -> ConnectedStreams<T, U> {
        ConnectedStreams::new(self.clone(), other.clone())
    }

    /// The next operator receives records round-robin.
    pub fn rebalance(&self) -> DataStream<T> {
        self.with_partitioning(Partitioning::Rebalance)
    }

    /// The next operator receives records round-robin within local groups.
    pub fn rescale(&self) -> DataStream<T> {
        self.with_partitioning(Partitioning::Rescale)
    }

    /// Every subtask of the next operator receives every record.
    pub fn broadcast(&self) -> DataStream<T> {
        self.with_partitioning(Partitioning::Broadcast)
    }

    /// Subtask `i` feeds subtask `i` of the next operator (equal parallelism).
    pub fn forward(&self) -> DataStream<T> {
        self.with_partitioning(Partitioning::Forward)
    }

    fn with_partitioning(&self, partitioning: Partitioning) -> DataStream<T> {
        let mut stream = self.clone();
        stream.partitioning = Some(partitioning);
        stream
    }

    /// The records an operator emitted to the side output `tag`.
    pub fn get_side_output<S: Clone + Send + 'static>(&self, tag: &OutputTag<S>) -> DataStream<S> {
        DataStream {
            env: self.env.clone(),
            id: self.id,
            side: Some(tag.id().to_string()),
            partitioning: None,
            unioned: Vec::new(),
            _type: PhantomData,
        }
    }

    fn edit_vertex(&self, f: impl FnOnce(&mut eddy_core::Vertex)) {
        if let Some(v) = self.env.inner.borrow_mut().graph.vertex_mut(self.id) {
            f(v);
        }
    }

    /// Sets the parallelism of the operator that produces this stream.
    pub fn set_parallelism(self, parallelism: u32) -> Self {
        self.edit_vertex(|v| v.parallelism = parallelism);
        self
    }

    /// Sets the name of the operator that produces this stream.
    pub fn name(self, name: &str) -> Self {
        self.edit_vertex(|v| v.name = name.to_string());
        self
    }

    /// Sets the uid of the operator: the stable key of its state across versions.
    pub fn uid(self, uid: &str) -> Self {
        self.edit_vertex(|v| v.uid = uid.to_string());
        self
    }

    /// Starts a new chain at this operator.
    pub fn disable_chaining(self) -> Self {
        self.edit_vertex(|v| v.chainable = false);
        self
    }

    /// Writes the stream with a sink; `create(subtask)` builds each subtask's writer.
    pub fn sink_to<W, F>(&self, name: &str, create: F) -> DataStreamSink
    where
        W: SinkWriter<T>,
        F: Fn(usize) -> W + Send + Sync + 'static,
    {
        let stream: DataStream<()> =
            self.add_vertex(name, VertexKind::Sink, Self::typed_edge(), None, move |i| {
                SinkOperator::new(create(i))
            });
        DataStreamSink { stream }
    }

    /// Prints every record (`Debug`) to standard output.
    pub fn print(&self) -> DataStreamSink
    where
        T: Debug,
    {
        let format: Arc<dyn Fn(&T) -> String + Send + Sync> = Arc::new(|v: &T| format!("{v:?}"));
        self.sink_to("Print", move |_| PrintSink::new(format.clone()))
    }

    /// Writes `format(record)` lines into part files of `directory`.
    pub fn write_as_text<F>(&self, directory: impl Into<PathBuf>, format: F) -> DataStreamSink
    where
        F: Fn(&T) -> String + Send + Sync + 'static,
    {
        let directory = directory.into();
        let format: Arc<dyn Fn(&T) -> String + Send + Sync> = Arc::new(format);
        self.sink_to("File Sink", move |_| {
            FileSink::new(directory.clone(), format.clone())
        })
    }

    /// Collects every record into memory, for tests; read it after the job ends.
    pub fn collect_vec(&self) -> CollectedRecords<T>
    where
        T: Sync,
    {
        let values = Arc::new(Mutex::new(Vec::new()));
        let shared = values.clone();
        self.sink_to("Collect", move |_| CollectSink::new(shared.clone()));
        CollectedRecords { values }
    }

    /// Drops every record (for benchmarks).
    pub fn discard(&self) -> DataStreamSink {
        self.sink_to("Discard", |_| DiscardSink)
    }
}

/// The sink end of a stream; set its parallelism, name or uid.
pub struct DataStreamSink {
    stream: DataStream<()>,
}

impl DataStreamSink {
    /// Sets the sink's parallelism.
    pub fn set_parallelism(self, parallelism: u32) -> Self {
        DataStreamSink {
            stream: self.stream.set_parallelism(parallelism),
        }
    }

    /// Sets the sink's name.
    pub fn name(self, name: &str) -> Self {
        DataStreamSink {
            stream: self.stream.name(name),
        }
    }

    /// Sets the sink's uid.
    pub fn uid(self, uid: &str) -> Self {
        DataStreamSink {
            stream: self.stream.uid(uid),
        }
    }
}

/// The records gathered by [`DataStream::collect_vec`].
#[derive(Clone)]
pub struct CollectedRecords<T> {
    values: Arc<Mutex<Vec<T>>>,
}

impl<T> CollectedRecords<T> {
    /// Takes the records collected so far.
    pub fn take(&self) -> Vec<T> {
        std::mem::take(&mut *self.values.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
