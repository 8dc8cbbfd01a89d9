//! Bounded word count.
//!
//! ```text
//! cargo run --release --example wordcount -- --input PATH --output DIR [-p N] [-D key=value]
//! ```
//!
//! Words are the input lowercased and split on every character that is not an ASCII
//! letter or digit. Writes `word,count` lines as part files into DIR.

use eddy::cli::Args;
use eddy::prelude::*;

#[global_allocator]
static ALLOCATOR: eddy::Allocator = eddy::Allocator;

fn main() -> std::process::ExitCode {
    eddy::application::run(run)
}

fn run(args: Vec<String>) -> Result<()> {
    let args = Args::parse(args, &["--input", "--output"])?;
    let input = args.required("--input")?.to_string();
    let output = args.required("--output")?.to_string();
    let env = StreamExecutionEnvironment::with_config(args.job_config());
    env.read_text_file(&input)
        .uid("lines")
        .flat_map(|line: String, out: &mut Collector<(String, u64)>| {
            for word in line
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| !w.is_empty())
            {
                out.collect((word.to_ascii_lowercase(), 1));
            }
        })
        .name("Tokenize")
        .key_by(|(word, _)| word.clone())
        .window(GlobalWindows::create())
        .trigger(EndOfInputTrigger)
        .reduce(|a, b| (a.0, a.1 + b.1))
        .name("Count")
        .uid("count")
        .write_as_text(&output, |(word, count)| format!("{word},{count}"))
        .uid("sink");
    let result = env.execute("wordcount")?;
    eprintln!(
        "wordcount: {} lines, {} words in {:.2?}",
        result.counter("File Source.numRecordsOut"),
        result.counter("Count.numRecordsIn"),
        result.net_runtime
    );
    Ok(())
}

/// Fires a global window once, at the end of input (bounded word count).
struct EndOfInputTrigger;

impl Trigger<GlobalWindow> for EndOfInputTrigger {
    fn on_element(
        &self,
        _: Option<Timestamp>,
        _: &GlobalWindow,
        ctx: &mut TriggerContext<'_, GlobalWindow>,
    ) -> TriggerResult {
        ctx.register_event_time_timer(Timestamp::MAX - 1);
        TriggerResult::Continue
    }
    fn on_event_time(
        &self,
        _: Timestamp,
        _: &GlobalWindow,
        _: &mut TriggerContext<'_, GlobalWindow>,
    ) -> TriggerResult {
        TriggerResult::FireAndPurge
    }
    fn on_processing_time(
        &self,
        _: Timestamp,
        _: &GlobalWindow,
        _: &mut TriggerContext<'_, GlobalWindow>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }
    fn clear(&self, _: &GlobalWindow, ctx: &mut TriggerContext<'_, GlobalWindow>) {
        ctx.delete_event_time_timer(Timestamp::MAX - 1);
    }
}
