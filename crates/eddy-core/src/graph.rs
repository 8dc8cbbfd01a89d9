//! The JobGraph: a job as plain, serializable data.
//!
//! Vertices are operator chains as the user wrote them (before chaining), with a uid,
//! a name, a parallelism and a max parallelism. Edges say how records move from one
//! vertex to the next. Typed user code is not part of the graph: it lives in the
//! binary that built it and is looked up by [`VertexId`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The id of a vertex, unique within a job graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VertexId(pub u32);

impl fmt::Display for VertexId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// How records move along an edge from the producing subtasks to the consuming ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Partitioning {
    /// Subtask `i` sends to subtask `i`; needs equal parallelism. Forward edges
    /// between operators of equal parallelism are chained into one task.
    Forward,
    /// Round-robin over all consuming subtasks.
    Rebalance,
    /// Round-robin over a local subset of consuming subtasks.
    Rescale,
    /// By key group of the record's key.
    Hash,
    /// Every record to every consuming subtask.
    Broadcast,
}

/// What kind of work a vertex does, for display and scheduling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VertexKind {
    /// Produces records; has no inputs.
    Source,
    /// Transforms records from one logical input.
    OneInput,
    /// Transforms records from two inputs of different types.
    TwoInput,
    /// Consumes records; has no outputs.
    Sink,
}

/// One vertex of the job graph: a single operator as the user wrote it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vertex {
    /// The vertex id.
    pub id: VertexId,
    /// The operator uid: stable across job versions, the key of its state.
    pub uid: String,
    /// A human-readable name.
    pub name: String,
    /// What the vertex does.
    pub kind: VertexKind,
    /// The number of parallel subtasks.
    pub parallelism: u32,
    /// The number of key groups (upper bound for rescaling).
    pub max_parallelism: u32,
    /// Whether the operator may be chained with its forward-connected predecessor.
    pub chainable: bool,
}

/// One edge of the job graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    /// The producing vertex.
    pub source: VertexId,
    /// The consuming vertex.
    pub target: VertexId,
    /// How records are distributed.
    pub partitioning: Partitioning,
    /// Which input of the target this edge feeds (0, or 1 for the second input of a
    /// two-input operator).
    pub input: u8,
    /// The side output this edge carries, or `None` for the main output.
    pub side_output: Option<String>,
}

/// A job as plain data: vertices and edges.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobGraph {
    /// The job's name.
    pub name: String,
    /// The vertices, in the order they were created (a topological order).
    pub vertices: Vec<Vertex>,
    /// The edges.
    pub edges: Vec<Edge>,
}

impl JobGraph {
    /// An empty graph with a name.
    pub fn new(name: impl Into<String>) -> Self {
        JobGraph {
            name: name.into(),
            ..Default::default()
        }
    }

    /// The vertex with an id.
    pub fn vertex(&self, id: VertexId) -> Option<&Vertex> {
        self.vertices.iter().find(|v| v.id == id)
    }

    /// The edges that leave a vertex.
    pub fn outputs(&self, id: VertexId) -> impl Iterator<Item = &Edge> {
        self.edges.iter().filter(move |e| e.source == id)
    }

    /// The edges that enter a vertex.
    pub fn inputs(&self, id: VertexId) -> impl Iterator<Item = &Edge> {
        self.edges.iter().filter(move |e| e.target == id)
    }

    /// Checks that the graph is well formed: edges connect existing vertices, uids
    /// are unique, parallelism is within bounds and forward edges connect vertices
    /// of equal parallelism.
    pub fn validate(&self) -> Result<()> {
        let mut uids = std::collections::HashSet::new();
        for v in &self.vertices {
            if v.parallelism == 0 {
                return Err(Error::InvalidGraph(format!(
                    "operator '{}' has parallelism 0",
                    v.name
                )));
            }
            if v.parallelism > v.max_parallelism {
                return Err(Error::InvalidGraph(format!(
                    "operator '{}' has parallelism {} above its max parallelism {}",
                    v.name, v.parallelism, v.max_parallelism
                )));
            }
            if !uids.insert(v.uid.as_str()) {
                return Err(Error::InvalidGraph(format!(
                    "operator uid '{}' is used twice; uids must be unique",
                    v.uid
                )));
            }
        }
        for e in &self.edges {
            let (Some(s), Some(t)) = (self.vertex(e.source), self.vertex(e.target)) else {
                return Err(Error::InvalidGraph(format!(
                    "edge {} -> {} names a missing vertex",
                    e.source, e.target
                )));
            };
            if e.partitioning == Partitioning::Forward && s.parallelism != t.parallelism {
                return Err(Error::InvalidGraph(format!(
                    "forward edge from '{}' (parallelism {}) to '{}' (parallelism {}) needs equal parallelism",
                    s.name, s.parallelism, t.name, t.parallelism
                )));
            }
        }
        Ok(())
    }

    /// The graph as pretty JSON, for display and submission.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
