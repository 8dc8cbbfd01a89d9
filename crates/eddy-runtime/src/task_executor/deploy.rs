//! Building one task from its deployment descriptor: the chain of operators its
//! head vertex starts, its input gates over the channels it reads, and a writer
//! per outgoing edge over the channels it writes.

use std::collections::BTreeMap;
use std::sync::Arc;

use eddy_core::config::options;
use eddy_core::time::Clock;
use eddy_core::{Config, Error, Result, VertexId};

use super::channels::LocalChannels;
use crate::checkpoint::restore::RestoredState;
use crate::factory::{AnyBox, JobSpec, VertexFactory};
use crate::network::bridge::FrameSource;
use crate::network::{ChannelProvider, DataClient};
use crate::operator::{Counters, OperatorContext, RunContext};
use crate::output::SideOutputs;
use crate::plan::is_chained;
use crate::protocol::{ChannelId, TaskDeploymentDescriptor};
use crate::task::{Task, TaskControl, TaskSettings};
use crate::task_metrics::{TaskMetrics, NO_WATERMARK};
use crate::writer::WriterMetrics;

/// What every task of a TaskExecutor is built with.
pub(super) struct Environment {
    pub spec: Arc<JobSpec>,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub counters: Counters,
    pub channels: LocalChannels,
    /// The restored state of a job whose checkpoints live in memory.
    pub restored: Option<Arc<RestoredState>>,
    pub checkpointing: bool,
    pub exactly_once: bool,
    pub run: RunContext,
    /// Receives input channels produced in other TaskManagers.
    pub client: Option<Arc<DataClient>>,
}

impl ChannelProvider for Environment {
    fn frame_source(&self, id: ChannelId) -> Result<Box<dyn FrameSource>> {
        let factory = edge_factory(self, id)?;
        factory.frame_source(self.channels.receiver(id, factory)?)
    }
}

/// Builds the task `tdd` describes, with `control` as its line to the JobMaster,
/// restoring `restored`.
pub(super) fn build(
    env: &Environment,
    tdd: &TaskDeploymentDescriptor,
    control: TaskControl,
    restored: Option<Arc<RestoredState>>,
) -> Result<Box<dyn Task>> {
    let mut builder = Builder {
        env,
        restored,
        outputs: &tdd.outputs,
        batch_size: env.config.get(&options::BATCH_SIZE)?,
        chain: Vec::new(),
    };
    let head = tdd.attempt.vertex;
    let subtask = tdd.attempt.subtask as usize;
    let mut inputs: Vec<Vec<AnyBox>> = vec![Vec::new(), Vec::new()];
    let floating = env.config.get(&options::FLOATING_BUFFERS_PER_GATE)?;
    // The remote channels of each input, which share its floating buffers.
    let mut remote = [0usize; 2];
    for &id in &tdd.inputs {
        if tdd.remote_producer(id).is_some() {
            if let Some(n) = remote.get_mut(graph_edge(env, id)?.input as usize) {
                *n += 1;
            }
        }
    }
    for &id in &tdd.inputs {
        let edge = graph_edge(env, id)?;
        let Some(slot) = inputs.get_mut(edge.input as usize) else {
            return Err(Error::InvalidGraph(format!(
                "channel {id} feeds input {} of a task with two inputs at most",
                edge.input
            )));
        };
        let factory = edge_factory(env, id)?;
        let receiver = match (tdd.remote_producer(id), &env.client) {
            (None, _) => env.channels.receiver(id, factory)?,
            (Some(address), Some(client)) => {
                let capacity = env.channels.capacity();
                let (tx, rx) = factory.channel(capacity);
                // The channel's own buffers, and its share of the input's
                // floating ones, in flight on the wire.
                let sharing = remote[edge.input as usize].max(1);
                let credit = capacity + floating.div_ceil(sharing);
                let credit = u32::try_from(credit).unwrap_or(u32::MAX);
                client.subscribe(
                    address.to_string(),
                    tdd.attempt,
                    id,
                    credit,
                    factory.frame_sink(tx)?,
                );
                rx
            }
            (Some(address), None) => {
                return Err(Error::InvalidGraph(format!(
                    "channel {id} comes from {address}, but this TaskExecutor has no network"
                )))
            }
        };
        slot.push(receiver);
    }
    let ctx = builder.context(head, subtask)?;
    builder.chain.push((ctx.uid.clone(), ctx.name.clone()));
    let next = builder.output(head, subtask)?;
    let sides = builder.side_outputs(head, subtask)?;
    let settings = TaskSettings {
        buffer_timeout: env.config.get(&options::BUFFER_TIMEOUT)?,
        clock: env.clock.clone(),
        exactly_once: env.exactly_once,
        metrics: TaskMetrics::register(&env.counters, &builder.chain, subtask as u32),
    };
    builder
        .vertex_factory(head)?
        .head_task(ctx, inputs, next, sides, settings, control)
}

