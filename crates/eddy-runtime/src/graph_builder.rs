//! The one builder of job graphs, used by the DataStream API and by SQL.
//!
//! Both fronts add vertices (a name, a kind, a parallelism and the factory that
//! builds the vertex's operator) and edges (a partitioning, or none for the
//! default, and the factory of the edge's channels), then take the [`JobSpec`].
//! A vertex's default uid, the key of its state in checkpoints and savepoints,
//! comes from one scheme ([`default_uid`]): the builder's namespace, the slug of
//! the vertex's name and its position in the graph, so the same program or
//! statement gets the same uids every time it is built.
//!
//! ```
//! use std::sync::Arc;
//! use eddy_core::graph::VertexKind;
//! use eddy_runtime::graph_builder::{default_uid, GraphBuilder};
//! use eddy_runtime::operators::MapOperator;
//! use eddy_runtime::OperatorVertex;
//!
//! assert_eq!(default_uid("", "Keyed Reduce", 3), "keyed-reduce-3");
//! assert_eq!(default_uid("sql-", "Calc(select=[a, b])", 1), "sql-calc-1");
//!
//! let mut builder = GraphBuilder::new("");
//! let double = OperatorVertex::new(|_| MapOperator::new(|x: u64| x * 2));
//! let map = builder.add_vertex("Map", VertexKind::OneInput, 1, 128, Arc::new(double));
//! assert_eq!(builder.vertex(map).unwrap().uid, "map-0");
//! assert_eq!(builder.to_spec("job").graph.vertices.len(), 1);
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use eddy_core::graph::{Edge, Vertex, VertexKind};
use eddy_core::{JobGraph, Partitioning, VertexId};

use crate::codecs::Codecs;
use crate::factory::{EdgeFactory, JobSpec, VertexFactory};

/// The default uid of a vertex: `namespace`, then the name up to its first `(`
/// in lower case with every other character than a letter or digit as `-`
/// (trimmed), then `-` and the vertex's position (`Keyed Reduce` at 3 is
/// `keyed-reduce-3`; SQL's `Calc(select=[...])` at 1 is `sql-calc-1`).
pub fn default_uid(namespace: &str, name: &str, position: u32) -> String {
    let slug: String = name
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
    format!("{namespace}{}-{position}", slug.trim_matches('-'))
}

/// An edge whose partitioning may still be the default (decided when the spec
/// is taken: forward between equal parallelism, else rebalance).
pub struct PendingEdge {
    /// The producing vertex.
    pub source: VertexId,
    /// The consuming vertex.
    pub target: VertexId,
    /// The partitioning, or `None` for the default.
    pub partitioning: Option<Partitioning>,
    /// Which input of the target the edge feeds.
    pub input: u8,
    /// The side output of the source the edge carries, if not its main output.
    pub side_output: Option<String>,
    /// Builds the edge's channels and writers.
    pub factory: Arc<dyn EdgeFactory>,
}

/// Vertices, edges and their factories, as a program or a statement adds them.
pub struct GraphBuilder {
    namespace: &'static str,
    vertices: Vec<Vertex>,
    factories: HashMap<VertexId, Arc<dyn VertexFactory>>,
    edges: Vec<PendingEdge>,
    /// The record types that may cross processes, registered by the program or
    /// by the operators whose state serializes them.
    pub codecs: Codecs,
}

impl GraphBuilder {
    /// An empty graph whose default uids start with `namespace` (`""` for
    /// DataStream programs, `"sql-"` for SQL statements).
    pub fn new(namespace: &'static str) -> Self {
        GraphBuilder {
            namespace,
            vertices: Vec::new(),
            factories: HashMap::new(),
            edges: Vec::new(),
            codecs: Codecs::default(),
        }
    }

