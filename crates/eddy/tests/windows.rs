//! Windows through the DataStream API: tumbling, sliding, session, global with
//! count triggers, allowed lateness and late data, at parallelism 1 and N.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use eddy::prelude::*;
use eddy_runtime::window::WindowAssigner;

/// Emits a watermark right after every record (`ts - bound - 1`), so lateness
/// tests are deterministic.
struct Punctuated {
    bound: i64,
    max: i64,
}

impl eddy::runtime::operators::WatermarkGenerator<(i64, String)> for Punctuated {
    fn on_event(
        &mut self,
        _: &(i64, String),
        ts: i64,
        out: &mut eddy::runtime::operators::WatermarkOutput,
    ) {
        self.max = self.max.max(ts);
        out.emit_watermark(self.max - self.bound - 1);
    }
    fn on_periodic_emit(&mut self, _: &mut eddy::runtime::operators::WatermarkOutput) {}
}

fn punctuated(bound: i64) -> WatermarkStrategy<(i64, String)> {
    WatermarkStrategy::for_generator(move || Punctuated {
        bound,
        max: i64::MIN / 2,
    })
    .with_timestamp_assigner(|e: &(i64, String), _| e.0)
}

fn events() -> Vec<(i64, String)> {
    [
        (1_000, "a"),
        (2_000, "b"),
        (3_500, "a"),
        (9_999, "a"),
        (10_000, "a"),
        (4_000, "b"),
        (12_000, "b"),
        (25_000, "a"),
        (26_000, "a"),
        (31_000, "c"),
    ]
    .into_iter()
    .map(|(t, k)| (t, k.to_string()))
    .collect()
}

/// Counts per key and window with `assigner`, at parallelism `p`.
fn window_counts<A>(assigner: A, p: u32) -> Vec<(i64, i64, String, u64)>
where
    A: WindowAssigner<W = TimeWindow> + Clone,
{
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(p);
    let out = env
        .from_collection(events())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(10))
                .with_timestamp_assigner(|e: &(i64, String), _| e.0),
        )
        .map(|(_, k)| (k, 1u64))
        .key_by(|(k, _)| k.clone())
        .window(assigner)
        .reduce_with(
            |a, b| (a.0, a.1 + b.1),
            |key: &String,
             info: &WindowInfo<'_, TimeWindow>,
             (_, n): (String, u64),
             out: &mut Collector<_>| {
                out.collect((info.window.start, info.window.end, key.clone(), n))
            },
        )
        .collect_vec();
    env.execute("windows").unwrap();
    let mut result = out.take();
    result.sort();
    result
}

fn rows(rows: &[(i64, i64, &str, u64)]) -> Vec<(i64, i64, String, u64)> {
    rows.iter()
        .map(|(s, e, k, n)| (*s, *e, k.to_string(), *n))
        .collect()
}

#[test]
fn tumbling_event_time_windows() {
    let expected = rows(&[
        (0, 10_000, "a", 3),
        (0, 10_000, "b", 2),
        (10_000, 20_000, "a", 1),
        (10_000, 20_000, "b", 1),
        (20_000, 30_000, "a", 2),
        (30_000, 40_000, "c", 1),
    ]);
    for p in [1, 3] {
        let got = window_counts(TumblingEventTimeWindows::of(Duration::from_secs(10)), p);
        assert_eq!(got, expected, "parallelism {p}");
    }
}

#[test]
fn sliding_event_time_windows() {
    let got = window_counts(
        SlidingEventTimeWindows::of(Duration::from_secs(10), Duration::from_secs(5)),
        2,
    );
    let expected = rows(&[
        (-5_000, 5_000, "a", 2),
        (-5_000, 5_000, "b", 2),
        (0, 10_000, "a", 3),
        (0, 10_000, "b", 2),
        (5_000, 15_000, "a", 2),
        (5_000, 15_000, "b", 1),
        (10_000, 20_000, "a", 1),
        (10_000, 20_000, "b", 1),
        (20_000, 30_000, "a", 2),
        (25_000, 35_000, "a", 2),
        (25_000, 35_000, "c", 1),
        (30_000, 40_000, "c", 1),
    ]);
    // No window [15_000, 25_000) for "a": its records at 25_000 start the next one.
    assert_eq!(got, expected);
}

