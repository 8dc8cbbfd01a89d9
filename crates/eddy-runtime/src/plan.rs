//! Execution planning as pure functions: which edges are chained, which producer
//! subtasks connect to which consumer subtasks, and the deployment descriptor of
//! every task of a job attempt.

use eddy_core::graph::{Edge, JobGraph, Partitioning, VertexKind};
use eddy_core::{ExecutionAttemptId, JobId, VertexId};

use crate::protocol::{ChannelId, OperatorDescriptor, TaskDeploymentDescriptor};

/// Whether `edge` is chained: a forward edge between vertices of equal parallelism
/// into a chainable one-input vertex that has no other input.
pub fn is_chained(graph: &JobGraph, edge: &Edge) -> bool {
    let (Some(source), Some(target)) = (graph.vertex(edge.source), graph.vertex(edge.target))
    else {
        return false;
    };
    edge.partitioning == Partitioning::Forward
        && source.parallelism == target.parallelism
        && target.chainable
        && matches!(target.kind, VertexKind::OneInput | VertexKind::Sink)
        && graph.inputs(target.id).count() == 1
}

/// The consumer subtasks that producer subtask `producer` sends to, in channel order.
pub fn consumers_of(
    partitioning: Partitioning,
    producer: usize,
    producers: usize,
    consumers: usize,
) -> Vec<usize> {
    match partitioning {
        Partitioning::Forward => vec![producer],
        Partitioning::Rescale => {
            if consumers >= producers {
                (0..consumers)
                    .filter(|c| c * producers / consumers == producer)
                    .collect()
            } else {
                vec![producer * consumers / producers]
            }
        }
        Partitioning::Rebalance | Partitioning::Hash | Partitioning::Broadcast => {
            (0..consumers).collect()
        }
    }
}

/// The vertices that head a task (those not chained behind another), in graph
/// order.
pub fn heads(graph: &JobGraph) -> Vec<VertexId> {
    graph
        .vertices
        .iter()
        .filter(|v| !graph.inputs(v.id).any(|e| is_chained(graph, e)))
        .map(|v| v.id)
        .collect()
}

/// The vertices of the chain headed by `head`, head first.
pub fn chain_of(graph: &JobGraph, head: VertexId) -> Vec<VertexId> {
    let mut chain = vec![head];
    let mut i = 0;
    while i < chain.len() {
        let id = chain[i];
        chain.extend(
            graph
                .outputs(id)
                .filter(|e| is_chained(graph, e))
                .map(|e| e.target),
        );
        i += 1;
    }
    chain
}

/// The channels of non-chained edge `edge` that producer subtask `producer`
/// writes, in the writer's channel order.
fn channels_from(graph: &JobGraph, edge: usize, producer: u32) -> Vec<ChannelId> {
    let e = &graph.edges[edge];
    let (Some(source), Some(target)) = (graph.vertex(e.source), graph.vertex(e.target)) else {
        return Vec::new();
    };
    let (p, c) = (source.parallelism as usize, target.parallelism as usize);
    consumers_of(e.partitioning, producer as usize, p, c)
        .into_iter()
        .map(|consumer| ChannelId {
            edge: edge as u32,
            producer,
            consumer: consumer as u32,
        })
        .collect()
}

