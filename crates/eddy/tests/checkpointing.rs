//! Checkpoints, restarts and savepoints in process: a failing user function
//! restarts from the latest checkpoint; savepoints restore at other parallelisms
//! with keyed state and timers; checkpoints complete under backpressure and time
//! out cleanly; unknown state needs --allow-non-restored-state.

#![allow(clippy::unwrap_used)]

mod common;

use common::committed;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eddy::prelude::*;

fn checkpointed(env: &StreamExecutionEnvironment, dir: &Path) {
    env.configure("execution.checkpointing.interval", "40ms");
    env.configure("execution.checkpointing.dir", dir.to_str().unwrap());
    // A job that should not fail fails the test with its error, instead of
    // restarting with a growing backoff (tests that inject failures set their
    // own strategy).
    env.configure("restart-strategy.type", "none");
}

/// Generator → (optionally failing) map → keyed 1 s tumbling window count → files.
fn window_job(
    env: &StreamExecutionEnvironment,
    out: &Path,
    rate: Option<f64>,
    fail_at: Option<(u64, Arc<AtomicBool>)>,
) {
    env.from_generator_with_rate(Some(30_000), rate, |i| ((i % 97, i), Some((i * 2) as i64)))
        .uid("source")
        .map(move |(k, i): (u64, u64)| {
            if let Some((at, failed)) = &fail_at {
                if i == *at && !failed.swap(true, Ordering::SeqCst) {
                    panic!("injected failure at record {i}");
                }
            }
            (k, 1u64)
        })
        .uid("map")
        .assign_timestamps_and_watermarks(WatermarkStrategy::for_monotonous_timestamps())
        .uid("timestamps")
        .key_by(|e: &(u64, u64)| e.0)
        .window(TumblingEventTimeWindows::of(Duration::from_secs(1)))
        .reduce_with(
            |a, b| (a.0, a.1 + b.1),
            |k: &u64,
             info: &WindowInfo<'_, TimeWindow>,
             v: (u64, u64),
             out: &mut Collector<String>| {
                out.collect(format!("{},{k},{}", info.window.start, v.1))
            },
        )
        .uid("window")
        .write_as_text(out, String::clone)
        .uid("sink");
}

#[test]
fn a_failing_task_restarts_from_the_latest_checkpoint_with_exact_output() {
    let work = tempfile::tempdir().unwrap();
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    window_job(&env, &work.path().join("reference"), None, None);
    env.execute("reference").unwrap();
    let expected = committed(&work.path().join("reference"));
    assert!(expected.len() > 50);

    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    checkpointed(&env, &work.path().join("checkpoints"));
    env.configure("restart-strategy.type", "fixed-delay");
    env.configure("restart-strategy.fixed-delay.attempts", "3");
    env.configure("restart-strategy.fixed-delay.delay", "10 ms");
    let out = work.path().join("out");
    window_job(
        &env,
        &out,
        Some(60_000.0),
        Some((20_000, Arc::new(AtomicBool::new(false)))),
    );
    let result = env.execute("restarting").unwrap();
    assert_eq!(result.counter("numRestarts"), 1);
    assert!(
        result.counter("numberOfCompletedCheckpoints") >= 2,
        "{:?}",
        result.counters
    );
    assert!(
        committed(&out) == expected,
        "output after a restart differs from the failure-free run"
    );
}

#[test]
fn without_a_restart_strategy_the_failure_fails_the_job() {
    let work = tempfile::tempdir().unwrap();
    let env = StreamExecutionEnvironment::new();
    checkpointed(&env, &work.path().join("checkpoints"));
    env.configure("restart-strategy.type", "none");
    window_job(
        &env,
        &work.path().join("out"),
        None,
        Some((100, Arc::new(AtomicBool::new(false)))),
    );
    let err = env.execute("failing").unwrap_err().to_string();
    assert!(err.contains("injected failure at record 100"), "{err}");
}

/// Emits `(key, sum)` when the watermark passes 5 ms after a key's latest record.
#[derive(Clone, Default)]
struct SumOnTimeout {
    sum: Option<ValueState<u64>>,
    deadline: Option<ValueState<i64>>,
}

