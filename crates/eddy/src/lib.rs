//! # eddy
//!
//! A stateful stream processor: event time and watermarks, keyed state, windows,
//! and a DataStream API with Flink's names. A job is built on a
//! [`StreamExecutionEnvironment`], from sources through transformations to sinks,
//! and runs locally in this process on [`execute`](StreamExecutionEnvironment::execute).
//!
//! ```
//! use std::time::Duration;
//! use eddy::prelude::*;
//!
//! let env = StreamExecutionEnvironment::new();
//! env.set_parallelism(2);
//! let counts = env
//!     .from_collection(vec![(1_000i64, "a"), (1_500, "b"), (2_100, "a"), (9_000, "a")])
//!     .assign_timestamps_and_watermarks(
//!         WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(1))
//!             .with_timestamp_assigner(|event: &(i64, &str), _| event.0),
//!     )
//!     .map(|(_, key)| (key.to_string(), 1u64))
//!     .key_by(|(key, _)| key.clone())
//!     .window(TumblingEventTimeWindows::of(Duration::from_secs(5)))
//!     .reduce(|a, b| (a.0, a.1 + b.1))
//!     .collect_vec();
//! env.execute("window word count").unwrap();
//! let mut result = counts.take();
//! result.sort();
//! assert_eq!(result, vec![("a".into(), 1), ("a".into(), 2), ("b".into(), 1)]);
//! ```
//!
//! The same program can be its own cluster, a JobManager and TaskManagers in
//! separate processes running its binary ([`application`] mode, Flink's), and
//! [`process`] starts those roles for it and for the `eddy` command.
//!
//! The layers below: [`eddy_core`] (elements, key groups, JobGraph, config),
//! [`eddy_state`] (keyed state), [`eddy_runtime`] (tasks, operators, windows,
//! MiniCluster), [`eddy_connectors`] (sources and sinks).

pub mod application;
pub mod cli;
mod connected;
mod datastream;
mod env;
mod keyed;
pub mod logging;
pub mod process;
mod windowed;

pub use connected::ConnectedStreams;
pub use datastream::{CollectedRecords, DataStream, DataStreamSink};
pub use env::StreamExecutionEnvironment;
pub use keyed::KeyedStream;
pub use windowed::WindowedStream;

/// The memory allocator of eddy's binaries, mimalloc. A job allocates many
/// small, short-lived objects (records, keys, state entries, output lines),
/// where it is faster than the C library's allocator (the `window_count`
/// example runs a quarter faster with it). A program declares it once:
///
/// ```
/// #[global_allocator]
/// static ALLOCATOR: eddy::Allocator = eddy::Allocator;
/// # fn main() {}
/// ```
pub use mimalloc::MiMalloc as Allocator;

pub use eddy_connectors as connectors;
pub use eddy_core as core;
pub use eddy_rest as rest;
pub use eddy_runtime as runtime;
pub use eddy_state as state;

/// Everything a DataStream program usually needs.
pub mod prelude {
    pub use crate::{DataStream, KeyedStream, StreamExecutionEnvironment, WindowedStream};
    pub use eddy_connectors::TextLine;
    pub use eddy_core::{Config, Error, Result, Timestamp};
    pub use eddy_runtime::operators::{
        CoProcessFunction, Collector, KeyedContext, KeyedProcessFunction, OutputTag,
        ProcessContext, ProcessFunction, WatermarkGenerator, WatermarkOutput, WatermarkStrategy,
    };
    pub use eddy_runtime::user_metrics::{Histogram, Meter, MetricGroup};
    pub use eddy_runtime::window::{
        CountTrigger, EventTimeSessionWindows, EventTimeTrigger, GlobalWindow, GlobalWindows,
        ProcessingTimeSessionWindows, ProcessingTimeTrigger, PurgingTrigger,
        SlidingEventTimeWindows, SlidingProcessingTimeWindows, TimeWindow, Trigger, TriggerContext,
        TriggerResult, TumblingEventTimeWindows, TumblingProcessingTimeWindows, WindowInfo,
    };
    pub use eddy_runtime::{JobExecutionResult, JobStatus};
    pub use eddy_state::{
        AggregateFunction, AggregatingStateDescriptor, KeyedStateBackend, ListState,
        ListStateDescriptor, MapState, MapStateDescriptor, OperatorListState, OperatorStateStore,
        Redistribution, ReducingStateDescriptor, StateTtlConfig, ValueState, ValueStateDescriptor,
    };
}
