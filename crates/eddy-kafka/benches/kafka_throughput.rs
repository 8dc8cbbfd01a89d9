//! Kafka throughput on the local test broker.
//!
//! ```text
//! cargo bench -p eddy-kafka --bench kafka_throughput             # 400,000 records of 100 bytes
//! cargo bench -p eddy-kafka --bench kafka_throughput -- --quick  # 50,000
//! ```
//!
//! Prints records/s and MB/s of the raw Kafka client (producer, then consumer)
//! beside eddy's source (bounded, → discard, parallelism 1 and 2) and eddy's
//! sink per delivery guarantee (generator → sink, a checkpoint every second),
//! all on one 4-partition topic per case. The broker is the same for all, so
//! the ratio to the raw client is what eddy costs.

use std::time::{Duration, Instant};

use eddy::prelude::*;
use eddy_kafka::testing::TestBroker;
use eddy_kafka::{DeliveryGuarantee, KafkaSink, KafkaSource, OffsetsInitializer};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

const VALUE_BYTES: usize = 100;
const PARTITIONS: i32 = 4;

fn value(i: u64) -> String {
    let mut v = format!("{i:012}");
    v.extend(std::iter::repeat_n('x', VALUE_BYTES - v.len()));
    v
}

fn report(case: &str, records: u64, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    let rate = records as f64 / secs;
    println!(
        "{case:<42} {records:>9} records {secs:>7.2} s {rate:>12.0} records/s {:>8.1} MB/s",
        rate * VALUE_BYTES as f64 / 1e6
    );
}

fn raw_produce(broker: &TestBroker, topic: &str, n: u64) -> Result<Duration, String> {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap_servers())
        .set("linger.ms", "5")
        .create()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    for i in 0..n {
        let v = value(i);
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).payload(v.as_bytes());
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }
    }
    producer
        .flush(Duration::from_secs(60))
        .map_err(|e| e.to_string())?;
    Ok(started.elapsed())
}

fn raw_consume(broker: &TestBroker, topic: &str, n: u64) -> Result<Duration, String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap_servers())
        .set("group.id", "bench-raw")
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| e.to_string())?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .map_err(|e| e.to_string())?;
    }
    consumer.assign(&tpl).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut seen = 0;
    while seen < n {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(_)) => seen += 1,
            Some(Err(e)) => return Err(e.to_string()),
            None if started.elapsed() > Duration::from_secs(120) => {
                return Err(format!("raw consumer read {seen} of {n}"))
            }
            None => {}
        }
    }
    Ok(started.elapsed())
}

fn eddy_source(broker: &TestBroker, topic: &str, p: u32) -> Result<(u64, Duration), String> {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(p);
    let source = KafkaSource::builder()
        .bootstrap_servers(broker.bootstrap_servers())
        .topics([topic])
        .starting_offsets(OffsetsInitializer::Earliest)
        .bounded(OffsetsInitializer::Latest)
        .value_only_deserializer(eddy_kafka::value_as_string())
        .build()
        .map_err(|e| e.to_string())?;
    env.add_source(
        "Kafka Source",
        None,
        source.reader_factory(WatermarkStrategy::no_watermarks()),
    )
    .map_err(|e| e.to_string())?
    .discard();
    let started = Instant::now();
    let result = env.execute("source bench").map_err(|e| e.to_string())?;
    Ok((
        result.counter("Kafka Source.numRecordsOut"),
        started.elapsed(),
    ))
}

fn eddy_sink(
    broker: &TestBroker,
    topic: &str,
    n: u64,
    guarantee: DeliveryGuarantee,
    checkpoints: &std::path::Path,
) -> Result<Duration, String> {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(1);
    env.configure("execution.checkpointing.interval", "1 s");
    env.configure(
        "execution.checkpointing.dir",
        &checkpoints.to_string_lossy(),
    );
    let sink = KafkaSink::builder()
        .bootstrap_servers(broker.bootstrap_servers())
        .topic(topic)
        .delivery_guarantee(guarantee)
        .transactional_id_prefix(format!("bench-{topic}"))
        .record_serializer(eddy_kafka::string_value())
        .build()
        .map_err(|e| e.to_string())?;
    env.from_generator(Some(n), |i| (value(i), None))
        .sink_to("Kafka Sink", sink.writer_factory());
    let started = Instant::now();
    env.execute("sink bench").map_err(|e| e.to_string())?;
    Ok(started.elapsed())
}

fn main() -> Result<(), String> {
    let quick = std::env::args().any(|a| a == "--quick");
    let n: u64 = if quick { 50_000 } else { 400_000 };
    let broker = TestBroker::start()?;
    let work = std::env::temp_dir().join(format!("eddy-kafka-bench-{}", std::process::id()));
    println!("Kafka on the local test broker, {n} records of {VALUE_BYTES} bytes, {PARTITIONS} partitions");

    broker.create_topic("raw", PARTITIONS)?;
    report(
        "raw producer (librdkafka)",
        n,
        raw_produce(&broker, "raw", n)?,
    );
    report(
        "raw consumer (librdkafka)",
        n,
        raw_consume(&broker, "raw", n)?,
    );
    for p in [1, 2] {
        let (read, elapsed) = eddy_source(&broker, "raw", p)?;
        if read != n {
            return Err(format!("the source read {read} of {n} records"));
        }
        report(&format!("eddy KafkaSource p={p} → discard"), n, elapsed);
    }
    for (name, guarantee) in [
        ("none", DeliveryGuarantee::None),
        ("at-least-once", DeliveryGuarantee::AtLeastOnce),
        ("exactly-once", DeliveryGuarantee::ExactlyOnce),
    ] {
        let topic = format!("sink-{name}");
        broker.create_topic(&topic, PARTITIONS)?;
        let elapsed = eddy_sink(&broker, &topic, n, guarantee, &work.join(name))?;
        report(&format!("eddy generator → KafkaSink {name}"), n, elapsed);
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