impl KeyedProcessFunction<u64, (u64, u64), String> for SumOnTimeout {
    fn open(&mut self, state: &mut KeyedStateBackend<u64>) -> Result<()> {
        self.sum = Some(state.value_state(ValueStateDescriptor::new("sum"))?);
        self.deadline = Some(state.value_state(ValueStateDescriptor::new("deadline"))?);
        Ok(())
    }
    fn process_element(
        &mut self,
        (_, v): (u64, u64),
        ctx: &mut KeyedContext<'_, u64>,
        _: &mut Collector<String>,
    ) -> Result<()> {
        let (Some(sum), Some(deadline)) = (&self.sum, &self.deadline) else {
            return Ok(());
        };
        let ts = ctx.timestamp().unwrap_or(0);
        let total = sum.value(ctx.state()).unwrap_or(0) + v;
        sum.update(ctx.state(), total);
        if let Some(old) = deadline.value(ctx.state()) {
            ctx.delete_event_time_timer(old);
        }
        deadline.update(ctx.state(), ts + 5);
        ctx.register_event_time_timer(ts + 5);
        Ok(())
    }
    fn on_timer(
        &mut self,
        ts: i64,
        ctx: &mut KeyedContext<'_, u64>,
        out: &mut Collector<String>,
    ) -> Result<()> {
        let (Some(sum), Some(deadline)) = (&self.sum, &self.deadline) else {
            return Ok(());
        };
        let key = *ctx.current_key();
        out.collect(format!(
            "{ts},{key},{}",
            sum.value(ctx.state()).unwrap_or(0)
        ));
        sum.clear(ctx.state());
        deadline.clear(ctx.state());
        Ok(())
    }
}

/// A watermark `3 ms` behind the highest timestamp after every record, so timers
/// fire at the same records in every run.
struct EveryRecord(i64);

impl WatermarkGenerator<(u64, u64)> for EveryRecord {
    fn on_event(&mut self, _: &(u64, u64), ts: i64, out: &mut WatermarkOutput) {
        self.0 = self.0.max(ts);
        out.emit_watermark(self.0 - 4);
    }
    fn on_periodic_emit(&mut self, _: &mut WatermarkOutput) {}
}

/// Keys appear in bursts: key `k` gets records at times near `10 * (i / 400)`, so
/// its timer fires between bursts and state and timers are alive at any moment.
/// The source runs at parallelism 1 (one ordered stream); the keyed operator at
/// the job's parallelism.
fn timer_job(env: &StreamExecutionEnvironment, out: &Path, rate: Option<f64>) {
    env.from_generator_with_rate(Some(40_000), rate, |i| {
        ((i % 50, i % 7), Some((i / 400 * 10 + i % 3) as i64))
    })
    .set_parallelism(1)
    .uid("source")
    .assign_timestamps_and_watermarks(WatermarkStrategy::for_generator(|| {
        EveryRecord(i64::MIN / 2)
    }))
    .set_parallelism(1)
    .uid("timestamps")
    .key_by(|e: &(u64, u64)| e.0)
    .process(SumOnTimeout::default())
    .uid("sums")
    .write_as_text(out, String::clone)
    .uid("sink");
}

#[test]
fn savepoints_rescale_keyed_state_and_timers_1_to_3_to_2() {
    let work = tempfile::tempdir().unwrap();
    let reference = work.path().join("reference");
    let env = StreamExecutionEnvironment::new();
    timer_job(&env, &reference, None);
    env.execute("reference").unwrap();
    let expected = committed(&reference);
    assert!(expected.len() > 100);

    let out = work.path().join("out");
    let savepoints = work.path().join("savepoints");
    let mut restore: Option<std::path::PathBuf> = None;
    for (p, rate) in [(1u32, Some(40_000.0)), (3, Some(40_000.0)), (2, None)] {
        let env = StreamExecutionEnvironment::new();
        env.set_parallelism(p);
        checkpointed(&env, &work.path().join(format!("checkpoints-{p}")));
        if let Some(path) = &restore {
            env.configure("execution.state-recovery.path", path.to_str().unwrap());
        }
        timer_job(&env, &out, rate);
        let client = env.execute_async("timers").unwrap();
        if rate.is_some() {
            std::thread::sleep(Duration::from_millis(250));
            let path = client.stop_with_savepoint(&savepoints, false).unwrap();
            assert!(path.join("_metadata").exists());
            restore = Some(path);
            client.wait().unwrap();
            let so_far = committed(&out).len();
            assert!(
                so_far < expected.len(),
                "stopped mid-stream at parallelism {p} ({so_far} lines)"
            );
        } else {
            client.wait().unwrap();
        }
    }
    let got = committed(&out);
    assert_eq!(got.len(), expected.len());
    assert!(
        got == expected,
        "output after 1 -> 3 -> 2 differs from the uninterrupted run"
    );
}

