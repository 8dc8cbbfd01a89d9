//! Nexmark hot items: the auction with the most bids in each sliding window.
//!
//! ```text
//! cargo run --release --example nexmark_hot_items -- [--events N] [-p N]
//! ```
//!
//! Bids are counted per auction in 10 s windows sliding every 2 s (event time), then
//! the top auction of every window is selected with a keyed process function that
//! waits, with an event-time timer, until every count of the window has arrived.
//! Prints `window_end,auction,bids` lines.

use std::time::Duration;

use eddy::cli::Args;
use eddy::connectors::nexmark::{Event, NexmarkConfig};
use eddy::prelude::*;

#[global_allocator]
static ALLOCATOR: eddy::Allocator = eddy::Allocator;

fn main() -> std::process::ExitCode {
    eddy::application::run(run)
}

/// Keeps the best `(auction, bids)` per window end and emits it when the watermark
/// passes the window.
#[derive(Clone, Default)]
struct TopAuction {
    best: Option<ValueState<(i64, u64)>>,
}

impl KeyedProcessFunction<i64, (i64, i64, u64), String> for TopAuction {
    fn open(&mut self, state: &mut KeyedStateBackend<i64>) -> Result<()> {
        self.best = Some(state.value_state(ValueStateDescriptor::new("best"))?);
        Ok(())
    }

    fn process_element(
        &mut self,
        (end, auction, bids): (i64, i64, u64),
        ctx: &mut KeyedContext<'_, i64>,
        _: &mut Collector<String>,
    ) -> Result<()> {
        let Some(best) = &self.best else {
            return Ok(());
        };
        let current = best.value(ctx.state());
        // Ties go to the smaller auction id, so the result is deterministic.
        let better = current.is_none_or(|(a, n)| bids > n || (bids == n && auction < a));
        if better {
            best.update(ctx.state(), (auction, bids));
        }
        ctx.register_event_time_timer(end - 1);
        Ok(())
    }

    fn on_timer(
        &mut self,
        _: i64,
        ctx: &mut KeyedContext<'_, i64>,
        out: &mut Collector<String>,
    ) -> Result<()> {
        let Some(best) = &self.best else {
            return Ok(());
        };
        let end = *ctx.current_key();
        if let Some((auction, bids)) = best.value(ctx.state()) {
            out.collect(format!("{end},{auction},{bids}"));
        }
        best.clear(ctx.state());
        Ok(())
    }
}

#[derive(Clone)]
struct Count;

impl AggregateFunction for Count {
    type In = i64;
    type Acc = u64;
    type Out = u64;
    fn create_accumulator(&self) -> u64 {
        0
    }
    fn add(&self, _: i64, acc: &mut u64) {
        *acc += 1;
    }
    fn get_result(&self, acc: &u64) -> u64 {
        *acc
    }
    fn merge(&self, acc: &mut u64, other: u64) {
        *acc += other;
    }
}

fn run(args: Vec<String>) -> Result<()> {
    let args = Args::parse(args, &["--events"])?;
    let events: u64 = args.number("--events", 1_000_000)?;
    let env = StreamExecutionEnvironment::with_config(args.job_config());
    // What crosses TaskManagers on a cluster: auction ids, and window counts
    // to the one ranking subtask.
    env.register_type::<i64>()
        .register_type::<(i64, i64, u64)>();
    env.nexmark(NexmarkConfig::default().with_max_events(Some(events)))
        .flat_map(|event: Event, out: &mut Collector<i64>| {
            if let Event::Bid(bid) = event {
                out.collect(bid.auction);
            }
        })
        .assign_timestamps_and_watermarks(WatermarkStrategy::for_monotonous_timestamps())
        .key_by(|auction| *auction)
        .window(SlidingEventTimeWindows::of(
            Duration::from_secs(10),
            Duration::from_secs(2),
        ))
        .aggregate_with(
            Count,
            |auction: &i64,
             info: &WindowInfo<'_, TimeWindow>,
             bids: u64,
             out: &mut Collector<(i64, i64, u64)>| {
                out.collect((info.window.end, *auction, bids))
            },
        )
        .name("Bids per Auction")
        .key_by(|(end, _, _)| *end)
        .process(TopAuction::default())
        .name("Top Auction")
        .set_parallelism(1)
        .sink_to("Print", |_| {
            eddy::connectors::PrintSink::new(std::sync::Arc::new(|s: &String| s.clone()))
        })
        .set_parallelism(1);
    let result = env.execute("nexmark hot items")?;
    eprintln!(
        "nexmark_hot_items: {} events, {} bids in {:.2?}",
        result.counter("Nexmark Source.numRecordsOut"),
        result.counter("Bids per Auction.numRecordsIn"),
        result.net_runtime
    );
    Ok(())
}
