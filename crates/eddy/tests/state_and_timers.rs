//! Keyed state kinds, TTL and timers through KeyedProcessFunction.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use eddy::core::time::ManualClock;
use eddy::prelude::*;
use eddy::state::{AggregatingState, ReducingState};

/// Exercises every state kind for each `(key, value)` record and emits a summary.
#[derive(Clone, Default)]
struct AllStates {
    value: Option<ValueState<u64>>,
    list: Option<ListState<u64>>,
    map: Option<MapState<u64, u32>>,
    reducing: Option<ReducingState<u64>>,
    aggregating: Option<AggregatingState<Average>>,
}

#[derive(Clone)]
struct Average;

impl AggregateFunction for Average {
    type In = u64;
    type Acc = (u64, u64);
    type Out = f64;
    fn create_accumulator(&self) -> (u64, u64) {
        (0, 0)
    }
    fn add(&self, v: u64, acc: &mut (u64, u64)) {
        acc.0 += v;
        acc.1 += 1;
    }
    fn get_result(&self, acc: &(u64, u64)) -> f64 {
        acc.0 as f64 / acc.1 as f64
    }
    fn merge(&self, acc: &mut (u64, u64), other: (u64, u64)) {
        acc.0 += other.0;
        acc.1 += other.1;
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Summary {
    key: String,
    count: u64,
    list: Vec<u64>,
    distinct: Vec<(u64, u32)>,
    max: u64,
    average: f64,
}

impl KeyedProcessFunction<String, (String, u64), Summary> for AllStates {
    fn open(&mut self, state: &mut KeyedStateBackend<String>) -> Result<()> {
        self.value = Some(state.value_state(ValueStateDescriptor::new("count"))?);
        self.list = Some(state.list_state(ListStateDescriptor::new("values"))?);
        self.map = Some(state.map_state(MapStateDescriptor::new("distinct"))?);
        self.reducing = Some(
            state.reducing_state(ReducingStateDescriptor::new("max", |a: u64, b: u64| {
                a.max(b)
            }))?,
        );
        self.aggregating =
            Some(state.aggregating_state(AggregatingStateDescriptor::new("avg", Average))?);
        Ok(())
    }

    fn process_element(
        &mut self,
        (key, v): (String, u64),
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<Summary>,
    ) -> Result<()> {
        let (Some(value), Some(list), Some(map), Some(reducing), Some(aggregating)) = (
            &self.value,
            &self.list,
            &self.map,
            &self.reducing,
            &self.aggregating,
        ) else {
            return Err(Error::Other("not opened".into()));
        };
        assert_eq!(ctx.current_key(), &key);
        let state = ctx.state();
        let count = value.value(state).unwrap_or(0) + 1;
        value.update(state, count);
        list.add(state, v);
        let seen = map.get(state, &v).unwrap_or(0);
        map.put(state, v, seen + 1);
        reducing.add(state, v);
        aggregating.add(state, v);
        out.collect(Summary {
            key,
            count,
            list: list.get(state),
            distinct: map.entries(state),
            max: reducing.get(state).unwrap_or(0),
            average: aggregating.get(state).unwrap_or(0.0),
        });
        Ok(())
    }
}

#[test]
fn every_state_kind_is_scoped_to_its_key() {
    let input = vec![
        ("a".to_string(), 5u64),
        ("b".into(), 1),
        ("a".into(), 3),
        ("a".into(), 5),
        ("b".into(), 7),
    ];
    for p in [1, 2] {
        let env = StreamExecutionEnvironment::new();
        env.set_parallelism(p);
        let out = env
            .from_collection(input.clone())
            .set_parallelism(1)
            .key_by(|e| e.0.clone())
            .process(AllStates::default())
            .collect_vec();
        env.execute("states").unwrap();
        let mut got = out.take();
        got.sort_by_key(|x| (x.key.clone(), x.count));
        let last_a = got.iter().rfind(|s| s.key == "a").unwrap();
        assert_eq!(last_a.count, 3);
        assert_eq!(last_a.list, vec![5, 3, 5]);
        assert_eq!(last_a.distinct, vec![(3, 1), (5, 2)]);
        assert_eq!(last_a.max, 5);
        assert!((last_a.average - 13.0 / 3.0).abs() < 1e-9);
        let last_b = got.iter().rfind(|s| s.key == "b").unwrap();
        assert_eq!(
            (last_b.count, last_b.list.clone(), last_b.max),
            (2, vec![1, 7], 7)
        );
        assert_eq!(got.len(), 5);
    }
}

/// Counts per key with a TTL; the record's second field is the processing time at
/// which it arrives (the function sets the manual clock before touching state).
#[derive(Clone)]
struct TtlCount {
    clock: ManualClock,
    ttl: StateTtlConfig,
    count: Option<ValueState<u64>>,
}

impl KeyedProcessFunction<String, (String, i64), (String, u64)> for TtlCount {
    fn open(&mut self, state: &mut KeyedStateBackend<String>) -> Result<()> {
        self.count =
            Some(state.value_state(ValueStateDescriptor::new("count").with_ttl(self.ttl))?);
        Ok(())
    }
    fn process_element(
        &mut self,
        (key, at): (String, i64),
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<(String, u64)>,
    ) -> Result<()> {
        self.clock.set(at);
        let count = self
            .count
            .as_ref()
            .ok_or_else(|| Error::Other("not opened".into()))?;
        let n = count.value(ctx.state()).unwrap_or(0) + 1;
        count.update(ctx.state(), n);
        out.collect((key, n));
        Ok(())
    }
}

#[test]
fn state_ttl_expires_entries_not_written_for_the_ttl() {
    let clock = ManualClock::new(0);
    let env = StreamExecutionEnvironment::new();
    env.set_clock(Arc::new(clock.clone()));
    let input = vec![
        ("a".to_string(), 1_000i64),
        ("a".into(), 1_500), // 500 ms later: alive -> 2
        ("a".into(), 2_400), // 900 ms after last write: alive -> 3
        ("a".into(), 3_400), // exactly 1 s after last write: expired -> 1
        ("b".into(), 3_500),
        ("a".into(), 3_600), // -> 2
    ];
    let out = env
        .from_collection(input)
        .key_by(|e| e.0.clone())
        .process(TtlCount {
            clock,
            ttl: StateTtlConfig::new(Duration::from_secs(1)),
            count: None,
        })
        .collect_vec();
    env.execute("ttl").unwrap();
    let got: Vec<u64> = out.take().into_iter().map(|(_, n)| n).collect();
    assert_eq!(got, vec![1, 2, 3, 1, 1, 2]);
}

/// Emits a key's sum when the watermark passes `ts + 1000` after its last record
/// (an event-time timer per record, the earlier timer deleted).
#[derive(Clone, Default)]
struct SumOnTimeout {
    sum: Option<ValueState<u64>>,
    deadline: Option<ValueState<i64>>,
}

impl KeyedProcessFunction<String, (i64, String, u64), (i64, String, u64)> for SumOnTimeout {
    fn open(&mut self, state: &mut KeyedStateBackend<String>) -> Result<()> {
        self.sum = Some(state.value_state(ValueStateDescriptor::new("sum"))?);
        self.deadline = Some(state.value_state(ValueStateDescriptor::new("deadline"))?);
        Ok(())
    }
    fn process_element(
        &mut self,
        (ts, _, v): (i64, String, u64),
        ctx: &mut KeyedContext<'_, String>,
        _: &mut Collector<(i64, String, u64)>,
    ) -> Result<()> {
        let (Some(sum), Some(deadline)) = (&self.sum, &self.deadline) else {
            return Ok(());
        };
        let total = sum.value(ctx.state()).unwrap_or(0) + v;
        sum.update(ctx.state(), total);
        if let Some(old) = deadline.value(ctx.state()) {
            ctx.delete_event_time_timer(old);
        }
        deadline.update(ctx.state(), ts + 1_000);
        ctx.register_event_time_timer(ts + 1_000);
        Ok(())
    }
    fn on_timer(
        &mut self,
        ts: i64,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<(i64, String, u64)>,
    ) -> Result<()> {
        let (Some(sum), Some(deadline)) = (&self.sum, &self.deadline) else {
            return Ok(());
        };
        assert_eq!(ctx.timestamp(), Some(ts));
        let key = ctx.current_key().clone();
        out.collect((ts, key, sum.value(ctx.state()).unwrap_or(0)));
        sum.clear(ctx.state());
        deadline.clear(ctx.state());
        Ok(())
    }
}

/// A watermark of `ts - 1` after every record.
struct EveryRecord(i64);

impl WatermarkGenerator<(i64, String, u64)> for EveryRecord {
    fn on_event(&mut self, _: &(i64, String, u64), ts: i64, out: &mut WatermarkOutput) {
        self.0 = self.0.max(ts);
        out.emit_watermark(self.0 - 1);
    }
    fn on_periodic_emit(&mut self, _: &mut WatermarkOutput) {}
}

#[test]
fn event_time_timers_fire_in_order_with_deletes() {
    let input = vec![
        (100i64, "x".to_string(), 1u64),
        (200, "y".into(), 10),
        (900, "x".into(), 2), // moves x's timer from 1100 to 1900
        (1_500, "z".into(), 100),
        (5_000, "y".into(), 20),
    ];
    for p in [1, 3] {
        let env = StreamExecutionEnvironment::new();
        env.set_parallelism(p);
        let out = env
            .from_collection(input.clone())
            .set_parallelism(1)
            .assign_timestamps_and_watermarks(
                WatermarkStrategy::for_generator(|| EveryRecord(i64::MIN))
                    .with_timestamp_assigner(|e: &(i64, String, u64), _| e.0),
            )
            .set_parallelism(1)
            .key_by(|e| e.1.clone())
            .process(SumOnTimeout::default())
            .set_parallelism(1)
            .collect_vec();
        env.execute("timers").unwrap();
        // Timers fire in timestamp order; the final watermark fires the last ones.
        let mut got = out.take();
        if p > 1 {
            got.sort();
        }
        assert_eq!(
            got,
            vec![
                (1_200, "y".to_string(), 10),
                (1_900, "x".to_string(), 3),
                (2_500, "z".to_string(), 100),
                (6_000, "y".to_string(), 20),
            ],
            "parallelism {p}"
        );
    }
}

#[derive(Clone)]
struct ProcessingTimer;

impl KeyedProcessFunction<String, String, String> for ProcessingTimer {
    fn process_element(
        &mut self,
        value: String,
        ctx: &mut KeyedContext<'_, String>,
        _: &mut Collector<String>,
    ) -> Result<()> {
        let at = ctx.current_processing_time() + 50;
        ctx.register_processing_time_timer(at);
        let _ = value;
        Ok(())
    }
    fn on_timer(
        &mut self,
        _: i64,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<String>,
    ) -> Result<()> {
        out.collect(format!("timer for {}", ctx.current_key()));
        Ok(())
    }
}

#[test]
fn processing_time_timers_fire_while_the_stream_is_open() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let env = StreamExecutionEnvironment::new();
    let out = env
        .socket_text_stream("127.0.0.1", port)
        .key_by(|s: &String| s.clone())
        .process(ProcessingTimer)
        .collect_vec();
    let client = env.execute_async("processing timers").unwrap();
    let (mut socket, _) = listener.accept().unwrap();
    socket.write_all(b"k1\nk2\n").unwrap();
    socket.flush().unwrap();
    // The timers fire 50 ms later in wall-clock time, while the socket is still open.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut got = Vec::new();
    while got.len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        got.extend(out.take());
    }
    got.sort();
    assert_eq!(
        got,
        vec!["timer for k1".to_string(), "timer for k2".to_string()]
    );
    assert_eq!(client.status(), JobStatus::Running);
    drop(socket);
    client.wait().unwrap();
}