#[test]
fn trigger_savepoint_keeps_the_job_running_and_is_never_deleted() {
    let work = tempfile::tempdir().unwrap();
    let env = StreamExecutionEnvironment::new();
    checkpointed(&env, &work.path().join("checkpoints"));
    let out = work.path().join("out");
    timer_job(&env, &out, Some(40_000.0));
    let client = env.execute_async("running").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let savepoint = client
        .trigger_savepoint(work.path().join("savepoints"))
        .unwrap();
    let result = client.wait().unwrap();
    assert!(result.counter("numberOfCompletedCheckpoints") >= 2);
    assert!(
        savepoint.join("_metadata").exists(),
        "a savepoint outlives its job"
    );

    // A job without the "sums" operator refuses the savepoint...
    let env = StreamExecutionEnvironment::new();
    checkpointed(&env, &work.path().join("checkpoints-2"));
    env.configure("execution.state-recovery.path", savepoint.to_str().unwrap());
    env.from_generator(Some(10), |i| (i, Some(i as i64)))
        .uid("source")
        .discard()
        .uid("sink");
    let err = env.execute("other").unwrap_err().to_string();
    assert!(
        err.contains("sums") && err.contains("--allow-non-restored-state"),
        "{err}"
    );
    // ...unless told to drop it.
    env.configure("execution.state-recovery.ignore-unclaimed-state", "true");
    env.execute("other").unwrap();

    // A job whose "sums" operator keeps no state refuses it as well: the state
    // would otherwise be dropped without a word.
    let env = StreamExecutionEnvironment::new();
    checkpointed(&env, &work.path().join("checkpoints-3"));
    env.configure("execution.state-recovery.path", savepoint.to_str().unwrap());
    env.from_generator(Some(10), |i| ((i % 50, i % 7), Some(i as i64)))
        .set_parallelism(1)
        .uid("source")
        .map(|e: (u64, u64)| e.0)
        .uid("timestamps")
        .map(|k: u64| k + 1)
        .uid("sums")
        .discard()
        .uid("sink");
    let err = env.execute("stateless sums").unwrap_err().to_string();
    assert!(
        err.contains("'sums'") && err.contains("ignore-unclaimed-state"),
        "{err}"
    );
    env.configure("execution.state-recovery.ignore-unclaimed-state", "true");
    env.execute("stateless sums").unwrap();
}

#[test]
fn savepoints_need_checkpointing() {
    let env = StreamExecutionEnvironment::new();
    env.from_generator(None, |i| (i, None)).discard();
    let client = env.execute_async("no checkpoints").unwrap();
    let err = client
        .trigger_savepoint("/tmp/nowhere")
        .unwrap_err()
        .to_string();
    assert!(err.contains("execution.checkpointing.interval"), "{err}");
    client.cancel();
    let _ = client.wait();
}

struct SlowSink;

impl eddy::runtime::operators::SinkWriter<u64> for SlowSink {
    fn write_batch(&mut self, _: Vec<eddy::core::StreamRecord<u64>>) -> Result<()> {
        std::thread::sleep(Duration::from_millis(5));
        Ok(())
    }
}

fn backpressured(env: &StreamExecutionEnvironment) {
    env.set_parallelism(2);
    env.configure("execution.batch-size", "16");
    env.configure("taskmanager.network.memory.buffers-per-channel", "1");
    env.from_generator(Some(8_000), |i| (i, None))
        .key_by(|x: &u64| x % 4)
        .reduce(|a, b| a + b)
        .sink_to("Slow Sink", |_| SlowSink);
}

#[test]
fn checkpoints_complete_while_a_slow_sink_backpressures_the_job() {
    let work = tempfile::tempdir().unwrap();
    let env = StreamExecutionEnvironment::new();
    checkpointed(&env, work.path());
    backpressured(&env);
    let result = env.execute("backpressure").unwrap();
    assert!(
        result.counter("numberOfCompletedCheckpoints") >= 3,
        "{:?}",
        result.counters
    );
    assert_eq!(result.counter("numberOfFailedCheckpoints"), 0);
}

#[test]
fn a_tiny_checkpoint_timeout_fails_the_job_cleanly() {
    let work = tempfile::tempdir().unwrap();
    let env = StreamExecutionEnvironment::new();
    checkpointed(&env, work.path());
    env.configure("execution.checkpointing.timeout", "1 ms");
    env.configure("restart-strategy.type", "none");
    backpressured(&env);
    let err = env.execute("timeouts").unwrap_err().to_string();
    assert!(err.contains("expired before completing"), "{err}");
    assert!(err.contains("tolerable-failed-checkpoints"), "{err}");
}