/// The deployment descriptors of every task of attempt `attempt` of a job: one per
/// head vertex and subtask, in graph order, with the channels each reads (by edge,
/// then producer) and writes (by edge, then in the writer's channel order).
/// Operators are found by vertex id in the job's factories (the binary that built
/// the job runs every task), so the operator descriptor is empty; the JobMaster
/// adds each task's restore handles when it restores.
pub fn deployments(graph: &JobGraph, job_id: JobId, attempt: u32) -> Vec<TaskDeploymentDescriptor> {
    let mut tasks = Vec::new();
    for head in heads(graph) {
        let Some(vertex) = graph.vertex(head) else {
            continue;
        };
        let chain = chain_of(graph, head);
        for subtask in 0..vertex.parallelism {
            let mut inputs = Vec::new();
            let mut outputs = Vec::new();
            for (i, edge) in graph.edges.iter().enumerate() {
                if is_chained(graph, edge) {
                    continue;
                }
                if edge.target == head {
                    let producers = graph.vertex(edge.source).map_or(0, |v| v.parallelism);
                    inputs.extend(
                        (0..producers)
                            .flat_map(|p| channels_from(graph, i, p))
                            .filter(|c| c.consumer == subtask),
                    );
                }
                if chain.contains(&edge.source) {
                    outputs.extend(channels_from(graph, i, subtask));
                }
            }
            tasks.push(TaskDeploymentDescriptor {
                job_id,
                attempt: ExecutionAttemptId::new(head, subtask, attempt),
                vertex_uid: vertex.uid.clone(),
                vertex_name: vertex.name.clone(),
                parallelism: vertex.parallelism,
                max_parallelism: vertex.max_parallelism,
                operator: OperatorDescriptor::default(),
                inputs,
                outputs,
                remote_inputs: Default::default(),
                restore: None,
            });
        }
    }
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vertex(id: u32, kind: VertexKind, parallelism: u32) -> eddy_core::Vertex {
        eddy_core::Vertex {
            id: VertexId(id),
            uid: format!("v{id}"),
            name: format!("v{id}"),
            kind,
            parallelism,
            max_parallelism: 128,
            chainable: true,
        }
    }

    fn edge(source: u32, target: u32, partitioning: Partitioning) -> Edge {
        Edge {
            source: VertexId(source),
            target: VertexId(target),
            partitioning,
            input: 0,
            side_output: None,
        }
    }

    #[test]
    fn every_channel_is_written_by_one_task_and_read_by_one() {
        // source(2) -> map(2, chained) -> hash -> agg(3) -> forward -> sink(3, chained)
        //                              \-> rebalance -> log(1)
        let mut graph = JobGraph::new("j");
        graph.vertices = vec![
            vertex(1, VertexKind::Source, 2),
            vertex(2, VertexKind::OneInput, 2),
            vertex(3, VertexKind::OneInput, 3),
            vertex(4, VertexKind::Sink, 3),
            vertex(5, VertexKind::Sink, 1),
        ];
        graph.edges = vec![
            edge(1, 2, Partitioning::Forward),
            edge(2, 3, Partitioning::Hash),
            edge(3, 4, Partitioning::Forward),
            edge(2, 5, Partitioning::Rebalance),
        ];
        assert_eq!(heads(&graph), [VertexId(1), VertexId(3), VertexId(5)]);
        assert_eq!(chain_of(&graph, VertexId(1)), [VertexId(1), VertexId(2)]);
        let job_id = JobId::generate();
        let tasks = deployments(&graph, job_id, 4);
        let names: Vec<String> = tasks.iter().map(|t| t.attempt.to_string()).collect();
        assert_eq!(
            names,
            ["v1/0#4", "v1/1#4", "v3/0#4", "v3/1#4", "v3/2#4", "v5/0#4"]
        );
        // The source's subtask 1 writes to every agg subtask, then to the log.
        let written: Vec<String> = tasks[1].outputs.iter().map(|c| c.to_string()).collect();
        assert_eq!(written, ["e1:1->0", "e1:1->1", "e1:1->2", "e3:1->0"]);
        let read: Vec<String> = tasks[3].inputs.iter().map(|c| c.to_string()).collect();
        assert_eq!(read, ["e1:0->1", "e1:1->1"]);
        let mut outputs: Vec<ChannelId> = tasks.iter().flat_map(|t| t.outputs.clone()).collect();
        let mut inputs: Vec<ChannelId> = tasks.iter().flat_map(|t| t.inputs.clone()).collect();
        outputs.sort();
        inputs.sort();
        assert_eq!(outputs.len(), 2 * 3 + 2);
        assert_eq!(outputs, inputs);
        assert!(tasks
            .iter()
            .all(|t| t.job_id == job_id && t.restore.is_none()));
    }

    #[test]
    fn rescale_covers_every_consumer_once() {
        for (p, c) in [(2, 4), (4, 2), (3, 7), (7, 3), (1, 1)] {
            let mut seen = vec![0; c];
            for producer in 0..p {
                for consumer in consumers_of(Partitioning::Rescale, producer, p, c) {
                    seen[consumer] += 1;
                }
            }
            assert!(seen.iter().all(|&n| n >= 1), "{p}->{c}: {seen:?}");
            if c >= p {
                assert!(seen.iter().all(|&n| n == 1));
            }
        }
    }
}
