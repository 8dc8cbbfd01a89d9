//! JDBC sink throughput on a local PostgreSQL server (started for the run):
//! a job of the DataStream API writing 1 M rows, appended and upserted (into
//! 100 000 keys), at Flink's default flush size (100 rows) and at 5 000;
//! beside the raw client inserting and upserting the same rows in 1 000-row
//! statements.
//!
//! ```text
//! cargo bench -p eddy-jdbc --bench jdbc_throughput
//! ```

use std::time::{Duration, Instant};

use eddy::prelude::*;
use eddy_jdbc::testing::TestPostgres;
use eddy_jdbc::{JdbcSink, JdbcType, JdbcValue};

const ROWS: i64 = 1_000_000;
const KEYS: i64 = 100_000;

fn main() {
    if let Err(e) = run() {
        eprintln!("jdbc_throughput: {e}");
        std::process::exit(1);
    }
}

fn job(pg: &TestPostgres, table: &str, keyed: bool, flush: usize) -> Result<Duration> {
    let mut builder = JdbcSink::<(i64, i64)>::builder()
        .connection(pg.connection())
        .table(table)
        .column("k", JdbcType::BigInt)
        .column("v", JdbcType::BigInt)
        .buffer_flush_max_rows(flush)
        .row(|(k, v)| vec![JdbcValue::Int(*k), JdbcValue::Int(*v)]);
    if keyed {
        builder = builder.primary_key(["k"]);
    }
    let sink = builder.build()?;
    let rows: Vec<(i64, i64)> = (0..ROWS).map(|i| (i % KEYS, i)).collect();
    let env = StreamExecutionEnvironment::new();
    env.from_collection(rows)
        .sink_to("JDBC Sink", sink.writer_factory());
    let started = Instant::now();
    env.execute("jdbc throughput")?;
    Ok(started.elapsed())
}

fn report(what: &str, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    println!(
        "{what:<44} {:>7.2} s  {:>9.0} rows/s",
        secs,
        ROWS as f64 / secs
    );
}

fn run() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let pg = TestPostgres::start()?;
    pg.execute(
        "CREATE TABLE appended (k BIGINT, v BIGINT);
         CREATE TABLE upserted (k BIGINT PRIMARY KEY, v BIGINT);
         CREATE TABLE raw (k BIGINT, v BIGINT);",
    )?;
    println!("jdbc_throughput: {ROWS} rows, p=1, PostgreSQL on 127.0.0.1");
    for flush in [100, 5_000] {
        pg.execute("TRUNCATE appended; TRUNCATE upserted")?;
        report(
            &format!("append, flush every {flush} rows"),
            job(&pg, "appended", false, flush)?,
        );
        report(
            &format!("upsert into {KEYS} keys, flush every {flush}"),
            job(&pg, "upserted", true, flush)?,
        );
    }
    // The raw client: the same rows in 1 000-row statements, 100 of them per
    // request; appended, and upserted.
    for (what, table, conflict) in [
        ("raw client, 1000-row INSERTs, no eddy", "raw", ""),
        (
            "raw client, 1000-row upserts, no eddy",
            "upserted",
            " ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
        ),
    ] {
        pg.execute(&format!("TRUNCATE {table}"))?;
        let started = Instant::now();
        let mut request = String::new();
        for chunk in (0..ROWS).collect::<Vec<_>>().chunks(100_000) {
            request.clear();
            for statement in chunk.chunks(1_000) {
                request.push_str(&format!("INSERT INTO {table} (k, v) VALUES "));
                for (n, i) in statement.iter().enumerate() {
                    if n > 0 {
                        request.push(',');
                    }
                    request.push_str(&format!("({},{i})", i % KEYS));
                }
                request.push_str(conflict);
                request.push_str(";\n");
            }
            pg.execute(&request)?;
        }
        report(what, started.elapsed());
    }
    let counts = pg.query("SELECT (SELECT count(*) FROM appended), (SELECT count(*) FROM upserted), (SELECT count(*) FROM raw)")?;
    println!("rows in the tables: {:?}", counts[0]);
    Ok(())
}
