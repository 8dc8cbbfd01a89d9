//! SQL's `jdbc` tables through the `eddy sql` command, against a real
//! PostgreSQL server: rows appended, upserted and deleted by key, a table
//! scanned in partitions, a lookup join through a partial cache that sees an
//! update after its TTL, a Kafka → aggregation → PostgreSQL job killed with
//! SIGKILL that ends in the failure-free table, and the errors for bad
//! set-ups (wrong password, nothing listening, missing table or column, a
//! column of the wrong type, a key without a unique constraint, bad options).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eddy_jdbc::testing::{TestPostgres, PASSWORD, USER};
use eddy_kafka::testing::TestBroker;

fn eddy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_eddy"))
}

fn run_script(dir: &Path, name: &str, script: &str) -> std::process::Output {
    let path = dir.join(name);
    std::fs::write(&path, script).unwrap();
    eddy().args(["sql", "-f"]).arg(&path).output().unwrap()
}

fn succeed(dir: &Path, name: &str, script: &str) {
    let out = run_script(dir, name, script);
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `WITH` options of a jdbc table over `table` of `pg`, plus `extra`.
fn jdbc(pg: &TestPostgres, table: &str, extra: &str) -> String {
    format!(
        "'connector' = 'jdbc', 'url' = '{}', 'table-name' = '{table}',
  'username' = '{USER}', 'password' = '{PASSWORD}'{extra}",
        pg.url()
    )
}

fn rows(pg: &TestPostgres, query: &str) -> Vec<Vec<String>> {
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

#[test]
fn jdbc_tables_are_appended_upserted_deleted_and_scanned_through_sql() {
    let pg = TestPostgres::start().unwrap();
    pg.execute(
        "CREATE TABLE log (id BIGINT, word TEXT, amount NUMERIC(10, 2), ts TIMESTAMP(3), ok BOOLEAN, day DATE);
         CREATE TABLE totals (word TEXT PRIMARY KEY, c BIGINT NOT NULL, amount NUMERIC(12, 2), last_ts TIMESTAMP(3));
         CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(20), score DOUBLE PRECISION);
         CREATE TABLE source_rows (id INT PRIMARY KEY, name VARCHAR(20), score REAL);
         INSERT INTO source_rows SELECT i, 'n' || i, i / 4.0 FROM generate_series(1, 1000) AS i;",
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut events = String::new();
    for i in 0..300 {
        events.push_str(&format!(
            "{i},w{},{}.{:02},2024-03-0{} 10:00:{:02}.5{},{}\n",
            i % 7,
            i % 50,
            i % 100,
            1 + i % 3,
            i % 60,
            i % 10,
            if i % 2 == 0 { "true" } else { "false" }
        ));
    }
    // A row with NULLs goes through too.
    events.push_str("300,,,,\n");
    std::fs::write(tmp.path().join("events.csv"), &events).unwrap();
    // A changelog of people: inserted, updated, deleted.
    let changes = [
        r#"{"before":null,"after":{"id":1,"name":"ann","score":1.5},"op":"c"}"#,
        r#"{"before":null,"after":{"id":2,"name":"bob","score":2.5},"op":"c"}"#,
        r#"{"before":null,"after":{"id":3,"name":"cy","score":3.5},"op":"c"}"#,
        r#"{"before":{"id":1,"name":"ann","score":1.5},"after":{"id":1,"name":"anne","score":9.0},"op":"u"}"#,
        r#"{"before":{"id":2,"name":"bob","score":2.5},"after":null,"op":"d"}"#,
    ];
    std::fs::write(tmp.path().join("people.json"), changes.join("\n") + "\n").unwrap();
    let script = format!(
        "CREATE TABLE events (id BIGINT, word STRING, amount DECIMAL(10, 2), ts TIMESTAMP(3), ok BOOLEAN)
  WITH ('connector' = 'filesystem', 'path' = '{dir}/events.csv', 'format' = 'csv');
CREATE TABLE log (id BIGINT, word STRING, amount DECIMAL(10, 2), ts TIMESTAMP(3), ok BOOLEAN, day DATE)
  WITH ({log});
CREATE TABLE totals (word STRING, c BIGINT, amount DECIMAL(12, 2), last_ts TIMESTAMP(3), PRIMARY KEY (word) NOT ENFORCED)
  WITH ({totals});
CREATE TABLE changes (id INT, name STRING, score DOUBLE)
  WITH ('connector' = 'filesystem', 'path' = '{dir}/people.json', 'format' = 'debezium-json');
CREATE TABLE people (id INT, name STRING, score DOUBLE, PRIMARY KEY (id) NOT ENFORCED) WITH ({people});
CREATE TABLE source_rows (id INT, name STRING, score FLOAT, PRIMARY KEY (id) NOT ENFORCED) WITH ({scan});
CREATE TABLE copied (id INT, name STRING, score FLOAT)
  WITH ('connector' = 'filesystem', 'path' = '{dir}/copied', 'format' = 'csv');
SET 'parallelism.default' = '2';
INSERT INTO log SELECT id, word, amount, ts, ok, CAST(ts AS DATE) FROM events;
INSERT INTO totals SELECT word, COUNT(*), SUM(amount), MAX(ts) FROM events WHERE id < 300 GROUP BY word;
INSERT INTO people SELECT * FROM changes;
INSERT INTO copied SELECT * FROM source_rows;
",
        dir = tmp.path().display(),
        log = jdbc(&pg, "log", ", 'sink.buffer-flush.max-rows' = '7'"),
        totals = jdbc(&pg, "totals", ""),
        people = jdbc(&pg, "people", ""),
        scan = jdbc(
            &pg,
            "source_rows",
            ",\n  'scan.partition.column' = 'id', 'scan.partition.num' = '3',
  'scan.partition.lower-bound' = '1', 'scan.partition.upper-bound' = '1000', 'scan.fetch-size' = '64'"
        ),
    );
    succeed(tmp.path(), "write.sql", &script);

    // Appended: every row once, values as written.
    assert_eq!(rows(&pg, "SELECT count(*), count(DISTINCT id) FROM log"), vec![vec!["301", "301"]]);
    assert_eq!(
        rows(&pg, "SELECT id, word, amount, ts, ok, day FROM log WHERE id IN (13, 300) ORDER BY id"),
        vec![
            vec!["13", "w6", "13.13", "2024-03-02 10:00:13.53", "f", "2024-03-02"],
            // CSV reads an empty STRING field as '' (NULL needs 'csv.null-literal').
            vec!["300", "", "NULL", "NULL", "NULL", "NULL"],
        ]
    );
    // Upserted: one row per key with the final aggregate.
    let mut want = Vec::new();
    for w in 0..7 {
        let ids: Vec<i64> = (0..300).filter(|i| i % 7 == w).collect();
        let cents: i64 = ids.iter().map(|i| (i % 50) * 100 + i % 100).sum();
        let last = ids
            .iter()
            .map(|i| format!("2024-03-0{} 10:00:{:02}.5{}", 1 + i % 3, i % 60, i % 10))
            .max()
            .unwrap();
        want.push(vec![
            format!("w{w}"),
            ids.len().to_string(),
            format!("{}.{:02}", cents / 100, cents % 100),
            last,
        ]);
    }
    assert_eq!(rows(&pg, "SELECT word, c, amount, last_ts FROM totals ORDER BY word"), want);
    // The changelog: updated in place, deleted by key.
    assert_eq!(
        rows(&pg, "SELECT id, name, score FROM people ORDER BY id"),
        vec![vec!["1", "anne", "9"], vec!["3", "cy", "3.5"]]
    );
    // Scanned in three partitions by two subtasks: every row exactly once.
    let mut copied: Vec<String> = std::fs::read_dir(tmp.path().join("copied"))
        .unwrap()
        .flat_map(|f| {
            std::fs::read_to_string(f.unwrap().path())
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    copied.sort_by_key(|l| l.split(',').next().unwrap().parse::<i32>().unwrap());
    let want: Vec<String> = (1..=1000)
        .map(|i| format!("{i},n{i},{:?}", i as f32 / 4.0))
        .collect();
    assert_eq!(copied.len(), want.len(), "rows lost or read twice");
    assert!(copied == want, "scanned rows differ: first {:?}", &copied[..3]);
}
