//! The Kafka source and sink through the DataStream API, against a real broker
//! ([`TestBroker`]): bounded reads, starting offsets, the three delivery
//! guarantees, a restore at another parallelism, an injected failure under
//! exactly-once, and an unreachable broker.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy::prelude::*;
use eddy_kafka::testing::TestBroker;
use eddy_kafka::{DeliveryGuarantee, KafkaSink, KafkaSource, OffsetsInitializer, TopicPartition};

fn values(from: usize, to: usize) -> Vec<String> {
    (from..to).map(|i| format!("v{i:05}")).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn source(
    broker: &TestBroker,
    topic: &str,
    start: OffsetsInitializer,
    bounded: bool,
) -> KafkaSource<String> {
    let mut builder = KafkaSource::builder()
        .bootstrap_servers(broker.bootstrap_servers())
        .topics([topic])
        .group_id("eddy-test")
        .starting_offsets(start)
        .value_only_deserializer(eddy_kafka::value_as_string());
    if bounded {
        builder = builder.bounded(OffsetsInitializer::Latest);
    }
    builder.build().unwrap()
}

fn sink(broker: &TestBroker, topic: &str, guarantee: DeliveryGuarantee) -> KafkaSink<String> {
    KafkaSink::builder()
        .bootstrap_servers(broker.bootstrap_servers())
        .topic(topic)
        .delivery_guarantee(guarantee)
        .transactional_id_prefix(format!("eddy-test-{topic}"))
        .record_serializer(eddy_kafka::string_value())
        .build()
        .unwrap()
}

fn checkpointed(env: &StreamExecutionEnvironment, dir: &std::path::Path, interval: &str) {
    env.configure("execution.checkpointing.interval", interval);
    env.configure("execution.checkpointing.dir", dir.to_str().unwrap());
    env.configure("restart-strategy.type", "none");
}

#[test]
fn bounded_source_reads_exactly_the_records_and_honours_starting_offsets() {
    let broker = TestBroker::start().unwrap();
    broker.create_topic("in", 3).unwrap();
    let input = values(0, 600);
    broker.produce("in", 3, &input).unwrap();

    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    let read = env
        .add_source(
            "Kafka Source",
            None,
            source(&broker, "in", OffsetsInitializer::Earliest, true)
                .reader_factory(WatermarkStrategy::no_watermarks()),
        )
        .unwrap()
        .collect_vec();
    env.execute("read all").unwrap();
    assert_eq!(sorted(read.take()), input);

    // Specific offsets: partition 0 from offset 150 (records 450.. of it), the
    // others from the start.
    let mut offsets = std::collections::BTreeMap::new();
    offsets.insert(TopicPartition::new("in", 0), 150);
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(3);
    let read = env
        .add_source(
            "Kafka Source",
            None,
            source(&broker, "in", OffsetsInitializer::Specific(offsets), true)
                .reader_factory(WatermarkStrategy::no_watermarks()),
        )
        .unwrap()
        .collect_vec();
    env.execute("read from offsets").unwrap();
    let expected: Vec<String> = input
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0 || i / 3 >= 150)
        .map(|(_, v)| v.clone())
        .collect();
    assert_eq!(sorted(read.take()), expected);

    // Latest: nothing was written after the source opened.
    let env = StreamExecutionEnvironment::new();
    let read = env
        .add_source(
            "Kafka Source",
            None,
            source(&broker, "in", OffsetsInitializer::Latest, true)
                .reader_factory(WatermarkStrategy::no_watermarks()),
        )
        .unwrap()
        .collect_vec();
    env.execute("read from latest").unwrap();
    assert!(read.take().is_empty());
}

#[test]
fn none_and_at_least_once_sinks_deliver_every_record() {
    let broker = TestBroker::start().unwrap();
    broker.create_topic("in", 2).unwrap();
    broker.create_topic("none", 2).unwrap();
    broker.create_topic("alo", 3).unwrap();
    let input = values(0, 1_000);
    broker.produce("in", 2, &input).unwrap();
    let work = tempfile::tempdir().unwrap();
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    checkpointed(&env, work.path(), "50ms");
    let stream = env
        .add_source(
            "Kafka Source",
            None,
            source(&broker, "in", OffsetsInitializer::Earliest, true)
                .reader_factory(WatermarkStrategy::no_watermarks()),
        )
        .unwrap();
    stream.sink_to(
        "none",
        sink(&broker, "none", DeliveryGuarantee::None).writer_factory(),
    );
    stream.sink_to(
        "alo",
        sink(&broker, "alo", DeliveryGuarantee::AtLeastOnce).writer_factory(),
    );
    env.execute("sinks").unwrap();
    assert_eq!(sorted(broker.read_committed_values("none").unwrap()), input);
    assert_eq!(sorted(broker.read_committed_values("alo").unwrap()), input);
}

