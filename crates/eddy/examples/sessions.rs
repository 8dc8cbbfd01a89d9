//! User sessions: clicks grouped into event-time session windows.
//!
//! ```text
//! cargo run --release --example sessions -- [--users N] [--clicks N] [--gap-ms G] [-p N]
//! ```
//!
//! A deterministic generator produces clicks of N users; a session closes after G ms
//! (default 30 min) without a click of that user. Prints
//! `user,session_start,session_end,clicks` lines.

use std::time::Duration;

use eddy::cli::Args;
use eddy::prelude::*;

#[global_allocator]
static ALLOCATOR: eddy::Allocator = eddy::Allocator;

fn main() -> std::process::ExitCode {
    eddy::application::run(run)
}

fn run(args: Vec<String>) -> Result<()> {
    let args = Args::parse(args, &["--users", "--clicks", "--gap-ms"])?;
    let users: u64 = args.number("--users", 5)?;
    let clicks: u64 = args.number("--clicks", 200)?;
    let gap: u64 = args.number("--gap-ms", 30 * 60 * 1000)?;
    if users == 0 {
        return Err(Error::Other("--users must be positive".into()));
    }
    let env = StreamExecutionEnvironment::with_config(args.job_config());
    // Session lines go to the one printing subtask, across TaskManagers on a
    // cluster.
    env.register_type::<String>();
    env.from_generator(Some(clicks), move |i| {
        let user = format!("user-{}", i % users);
        // Every user clicks every 5 minutes, with a 2-hour pause after every 10th click.
        let n = (i / users) as i64;
        let ts = n * 5 * 60_000 + (n / 10) * 2 * 3_600_000;
        (user, Some(ts))
    })
    .assign_timestamps_and_watermarks(WatermarkStrategy::for_bounded_out_of_orderness(
        Duration::from_secs(60),
    ))
    .map(|user| (user, 1u64))
    .key_by(|(user, _)| user.clone())
    .window(EventTimeSessionWindows::with_gap(Duration::from_millis(
        gap,
    )))
    .reduce_with(
        |a, b| (a.0, a.1 + b.1),
        |user: &String,
         info: &WindowInfo<'_, TimeWindow>,
         (_, n): (String, u64),
         out: &mut Collector<String>| {
            out.collect(format!(
                "{user},{},{},{n}",
                info.window.start, info.window.end
            ))
        },
    )
    .name("Sessions")
    .sink_to("Print", |_| {
        eddy::connectors::PrintSink::new(std::sync::Arc::new(|s: &String| s.clone()))
    })
    .set_parallelism(1);
    env.execute("sessions")?;
    Ok(())
}
