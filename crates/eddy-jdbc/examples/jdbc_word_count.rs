//! A running word count, upserted into PostgreSQL.
//!
//! ```text
//! cargo run --release -p eddy-jdbc --example jdbc_word_count -- \
//!     [--input PATH] [--url jdbc:postgresql://HOST:PORT/DB --username U --password P] [-p N]
//! ```
//!
//! Counts the words of `--input` (one running count per word, updated with
//! every occurrence) and upserts `(word, count)` rows into the table `counts`
//! (created if missing), by its primary key `word`: the table ends with one
//! row per word and its final count, however often each was updated.
//!
//! Without `--url` it starts a local PostgreSQL server for the run (Debian's
//! `postgresql` package, installed with apt-get when missing) and prints the
//! table afterwards; without `--input` it counts a few lines of its own.

use eddy::cli::Args;
use eddy::prelude::*;
use eddy_jdbc::testing::TestPostgres;
use eddy_jdbc::{ConnectionOptions, JdbcSink, JdbcType, JdbcValue};

fn main() {
    if let Err(e) = run() {
        eprintln!("jdbc_word_count: {e}");
        std::process::exit(1);
    }
}

const LINES: &str = "to be or not to be\nthat is the question\n\
whether tis nobler in the mind to suffer\nthe slings and arrows of outrageous fortune\n";

fn run() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse(
        std::env::args().skip(1),
        &["--input", "--url", "--username", "--password"],
    )?;
    let (demo, connection) = match args.get("--url") {
        Some(url) => (
            None,
            ConnectionOptions {
                username: args.get("--username").map(str::to_string),
                password: args.get("--password").map(str::to_string),
                ..ConnectionOptions::new(url)
            },
        ),
        None => {
            let server = TestPostgres::start()?;
            let connection = server.connection();
            (Some(server), connection)
        }
    };
    let input = match args.get("--input") {
        Some(path) => path.to_string(),
        None => {
            let path =
                std::env::temp_dir().join(format!("jdbc-word-count-{}.txt", std::process::id()));
            std::fs::write(&path, LINES)?;
            path.display().to_string()
        }
    };
    if let Some(server) = &demo {
        server
            .execute("CREATE TABLE IF NOT EXISTS counts (word TEXT PRIMARY KEY, count BIGINT)")?;
    }

    let sink = JdbcSink::<(String, u64)>::builder()
        .connection(connection)
        .table("counts")
        .column("word", JdbcType::Text)
        .column("count", JdbcType::BigInt)
        .primary_key(["word"])
        .row(|(word, count)| vec![JdbcValue::Text(word.clone()), JdbcValue::Int(*count as i64)])
        .build()?;
    let env = StreamExecutionEnvironment::with_config(args.job_config());
    env.read_text_file(&input)
        .uid("lines")
        .flat_map(|line: String, out: &mut Collector<(String, u64)>| {
            for word in line.split_whitespace() {
                out.collect((word.to_ascii_lowercase(), 1));
            }
        })
        .name("Tokenize")
        .key_by(|(word, _)| word.clone())
        .reduce(|a, b| (a.0, a.1 + b.1))
        .name("Count")
        .uid("count")
        .sink_to("JDBC Sink", sink.writer_factory())
        .uid("jdbc-sink");
    let result = env.execute("jdbc word count")?;
    eprintln!(
        "jdbc_word_count: {} updates upserted in {:.2?}",
        result.counter("JDBC Sink.numRecordsIn"),
        result.net_runtime
    );
    if let Some(server) = demo {
        for row in server.query("SELECT word, count FROM counts ORDER BY count DESC, word")? {
            println!(
                "{},{}",
                row[0].as_deref().unwrap_or(""),
                row[1].as_deref().unwrap_or("")
            );
        }
        let _ = std::fs::remove_file(&input);
    }
    Ok(())
}