#[test]
fn exactly_once_survives_an_injected_failure_with_the_failure_free_output() {
    let broker = TestBroker::start().unwrap();
    broker.create_topic("in", 3).unwrap();
    broker.create_topic("out", 2).unwrap();
    let input = values(0, 3_000);
    broker.produce("in", 3, &input).unwrap();
    let work = tempfile::tempdir().unwrap();
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    checkpointed(&env, work.path(), "100ms");
    env.configure("restart-strategy.type", "fixed-delay");
    env.configure("restart-strategy.fixed-delay.attempts", "3");
    env.configure("restart-strategy.fixed-delay.delay", "10 ms");
    let failed = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicU64::new(0));
    env.add_source(
        "Kafka Source",
        None,
        source(&broker, "in", OffsetsInitializer::Earliest, true)
            .reader_factory(WatermarkStrategy::no_watermarks()),
    )
    .unwrap()
    .uid("source")
    .map(move |v: String| {
        // Slow enough for several checkpoints; fails once, mid-stream.
        std::thread::sleep(Duration::from_micros(400));
        if seen.fetch_add(1, Ordering::SeqCst) == 1_800 && !failed.swap(true, Ordering::SeqCst) {
            panic!("injected failure");
        }
        v
    })
    .uid("map")
    .sink_to(
        "Kafka Sink",
        sink(&broker, "out", DeliveryGuarantee::ExactlyOnce).writer_factory(),
    )
    .uid("sink");
    let result = env.execute("exactly once").unwrap();
    assert_eq!(result.counter("numRestarts"), 1);
    assert!(
        result.counter("numberOfCompletedCheckpoints") >= 1,
        "{:?}",
        result.counters
    );
    let output = broker.read_committed_values("out").unwrap();
    assert_eq!(output.len(), input.len(), "records lost or duplicated");
    assert_eq!(sorted(output), input);
}

#[test]
fn a_savepoint_restores_at_another_parallelism_without_loss_or_duplicates() {
    let broker = TestBroker::start().unwrap();
    broker.create_topic("in", 4).unwrap();
    broker.create_topic("out", 2).unwrap();
    let first = values(0, 2_000);
    broker.produce("in", 4, &first).unwrap();
    let work = tempfile::tempdir().unwrap();
    let processed = Arc::new(AtomicU64::new(0));
    let job = |env: &StreamExecutionEnvironment, bounded: bool| {
        let processed = processed.clone();
        env.add_source(
            "Kafka Source",
            None,
            source(&broker, "in", OffsetsInitializer::Earliest, bounded)
                .reader_factory(WatermarkStrategy::no_watermarks()),
        )
        .unwrap()
        .uid("source")
        .map(move |v: String| {
            std::thread::sleep(Duration::from_micros(500));
            processed.fetch_add(1, Ordering::SeqCst);
            v
        })
        .uid("map")
        .sink_to(
            "Kafka Sink",
            sink(&broker, "out", DeliveryGuarantee::ExactlyOnce).writer_factory(),
        )
        .uid("sink");
    };
    // Run 1, parallelism 2, stopped with a savepoint.
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    checkpointed(&env, &work.path().join("c1"), "100ms");
    job(&env, false);
    let client = env.execute_async("run 1").unwrap();
    let started = Instant::now();
    while processed.load(Ordering::SeqCst) < 500 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let savepoint = client
        .stop_with_savepoint(work.path().join("sp"), false)
        .unwrap();
    client.wait().unwrap();
    // Run 1 stops once its source has read what was there (the savepoint's
    // barrier follows the records already read).
    let so_far = broker.read_committed_values("out").unwrap().len();
    assert!(so_far <= first.len(), "{so_far} records after run 1");

    // More input while the job is down, then run 2 at parallelism 3, bounded.
    let second = values(2_000, 2_500);
    broker.produce("in", 4, &second).unwrap();
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(3);
    checkpointed(&env, &work.path().join("c2"), "100ms");
    env.configure("execution.state-recovery.path", savepoint.to_str().unwrap());
    job(&env, true);
    let started = Instant::now();
    env.execute("run 2").unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
    let output = broker.read_committed_values("out").unwrap();
    let mut expected = first;
    expected.extend(second);
    assert_eq!(output.len(), expected.len(), "records lost or duplicated");
    assert_eq!(sorted(output), expected);
}

