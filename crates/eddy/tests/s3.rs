//! A DataStream job with checkpoints, savepoints and output in S3 (a real S3
//! server, moto, started by the test): stopped with a savepoint into a bucket
//! at parallelism 1, resumed from it at parallelism 2, its output equals an
//! uninterrupted run's.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::committed;
use eddy::prelude::*;
use eddy_fs::testing::TestS3;

/// Generator → keyed 1 s tumbling window count → text files in `out`.
fn window_job(env: &StreamExecutionEnvironment, out: &Path, rate: Option<f64>) {
    env.from_generator_with_rate(Some(30_000), rate, |i| {
        ((i % 97, 1u64), Some((i * 2) as i64))
    })
    .uid("source")
    .assign_timestamps_and_watermarks(WatermarkStrategy::for_monotonous_timestamps())
    .uid("timestamps")
    .key_by(|e: &(u64, u64)| e.0)
    .window(TumblingEventTimeWindows::of(Duration::from_secs(1)))
    .reduce_with(
        |a, b| (a.0, a.1 + b.1),
        |k: &u64, info: &WindowInfo<'_, TimeWindow>, v: (u64, u64), out: &mut Collector<String>| {
            out.collect(format!("{},{k},{}", info.window.start, v.1))
        },
    )
    .uid("window")
    .write_as_text(out, String::clone)
    .uid("sink");
}

#[test]
fn savepoints_and_output_in_s3_rescale_1_to_2() {
    let s3 = TestS3::start().unwrap();
    s3.create_bucket("eddy-job").unwrap();
    let configure = |env: &StreamExecutionEnvironment| {
        for (key, value) in s3.config() {
            env.configure(&key, &value);
        }
    };
    let work = tempfile::tempdir().unwrap();
    let reference = work.path().join("reference");
    let env = StreamExecutionEnvironment::new();
    window_job(&env, &reference, None);
    env.execute("reference").unwrap();
    let expected = committed(&reference);
    assert!(expected.len() > 100);

    let out = PathBuf::from("s3://eddy-job/out");
    let savepoints = PathBuf::from("s3://eddy-job/savepoints");

    let env = StreamExecutionEnvironment::new();
    configure(&env);
    env.configure("execution.checkpointing.interval", "40ms");
    env.configure("execution.checkpointing.dir", "s3://eddy-job/checkpoints");
    env.configure("restart-strategy.type", "none");
    window_job(&env, &out, Some(40_000.0));
    let client = env.execute_async("windows").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let savepoint = client.stop_with_savepoint(&savepoints, false).unwrap();
    client.wait().unwrap();
    assert!(
        savepoint.starts_with("s3://eddy-job/savepoints"),
        "{savepoint:?}"
    );
    assert!(eddy_fs::exists(&savepoint.join("_metadata")));
    let so_far = committed(&out).len();
    assert!(
        so_far < expected.len(),
        "stopped mid-stream ({so_far} lines)"
    );

    let env = StreamExecutionEnvironment::new();
    configure(&env);
    env.set_parallelism(2);
    env.configure("execution.checkpointing.interval", "40ms");
    env.configure("execution.checkpointing.dir", "s3://eddy-job/checkpoints");
    env.configure("restart-strategy.type", "none");
    env.configure("execution.state-recovery.path", savepoint.to_str().unwrap());
    window_job(&env, &out, None);
    env.execute("windows").unwrap();
    assert!(
        committed(&out) == expected,
        "output after the savepoint in S3 differs from the uninterrupted run"
    );
    // A savepoint outlives its job.
    assert!(eddy_fs::exists(&savepoint.join("_metadata")));
}