    /// Adds a vertex with its default uid.
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
            uid: default_uid(self.namespace, name, id.0),
            name: name.to_string(),
            kind,
            parallelism,
            max_parallelism,
            chainable: true,
        });
        self.factories.insert(id, factory);
        id
    }

    /// A vertex.
    pub fn vertex(&self, id: VertexId) -> Option<&Vertex> {
        self.vertices.get(id.0 as usize)
    }

    /// A vertex, to set its name, uid, parallelism or chaining.
    pub fn vertex_mut(&mut self, id: VertexId) -> Option<&mut Vertex> {
        self.vertices.get_mut(id.0 as usize)
    }

    /// The vertices, in the order they were added.
    pub fn vertices(&self) -> &[Vertex] {
        &self.vertices
    }

    /// The parallelism of a vertex (1 for an unknown one).
    pub fn parallelism(&self, id: VertexId) -> u32 {
        self.vertex(id).map_or(1, |v| v.parallelism)
    }

    /// Gives a vertex another operator factory (its uid stays).
    pub fn set_factory(&mut self, id: VertexId, factory: Arc<dyn VertexFactory>) {
        self.factories.insert(id, factory);
    }

    /// Adds an edge.
    pub fn add_edge(&mut self, edge: PendingEdge) {
        self.edges.push(edge);
    }

    /// The job to run: default partitionings resolved, and every edge whose
    /// record type has a registered codec able to cross processes.
    pub fn to_spec(&self, name: &str) -> JobSpec {
        let mut graph = JobGraph::new(name);
        graph.vertices = self.vertices.clone();
        let mut edges = Vec::with_capacity(self.edges.len());
        for e in &self.edges {
            let partitioning = e.partitioning.unwrap_or_else(|| {
                if self.parallelism(e.source) == self.parallelism(e.target) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operators::MapOperator;
    use crate::{OperatorVertex, TypedEdge};
    use eddy_core::Records;

    fn map_vertex() -> Arc<dyn VertexFactory> {
        Arc::new(OperatorVertex::new(|_| MapOperator::new(|x: u64| x + 1)))
    }

    #[test]
    fn default_uids_are_namespace_slug_and_position() {
        assert_eq!(default_uid("", "Map", 0), "map-0");
        assert_eq!(
            default_uid("", "Timestamps/Watermarks", 2),
            "timestamps-watermarks-2"
        );
        assert_eq!(
            default_uid(
                "sql-",
                "GroupAggregate(groupBy=[k], select=[k, COUNT(*)])",
                4
            ),
            "sql-groupaggregate-4"
        );
        assert_eq!(default_uid("", "(odd) name", 1), "-1");
    }

    #[test]
    fn a_default_partitioning_is_forward_between_equal_parallelism_else_rebalance() {
        let mut builder = GraphBuilder::new("");
        let a = builder.add_vertex("A", VertexKind::OneInput, 2, 128, map_vertex());
        let b = builder.add_vertex("B", VertexKind::OneInput, 2, 128, map_vertex());
        let c = builder.add_vertex("C", VertexKind::Sink, 1, 128, map_vertex());
        for (source, target, partitioning) in [
            (a, b, None),
            (b, c, None),
            (a, c, Some(Partitioning::Broadcast)),
        ] {
            builder.add_edge(PendingEdge {
                source,
                target,
                partitioning,
                input: 0,
                side_output: None,
                factory: Arc::new(TypedEdge::<Records<u64>>::new()),
            });
        }
        let spec = builder.to_spec("job");
        let partitionings: Vec<Partitioning> =
            spec.graph.edges.iter().map(|e| e.partitioning).collect();
        assert_eq!(
            partitionings,
            [
                Partitioning::Forward,
                Partitioning::Rebalance,
                Partitioning::Broadcast
            ]
        );
        assert_eq!(spec.edges.len(), 3);
        assert_eq!(spec.vertices.len(), 3);
        let uids: Vec<&str> = spec.graph.vertices.iter().map(|v| v.uid.as_str()).collect();
        assert_eq!(uids, ["a-0", "b-1", "c-2"]);
    }
}