#[test]
fn an_unreachable_broker_fails_the_job_within_the_timeout() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let env = StreamExecutionEnvironment::new();
    let source = KafkaSource::builder()
        .bootstrap_servers(format!("127.0.0.1:{port}"))
        .topics(["in"])
        .starting_offsets(OffsetsInitializer::Earliest)
        .value_only_deserializer(eddy_kafka::value_as_string())
        .request_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    env.add_source(
        "Kafka Source",
        None,
        source.reader_factory(WatermarkStrategy::no_watermarks()),
    )
    .unwrap()
    .discard();
    let started = Instant::now();
    let error = env.execute("no broker").unwrap_err().to_string();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");

    // Bad settings are errors naming the option.
    let missing = KafkaSink::<String>::builder()
        .bootstrap_servers("127.0.0.1:1")
        .topic("t")
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .record_serializer(eddy_kafka::string_value())
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(
        missing.contains("sink.transactional-id-prefix"),
        "{missing}"
    );
}

#[test]
fn watermarks_per_partition_keep_a_lagging_partition_on_time() {
    let broker = TestBroker::start().unwrap();
    broker.create_topic("a", 1).unwrap();
    broker.create_topic("b", 1).unwrap();
    // Partition `a` is 10 s of event time ahead of `b`, and `b` arrives later;
    // one subtask reads both. A single watermark over both would run ahead
    // with `a` and make `b` late; per-partition watermarks wait for `b`.
    let ahead: Vec<String> = (0..1_000).map(|i| (10_000 + i * 10).to_string()).collect();
    let behind: Vec<String> = (0..1_000).map(|i| (i * 10).to_string()).collect();
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(1);
    env.configure("pipeline.auto-watermark-interval", "5 ms");
    let mut stops = std::collections::BTreeMap::new();
    // `a` stays open until one more record after `b` (a finished partition
    // no longer holds event time back).
    stops.insert(TopicPartition::new("a", 0), 1_001);
    stops.insert(TopicPartition::new("b", 0), 1_000);
    let source = KafkaSource::builder()
        .bootstrap_servers(broker.bootstrap_servers())
        .topics(["a", "b"])
        .starting_offsets(OffsetsInitializer::Earliest)
        .bounded(OffsetsInitializer::Specific(stops))
        .value_only_deserializer(eddy_kafka::value_as_string())
        .build()
        .unwrap();
    let strategy = WatermarkStrategy::for_monotonous_timestamps()
        .with_timestamp_assigner(|v: &String, _| v.parse::<i64>().unwrap_or(0));
    let counts = env
        .add_source("Kafka Source", None, source.reader_factory(strategy))
        .unwrap()
        .map(|_: String| (0u8, 1u64))
        .key_by(|(k, _)| *k)
        .window(TumblingEventTimeWindows::of(Duration::from_secs(1)))
        .reduce_with(
            |a, b| (a.0, a.1 + b.1),
            |_: &u8,
             info: &WindowInfo<'_, TimeWindow>,
             v: (u8, u64),
             out: &mut Collector<(i64, u64)>| { out.collect((info.window.start, v.1)) },
        )
        .collect_vec();
    let client = env.execute_async("watermarks").unwrap();
    broker.produce("a", 1, &ahead).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    broker.produce("b", 1, &behind).unwrap();
    broker.produce("a", 1, &["20000".to_string()]).unwrap();
    client.wait().unwrap();
    let mut got = counts.take();
    got.sort();
    let mut want: Vec<(i64, u64)> = (0..20).map(|w| (w * 1_000, 100)).collect();
    want.push((20_000, 1));
    assert_eq!(got, want, "records dropped as late");
}

