//! Fraud detection with a keyed process function, keyed state and timers.
//!
//! ```text
//! cargo run --release --example fraud_detection -- [--transactions N] [-p N]
//! ```
//!
//! Flags an account when a small transaction (< 1.00) is followed by a large one
//! (> 500.00) within one minute of event time. The "small transaction seen" flag
//! lives in keyed state; an event-time timer clears it after a minute. Prints
//! `account,small_at,large_at,amount` alerts.

use std::time::Duration;

use eddy::cli::Args;
use eddy::prelude::*;

#[global_allocator]
static ALLOCATOR: eddy::Allocator = eddy::Allocator;

fn main() -> std::process::ExitCode {
    eddy::application::run(run)
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Transaction {
    account: u32,
    at: i64,
    cents: u64,
}

#[derive(Clone, Default)]
struct FraudDetector {
    small_at: Option<ValueState<i64>>,
}

const MINUTE: i64 = 60_000;

impl KeyedProcessFunction<u32, Transaction, String> for FraudDetector {
    fn open(&mut self, state: &mut KeyedStateBackend<u32>) -> Result<()> {
        self.small_at = Some(state.value_state(ValueStateDescriptor::new("small-at"))?);
        Ok(())
    }

    fn process_element(
        &mut self,
        tx: Transaction,
        ctx: &mut KeyedContext<'_, u32>,
        out: &mut Collector<String>,
    ) -> Result<()> {
        let Some(small_at) = &self.small_at else {
            return Ok(());
        };
        if let Some(at) = small_at.value(ctx.state()) {
            if tx.cents > 50_000 {
                out.collect(format!(
                    "{},{at},{},{}.{:02}",
                    tx.account,
                    tx.at,
                    tx.cents / 100,
                    tx.cents % 100
                ));
            }
            small_at.clear(ctx.state());
            ctx.delete_event_time_timer(at + MINUTE);
        }
        if tx.cents < 100 {
            small_at.update(ctx.state(), tx.at);
            ctx.register_event_time_timer(tx.at + MINUTE);
        }
        Ok(())
    }

    fn on_timer(
        &mut self,
        _: i64,
        ctx: &mut KeyedContext<'_, u32>,
        _: &mut Collector<String>,
    ) -> Result<()> {
        if let Some(small_at) = &self.small_at {
            small_at.clear(ctx.state());
        }
        Ok(())
    }
}

fn run(args: Vec<String>) -> Result<()> {
    let args = Args::parse(args, &["--transactions"])?;
    let count: u64 = args.number("--transactions", 100_000)?;
    let env = StreamExecutionEnvironment::with_config(args.job_config());
    // What crosses TaskManagers on a cluster: transactions to their account's
    // subtask, alerts to the one printing subtask.
    env.register_type::<Transaction>().register_type::<String>();
    env.from_generator(Some(count), |i| {
        let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x >> 29;
        let tx = Transaction {
            account: (x % 100) as u32,
            at: (i * 1_000) as i64,
            cents: match x % 97 {
                0 => 37,
                1 => 73_500,
                r => 1_000 + r * 731,
            },
        };
        let at = tx.at;
        (tx, Some(at))
    })
    .assign_timestamps_and_watermarks(WatermarkStrategy::for_bounded_out_of_orderness(
        Duration::from_secs(5),
    ))
    .key_by(|tx: &Transaction| tx.account)
    .process(FraudDetector::default())
    .name("Fraud Detector")
    .sink_to("Print", |_| {
        eddy::connectors::PrintSink::new(std::sync::Arc::new(|s: &String| s.clone()))
    })
    .set_parallelism(1);
    let result = env.execute("fraud detection")?;
    eprintln!(
        "fraud_detection: {} transactions in {:.2?}",
        count, result.net_runtime
    );
    Ok(())
}
