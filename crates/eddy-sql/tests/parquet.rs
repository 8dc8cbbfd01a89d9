//! The `parquet` format of the `filesystem` connector: every column type
//! written and read back (NULLs, decimals, timestamps, arrays, maps), part
//! files rolled at checkpoints each readable on its own, files spread over
//! the subtasks, and a corrupt file, a missing column and a write of updates
//! as errors that name them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use eddy_core::Config;
use eddy_sql::{Output, Session};

fn run(session: &mut Session, statements: &str) {
    for statement in statements
        .split(";\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        session
            .execute_sql(statement)
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

/// The rows of a query, `|`-joined and sorted.
fn rows(session: &mut Session, sql: &str) -> Vec<String> {
    let Output::Rows { rows, .. } = session.execute_sql(sql).unwrap() else {
        panic!("no rows")
    };
    let mut out: Vec<String> = rows
        .into_iter()
        .map(|(kind, cells)| {
            assert!(kind.is_addition(), "an append-only query retracted");
            cells
                .into_iter()
                .map(|c| c.unwrap_or_else(|| "NULL".into()))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    out.sort();
    out
}

/// The committed part files under `dir`.
fn parts(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("part-"))
        })
        .collect();
    files.sort();
    files
}

const COLUMNS: &str = "id INT, name STRING, amount DECIMAL(10, 2), big DECIMAL(20, 0), ts TIMESTAMP(3), ts6 TIMESTAMP(6), d DATE, t TIME, ok BOOLEAN, f FLOAT, x DOUBLE, b BYTES, arr ARRAY<INT>";

const VALUES: &str = "(2, 'a,\"b\"', 10.50, CAST('12345678901234567890' AS DECIMAL(20, 0)), TIMESTAMP '2024-01-01 00:00:01.500', TIMESTAMP '2024-01-01 00:00:03.123456', DATE '2024-02-03', TIME '04:05:06', TRUE, CAST(1.5 AS FLOAT), 1e10, X'0102', ARRAY[1, CAST(NULL AS INT)]), \
(1, CAST(NULL AS STRING), CAST(NULL AS DECIMAL(10,2)), 0, TIMESTAMP '2024-01-01 00:00:00', TIMESTAMP '2024-01-01 00:00:00.000001', CAST(NULL AS DATE), CAST(NULL AS TIME), CAST(NULL AS BOOLEAN), CAST(NULL AS FLOAT), 0.1, NULL, NULL), \
(3, '', 0.00, -1, TIMESTAMP '2024-01-01 00:00:00.010', TIMESTAMP '2024-01-01 00:00:03.100000', DATE '2024-02-03', TIME '04:05:06', FALSE, CAST(-0.25 AS FLOAT), -1.0E-5, X'', ARRAY[CAST(NULL AS INT)])";

#[test]
fn every_type_survives_a_round_trip_through_parquet() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().display();
    let mut s = Session::new(Config::new());
    run(
        &mut s,
        &format!(
            "CREATE TABLE pq ({COLUMNS}) WITH ('connector' = 'filesystem', 'path' = '{dir}/pq', 'format' = 'parquet');
CREATE TABLE js ({COLUMNS}) WITH ('connector' = 'filesystem', 'path' = '{dir}/js', 'format' = 'json');
INSERT INTO pq VALUES {VALUES};
INSERT INTO js VALUES {VALUES};
"
        ),
    );
    assert_eq!(parts(&tmp.path().join("pq")).len(), 1);
    // The same rows through JSON (BYTES as base64 both ways).
    assert_eq!(
        rows(&mut s, "SELECT * FROM pq"),
        rows(&mut s, "SELECT * FROM js")
    );
    assert_eq!(
        rows(&mut s, "SELECT * FROM pq"),
        vec![
            "1|NULL|NULL|0|2024-01-01 00:00:00.000|2024-01-01 00:00:00.000001|NULL|NULL|NULL|NULL|0.1|NULL|NULL",
            "2|a,\"b\"|10.50|12345678901234567890|2024-01-01 00:00:01.500|2024-01-01 00:00:03.123456|2024-02-03|04:05:06|TRUE|1.5|1.0E10|x'0102'|[1, NULL]",
            "3||0.00|-1|2024-01-01 00:00:00.010|2024-01-01 00:00:03.100000|2024-02-03|04:05:06|FALSE|-0.25|-1.0E-5|x''|[NULL]",
        ]
    );

    // Maps, read from JSON.
    std::fs::write(
        tmp.path().join("maps.json"),
        "{\"k\":1,\"m\":{\"a\":1,\"b\":null}}\n{\"k\":2,\"m\":null}\n{\"k\":3,\"m\":{}}\n",
    )
    .unwrap();
    run(
        &mut s,
        &format!(
            "CREATE TABLE maps (k INT, m MAP<STRING, INT>) WITH ('connector' = 'filesystem', 'path' = '{dir}/maps.json', 'format' = 'json');
CREATE TABLE pq_maps (k INT, m MAP<STRING, INT>) WITH ('connector' = 'filesystem', 'path' = '{dir}/pq_maps', 'format' = 'parquet', 'parquet.compression' = 'UNCOMPRESSED');
INSERT INTO pq_maps SELECT * FROM maps;
"
        ),
    );
    assert_eq!(
        rows(&mut s, "SELECT * FROM pq_maps"),
        rows(&mut s, "SELECT * FROM maps")
    );
    // Nested rows (and arrays of them), read from JSON.
    std::fs::write(
        tmp.path().join("rows.json"),
        "{\"k\":1,\"r\":{\"a\":1,\"b\":\"x\"},\"rs\":[{\"a\":2,\"b\":null}]}\n{\"k\":2,\"r\":null,\"rs\":[]}\n",
    )
    .unwrap();
    run(
        &mut s,
        &format!(
            "CREATE TABLE nested (k INT, r ROW<a INT, b STRING>, rs ARRAY<ROW<a INT, b STRING>>) WITH ('connector' = 'filesystem', 'path' = '{dir}/rows.json', 'format' = 'json');
CREATE TABLE pq_nested (k INT, r ROW<a INT, b STRING>, rs ARRAY<ROW<a INT, b STRING>>) WITH ('connector' = 'filesystem', 'path' = '{dir}/pq_nested', 'format' = 'parquet');
INSERT INTO pq_nested SELECT * FROM nested;
"
        ),
    );
    assert_eq!(
        rows(&mut s, "SELECT * FROM pq_nested"),
        rows(&mut s, "SELECT * FROM nested")
    );
    // Columns are found by name, in any order, and may be a subset.
    run(
        &mut s,
        &format!(
            "CREATE TABLE some (x DOUBLE, id INT) WITH ('connector' = 'filesystem', 'path' = '{dir}/pq', 'format' = 'parquet')"
        ),
    );
    assert_eq!(
        rows(&mut s, "SELECT * FROM some"),
        vec!["-1.0E-5|3", "0.1|1", "1.0E10|2"]
    );
}

