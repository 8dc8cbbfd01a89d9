//! Execution planning as pure functions: which edges are chained, and which
//! producer subtasks connect to which consumer subtasks.

use eddy_core::graph::{Edge, JobGraph, Partitioning, VertexKind};

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

#[cfg(test)]
mod tests {
    use super::*;

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