#[test]
fn session_windows_merge() {
    let got = window_counts(EventTimeSessionWindows::with_gap(Duration::from_secs(3)), 2);
    // a: 1000,3500 merge ([1000,6500)); 9999,10000 ([9999,13000)); 25000,26000 ([25000,29000))
    // b: 2000,4000 ([2000,7000)); 12000 ([12000,15000)); c: 31000.
    let expected = rows(&[
        (1_000, 6_500, "a", 2),
        (2_000, 7_000, "b", 2),
        (9_999, 13_000, "a", 2),
        (12_000, 15_000, "b", 1),
        (25_000, 29_000, "a", 2),
        (31_000, 34_000, "c", 1),
    ]);
    assert_eq!(got, expected);
}

#[test]
fn session_windows_merge_a_record_that_bridges_two_sessions() {
    let env = StreamExecutionEnvironment::new();
    let out = env
        .from_collection(vec![
            (0i64, "k".to_string()),
            (10_000, "k".into()),
            (5_000, "k".into()),
        ])
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(60))
                .with_timestamp_assigner(|e: &(i64, String), _| e.0),
        )
        .key_by(|e| e.1.clone())
        .window(EventTimeSessionWindows::with_gap(Duration::from_secs(6)))
        .process(
            |_: &String,
             info: &WindowInfo<'_, TimeWindow>,
             all: Vec<(i64, String)>,
             out: &mut Collector<(i64, i64, usize)>| {
                out.collect((info.window.start, info.window.end, all.len()))
            },
        )
        .collect_vec();
    env.execute("bridge").unwrap();
    assert_eq!(out.take(), vec![(0, 16_000, 3)]);
}

#[test]
fn allowed_lateness_fires_updates_and_late_data_goes_to_a_side_output() {
    let env = StreamExecutionEnvironment::new();
    let late_tag: OutputTag<(i64, String)> = OutputTag::new("late");
    let input = vec![
        (1_000i64, "a".to_string()),
        (2_000, "a".into()),
        (10_500, "a".into()), // watermark 10_499: window [0,10000) fires with 2
        (3_000, "a".into()),  // late, within 2 s lateness: fires again with 3
        (12_500, "a".into()), // watermark 12_499 >= 9_999 + 2_000: window cleaned up
        (4_000, "a".into()),  // too late: side output
    ];
    let windowed = env
        .from_collection(input)
        .assign_timestamps_and_watermarks(punctuated(0))
        .key_by(|e| e.1.clone())
        .window(TumblingEventTimeWindows::of(Duration::from_secs(10)))
        .allowed_lateness(Duration::from_secs(2))
        .side_output_late_data(&late_tag)
        .aggregate_with(
            CountAgg,
            |_: &String,
             info: &WindowInfo<'_, TimeWindow>,
             n: u64,
             out: &mut Collector<(i64, u64)>| { out.collect((info.window.start, n)) },
        );
    let fired = windowed.collect_vec();
    let late = windowed.get_side_output(&late_tag).collect_vec();
    env.execute("lateness").unwrap();
    assert_eq!(fired.take(), vec![(0, 2), (0, 3), (10_000, 2)]);
    assert_eq!(late.take(), vec![(4_000, "a".to_string())]);
}