/// Remembers every value it saw in an even-split list and its subtask's name in a
/// union list; after a restore, reports what it received on its first record.
#[derive(Clone, Default)]
struct Remembering {
    seen: Option<OperatorListState<u64>>,
    names: Option<OperatorListState<String>>,
    reported: bool,
    subtask_name: String,
}

impl ProcessFunction<u64, String> for Remembering {
    fn open(&mut self, state: &mut OperatorStateStore) -> Result<()> {
        self.seen = Some(state.list_state("seen", Redistribution::EvenSplit)?);
        self.names = Some(state.list_state("names", Redistribution::Union)?);
        Ok(())
    }

    fn process_element(
        &mut self,
        value: u64,
        ctx: &mut ProcessContext<'_>,
        out: &mut Collector<String>,
    ) -> Result<()> {
        let (Some(seen), Some(names)) = (self.seen.clone(), self.names.clone()) else {
            return Ok(());
        };
        let Some(state) = ctx.operator_state() else {
            return Ok(());
        };
        if !self.reported {
            self.reported = true;
            for v in seen.get(state)? {
                out.collect(format!("restored-seen,{v}"));
            }
            let mut all = names.get(state)?;
            all.sort();
            out.collect(format!("restored-names,{}", all.join("+")));
            self.subtask_name = format!("s{value}");
            names.update(state, vec![self.subtask_name.clone()])?;
        }
        seen.add(state, &value)?;
        out.collect(format!("value,{value}"));
        Ok(())
    }
}

#[test]
fn operator_list_state_is_redistributed_even_split_and_union() {
    let work = tempfile::tempdir().unwrap();
    let savepoints = work.path().join("savepoints");
    let first = work.path().join("first");
    let job = |env: &StreamExecutionEnvironment, out: &Path, rate: Option<f64>| {
        env.from_generator_with_rate(Some(2_000), rate, |i| (i, None))
            .set_parallelism(1)
            .uid("source")
            .rebalance()
            .process(Remembering::default())
            .uid("remembering")
            .write_as_text(out, String::clone)
            .uid("sink");
    };
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    checkpointed(&env, &work.path().join("ck1"));
    job(&env, &first, Some(2_000.0));
    let client = env.execute_async("list state").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let savepoint = client.stop_with_savepoint(&savepoints, false).unwrap();
    client.wait().unwrap();

    let second = work.path().join("second");
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(3);
    checkpointed(&env, &work.path().join("ck2"));
    env.configure("execution.state-recovery.path", savepoint.to_str().unwrap());
    job(&env, &second, None);
    env.execute("list state").unwrap();
    // The first run's output, including what its savepoint pre-committed (committed
    // by the restore at the latest).
    let before: Vec<String> = committed(&first)
        .into_iter()
        .filter_map(|l| l.strip_prefix("value,").map(str::to_string))
        .collect();
    assert!(!before.is_empty());
    let after = committed(&second);
    // Exactly once across the stop and the rescaled restore: every value once.
    let mut values: Vec<u64> = committed(&first)
        .iter()
        .chain(after.iter())
        .filter_map(|l| l.strip_prefix("value,").map(|v| v.parse().unwrap()))
        .collect();
    values.sort();
    assert!(
        values == (0..2000).collect::<Vec<u64>>(),
        "{} values",
        values.len()
    );
    // Even split: every value seen before the savepoint went to exactly one of the
    // three new subtasks.
    let mut restored: Vec<String> = after
        .iter()
        .filter_map(|l| l.strip_prefix("restored-seen,").map(str::to_string))
        .collect();
    restored.sort();
    let mut before_sorted = before.clone();
    before_sorted.sort();
    let missing: Vec<&String> = before_sorted
        .iter()
        .filter(|v| restored.binary_search(v).is_err())
        .collect();
    let extra: Vec<&String> = restored
        .iter()
        .filter(|v| before_sorted.binary_search(v).is_err())
        .collect();
    assert!(
        restored == before_sorted,
        "{} restored vs {} seen; missing {missing:?}; extra {extra:?}",
        restored.len(),
        before_sorted.len()
    );
    // Union: every new subtask saw both old subtasks' names.
    let names: Vec<&String> = after
        .iter()
        .filter(|l| l.starts_with("restored-names,"))
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.iter().all(|l| l.split('+').count() == 2), "{names:?}");
}

