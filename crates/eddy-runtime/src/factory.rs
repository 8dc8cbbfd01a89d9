//! Typed factories behind the plain-data JobGraph.
//!
//! The [`JobGraph`] holds no code. A [`JobSpec`] pairs it with
//! one [`VertexFactory`] per vertex (builds that vertex's operator or source for a
//! subtask) and one [`EdgeFactory`] per edge (builds channels, writers and side
//! outputs for the edge's batch type). The factories meet the untyped execution
//! planner through `Box<dyn Any>` values whose concrete types are fixed by the
//! factories themselves, so a mismatch is a bug in the API layer and is reported as
//! an invalid graph, never undefined behaviour.

use std::any::Any;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use eddy_core::codec::{decode_element, encode_element, BatchCodec};
use eddy_core::{Batch, Element, Error, JobGraph, Partitioning, Result, VertexId};

use crate::chain::ChainNode;
use crate::channel::{channel, Receiver, Sender};
use crate::codecs::Codecs;
use crate::input::{InputChannel, InputGate, TwoInputs, Wrapped};
use crate::metrics::Counters;
use crate::network::bridge::{
    DecodeFn, EncodeFn, FrameSink, FrameSource, TypedFrameSink, TypedFrameSource,
};
use crate::operator::{Operator, OperatorContext, TwoInputOperator};
use crate::output::{Discard, ErasedOutput, FanOut, Output, SideOutputs, TypedOutput};
use crate::partitioner::{
    BroadcastPartitioner, ForwardPartitioner, KeyGroupPartitioner, KeyHasher, Partitioner,
    RebalancePartitioner,
};
use crate::protocol::JobArtifact;
use crate::source::SourceReader;
use crate::task::{InputTask, Task, TaskControl, TaskSettings};
use crate::two_input::TwoInputHead;
use crate::writer::{RecordWriter, WriterMetrics};

/// A value whose type only the factories know.
pub type AnyBox = Box<dyn Any + Send>;

fn downcast<T: 'static>(value: AnyBox, what: &str) -> Result<T> {
    value
        .downcast::<T>()
        .map(|b| *b)
        .map_err(|_| Error::InvalidGraph(format!("{what} has an unexpected record type")))
}

/// Builds the operator (or source) of one vertex for each subtask.
pub trait VertexFactory: Send + Sync {
    /// Wraps this vertex's operator around `next` (a `Box<dyn Output<Out>>`) and
    /// returns the chain node (a `Box<dyn Output<In>>`). Sources cannot be chained
    /// behind another operator.
    fn chain_node(&self, ctx: OperatorContext, next: AnyBox, sides: SideOutputs) -> Result<AnyBox>;

    /// Builds the task headed by this vertex. `inputs[i]` holds the receivers
    /// (`Receiver<Element<In_i>>`) of input `i`.
    fn head_task(
        &self,
        ctx: OperatorContext,
        inputs: Vec<Vec<AnyBox>>,
        next: AnyBox,
        sides: SideOutputs,
        settings: TaskSettings,
        control: TaskControl,
    ) -> Result<Box<dyn Task>>;

    /// An output that drops everything, for a vertex without consumers.
    fn discard(&self) -> AnyBox;
}

/// Builds the channels and writers of one edge.
pub trait EdgeFactory: Send + Sync {
    /// A bounded channel (`Sender<Element<B>>`, `Receiver<Element<B>>`).
    fn channel(&self, capacity: usize) -> (AnyBox, AnyBox);

    /// A writer over `senders` (a `Box<dyn Output<B>>`).
    fn writer(
        &self,
        senders: Vec<AnyBox>,
        partitioning: Partitioning,
        producer_subtask: usize,
        batch_size: usize,
        metrics: WriterMetrics,
    ) -> Result<AnyBox>;

    /// Several outputs of this edge's type as one.
    fn fan_out(&self, outputs: Vec<AnyBox>) -> Result<AnyBox>;

    /// An output of this edge's type behind the type-erased side-output face.
    fn side_output(&self, output: AnyBox) -> Result<Box<dyn ErasedOutput>>;

    /// The receiving end `rx` of a channel read as frames, for a consumer in
    /// another process. An error if the edge's records have no codec.
    fn frame_source(&self, rx: AnyBox) -> Result<Box<dyn FrameSource>>;

