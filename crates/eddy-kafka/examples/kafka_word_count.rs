//! Word count from Kafka to Kafka, exactly once.
//!
//! ```text
//! cargo run --release -p eddy-kafka --example kafka_word_count -- \
//!     [--bootstrap-servers HOST:PORT --input TOPIC --output TOPIC] [--bounded] [-p N] [-D key=value]
//! ```
//!
//! Reads lines from `--input`, counts words in 10 s tumbling event-time windows
//! (event time is each record's Kafka timestamp, watermarks per partition) and
//! writes `window_start,word,count` lines to `--output` with the exactly-once
//! sink (one transaction per checkpoint, every second). With `--bounded` the job
//! reads up to the end the topic has when it starts, then ends.
//!
//! Without `--bootstrap-servers` it starts a local test broker (installing the
//! `noida-db` package with pip on first use), writes a few lines, runs bounded
//! and prints what a `read_committed` consumer then reads.

use std::time::Duration;

use eddy::cli::Args;
use eddy::prelude::*;
use eddy_kafka::testing::TestBroker;
use eddy_kafka::{DeliveryGuarantee, KafkaSink, KafkaSource, OffsetsInitializer};

fn main() {
    if let Err(e) = run() {
        eprintln!("kafka_word_count: {e}");
        std::process::exit(1);
    }
}

fn run() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse(
        std::env::args().skip(1),
        &["--bootstrap-servers", "--input", "--output"],
    )?;
    let demo = match args.get("--bootstrap-servers") {
        Some(_) => None,
        None => {
            let broker = TestBroker::start()?;
            broker.create_topic("lines", 2)?;
            broker.create_topic("counts", 2)?;
            let lines = [
                "to be or not to be",
                "that is the question",
                "whether tis nobler in the mind to suffer",
                "the slings and arrows of outrageous fortune",
            ];
            broker.produce("lines", 2, &lines.map(String::from))?;
            Some(broker)
        }
    };
    let servers = match &demo {
        Some(broker) => broker.bootstrap_servers(),
        None => args.required("--bootstrap-servers")?.to_string(),
    };
    let input = args.get("--input").unwrap_or("lines").to_string();
    let output = args.get("--output").unwrap_or("counts").to_string();
    let bounded = demo.is_some() || std::env::args().any(|a| a == "--bounded");

    let env = StreamExecutionEnvironment::with_config(args.job_config());
    env.configure("execution.checkpointing.interval", "1 s");
    let mut source = KafkaSource::builder()
        .bootstrap_servers(&servers)
        .topics([input.as_str()])
        .group_id("kafka-word-count")
        .starting_offsets(OffsetsInitializer::Earliest)
        .value_only_deserializer(eddy_kafka::value_as_string());
    if bounded {
        source = source.bounded(OffsetsInitializer::Latest);
    }
    let source = source.build()?;
    let sink = KafkaSink::builder()
        .bootstrap_servers(&servers)
        .topic(&output)
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .transactional_id_prefix("kafka-word-count")
        .record_serializer(eddy_kafka::string_value())
        .build()?;
    let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(1))
        .with_idleness(Duration::from_secs(5));
    env.add_source("Kafka Source", None, source.reader_factory(strategy))?
        .uid("kafka-source")
        .flat_map(|line: String, out: &mut Collector<(String, u64)>| {
            for word in line.split_whitespace() {
                out.collect((word.to_ascii_lowercase(), 1));
            }
        })
        .name("Tokenize")
        .key_by(|(word, _)| word.clone())
        .window(TumblingEventTimeWindows::of(Duration::from_secs(10)))
        .reduce_with(
            |a, b| (a.0, a.1 + b.1),
            |word: &String,
             info: &WindowInfo<'_, TimeWindow>,
             v: (String, u64),
             out: &mut Collector<String>| {
                out.collect(format!("{},{word},{}", info.window.start, v.1))
            },
        )
        .uid("count")
        .sink_to("Kafka Sink", sink.writer_factory())
        .uid("kafka-sink");
    let result = env.execute("kafka word count")?;
    eprintln!(
        "kafka_word_count: {} lines in {:.2?}",
        result.counter("Kafka Source.numRecordsOut"),
        result.net_runtime
    );
    if let Some(broker) = demo {
        let mut counts = broker.read_committed_values(&output)?;
        counts.sort();
        for line in counts {
            println!("{line}");
        }
    }
    Ok(())
}