#[test]
fn stop_with_savepoint_and_drain_fires_every_window_then_finishes() {
    let work = tempfile::tempdir().unwrap();
    let reference = work.path().join("reference");
    let env = StreamExecutionEnvironment::new();
    window_job(&env, &reference, None, None);
    env.execute("reference").unwrap();
    let full: std::collections::BTreeMap<String, u64> = committed(&reference)
        .into_iter()
        .map(|l| {
            let (window, n) = l.rsplit_once(',').unwrap();
            (window.to_string(), n.parse().unwrap())
        })
        .collect();

    let out = work.path().join("out");
    let env = StreamExecutionEnvironment::new();
    checkpointed(&env, &work.path().join("checkpoints"));
    window_job(&env, &out, Some(20_000.0), None);
    let client = env.execute_async("drain").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let savepoint = client
        .stop_with_savepoint(work.path().join("savepoints"), true)
        .unwrap();
    assert!(savepoint.join("_metadata").exists());
    client.wait().unwrap();
    // The drained job fired the windows of what it had read, before the savepoint.
    let drained = committed(&out);
    assert!(!drained.is_empty());
    assert!(drained.len() < full.len(), "stopped before the end");
    for line in &drained {
        let (window, n) = line.rsplit_once(',').unwrap();
        let n: u64 = n.parse().unwrap();
        assert!(full.get(window).is_some_and(|m| n <= *m), "{line}");
    }
}

#[test]
fn cancellation_keeps_or_deletes_checkpoints_as_configured() {
    for (retention, kept) in [
        ("RETAIN_ON_CANCELLATION", true),
        ("DELETE_ON_CANCELLATION", false),
    ] {
        let work = tempfile::tempdir().unwrap();
        let env = StreamExecutionEnvironment::new();
        checkpointed(&env, work.path());
        env.configure(
            "execution.checkpointing.externalized-checkpoint-retention",
            retention,
        );
        env.from_generator(None, |i| (i % 10, None))
            .key_by(|x: &u64| *x)
            .reduce(|a, b| a.wrapping_add(b))
            .discard();
        let client = env.execute_async("retention").unwrap();
        // Checkpoints live under the run's own directory, `<dir>/<job id>/`.
        let checkpoints = || -> Vec<std::path::PathBuf> {
            std::fs::read_dir(work.path())
                .into_iter()
                .flatten()
                .flatten()
                .flat_map(|run| {
                    std::fs::read_dir(run.path())
                        .into_iter()
                        .flatten()
                        .flatten()
                })
                .map(|e| e.path())
                .filter(|p| p.join("_metadata").exists())
                .collect()
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while checkpoints().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint completed"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        client.cancel();
        assert!(matches!(client.wait(), Err(Error::Cancelled)));
        assert_eq!(!checkpoints().is_empty(), kept, "{retention}");
    }
}

/// `GET path` on the REST API at `addr`: the status line and the body.
fn http_get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

#[test]
fn a_datastream_job_with_rest_port_is_watched_over_rest() {
    let work = tempfile::tempdir().unwrap();
    let env = StreamExecutionEnvironment::new();
    checkpointed(&env, &work.path().join("checkpoints"));
    env.configure("rest.port", "0");
    timer_job(&env, &work.path().join("out"), Some(10_000.0));
    let client = env.execute_async("watched").unwrap();
    // The process's one server: asking again gives its address.
    let mut config = eddy::core::Config::new();
    config.set("rest.port", "0");
    let addr = eddy::rest::start(&config).unwrap().unwrap();
    let job = client.job_id();
    let get = |path: &str| {
        let (status, body) = http_get(addr, path);
        assert!(status.contains("200"), "{status} {body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    };
    let details = get(&format!("/jobs/{job}"));
    assert_eq!(details["name"], "watched");
    // Checkpoints complete and are counted while the job runs.
    let started = std::time::Instant::now();
    loop {
        let checkpoints = get(&format!("/jobs/{job}/checkpoints"));
        if checkpoints["counts"]["completed"].as_u64().unwrap() > 0 {
            assert_eq!(checkpoints["latest"]["completed"]["status"], "COMPLETED");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{checkpoints}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(get(&format!("/jobs/{job}"))["state"], "RUNNING");
    client.cancel();
    assert!(matches!(client.wait(), Err(eddy::core::Error::Cancelled)));
    let details = get(&format!("/jobs/{job}"));
    assert_eq!(details["state"], "CANCELED");
    assert!(details["end-time"].as_i64().unwrap() >= details["start-time"].as_i64().unwrap());
}