    /// The sending end `tx` of a channel written with frames, for a producer in
    /// another process. An error if the edge's records have no codec.
    fn frame_sink(&self, tx: AnyBox) -> Result<Box<dyn FrameSink>>;

    /// Whether the edge's elements can cross processes: it has a codec.
    fn crosses_processes(&self) -> bool;

    /// This edge with the codec `codecs` registered for its batch type; `None`
    /// when it has a codec already or `codecs` does not know the type.
    fn with_codecs(&self, codecs: &Codecs) -> Option<Arc<dyn EdgeFactory>>;

    /// The name of the edge's batch type, for messages.
    fn batch_type(&self) -> &'static str;
}

/// A [`JobGraph`] with the code to run it.
pub struct JobSpec {
    /// The plain-data graph.
    pub graph: JobGraph,
    /// One factory per vertex.
    pub vertices: HashMap<VertexId, Arc<dyn VertexFactory>>,
    /// One factory per edge, in the order of `graph.edges`.
    pub edges: Vec<Arc<dyn EdgeFactory>>,
    /// What another process needs to build the same job (SQL statements, a
    /// program's arguments), if the job can run on a cluster's TaskManagers.
    pub artifact: Option<JobArtifact>,
    /// Where the job's own code counts (user counters such as
    /// `env.counter(name)`); what a TaskManager reports of the job.
    pub counters: Counters,
}

/// The edge factory of batch type `B`.
#[derive(Clone)]
pub struct TypedEdge<B> {
    key_hasher: Option<KeyHasher<B>>,
    max_parallelism: u32,
    /// How the edge's elements cross processes, if they can.
    codec: Option<(EncodeFn<B>, DecodeFn<B>)>,
}

impl<B: Batch> TypedEdge<B> {
    /// An edge without keys (forward, rebalance, rescale, broadcast).
    pub fn new() -> Self {
        TypedEdge {
            key_hasher: None,
            max_parallelism: eddy_core::key_group::DEFAULT_MAX_PARALLELISM,
            codec: None,
        }
    }

    /// A hash edge: rows go to the subtask owning their key group.
    pub fn keyed(key_hasher: KeyHasher<B>, max_parallelism: u32) -> Self {
        TypedEdge {
            key_hasher: Some(key_hasher),
            max_parallelism,
            codec: None,
        }
    }
}

impl<B: BatchCodec> TypedEdge<B> {
    /// The same edge, able to cross processes: its elements are encoded as
    /// [`eddy_core::codec`] frames when producer and consumer run in different
    /// TaskManagers.
    pub fn with_codec(mut self) -> Self {
        self.codec = Some((encode_element::<B>, decode_element::<B>));
        self
    }
}

impl<B> TypedEdge<B> {
    fn codec(&self) -> Result<(EncodeFn<B>, DecodeFn<B>)> {
        self.codec.ok_or_else(|| {
            Error::InvalidGraph(format!(
                "records of type {} cannot cross processes: the edge has no codec \
                 (a DataStream program registers the type with \
                 StreamExecutionEnvironment::register_type)",
                std::any::type_name::<B>()
            ))
        })
    }
}

impl<B: Batch> Default for TypedEdge<B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<B: Batch> EdgeFactory for TypedEdge<B> {
    fn channel(&self, capacity: usize) -> (AnyBox, AnyBox) {
        let (tx, rx) = channel::<Element<B>>(capacity);
        (Box::new(tx), Box::new(rx))
    }

    fn writer(
        &self,
        senders: Vec<AnyBox>,
        partitioning: Partitioning,
        producer_subtask: usize,
        batch_size: usize,
        metrics: WriterMetrics,
    ) -> Result<AnyBox> {
        let senders = senders
            .into_iter()
            .map(|s| downcast::<Sender<Element<B>>>(s, "an edge"))
            .collect::<Result<Vec<_>>>()?;
        let partitioner: Box<dyn Partitioner<B>> = match partitioning {
            Partitioning::Forward => Box::new(ForwardPartitioner),
            Partitioning::Rebalance | Partitioning::Rescale => {
                Box::new(RebalancePartitioner::starting_at(producer_subtask as u32))
            }
            Partitioning::Broadcast => Box::new(BroadcastPartitioner),
            Partitioning::Hash => match &self.key_hasher {
                Some(hasher) => Box::new(KeyGroupPartitioner::new(
                    hasher.clone(),
                    self.max_parallelism,
                )),
                None => {
                    return Err(Error::InvalidGraph(
                        "a hash edge was built without a key selector".into(),
                    ))
                }
            },
        };
        let writer: Box<dyn Output<B>> =
            Box::new(RecordWriter::new(senders, partitioner, batch_size, metrics));
        Ok(Box::new(writer))
    }

