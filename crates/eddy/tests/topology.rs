//! Stream topologies: union, connect, side outputs, partitionings, chaining and
//! equal results at every parallelism.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use eddy::prelude::*;

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

#[test]
fn map_flat_map_filter_at_every_parallelism() {
    let input: Vec<u64> = (0..10_000).collect();
    let expected: Vec<u64> = (0..10_000u64)
        .flat_map(|x| [x * 2, x * 2 + 1])
        .filter(|x| x % 3 == 0)
        .collect();
    for p in [1, 2, 4] {
        let env = StreamExecutionEnvironment::new();
        env.set_parallelism(p);
        let out = env
            .from_collection(input.clone())
            .map(|x| x * 2)
            .flat_map(|x: u64, out: &mut Collector<u64>| {
                out.collect(x);
                out.collect(x + 1);
            })
            .filter(|x| x % 3 == 0)
            .collect_vec();
        let result = env.execute("stateless").unwrap();
        assert_eq!(
            sorted(out.take()),
            sorted(expected.clone()),
            "parallelism {p}"
        );
        assert_eq!(result.counter("Map.numRecordsIn"), 10_000);
        assert_eq!(result.counter("Filter.numRecordsIn"), 20_000);
        // A chained operator sends what its successor receives.
        assert_eq!(result.counter("Map.numRecordsOut"), 10_000);
        assert_eq!(result.counter("FlatMap.numRecordsOut"), 20_000);
        assert_eq!(
            result.counter("Filter.numRecordsOut"),
            expected.len() as u64
        );
    }
}

/// `numRecordsOut` counts what an operator emits, once: through a network
/// edge as through a chained one, to two consumers at once, and on its side
/// outputs.
#[test]
fn records_out_are_counted_once_per_record_emitted() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    let odd = OutputTag::<String>::new("odd");
    // The source sends over a network edge (a rebalance); the map's output
    // feeds two streams, one chained and one over a key_by.
    let mapped = env
        .from_collection((0..10_000u64).collect::<Vec<_>>())
        .rebalance()
        .map(|x| x + 1);
    let chained = mapped.filter(|_| true).collect_vec();
    let keyed = mapped.key_by(|x| x % 10).reduce(|a, b| a + b).collect_vec();
    let split = mapped.process(Split { odd: odd.clone() });
    let odds = split.get_side_output(&odd).collect_vec();
    let evens = split.collect_vec();
    let result = env.execute("records out").unwrap();
    assert_eq!(chained.take().len(), 10_000);
    assert_eq!(keyed.take().len(), 10_000);
    assert_eq!((evens.take().len(), odds.take().len()), (5_000, 5_000));
    assert_eq!(result.counter("Collection Source.numRecordsOut"), 10_000);
    assert_eq!(result.counter("Map.numRecordsOut"), 10_000);
    // Main and side output together.
    assert_eq!(result.counter("Process.numRecordsOut"), 10_000);
}

/// Bytes are counted where records cross from one task to another: what a map
/// sends through a `key_by` is what the keyed operator reads, the size of the
/// typed records; a chained operator reads none.
#[test]
fn bytes_between_tasks_are_counted_on_both_sides() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    let out = env
        .from_collection((0..10_000u64).collect::<Vec<_>>())
        .map(|x| x % 100)
        .key_by(|x| *x)
        .reduce(|a, b| a + b)
        .filter(|_| true)
        .collect_vec();
    let result = env.execute("bytes").unwrap();
    assert_eq!(out.take().len(), 10_000);
    let record = std::mem::size_of::<eddy::core::StreamRecord<u64>>() as u64;
    assert_eq!(result.counter("Map.numBytesOut"), 10_000 * record);
    assert_eq!(result.counter("Keyed Reduce.numBytesIn"), 10_000 * record);
    assert_eq!(result.counter("Filter.numBytesIn"), 0);
}

#[test]
fn union_merges_streams_of_one_type() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    let a = env.from_collection(vec![1, 2, 3]);
    let b = env.from_collection(vec![10, 20]).map(|x| x + 1);
    let c = env.from_collection(vec![100]);
    let out = a.union(&[b, c]).map(|x| x * 2).collect_vec();
    env.execute("union").unwrap();
    assert_eq!(sorted(out.take()), vec![2, 4, 6, 22, 42, 200]);
}