fn graph_edge(env: &Environment, id: ChannelId) -> Result<&eddy_core::Edge> {
    env.spec
        .graph
        .edges
        .get(id.edge as usize)
        .ok_or_else(|| Error::InvalidGraph(format!("channel {id} names a missing edge")))
}

fn edge_factory(env: &Environment, id: ChannelId) -> Result<&dyn crate::factory::EdgeFactory> {
    env.spec
        .edges
        .get(id.edge as usize)
        .map(|f| f.as_ref())
        .ok_or_else(|| Error::InvalidGraph(format!("channel {id} names an edge without a factory")))
}

struct Builder<'a> {
    env: &'a Environment,
    restored: Option<Arc<RestoredState>>,
    /// The channels the task writes.
    outputs: &'a [ChannelId],
    batch_size: usize,
    /// The operators of the task's chain so far (uid, name), head first.
    chain: Vec<(String, String)>,
}

impl Builder<'_> {
    fn context(&self, id: VertexId, subtask: usize) -> Result<OperatorContext> {
        let v = self
            .env
            .spec
            .graph
            .vertex(id)
            .ok_or_else(|| Error::InvalidGraph(format!("missing vertex {id}")))?;
        Ok(OperatorContext {
            name: v.name.clone(),
            uid: v.uid.clone(),
            subtask,
            parallelism: v.parallelism as usize,
            max_parallelism: v.max_parallelism,
            clock: self.env.clock.clone(),
            config: self.env.config.clone(),
            counters: self.env.counters.clone(),
            restored: self.restored.clone(),
            checkpointing: self.env.checkpointing,
            run: self.env.run.clone(),
            restored_part: Default::default(),
        })
    }

    /// The main output of vertex `id` in `subtask`, as a `Box<dyn Output<Out>>`.
    fn output(&mut self, id: VertexId, subtask: usize) -> Result<AnyBox> {
        let graph = &self.env.spec.graph;
        let edges: Vec<usize> = (0..graph.edges.len())
            .filter(|&i| {
                let e = &graph.edges[i];
                e.source == id && e.side_output.is_none()
            })
            .collect();
        let mut outputs = Vec::with_capacity(edges.len());
        for &i in &edges {
            outputs.push(self.edge_output(i, subtask)?);
        }
        match outputs.len() {
            0 => Ok(self.vertex_factory(id)?.discard()),
            1 => Ok(outputs.remove(0)),
            _ => self.env.spec.edges[edges[0]].fan_out(outputs),
        }
    }

    fn side_outputs(&mut self, id: VertexId, subtask: usize) -> Result<SideOutputs> {
        let mut by_tag: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, e) in self.env.spec.graph.edges.iter().enumerate() {
            if let (true, Some(tag)) = (e.source == id, &e.side_output) {
                by_tag.entry(tag.clone()).or_default().push(i);
            }
        }
        let mut sides = SideOutputs::default();
        for (tag, edges) in by_tag {
            let mut outputs = Vec::new();
            for &i in &edges {
                outputs.push(self.edge_output(i, subtask)?);
            }
            let factory = self.env.spec.edges[edges[0]].clone();
            let output = if outputs.len() == 1 {
                outputs.remove(0)
            } else {
                factory.fan_out(outputs)?
            };
            sides.insert(tag, factory.side_output(output)?);
        }
        Ok(sides)
    }

    fn edge_output(&mut self, edge_index: usize, subtask: usize) -> Result<AnyBox> {
        let graph = &self.env.spec.graph;
        let edge = &graph.edges[edge_index];
        let source = self.context(edge.source, subtask)?;
        if is_chained(graph, edge) {
            let target = edge.target;
            let ctx = self.context(target, subtask)?;
            // What the source emits is what its chained successor receives.
            let input = ctx.gauge("currentInputWatermark", NO_WATERMARK);
            self.env.counters.share_operator_gauge(
                &source.uid,
                &source.name,
                subtask as u32,
                "currentOutputWatermark",
                &input,
            );
            self.chain.push((ctx.uid.clone(), ctx.name.clone()));
            let next = self.output(target, subtask)?;
            let sides = self.side_outputs(target, subtask)?;
            return self.vertex_factory(target)?.chain_node(ctx, next, sides);
        }
        let factory = &self.env.spec.edges[edge_index];
        let mut senders = Vec::new();
        for &id in self
            .outputs
            .iter()
            .filter(|c| c.edge as usize == edge_index)
        {
            senders.push(self.env.channels.sender(id, factory.as_ref())?);
        }
        let metrics = WriterMetrics {
            bytes_out: source.metric("numBytesOut"),
            output_watermark: source.gauge("currentOutputWatermark", NO_WATERMARK),
        };
        factory.writer(
            senders,
            edge.partitioning,
            subtask,
            self.batch_size,
            metrics,
        )
    }

    fn vertex_factory(&self, id: VertexId) -> Result<Arc<dyn VertexFactory>> {
        self.env
            .spec
            .vertices
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::InvalidGraph(format!("vertex {id} has no operator")))
    }
}