    fn fan_out(&self, outputs: Vec<AnyBox>) -> Result<AnyBox> {
        let outputs = outputs
            .into_iter()
            .map(|o| downcast::<Box<dyn Output<B>>>(o, "an output"))
            .collect::<Result<Vec<_>>>()?;
        let fan: Box<dyn Output<B>> = Box::new(FanOut::new(outputs));
        Ok(Box::new(fan))
    }

    fn side_output(&self, output: AnyBox) -> Result<Box<dyn ErasedOutput>> {
        let output = downcast::<Box<dyn Output<B>>>(output, "a side output")?;
        Ok(Box::new(TypedOutput(output)))
    }

    fn frame_source(&self, rx: AnyBox) -> Result<Box<dyn FrameSource>> {
        let (encode, _) = self.codec()?;
        let receiver = downcast::<Receiver<Element<B>>>(rx, "a remote output")?;
        Ok(Box::new(TypedFrameSource { receiver, encode }))
    }

    fn frame_sink(&self, tx: AnyBox) -> Result<Box<dyn FrameSink>> {
        let (_, decode) = self.codec()?;
        let sender = downcast::<Sender<Element<B>>>(tx, "a remote input")?;
        Ok(Box::new(TypedFrameSink {
            sender,
            decode,
            waiting: None,
        }))
    }

    fn crosses_processes(&self) -> bool {
        self.codec.is_some()
    }

    fn with_codecs(&self, codecs: &Codecs) -> Option<Arc<dyn EdgeFactory>> {
        if self.codec.is_some() {
            return None;
        }
        let mut edge = self.clone();
        edge.codec = Some(codecs.get::<B>()?);
        Some(Arc::new(edge))
    }

    fn batch_type(&self) -> &'static str {
        std::any::type_name::<B>()
    }
}

/// The input gate of a task over `receivers`, counting the bytes it reads into
/// the head operator's `numBytesIn`.
fn gate<B: Batch>(receivers: Vec<AnyBox>, ctx: &OperatorContext) -> Result<InputGate<B>> {
    let receivers = receivers
        .into_iter()
        .map(|r| downcast::<Receiver<Element<B>>>(r, "an input"))
        .collect::<Result<Vec<_>>>()?;
    Ok(InputGate::new(receivers).with_bytes_in(ctx.metric("numBytesIn")))
}

/// The channels of one input of a multi-input task, their batches wrapped
/// into the gate's type by `wrap`.
fn wrapped<T: Batch, B: Send + 'static>(
    receivers: Vec<AnyBox>,
    wrap: fn(T) -> B,
) -> Result<Vec<Box<dyn InputChannel<B>>>> {
    receivers
        .into_iter()
        .map(|r| {
            let receiver = downcast::<Receiver<Element<T>>>(r, "an input")?;
            Ok(Box::new(Wrapped::new(receiver, wrap)) as Box<dyn InputChannel<B>>)
        })
        .collect()
}

/// The factory of a one-input operator vertex.
pub struct OperatorVertex<O, F> {
    create: F,
    _op: PhantomData<fn() -> O>,
}

impl<O: Operator, F: Fn(usize) -> O + Send + Sync> OperatorVertex<O, F> {
    /// A vertex whose subtask `i` runs `create(i)`.
    pub fn new(create: F) -> Self {
        OperatorVertex {
            create,
            _op: PhantomData,
        }
    }
}

impl<O: Operator, F: Fn(usize) -> O + Send + Sync> VertexFactory for OperatorVertex<O, F> {
    fn chain_node(&self, ctx: OperatorContext, next: AnyBox, sides: SideOutputs) -> Result<AnyBox> {
        let next = downcast::<Box<dyn Output<O::Out>>>(next, "an operator's output")?;
        let operator = (self.create)(ctx.subtask);
        let node: Box<dyn Output<O::In>> = Box::new(ChainNode::new(operator, next, sides, ctx));
        Ok(Box::new(node))
    }