#[test]
fn partition_discovery_reads_partitions_added_while_running() {
    let broker = TestBroker::start().unwrap();
    broker.create_topic("grow", 1).unwrap();
    let first = values(0, 100);
    broker.produce("grow", 1, &first).unwrap();
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    let source = KafkaSource::builder()
        .bootstrap_servers(broker.bootstrap_servers())
        .topics(["grow"])
        .starting_offsets(OffsetsInitializer::Earliest)
        .partition_discovery_interval(Duration::from_millis(100))
        .value_only_deserializer(eddy_kafka::value_as_string())
        .build()
        .unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    env.add_source(
        "Kafka Source",
        None,
        source.reader_factory(WatermarkStrategy::no_watermarks()),
    )
    .unwrap()
    .map(move |v: String| {
        sink.lock().unwrap().push(v.clone());
        v
    })
    .discard();
    let client = env.execute_async("discovery").unwrap();
    broker.add_partitions("grow", 3).unwrap();
    let later = values(100, 400);
    broker.produce("grow", 3, &later).unwrap();
    let mut expected = first;
    expected.extend(later);
    let started = Instant::now();
    while seen.lock().unwrap().len() < expected.len() && started.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    client.cancel();
    let _ = client.wait();
    let got = sorted(seen.lock().unwrap().clone());
    assert_eq!(got, expected, "records of the added partitions");
}

#[test]
fn offsets_committed_on_checkpoint_completion_are_where_group_offsets_start() {
    let broker = TestBroker::start().unwrap();
    broker.create_topic("in", 2).unwrap();
    let first = values(0, 600);
    broker.produce("in", 2, &first).unwrap();
    let work = tempfile::tempdir().unwrap();
    let run = |start: OffsetsInitializer, dir: &str| {
        let env = StreamExecutionEnvironment::new();
        env.set_parallelism(2);
        checkpointed(&env, &work.path().join(dir), "50ms");
        let read = env
            .add_source(
                "Kafka Source",
                None,
                source(&broker, "in", start, true)
                    .reader_factory(WatermarkStrategy::no_watermarks()),
            )
            .unwrap()
            .collect_vec();
        env.execute("group offsets").unwrap();
        sorted(read.take())
    };
    assert_eq!(run(OffsetsInitializer::Earliest, "c1"), first);
    // The group (eddy-test) committed the offsets of the final checkpoint:
    // a source starting from them reads only what came after.
    let second = values(600, 900);
    broker.produce("in", 2, &second).unwrap();
    assert_eq!(run(OffsetsInitializer::Committed, "c2"), second);
}

#[test]
fn at_least_once_loses_nothing_across_an_injected_failure() {
    let broker = TestBroker::start().unwrap();
    broker.create_topic("in", 2).unwrap();
    broker.create_topic("out", 2).unwrap();
    let input = values(0, 2_000);
    broker.produce("in", 2, &input).unwrap();
    let work = tempfile::tempdir().unwrap();
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    checkpointed(&env, work.path(), "100ms");
    env.configure("restart-strategy.type", "fixed-delay");
    env.configure("restart-strategy.fixed-delay.attempts", "3");
    env.configure("restart-strategy.fixed-delay.delay", "10 ms");
    let failed = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicU64::new(0));
    env.add_source(
        "Kafka Source",
        None,
        source(&broker, "in", OffsetsInitializer::Earliest, true)
            .reader_factory(WatermarkStrategy::no_watermarks()),
    )
    .unwrap()
    .map(move |v: String| {
        std::thread::sleep(Duration::from_micros(400));
        if seen.fetch_add(1, Ordering::SeqCst) == 1_200 && !failed.swap(true, Ordering::SeqCst) {
            panic!("injected failure");
        }
        v
    })
    .sink_to(
        "Kafka Sink",
        sink(&broker, "out", DeliveryGuarantee::AtLeastOnce).writer_factory(),
    );
    let result = env.execute("at least once").unwrap();
    assert_eq!(result.counter("numRestarts"), 1);
    let output = broker.read_committed_values("out").unwrap();
    let mut distinct = sorted(output.clone());
    distinct.dedup();
    assert_eq!(distinct, input, "every record at least once");
    assert!(output.len() >= input.len());
}
