//! ConnectedStreams: two streams of different types processed by one operator.

use std::sync::Arc;

use eddy_core::graph::VertexKind;
use eddy_core::Records;
use eddy_runtime::operators::{CoMapOperator, CoProcessFunction, CoProcessOperator};
use eddy_runtime::{TwoInputOperator, TwoInputVertex, TypedEdge};

use crate::datastream::DataStream;
use eddy_runtime::graph_builder::PendingEdge;

/// Two connected streams (`first.connect(&second)`).
pub struct ConnectedStreams<A, B> {
    first: DataStream<A>,
    second: DataStream<B>,
}

impl<A: Clone + Send + 'static, B: Clone + Send + 'static> ConnectedStreams<A, B> {
    pub(crate) fn new(first: DataStream<A>, second: DataStream<B>) -> Self {
        ConnectedStreams { first, second }
    }

    fn two_input<O, Op, F>(&self, name: &str, create: F) -> DataStream<O>
    where
        O: Clone + Send + 'static,
        Op: TwoInputOperator<In1 = Records<A>, In2 = Records<B>, Out = Records<O>>,
        F: Fn(usize) -> Op + Send + Sync + 'static,
    {
        let env = self.first.env.clone();
        let (p, mp) = (
            env.parallelism().unwrap_or(1),
            env.max_parallelism().unwrap_or(128),
        );
        let mut inner = env.inner.borrow_mut();
        let id = inner.graph.add_vertex(
            name,
            VertexKind::TwoInput,
            p,
            mp,
            Arc::new(TwoInputVertex::new(create)),
        );
        let first = std::iter::once((self.first.id, self.first.side.clone()))
            .chain(self.first.unioned.iter().cloned());
        for (source, side_output) in first {
            inner.graph.add_edge(PendingEdge {
                source,
                target: id,
                partitioning: self.first.partitioning,
                input: 0,
                side_output,
                factory: Arc::new(TypedEdge::<Records<A>>::new()),
            });
        }
        let second = std::iter::once((self.second.id, self.second.side.clone()))
            .chain(self.second.unioned.iter().cloned());
        for (source, side_output) in second {
            inner.graph.add_edge(PendingEdge {
                source,
                target: id,
                partitioning: self.second.partitioning,
                input: 1,
                side_output,
                factory: Arc::new(TypedEdge::<Records<B>>::new()),
            });
        }
        drop(inner);
        DataStream::new(env.clone(), id)
    }

    /// Maps records of the first stream with `f1` and of the second with `f2`.
    pub fn map<O, F1, F2>(&self, f1: F1, f2: F2) -> DataStream<O>
    where
        O: Clone + Send + 'static,
        F1: FnMut(A) -> O + Clone + Send + Sync + 'static,
        F2: FnMut(B) -> O + Clone + Send + Sync + 'static,
    {
        self.two_input("CoMap", move |_| CoMapOperator::new(f1.clone(), f2.clone()))
    }

    /// Runs a [`CoProcessFunction`].
    pub fn process<O, F>(&self, function: F) -> DataStream<O>
    where
        O: Clone + Send + 'static,
        F: CoProcessFunction<A, B, O> + Clone + Sync,
    {
        self.two_input("CoProcess", move |_| {
            CoProcessOperator::new(function.clone())
        })
    }
}
