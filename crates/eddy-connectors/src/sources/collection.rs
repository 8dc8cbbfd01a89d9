//! A bounded source over an in-memory collection.

use std::sync::Arc;
use std::task::{Context, Poll};

use eddy_core::{Records, Result, StreamRecord};
use eddy_runtime::{OperatorContext, SourceEvent, SourceReader};

/// Emits the elements of a collection; subtask `i` of `p` emits the elements whose
/// index is `i` modulo `p`, in order. Elements carry no timestamp.
pub struct CollectionSource<T> {
    elements: Arc<Vec<T>>,
    next: usize,
    step: usize,
    batch_size: usize,
}

impl<T> CollectionSource<T> {
    /// A source over `elements`, shared by every subtask.
    pub fn new(elements: Arc<Vec<T>>) -> Self {
        CollectionSource {
            elements,
            next: 0,
            step: 1,
            batch_size: 1024,
        }
    }
}

impl<T: Clone + Send + Sync + 'static> SourceReader for CollectionSource<T> {
    type Out = Records<T>;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.next = ctx.subtask;
        self.step = ctx.parallelism.max(1);
        self.batch_size = super::batch_size(ctx);
        Ok(())
    }

    fn poll_next(&mut self, _: &mut Context<'_>) -> Poll<Result<SourceEvent<Records<T>>>> {
        if self.next >= self.elements.len() {
            return Poll::Ready(Ok(SourceEvent::End));
        }
        let mut batch = Vec::with_capacity(self.batch_size);
        while batch.len() < self.batch_size && self.next < self.elements.len() {
            batch.push(StreamRecord::new(self.elements[self.next].clone()));
            self.next += self.step;
        }
        Poll::Ready(Ok(SourceEvent::Batch(batch)))
    }
}