#[derive(Clone)]
struct Tagger;

impl CoProcessFunction<u32, String, String> for Tagger {
    fn process_element1(
        &mut self,
        v: u32,
        _: &mut ProcessContext<'_>,
        out: &mut Collector<String>,
    ) -> Result<()> {
        out.collect(format!("n{v}"));
        Ok(())
    }
    fn process_element2(
        &mut self,
        v: String,
        _: &mut ProcessContext<'_>,
        out: &mut Collector<String>,
    ) -> Result<()> {
        out.collect(format!("s{v}"));
        Ok(())
    }
}

#[test]
fn connect_with_co_map_and_co_process() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    let numbers = env.from_collection(vec![1u32, 2]);
    let words = env.from_collection(vec!["x".to_string()]);
    let mapped = numbers
        .connect(&words)
        .map(|n| n.to_string(), |w| w.to_uppercase())
        .collect_vec();
    let processed = numbers.connect(&words).process(Tagger).collect_vec();
    env.execute("connect").unwrap();
    assert_eq!(sorted(mapped.take()), vec!["1", "2", "X"]);
    assert_eq!(sorted(processed.take()), vec!["n1", "n2", "sx"]);
}

#[derive(Clone)]
struct Split {
    odd: OutputTag<String>,
}

impl ProcessFunction<u64, u64> for Split {
    fn process_element(
        &mut self,
        v: u64,
        ctx: &mut ProcessContext<'_>,
        out: &mut Collector<u64>,
    ) -> Result<()> {
        if v.is_multiple_of(2) {
            out.collect(v);
        } else {
            ctx.output(&self.odd, format!("odd {v}"));
        }
        Ok(())
    }
}

#[test]
fn side_outputs_carry_their_own_type() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    let odd: OutputTag<String> = OutputTag::new("odd");
    let main = env
        .from_collection((0..6u64).collect())
        .process(Split { odd: odd.clone() });
    let evens = main.collect_vec();
    let odds = main
        .get_side_output(&odd)
        .map(|s| s.to_uppercase())
        .collect_vec();
    env.execute("side outputs").unwrap();
    assert_eq!(sorted(evens.take()), vec![0, 2, 4]);
    assert_eq!(sorted(odds.take()), vec!["ODD 1", "ODD 3", "ODD 5"]);
}

#[test]
fn broadcast_rebalance_rescale_and_forward() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(3);
    let source = env.from_collection((0..30u64).collect()).set_parallelism(2);
    let broadcast = source.broadcast().map(|x| x).collect_vec();
    let rebalanced = source.rebalance().map(|x| x).collect_vec();
    let rescaled = source.rescale().map(|x| x).collect_vec();
    let forwarded = source
        .forward()
        .map(|x| x + 1)
        .set_parallelism(2)
        .collect_vec();
    env.execute("partitionings").unwrap();
    let all: Vec<u64> = (0..30).collect();
    let mut tripled: Vec<u64> = all.iter().flat_map(|x| [*x, *x, *x]).collect();
    tripled.sort();
    assert_eq!(
        sorted(broadcast.take()),
        tripled,
        "every one of 3 subtasks sees everything"
    );
    assert_eq!(sorted(rebalanced.take()), all);
    assert_eq!(sorted(rescaled.take()), all);
    assert_eq!(sorted(forwarded.take()), (1..31).collect::<Vec<u64>>());
}

#[test]
fn a_forward_edge_between_different_parallelisms_is_rejected() {
    let env = StreamExecutionEnvironment::new();
    env.from_collection(vec![1])
        .set_parallelism(2)
        .forward()
        .map(|x: i32| x)
        .set_parallelism(3)
        .discard();
    let err = env.execute("bad forward").unwrap_err().to_string();
    assert!(
        err.contains("forward edge") && err.contains("equal parallelism"),
        "{err}"
    );
}

