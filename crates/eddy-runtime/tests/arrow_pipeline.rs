//! An Arrow `RecordBatch` pipeline through the same runtime as typed records:
//! source → hash exchange by a string column → keyed event-time tumbling window
//! count in keyed state with timers → collected Arrow batches.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use arrow_array::{Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use eddy_core::graph::{Edge, Vertex, VertexKind};
use eddy_core::key_group::stable_hash;
use eddy_core::{Config, JobGraph, Partitioning, Result, Timestamp, VertexId};
use eddy_runtime::output::Emitter;
use eddy_runtime::partitioner::KeyHasher;
use eddy_runtime::window::TimeWindow;
use eddy_runtime::{
    JobSpec, MiniCluster, Operator, OperatorContext, OperatorVertex, SourceEvent, SourceReader,
    SourceVertex, TimerService, TypedEdge,
};
use eddy_state::{KeyedStateBackend, ValueState, ValueStateDescriptor};

const WINDOW: i64 = 10;

fn input_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Int64, false),
        Field::new("key", DataType::Utf8, false),
    ]))
}

fn output_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("window_start", DataType::Int64, false),
        Field::new("key", DataType::Utf8, false),
        Field::new("count", DataType::Int64, false),
    ]))
}

/// Emits rows `(i, key_{i % 7})` for `i` in `0..rows`, split by subtask, in Arrow
/// batches of 100 rows, each followed by a watermark.
struct ArrowSource {
    rows: i64,
    next: i64,
    step: i64,
    pending_watermark: Option<Timestamp>,
}

impl SourceReader for ArrowSource {
    type Out = RecordBatch;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.next = ctx.subtask as i64;
        self.step = ctx.parallelism as i64;
        Ok(())
    }

    fn poll_next(&mut self, _: &mut Context<'_>) -> Poll<Result<SourceEvent<RecordBatch>>> {
        if let Some(w) = self.pending_watermark.take() {
            return Poll::Ready(Ok(SourceEvent::Watermark(w)));
        }
        if self.next >= self.rows {
            return Poll::Ready(Ok(SourceEvent::End));
        }
        let mut ts = Vec::new();
        let mut keys = Vec::new();
        while ts.len() < 100 && self.next < self.rows {
            ts.push(self.next);
            keys.push(format!("key_{}", self.next % 7));
            self.next += self.step;
        }
        self.pending_watermark = ts.last().map(|t| t - 1);
        let batch = RecordBatch::try_new(
            input_schema(),
            vec![
                Arc::new(Int64Array::from(ts)),
                Arc::new(StringArray::from(keys)),
            ],
        )
        .map_err(|e| eddy_core::Error::Other(e.to_string()))?;
        Poll::Ready(Ok(SourceEvent::Batch(batch)))
    }
}

/// Counts rows per key in tumbling event-time windows, with the count in keyed
/// state (namespace = window) and one event-time timer per key and window.
struct ArrowWindowCount {
    backend: Option<KeyedStateBackend<String>>,
    count: Option<ValueState<i64, TimeWindow>>,
    timers: TimerService<String, TimeWindow>,
}

impl Operator for ArrowWindowCount {
    type In = RecordBatch;
    type Out = RecordBatch;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let mut backend = KeyedStateBackend::new(ctx.key_group_range(), ctx.max_parallelism);
        self.count = Some(backend.value_state_in(ValueStateDescriptor::new("count"))?);
        self.backend = Some(backend);
        Ok(())
    }

    fn process_batch(
        &mut self,
        batch: RecordBatch,
        _: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        let (Some(backend), Some(count)) = (self.backend.as_mut(), self.count.as_ref()) else {
            return Ok(());
        };
        let ts = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("ts column");
        let keys = batch
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("key column");
        for row in 0..batch.num_rows() {
            let key = keys.value(row).to_string();
            let start = ts.value(row) - ts.value(row).rem_euclid(WINDOW);
            let window = TimeWindow::new(start, start + WINDOW);
            backend.set_current_key(key.clone());
            let n = count.value_in(backend, &window).unwrap_or(0);
            count.update_in(backend, &window, n + 1);
            self.timers
                .register_event_time_timer(window.end - 1, &key, &window);
        }
        Ok(())
    }

    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        let (Some(backend), Some(count)) = (self.backend.as_mut(), self.count.as_ref()) else {
            return Ok(());
        };
        self.timers.advance_watermark(watermark);
        let (mut starts, mut keys, mut counts) = (Vec::new(), Vec::new(), Vec::new());
        while let Some(timer) = self.timers.pop_event_time() {
            backend.set_current_key(timer.key.clone());
            if let Some(n) = count.value_in(backend, &timer.namespace) {
                count.clear_in(backend, &timer.namespace);
                starts.push(timer.namespace.start);
                keys.push(timer.key);
                counts.push(n);
            }
        }
        if !starts.is_empty() {
            let batch = RecordBatch::try_new(
                output_schema(),
                vec![
                    Arc::new(Int64Array::from(starts)),
                    Arc::new(StringArray::from(keys)),
                    Arc::new(Int64Array::from(counts)),
                ],
            )
            .map_err(|e| eddy_core::Error::Other(e.to_string()))?;
            out.collect(batch)?;
        }
        out.emit_watermark(watermark)
    }
}

