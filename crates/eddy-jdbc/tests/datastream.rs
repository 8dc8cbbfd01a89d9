//! The DataStream `JdbcSink` against a real PostgreSQL server: upserts and
//! deletes by key, appends without one, a value that does not fit its column,
//! and builders missing what a sink needs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use eddy::prelude::*;
use eddy_jdbc::testing::TestPostgres;
use eddy_jdbc::{JdbcSink, JdbcType, JdbcValue};

fn text_rows(pg: &TestPostgres, query: &str) -> Vec<Vec<String>> {
    pg.query(query)
        .unwrap()
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|c| c.unwrap_or_else(|| "NULL".into()))
                .collect()
        })
        .collect()
}

/// `(id, name, deleted)`.
type Change = (i64, String, bool);

fn sink(pg: &TestPostgres, table: &str, keyed: bool) -> JdbcSink<Change> {
    let mut builder = JdbcSink::<Change>::builder()
        .connection(pg.connection())
        .table(table)
        .column("id", JdbcType::BigInt)
        .column("name", JdbcType::Text)
        .buffer_flush_max_rows(3)
        .row(|(id, name, _)| vec![JdbcValue::Int(*id), JdbcValue::Text(name.clone())]);
    if keyed {
        builder = builder
            .primary_key(["id"])
            .deletes(|(_, _, deleted)| *deleted);
    }
    builder.build().unwrap()
}

#[test]
fn records_are_upserted_deleted_and_appended() {
    let pg = TestPostgres::start().unwrap();
    pg.execute(
        "CREATE TABLE people (id BIGINT PRIMARY KEY, name TEXT);
         CREATE TABLE log (id BIGINT, name TEXT);",
    )
    .unwrap();
    let changes: Vec<Change> = vec![
        (1, "ann".into(), false),
        (2, "bob".into(), false),
        (3, "cy".into(), false),
        (1, "anne".into(), false),
        (2, "bob".into(), true),
        (4, "dee".into(), false),
        (4, "dee".into(), true),
        (4, "dora".into(), false),
    ];
    let env = StreamExecutionEnvironment::new();
    let stream = env.from_collection(changes.clone());
    stream.sink_to("People", sink(&pg, "people", true).writer_factory());
    stream.sink_to("Log", sink(&pg, "log", false).writer_factory());
    env.execute("jdbc sink").unwrap();
    assert_eq!(
        text_rows(&pg, "SELECT id, name FROM people ORDER BY id"),
        vec![vec!["1", "anne"], vec!["3", "cy"], vec!["4", "dora"]]
    );
    assert_eq!(text_rows(&pg, "SELECT count(*) FROM log"), vec![vec!["8"]]);
}

#[test]
fn a_value_that_does_not_fit_fails_the_job_naming_the_column() {
    let pg = TestPostgres::start().unwrap();
    pg.execute("CREATE TABLE small (n SMALLINT)").unwrap();
    let sink = JdbcSink::<i64>::builder()
        .connection(pg.connection())
        .table("small")
        .column("n", JdbcType::SmallInt)
        .row(|n| vec![JdbcValue::Int(*n)])
        .build()
        .unwrap();
    let env = StreamExecutionEnvironment::new();
    env.from_collection(vec![1i64, 70_000])
        .sink_to("Small", sink.writer_factory());
    let error = env
        .execute("too big")
        .expect_err("70000 is no SMALLINT")
        .to_string();
    assert!(
        error.contains("column n") && error.contains("70000"),
        "{error}"
    );
}

#[test]
fn builders_say_what_is_missing() {
    let pg = TestPostgres::start().unwrap();
    let base = || {
        JdbcSink::<i64>::builder()
            .connection(pg.connection())
            .table("t")
            .column("n", JdbcType::BigInt)
            .row(|n| vec![JdbcValue::Int(*n)])
    };
    let cases = [
        (
            JdbcSink::<i64>::builder().table("t").build().err(),
            "connection",
        ),
        (
            base().primary_key(["m"]).build().err(),
            "m is not one of the columns",
        ),
        (base().deletes(|_| true).build().err(), "primary key"),
        (
            JdbcSink::<i64>::builder()
                .connection(pg.connection())
                .table("t")
                .column("n", JdbcType::BigInt)
                .build()
                .err(),
            "row",
        ),
    ];
    for (error, wanted) in cases {
        let error = error.expect("an error").to_string();
        assert!(error.contains(wanted), "{error}");
    }
}

#[test]
fn a_connection_the_server_drops_mid_job_is_reopened_and_nothing_is_lost() {
    let pg = TestPostgres::start().unwrap();
    pg.execute("CREATE TABLE people (id BIGINT PRIMARY KEY, name TEXT)")
        .unwrap();
    let changes: Vec<Change> = (0..1500)
        .map(|i| (i % 500, format!("n{i}"), false))
        .collect();
    let env = StreamExecutionEnvironment::new();
    env.from_collection(changes)
        .map(|c: Change| {
            std::thread::sleep(std::time::Duration::from_millis(1));
            c
        })
        .sink_to("People", sink(&pg, "people", true).writer_factory());
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        // Terminate the sink's connection again and again while the job writes.
        let terminator = scope.spawn(|| {
            let mut terminated = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(300));
                let rows = pg
                    .query(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                         WHERE usename = 'eddy' AND pid <> pg_backend_pid()
                         AND backend_type = 'client backend'",
                    )
                    .unwrap();
                if rows[0][0].as_deref() != Some("0") {
                    terminated += 1;
                }
            }
            terminated
        });
        let result = env.execute("dropped connections");
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        result.unwrap();
        assert!(
            terminator.join().unwrap() >= 2,
            "too few connections terminated"
        );
    });
    // Every key ends with its last name.
    let rows = text_rows(&pg, "SELECT id, name FROM people ORDER BY id");
    let want: Vec<Vec<String>> = (0..500)
        .map(|k| vec![k.to_string(), format!("n{}", k + 1000)])
        .collect();
    assert_eq!(rows, want);
}