#[test]
fn a_checkpointed_job_rolls_a_readable_part_file_at_each_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().display();
    let mut s = Session::new(Config::new());
    s.config.set("execution.checkpointing.interval", "100 ms");
    s.config.set(
        "execution.checkpointing.dir",
        tmp.path().join("ck").display().to_string(),
    );
    s.config.set("parallelism.default", "2");
    run(
        &mut s,
        &format!(
            "CREATE TABLE gen (id BIGINT, v STRING) WITH ('connector' = 'datagen', 'rows-per-second' = '2000', 'number-of-rows' = '2000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '2000', 'fields.v.length' = '8');
CREATE TABLE pq (id BIGINT, v STRING) WITH ('connector' = 'filesystem', 'path' = '{dir}/pq', 'format' = 'parquet');
INSERT INTO pq SELECT * FROM gen;
"
        ),
    );
    let files = parts(&tmp.path().join("pq"));
    assert!(files.len() > 2, "one part per checkpoint: {files:?}");
    // Every part is a complete Parquet file, and the rows are all there once.
    let mut total = 0;
    for file in &files {
        let reader =
            parquet::file::reader::SerializedFileReader::new(std::fs::File::open(file).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        total += parquet::file::reader::FileReader::metadata(&reader)
            .file_metadata()
            .num_rows();
    }
    assert_eq!(total, 2000);
    let mut ids: Vec<i64> = rows(&mut s, "SELECT id FROM pq")
        .iter()
        .map(|r| r.parse().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=2000).collect::<Vec<i64>>());
}

