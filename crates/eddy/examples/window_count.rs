//! Keyed event-time window count.
//!
//! ```text
//! cargo run --release --example window_count -- --input PATH --output DIR [-p N]
//!     [--window-ms W] [--slide-ms S] [--out-of-orderness-ms B] [-D key=value]
//! ```
//!
//! Input lines are `timestamp_ms,key`, out of order by at most B ms (default 1000).
//! Counts records per key in tumbling windows of W ms (default 10000), or sliding
//! windows when S is given, and writes `window_start,window_end,key,count` lines as
//! part files into DIR. Malformed lines are counted, reported on stderr with their
//! file and line, and skipped.
//!
//! With `-D execution.checkpointing.interval=200ms -D execution.checkpointing.dir=D`
//! the job checkpoints; after a crash, `-s latest` resumes it with exactly-once
//! output (`-s PATH` restores a given checkpoint or savepoint, at any `-p`).
//!
//! The same binary is its own cluster ([`eddy::application`]):
//!
//! ```text
//! window_count jobmanager [-D key=value]... -- --input PATH --output DIR -p 2
//! window_count taskmanager [-D key=value]...      (as many as the job needs slots)
//! ```

use std::sync::atomic::Ordering;
use std::time::Duration;

use eddy::cli::Args;
use eddy::prelude::*;

#[global_allocator]
static ALLOCATOR: eddy::Allocator = eddy::Allocator;

fn main() -> std::process::ExitCode {
    eddy::application::run(run)
}

fn parse(line: &TextLine) -> std::result::Result<(i64, String), String> {
    let (ts, key) = line
        .text
        .split_once(',')
        .ok_or_else(|| "expected 'timestamp_ms,key'".to_string())?;
    let ts: i64 = ts
        .trim()
        .parse()
        .map_err(|_| format!("'{ts}' is not a timestamp in milliseconds"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err("the key is empty".into());
    }
    Ok((ts, key.to_string()))
}

fn run(args: Vec<String>) -> Result<()> {
    let args = Args::parse(
        args,
        &[
            "--input",
            "--output",
            "--window-ms",
            "--slide-ms",
            "--out-of-orderness-ms",
        ],
    )?;
    let input = args.required("--input")?.to_string();
    let output = args.required("--output")?.to_string();
    let window_ms: u64 = args.number("--window-ms", 10_000)?;
    let slide_ms: Option<u64> = match args.get("--slide-ms") {
        Some(_) => Some(args.number("--slide-ms", 0)?),
        None => None,
    };
    let bound_ms: u64 = args.number("--out-of-orderness-ms", 1_000)?;
    if window_ms == 0 || slide_ms == Some(0) {
        return Err(Error::Other(
            "--window-ms and --slide-ms must be positive".into(),
        ));
    }

    let env = StreamExecutionEnvironment::with_config(args.job_config());
    let malformed = env.counter("malformed lines");
    let reported = env.counter("malformed lines reported");
    let events = env
        .read_text_lines(&input)
        .uid("source")
        .flat_map(
            move |line: TextLine, out: &mut Collector<(i64, String)>| match parse(&line) {
                Ok(event) => out.collect(event),
                Err(reason) => {
                    malformed.fetch_add(1, Ordering::Relaxed);
                    if reported.fetch_add(1, Ordering::Relaxed) < 10 {
                        eprintln!(
                            "window_count: skipping malformed line {}: {reason}",
                            line.location()
                        );
                    }
                }
            },
        )
        .name("Parse")
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_millis(bound_ms))
                .with_timestamp_assigner(|event: &(i64, String), _| event.0),
        )
        .map(|(_, key)| (key, 1u64));
    let keyed = events.key_by(|(key, _)| key.clone());
    let format = |key: &String,
                  info: &WindowInfo<'_, TimeWindow>,
                  count: (String, u64),
                  out: &mut Collector<String>| {
        out.collect(format!(
            "{},{},{},{}",
            info.window.start, info.window.end, key, count.1
        ));
    };
    let sum = |a: (String, u64), b: (String, u64)| (a.0, a.1 + b.1);
    let lines = match slide_ms {
        None => keyed
            .window(TumblingEventTimeWindows::of(Duration::from_millis(
                window_ms,
            )))
            .reduce_with(sum, format),
        Some(slide) => keyed
            .window(SlidingEventTimeWindows::of(
                Duration::from_millis(window_ms),
                Duration::from_millis(slide),
            ))
            .reduce_with(sum, format),
    };
    lines
        .name("Window Count")
        .write_as_text(&output, String::clone);
    let result = env.execute("window_count")?;
    let bad = result.counter("malformed lines");
    eprintln!(
        "window_count: {} lines read, {} malformed lines skipped, {} late records dropped, {:.2?}",
        result.counter("File Source.numRecordsOut"),
        bad,
        result.counter("Window Count.numLateRecordsDropped"),
        result.net_runtime
    );
    Ok(())
}