struct CollectBatches(Arc<Mutex<Vec<RecordBatch>>>);

impl Operator for CollectBatches {
    type In = RecordBatch;
    type Out = RecordBatch;
    fn process_batch(
        &mut self,
        batch: RecordBatch,
        _: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        self.0.lock().expect("lock").push(batch);
        Ok(())
    }
}

fn vertex(id: u32, name: &str, kind: VertexKind, parallelism: u32) -> Vertex {
    Vertex {
        id: VertexId(id),
        uid: name.to_string(),
        name: name.to_string(),
        kind,
        parallelism,
        max_parallelism: 128,
        chainable: true,
    }
}

fn run(parallelism: u32, rows: i64) -> HashMap<(i64, String), i64> {
    let collected = Arc::new(Mutex::new(Vec::new()));
    let mut graph = JobGraph::new("arrow");
    graph.vertices = vec![
        vertex(0, "arrow-source", VertexKind::Source, parallelism),
        vertex(1, "arrow-window-count", VertexKind::OneInput, parallelism),
        vertex(2, "collect", VertexKind::Sink, 1),
    ];
    let edge = |s, t, partitioning| Edge {
        source: VertexId(s),
        target: VertexId(t),
        partitioning,
        input: 0,
        side_output: None,
    };
    graph.edges = vec![
        edge(0, 1, Partitioning::Hash),
        edge(1, 2, Partitioning::Rebalance),
    ];
    let key_hasher: KeyHasher<RecordBatch> = Arc::new(|batch: &RecordBatch, out: &mut Vec<i32>| {
        let keys = batch
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("key column");
        out.extend((0..keys.len()).map(|i| stable_hash(keys.value(i))));
    });
    let sink = collected.clone();
    let spec = JobSpec {
        graph,
        vertices: HashMap::from([
            (
                VertexId(0),
                Arc::new(SourceVertex::new(move |_| ArrowSource {
                    rows,
                    next: 0,
                    step: 1,
                    pending_watermark: None,
                })) as Arc<dyn eddy_runtime::VertexFactory>,
            ),
            (
                VertexId(1),
                Arc::new(OperatorVertex::new(|_| ArrowWindowCount {
                    backend: None,
                    count: None,
                    timers: TimerService::new(),
                })),
            ),
            (
                VertexId(2),
                Arc::new(OperatorVertex::new(move |_| CollectBatches(sink.clone()))),
            ),
        ]),
        edges: vec![
            Arc::new(TypedEdge::<RecordBatch>::keyed(key_hasher, 128)),
            Arc::new(TypedEdge::<RecordBatch>::new()),
        ],
        artifact: None,
        counters: Default::default(),
    };
    let mut config = Config::new();
    config.set("execution.batch-size", "64");
    MiniCluster::new(config)
        .execute(spec)
        .expect("arrow job runs");
    let mut result = HashMap::new();
    for batch in collected.lock().expect("lock").iter() {
        let starts = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("starts");
        let keys = batch
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("keys");
        let counts = batch
            .column(2)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("counts");
        for i in 0..batch.num_rows() {
            let previous = result.insert(
                (starts.value(i), keys.value(i).to_string()),
                counts.value(i),
            );
            assert!(previous.is_none(), "each window fires once");
        }
    }
    result
}

#[test]
fn arrow_batches_run_keyed_and_windowed_through_the_runtime() {
    let rows = 1_000;
    let mut expected: HashMap<(i64, String), i64> = HashMap::new();
    for i in 0..rows {
        *expected
            .entry((i - i % WINDOW, format!("key_{}", i % 7)))
            .or_default() += 1;
    }
    for parallelism in [1, 2, 3] {
        assert_eq!(
            run(parallelism, rows),
            expected,
            "parallelism {parallelism}"
        );
    }
}