#[test]
fn duplicate_uids_are_rejected() {
    let env = StreamExecutionEnvironment::new();
    let s = env.from_collection(vec![1]).uid("same");
    s.map(|x: i32| x).uid("same").discard();
    let err = env.execute("dup").unwrap_err().to_string();
    assert!(err.contains("uid 'same'"), "{err}");
}

#[test]
fn keyed_running_reduce_and_aggregate_equal_at_every_parallelism() {
    let input: Vec<(u64, u64)> = (0..5_000u64).map(|i| (i % 37, i)).collect();
    let mut baseline = None;
    for p in [1, 2, 3] {
        let env = StreamExecutionEnvironment::new();
        env.set_parallelism(p);
        let sums = env
            .from_collection(input.clone())
            .key_by(|e| e.0)
            .reduce(|a, b| (a.0, a.1 + b.1))
            .collect_vec();
        env.execute("reduce").unwrap();
        let finals: std::collections::BTreeMap<u64, u64> =
            sums.take()
                .into_iter()
                .fold(Default::default(), |mut m, (k, v)| {
                    let e = m.entry(k).or_insert(0);
                    *e = (*e).max(v);
                    m
                });
        match &baseline {
            None => baseline = Some(finals),
            Some(b) => assert_eq!(&finals, b, "parallelism {p}"),
        }
    }
    let expected: u64 = (0..5_000u64).filter(|i| i % 37 == 5).sum();
    assert_eq!(baseline.unwrap()[&5], expected);
}

#[test]
fn generator_and_nexmark_sources_give_the_same_data_at_every_parallelism() {
    let mut seen = Vec::new();
    for p in [1, 3] {
        let env = StreamExecutionEnvironment::new();
        env.set_parallelism(p);
        let generated = env
            .from_generator(Some(1_000), |i| (i * i, Some(i as i64)))
            .collect_vec();
        let bids = env
            .nexmark(
                eddy::connectors::nexmark::NexmarkConfig::default().with_max_events(Some(5_000)),
            )
            .filter(|e| matches!(e, eddy::connectors::nexmark::Event::Bid(_)))
            .map(|e| e.timestamp())
            .collect_vec();
        env.execute("generators").unwrap();
        seen.push((sorted(generated.take()), sorted(bids.take())));
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0].0.len(), 1_000);
    assert_eq!(seen[0].1.len(), 5_000 / 50 * 46);
}

#[test]
fn rate_limited_generator_paces_records() {
    let env = StreamExecutionEnvironment::new();
    let out = env
        .from_generator_with_rate(Some(50), Some(500.0), |i| (i, None))
        .collect_vec();
    let started = std::time::Instant::now();
    env.execute("rate").unwrap();
    // 50 records at 500/s cannot finish in less than ~90 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(80),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.take().len(), 50);
}

/// Emits everything it received when its input ends.
struct EmitAtEnd(Vec<u64>);

impl eddy_runtime::Operator for EmitAtEnd {
    type In = eddy_core::Records<u64>;
    type Out = eddy_core::Records<u64>;

    fn process_batch(
        &mut self,
        batch: eddy_core::Records<u64>,
        _: &mut eddy_runtime::Emitter<'_, eddy_core::Records<u64>>,
    ) -> Result<()> {
        self.0.extend(batch.into_iter().map(|r| r.value));
        Ok(())
    }

    fn end_input(
        &mut self,
        out: &mut eddy_runtime::Emitter<'_, eddy_core::Records<u64>>,
    ) -> Result<()> {
        let records = std::mem::take(&mut self.0)
            .into_iter()
            .map(eddy_core::StreamRecord::new)
            .collect();
        out.collect(records)
    }
}

/// What an operator emits when its input ends crosses an exchange ahead of the
/// final watermark, so a file sink downstream commits it.
#[test]
fn records_emitted_at_end_of_input_reach_a_sink_behind_an_exchange() {
    let dir = tempfile::tempdir().unwrap();
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    env.from_collection((0..1000u64).collect())
        .transform(
            "EmitAtEnd",
            std::sync::Arc::new(eddy_runtime::TypedEdge::<eddy_core::Records<u64>>::new()),
            None,
            |_| EmitAtEnd(Vec::new()),
        )
        .rebalance()
        .map(|x| x.to_string())
        .write_as_text(dir.path(), String::clone);
    env.execute("emit at end").unwrap();
    let mut lines: Vec<u64> = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.starts_with('.') && !name.starts_with('_') {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            lines.extend(text.lines().map(|l| l.parse::<u64>().unwrap()));
        }
    }
    assert_eq!(sorted(lines), (0..1000).collect::<Vec<u64>>());
}

