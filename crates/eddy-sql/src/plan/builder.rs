//! The job graph under construction.

use std::collections::HashMap;
use std::sync::Arc;

use eddy_core::graph::{Edge, Vertex, VertexKind};
use eddy_core::{JobGraph, Partitioning, VertexId};
use eddy_runtime::{EdgeFactory, JobSpec, VertexFactory};

/// Vertices, edges and their factories.
#[derive(Default)]
pub struct JobBuilder {
    vertices: Vec<Vertex>,
    factories: HashMap<VertexId, Arc<dyn VertexFactory>>,
    edges: Vec<(Edge, Arc<dyn EdgeFactory>)>,
    /// One line per vertex, for `EXPLAIN`.
    pub descriptions: Vec<String>,
}

fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .take_while(|c| *c != '(')
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    s.trim_matches('-').to_string()
}

impl JobBuilder {
    /// Adds a vertex; its uid is stable for the same statement (savepoints).
    pub fn add(
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
            uid: format!("sql-{}-{}", slug(name), id.0),
            name: name.to_string(),
            kind,
            parallelism,
            max_parallelism,
            chainable: true,
        });
        self.factories.insert(id, factory);
        self.descriptions
            .push(format!("{}: {name} (parallelism {parallelism})", id.0));
        id
    }

    /// Gives a vertex another name (its uid stays) and operator factory.
    pub fn replace(&mut self, id: VertexId, name: &str, factory: Arc<dyn VertexFactory>) {
        let Some(vertex) = self.vertices.get_mut(id.0 as usize) else {
            return;
        };
        vertex.name = name.to_string();
        self.descriptions[id.0 as usize] =
            format!("{}: {name} (parallelism {})", id.0, vertex.parallelism);
        self.factories.insert(id, factory);
    }

    /// The parallelism of a vertex.
    pub fn parallelism(&self, id: VertexId) -> u32 {
        self.vertices
            .get(id.0 as usize)
            .map_or(1, |v| v.parallelism)
    }

    /// Connects two vertices (to the target's first input).
    pub fn connect(
        &mut self,
        source: VertexId,
        target: VertexId,
        partitioning: Partitioning,
        factory: Arc<dyn EdgeFactory>,
    ) {
        self.connect_input(source, target, partitioning, factory, 0);
    }

    /// Connects `source` to input `input` of `target`.
    pub fn connect_input(
        &mut self,
        source: VertexId,
        target: VertexId,
        partitioning: Partitioning,
        factory: Arc<dyn EdgeFactory>,
        input: u8,
    ) {
        let partitioning = match partitioning {
            Partitioning::Forward if self.parallelism(source) != self.parallelism(target) => {
                Partitioning::Rebalance
            }
            p => p,
        };
        self.edges.push((
            Edge {
                source,
                target,
                partitioning,
                input,
                side_output: None,
            },
            factory,
        ));
    }

    /// The job to run.
    pub fn spec(&self, name: &str) -> JobSpec {
        let mut graph = JobGraph::new(name);
        graph.vertices = self.vertices.clone();
        graph.edges = self.edges.iter().map(|(e, _)| e.clone()).collect();
        JobSpec {
            graph,
            vertices: self.factories.clone(),
            edges: self.edges.iter().map(|(_, f)| f.clone()).collect(),
            artifact: None,
            counters: Default::default(),
        }
    }
}