#[test]
fn late_records_without_side_output_are_counted() {
    let env = StreamExecutionEnvironment::new();
    let fired = env
        .from_collection(vec![
            (1_000i64, "a".to_string()),
            (20_000, "a".into()),
            (2_000, "a".into()),
        ])
        .assign_timestamps_and_watermarks(punctuated(0))
        .key_by(|e| e.1.clone())
        .window(TumblingEventTimeWindows::of(Duration::from_secs(10)))
        .aggregate(CountAgg)
        .name("Counting")
        .collect_vec();
    let result = env.execute("late").unwrap();
    assert_eq!(fired.take(), vec![1, 1]);
    assert_eq!(result.counter("Counting.numLateRecordsDropped"), 1);
}

#[derive(Clone)]
struct CountAgg;

impl AggregateFunction for CountAgg {
    type In = (i64, String);
    type Acc = u64;
    type Out = u64;
    fn create_accumulator(&self) -> u64 {
        0
    }
    fn add(&self, _: (i64, String), acc: &mut u64) {
        *acc += 1;
    }
    fn get_result(&self, acc: &u64) -> u64 {
        *acc
    }
    fn merge(&self, acc: &mut u64, other: u64) {
        *acc += other;
    }
}

#[test]
fn global_windows_with_count_and_purging_triggers() {
    let input: Vec<(String, u64)> = (1..=7).map(|i| ("k".to_string(), i)).collect();
    // Count trigger keeps contents: sums of the first 3 and first 6 elements.
    let env = StreamExecutionEnvironment::new();
    let out = env
        .from_collection(input.clone())
        .key_by(|e| e.0.clone())
        .window(GlobalWindows::create())
        .trigger(CountTrigger::of(3))
        .reduce(|a, b| (a.0, a.1 + b.1))
        .collect_vec();
    env.execute("count").unwrap();
    assert_eq!(
        out.take(),
        vec![("k".to_string(), 6), ("k".to_string(), 21)]
    );

    // Purging: each firing covers only its own 3 elements; the 7th never fires.
    let env = StreamExecutionEnvironment::new();
    let out = env
        .from_collection(input)
        .key_by(|e| e.0.clone())
        .window(GlobalWindows::create())
        .trigger(PurgingTrigger::of(CountTrigger::of(3)))
        .reduce(|a, b| (a.0, a.1 + b.1))
        .collect_vec();
    env.execute("purging").unwrap();
    assert_eq!(
        out.take(),
        vec![("k".to_string(), 6), ("k".to_string(), 15)]
    );
}

#[test]
fn processing_time_windows_fire_at_end_of_input() {
    let env = StreamExecutionEnvironment::new();
    env.set_clock(std::sync::Arc::new(eddy::core::time::ManualClock::new(
        42_000,
    )));
    let out = env
        .from_collection(vec![
            ("a".to_string(), 1u64),
            ("b".into(), 1),
            ("a".into(), 1),
        ])
        .key_by(|e| e.0.clone())
        .window(TumblingProcessingTimeWindows::of(Duration::from_secs(10)))
        .reduce_with(
            |a, b| (a.0, a.1 + b.1),
            |k: &String,
             info: &WindowInfo<'_, TimeWindow>,
             v: (String, u64),
             out: &mut Collector<(i64, String, u64)>| {
                out.collect((info.window.start, k.clone(), v.1))
            },
        )
        .collect_vec();
    env.execute("processing time").unwrap();
    let mut got = out.take();
    got.sort();
    assert_eq!(got, vec![(40_000, "a".into(), 2), (40_000, "b".into(), 1)]);
}

#[test]
fn a_record_without_timestamp_in_an_event_time_window_fails_clearly() {
    let env = StreamExecutionEnvironment::new();
    env.from_collection(vec![("a".to_string(), 1u64)])
        .key_by(|e| e.0.clone())
        .window(TumblingEventTimeWindows::of(Duration::from_secs(1)))
        .reduce(|a, _| a)
        .name("Needs Time")
        .discard();
    let err = env.execute("no timestamps").unwrap_err().to_string();
    assert!(err.contains("Needs Time"), "{err}");
    assert!(err.contains("WatermarkStrategy"), "{err}");
}
