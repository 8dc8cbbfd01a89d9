//! The job under construction: vertices, edges and their factories.

use std::collections::HashMap;
use std::sync::Arc;

use eddy_core::graph::{Edge, Vertex, VertexKind};
use eddy_core::{JobGraph, Partitioning, VertexId};
use eddy_runtime::codecs::Codecs;
use eddy_runtime::{EdgeFactory, JobSpec, VertexFactory};

/// An edge whose partitioning may still be the default (decided at execution:
/// forward between equal parallelism, else rebalance).
pub(crate) struct PendingEdge {
    pub source: VertexId,
    pub target: VertexId,
    pub partitioning: Option<Partitioning>,
    pub input: u8,
    pub side_output: Option<String>,
    pub factory: Arc<dyn EdgeFactory>,
}

pub(crate) struct GraphBuilder {
    pub vertices: Vec<Vertex>,
    pub factories: HashMap<VertexId, Arc<dyn VertexFactory>>,
    pub edges: Vec<PendingEdge>,
    /// The record types that may cross processes, registered by the program or
    /// by the operators whose state serializes them.
    pub codecs: Codecs,
}

impl GraphBuilder {
    pub fn new() -> Self {
        GraphBuilder {
            vertices: Vec::new(),
            factories: HashMap::new(),
            edges: Vec::new(),
            codecs: Codecs::default(),
        }
    }

    pub fn add_vertex(
        &mut self,
        name: &str,
        kind: VertexKind,
        parallelism: u32,
        max_parallelism: u32,
        factory: Arc<dyn VertexFactory>,
    ) -> VertexId {
        let id = VertexId(self.vertices.len() as u32);
        self.vertices.push(Vertex {
            id,
            uid: format!("{}-{}", slug(name), id.0),
            name: name.to_string(),
            kind,
            parallelism,
            max_parallelism,
            chainable: true,
        });
        self.factories.insert(id, factory);
        id
    }

    pub fn vertex_mut(&mut self, id: VertexId) -> Option<&mut Vertex> {
        self.vertices.get_mut(id.0 as usize)
    }

    /// The graph to run: default partitionings resolved.
    pub fn to_spec(&self, name: &str) -> JobSpec {
        let mut graph = JobGraph::new(name);
        graph.vertices = self.vertices.clone();
        let mut edges = Vec::new();
        for e in &self.edges {
            let partitioning = e.partitioning.unwrap_or_else(|| {
                let p = |id: VertexId| self.vertices.get(id.0 as usize).map(|v| v.parallelism);
                if p(e.source) == p(e.target) {
                    Partitioning::Forward
                } else {
                    Partitioning::Rebalance
                }
            });
            graph.edges.push(Edge {
                source: e.source,
                target: e.target,
                partitioning,
                input: e.input,
                side_output: e.side_output.clone(),
            });
            let factory = e.factory.with_codecs(&self.codecs);
            edges.push(factory.unwrap_or_else(|| e.factory.clone()));
        }
        JobSpec {
            graph,
            vertices: self.factories.clone(),
            edges,
            artifact: None,
            counters: Default::default(),
        }
    }
}

fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}