#[test]
fn operators_with_the_same_name_keep_their_own_metrics_per_subtask() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    let out = env
        .from_collection((0..1_000u64).collect::<Vec<_>>())
        .map(|x| x + 1)
        .uid("first")
        .filter(|x| x % 2 == 0)
        .map(|x| x * 10)
        .uid("second")
        .collect_vec();
    let result = env.execute("two maps").unwrap();
    assert_eq!(out.take().len(), 500);
    // Summed by name, as the job result always showed them...
    assert_eq!(result.counter("Map.numRecordsIn"), 1_500);
    // ...and each operator's own, per subtask, by uid.
    let records_in = |uid: &str| -> Vec<u64> {
        let mut per_subtask: Vec<(u32, u64)> = result
            .operator_metrics
            .iter()
            .filter(|m| m.uid == uid && m.metric == "numRecordsIn")
            .map(|m| (m.subtask, m.value))
            .collect();
        per_subtask.sort();
        per_subtask.into_iter().map(|(_, v)| v).collect()
    };
    let first = records_in("first");
    let second = records_in("second");
    assert_eq!(first.len(), 2, "{:?}", result.operator_metrics);
    assert_eq!(first.iter().sum::<u64>(), 1_000);
    assert_eq!(second.iter().sum::<u64>(), 500);
    assert!(result
        .operator_metrics
        .iter()
        .all(|m| m.name == "Map" || m.uid != "first"));
}

/// Counts, measures and marks what it passes on, in user-defined metrics.
#[derive(Clone, Default)]
struct Measured {
    seen: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    sizes: Option<Histogram>,
    events: Option<Meter>,
}

impl ProcessFunction<u64, u64> for Measured {
    fn register_metrics(&mut self, metrics: &MetricGroup) -> Result<()> {
        let group = metrics.add_group("input");
        self.seen = Some(group.counter("seen"));
        self.sizes = Some(group.histogram("values", 10_000));
        self.events = Some(group.meter("perSecond"));
        group.gauge("answer", || 42);
        Ok(())
    }

    fn process_element(
        &mut self,
        value: u64,
        _ctx: &mut ProcessContext<'_>,
        out: &mut Collector<u64>,
    ) -> Result<()> {
        if let (Some(seen), Some(sizes), Some(events)) = (&self.seen, &self.sizes, &self.events) {
            seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            sizes.update(value as i64);
            events.mark_event();
        }
        out.collect(value);
        Ok(())
    }
}

#[test]
fn user_metrics_count_gauge_and_measure_per_subtask() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    let out = env
        .from_collection((1..=1_000u64).collect::<Vec<_>>())
        .rebalance()
        .process(Measured::default())
        .uid("measured")
        .collect_vec();
    let result = env.execute("user metrics").unwrap();
    assert_eq!(out.take().len(), 1_000);
    // A counter sums over subtasks in the job result, under its group.
    assert_eq!(result.counter("Process.input.seen"), 1_000);
    let gauges = |metric: &str| -> Vec<i64> {
        let mut values: Vec<(u32, i64)> = result
            .operator_gauges
            .iter()
            .filter(|g| g.uid == "measured" && g.metric == metric)
            .map(|g| (g.subtask, g.value))
            .collect();
        values.sort();
        values.into_iter().map(|(_, v)| v).collect()
    };
    assert_eq!(gauges("input.answer"), [42, 42]);
    let counts = gauges("input.values_count");
    assert_eq!(counts.iter().sum::<i64>(), 1_000, "{counts:?}");
    assert_eq!(gauges("input.values_max").into_iter().max(), Some(1_000));
    assert_eq!(gauges("input.values_min").into_iter().min(), Some(1));
    assert_eq!(gauges("input.perSecond").len(), 2);
}