#[test]
fn bad_parquet_input_and_updates_are_errors_that_name_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().display();
    let mut s = Session::new(Config::new());
    run(
        &mut s,
        &format!(
            "CREATE TABLE pq (id INT, name STRING) WITH ('connector' = 'filesystem', 'path' = '{dir}/pq', 'format' = 'parquet');
INSERT INTO pq VALUES (1, 'a'), (2, 'b');
CREATE TABLE wrong (id INT, nope STRING) WITH ('connector' = 'filesystem', 'path' = '{dir}/pq', 'format' = 'parquet');
CREATE TABLE junk (id INT) WITH ('connector' = 'filesystem', 'path' = '{dir}/junk', 'format' = 'parquet');
CREATE TABLE counts (name STRING, c BIGINT) WITH ('connector' = 'filesystem', 'path' = '{dir}/counts', 'format' = 'parquet');
CREATE TABLE bad_option (id INT) WITH ('connector' = 'filesystem', 'path' = '{dir}/x', 'format' = 'parquet', 'parquet.compression' = 'LZ4ISH')
"
        ),
    );
    std::fs::create_dir_all(tmp.path().join("junk")).unwrap();
    std::fs::write(tmp.path().join("junk/data.parquet"), b"PAR1 not really").unwrap();
    let mut error = |sql: &str| match s.execute_sql(sql) {
        Ok(Output::Rows { .. }) | Ok(_) => panic!("{sql}: no error"),
        Err(e) => e.to_string(),
    };
    let e = error("SELECT * FROM wrong");
    assert!(e.contains("no column nope") && e.contains("part-"), "{e}");
    let e = error("SELECT * FROM junk");
    assert!(e.contains("junk/data.parquet"), "{e}");
    let e = error("INSERT INTO counts SELECT name, COUNT(*) FROM pq GROUP BY name");
    assert!(e.contains("doesn't support consuming update"), "{e}");
    let e = error("INSERT INTO bad_option VALUES (1)");
    assert!(
        e.contains("parquet.compression") && e.contains("LZ4ISH"),
        "{e}"
    );
}

#[test]
fn a_parquet_sink_stopped_with_a_savepoint_and_restored_writes_every_row_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().display();
    let ddl = |rate: &str| {
        format!(
            "CREATE TABLE gen (id BIGINT, v STRING) WITH ('connector' = 'datagen', 'rows-per-second' = '{rate}', 'number-of-rows' = '3000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '3000', 'fields.v.length' = '4');
CREATE TABLE pq (id BIGINT, v STRING) WITH ('connector' = 'filesystem', 'path' = '{dir}/pq', 'format' = 'parquet')"
        )
    };
    // Throttled and checkpointing, stopped with a savepoint part way...
    let mut s = Session::new(Config::new());
    s.config.set("execution.checkpointing.interval", "100 ms");
    s.config.set("restart-strategy.type", "none");
    s.config.set(
        "execution.checkpointing.dir",
        tmp.path().join("ck").display().to_string(),
    );
    run(&mut s, &ddl("3000"));
    let client = s.submit("INSERT INTO pq SELECT * FROM gen").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    let savepoint = client
        .stop_with_savepoint(tmp.path().join("sp"), false)
        .unwrap();
    let written = parts(&tmp.path().join("pq")).len();
    assert!(written > 0, "nothing committed before the savepoint");
    // ... then restored at parallelism 2 and finished.
    let mut s = Session::new(Config::new());
    s.config.set("parallelism.default", "2");
    s.config.set("execution.checkpointing.interval", "100 ms");
    s.config.set(
        "execution.checkpointing.dir",
        tmp.path().join("ck2").display().to_string(),
    );
    s.config.set(
        "execution.state-recovery.path",
        savepoint.display().to_string(),
    );
    run(&mut s, &ddl("100000"));
    run(&mut s, "INSERT INTO pq SELECT * FROM gen");
    assert!(parts(&tmp.path().join("pq")).len() > written);
    let mut s = Session::new(Config::new());
    run(&mut s, &ddl("100000"));
    let mut ids: Vec<i64> = rows(&mut s, "SELECT id FROM pq")
        .iter()
        .map(|r| r.parse().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids.len(), 3000, "rows lost or written twice");
    assert_eq!(ids, (1..=3000).collect::<Vec<i64>>());
}
