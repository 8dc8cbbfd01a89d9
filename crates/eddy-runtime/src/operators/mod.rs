//! The operators of the typed DataStream API, over batches of
//! [`Records`](eddy_core::Records).

mod basic;
mod co;
mod functions;
mod keyed;
mod sink;
mod watermarks;

pub use basic::{FilterOperator, FlatMapOperator, MapOperator, ProcessOperator};
pub use co::{CoMapOperator, CoProcessFunction, CoProcessOperator};
pub use functions::{
    Collector, KeyedContext, KeyedProcessFunction, OutputTag, ProcessContext, ProcessFunction,
    SideBuffers,
};
pub use keyed::{KeySelector, KeyedAggregateOperator, KeyedProcessOperator, KeyedReduceOperator};
pub use sink::{SinkOperator, SinkWriter};
pub use watermarks::{
    BoundedOutOfOrderness, TimestampsAndWatermarksOperator, WatermarkGenerator, WatermarkOutput,
    WatermarkStrategy,
};
