//! Operators over two connected streams.

use std::marker::PhantomData;

use eddy_core::{Records, Result, StreamRecord, Timestamp, MIN_WATERMARK};

use crate::operator::TwoInputOperator;
use crate::operators::functions::{process_records, Collector, ProcessContext, SideBuffers};
use crate::output::Emitter;

/// Maps each input with its own function to a common output type.
pub struct CoMapOperator<A, B, O, F1, F2> {
    map1: F1,
    map2: F2,
    _types: PhantomData<fn(A, B) -> O>,
}

impl<A, B, O, F1, F2> CoMapOperator<A, B, O, F1, F2> {
    /// A co-map operator.
    pub fn new(map1: F1, map2: F2) -> Self {
        CoMapOperator {
            map1,
            map2,
            _types: PhantomData,
        }
    }
}

impl<A, B, O, F1, F2> TwoInputOperator for CoMapOperator<A, B, O, F1, F2>
where
    A: Clone + Send + 'static,
    B: Clone + Send + 'static,
    O: Clone + Send + 'static,
    F1: FnMut(A) -> O + Send + 'static,
    F2: FnMut(B) -> O + Send + 'static,
{
    type In1 = Records<A>;
    type In2 = Records<B>;
    type Out = Records<O>;

    fn process_batch1(
        &mut self,
        batch: Records<A>,
        out: &mut Emitter<'_, Records<O>>,
    ) -> Result<()> {
        let f = &mut self.map1;
        out.collect(
            batch
                .into_iter()
                .map(|r| StreamRecord {
                    value: f(r.value),
                    timestamp: r.timestamp,
                })
                .collect(),
        )
    }

    fn process_batch2(
        &mut self,
        batch: Records<B>,
        out: &mut Emitter<'_, Records<O>>,
    ) -> Result<()> {
        let f = &mut self.map2;
        out.collect(
            batch
                .into_iter()
                .map(|r| StreamRecord {
                    value: f(r.value),
                    timestamp: r.timestamp,
                })
                .collect(),
        )
    }
}

/// A function over two connected streams, one method per input.
pub trait CoProcessFunction<A, B, O>: Send + 'static {
    /// Processes a record of the first input.
    fn process_element1(
        &mut self,
        value: A,
        ctx: &mut ProcessContext<'_>,
        out: &mut Collector<O>,
    ) -> Result<()>;
    /// Processes a record of the second input.
    fn process_element2(
        &mut self,
        value: B,
        ctx: &mut ProcessContext<'_>,
        out: &mut Collector<O>,
    ) -> Result<()>;
}

/// Runs a [`CoProcessFunction`].
pub struct CoProcessOperator<A, B, O, F> {
    function: F,
    watermark: Timestamp,
    sides: SideBuffers,
    _types: PhantomData<fn(A, B) -> O>,
}

impl<A, B, O, F> CoProcessOperator<A, B, O, F> {
    /// A co-process operator.
    pub fn new(function: F) -> Self {
        CoProcessOperator {
            function,
            watermark: MIN_WATERMARK,
            sides: SideBuffers::default(),
            _types: PhantomData,
        }
    }
}

impl<A, B, O, F> TwoInputOperator for CoProcessOperator<A, B, O, F>
where
    A: Clone + Send + 'static,
    B: Clone + Send + 'static,
    O: Clone + Send + 'static,
    F: CoProcessFunction<A, B, O>,
{
    type In1 = Records<A>;
    type In2 = Records<B>;
    type Out = Records<O>;

    fn process_batch1(
        &mut self,
        batch: Records<A>,
        out: &mut Emitter<'_, Records<O>>,
    ) -> Result<()> {
        let function = &mut self.function;
        process_records(
            batch,
            self.watermark,
            &mut self.sides,
            None,
            out,
            |v, ctx, c| function.process_element1(v, ctx, c),
        )
    }

    fn process_batch2(
        &mut self,
        batch: Records<B>,
        out: &mut Emitter<'_, Records<O>>,
    ) -> Result<()> {
        let function = &mut self.function;
        process_records(
            batch,
            self.watermark,
            &mut self.sides,
            None,
            out,
            |v, ctx, c| function.process_element2(v, ctx, c),
        )
    }

    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        out: &mut Emitter<'_, Records<O>>,
    ) -> Result<()> {
        self.watermark = watermark;
        out.emit_watermark(watermark)
    }
}