    fn head_task(
        &self,
        ctx: OperatorContext,
        mut inputs: Vec<Vec<AnyBox>>,
        next: AnyBox,
        sides: SideOutputs,
        settings: TaskSettings,
        control: TaskControl,
    ) -> Result<Box<dyn Task>> {
        let receivers = inputs.drain(..).flatten().collect();
        let gate = gate::<O::In>(receivers, &ctx)?;
        let node = self.chain_node(ctx, next, sides)?;
        let chain = downcast::<Box<dyn Output<O::In>>>(node, "a chain")?;
        Ok(Box::new(InputTask::new(gate, 1, chain, settings, control)))
    }

    fn discard(&self) -> AnyBox {
        let discard: Box<dyn Output<O::Out>> = Box::new(Discard);
        Box::new(discard)
    }
}

/// The factory of a source vertex.
pub struct SourceVertex<S, F> {
    create: F,
    _source: PhantomData<fn() -> S>,
}

impl<S: SourceReader, F: Fn(usize) -> S + Send + Sync> SourceVertex<S, F> {
    /// A vertex whose subtask `i` reads `create(i)`.
    pub fn new(create: F) -> Self {
        SourceVertex {
            create,
            _source: PhantomData,
        }
    }
}

impl<S: SourceReader, F: Fn(usize) -> S + Send + Sync> VertexFactory for SourceVertex<S, F> {
    fn chain_node(&self, _: OperatorContext, _: AnyBox, _: SideOutputs) -> Result<AnyBox> {
        Err(Error::InvalidGraph(
            "a source cannot be chained behind another operator".into(),
        ))
    }

    fn head_task(
        &self,
        ctx: OperatorContext,
        _inputs: Vec<Vec<AnyBox>>,
        next: AnyBox,
        _sides: SideOutputs,
        settings: TaskSettings,
        control: TaskControl,
    ) -> Result<Box<dyn Task>> {
        let chain = downcast::<Box<dyn Output<S::Out>>>(next, "a source's output")?;
        let source = (self.create)(ctx.subtask);
        Ok(Box::new(InputTask::source(
            source, ctx, chain, settings, control,
        )))
    }

    fn discard(&self) -> AnyBox {
        let discard: Box<dyn Output<S::Out>> = Box::new(Discard);
        Box::new(discard)
    }
}

/// The factory of a two-input operator vertex.
pub struct TwoInputVertex<O, F> {
    create: F,
    _op: PhantomData<fn() -> O>,
}

impl<O: TwoInputOperator, F: Fn(usize) -> O + Send + Sync> TwoInputVertex<O, F> {
    /// A vertex whose subtask `i` runs `create(i)`.
    pub fn new(create: F) -> Self {
        TwoInputVertex {
            create,
            _op: PhantomData,
        }
    }
}

impl<O: TwoInputOperator, F: Fn(usize) -> O + Send + Sync> VertexFactory for TwoInputVertex<O, F> {
    fn chain_node(&self, _: OperatorContext, _: AnyBox, _: SideOutputs) -> Result<AnyBox> {
        Err(Error::InvalidGraph(
            "a two-input operator always heads its own task".into(),
        ))
    }

    fn head_task(
        &self,
        ctx: OperatorContext,
        mut inputs: Vec<Vec<AnyBox>>,
        next: AnyBox,
        sides: SideOutputs,
        settings: TaskSettings,
        control: TaskControl,
    ) -> Result<Box<dyn Task>> {
        inputs.resize_with(2, Vec::new);
        let second = inputs.pop().unwrap_or_default();
        let first = inputs.pop().unwrap_or_default();
        let first = wrapped::<O::In1, _>(first, TwoInputs::First)?;
        let second = wrapped::<O::In2, _>(second, TwoInputs::Second)?;
        let gate =
            InputGate::with_inputs(vec![first, second]).with_bytes_in(ctx.metric("numBytesIn"));
        let next = downcast::<Box<dyn Output<O::Out>>>(next, "an operator's output")?;
        let operator = (self.create)(ctx.subtask);
        let head = TwoInputHead::new(operator, next, sides, ctx);
        Ok(Box::new(InputTask::new(
            gate,
            2,
            Box::new(head),
            settings,
            control,
        )))
    }

    fn discard(&self) -> AnyBox {
        let discard: Box<dyn Output<O::Out>> = Box::new(Discard);
        Box::new(discard)
    }
}
