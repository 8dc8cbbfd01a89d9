//! The `avro` format of the `filesystem` connector: every column type written
//! and read back (NULLs, decimals, timestamps, arrays, maps, rows), both
//! codecs, a part file at each checkpoint, columns found by name, and a
//! corrupt file, a bad option and a write of updates as errors that name them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

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
        .map(|(_, cells)| {
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

fn part_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("part-")
        })
        .count()
}

const COLUMNS: &str = "id INT, name STRING, amount DECIMAL(10, 2), big DECIMAL(20, 0), ts TIMESTAMP(3), ts6 TIMESTAMP(6), d DATE, t TIME, ok BOOLEAN, f FLOAT, x DOUBLE, b BYTES, arr ARRAY<INT>";

const VALUES: &str = "(2, 'a,\"b\"', 10.50, CAST('12345678901234567890' AS DECIMAL(20, 0)), TIMESTAMP '2024-01-01 00:00:01.500', TIMESTAMP '2024-01-01 00:00:03.123456', DATE '2024-02-03', TIME '04:05:06', TRUE, CAST(1.5 AS FLOAT), 1e10, X'0102', ARRAY[1, CAST(NULL AS INT)]), \
(1, CAST(NULL AS STRING), CAST(NULL AS DECIMAL(10,2)), 0, TIMESTAMP '2024-01-01 00:00:00', TIMESTAMP '2024-01-01 00:00:00.000001', CAST(NULL AS DATE), CAST(NULL AS TIME), CAST(NULL AS BOOLEAN), CAST(NULL AS FLOAT), 0.1, NULL, NULL), \
(3, '', 0.00, -1, TIMESTAMP '1969-12-31 23:59:59.990', TIMESTAMP '2024-01-01 00:00:03.100000', DATE '1900-02-03', TIME '04:05:06', FALSE, CAST(-0.25 AS FLOAT), -1.0E-5, X'', ARRAY[CAST(NULL AS INT)])";

#[test]
fn every_type_survives_a_round_trip_through_avro_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().display();
    let mut s = Session::new(Config::new());
    run(
        &mut s,
        &format!(
            "CREATE TABLE av ({COLUMNS}) WITH ('connector' = 'filesystem', 'path' = '{dir}/av', 'format' = 'avro');
CREATE TABLE plain ({COLUMNS}) WITH ('connector' = 'filesystem', 'path' = '{dir}/plain', 'format' = 'avro', 'avro.codec' = 'null');
CREATE TABLE js ({COLUMNS}) WITH ('connector' = 'filesystem', 'path' = '{dir}/js', 'format' = 'json');
INSERT INTO av VALUES {VALUES};
INSERT INTO plain VALUES {VALUES};
INSERT INTO js VALUES {VALUES};
"
        ),
    );
    assert_eq!(part_files(&tmp.path().join("av")), 1);
    let expected = rows(&mut s, "SELECT * FROM js");
    assert_eq!(expected.len(), 3);
    assert_eq!(rows(&mut s, "SELECT * FROM av"), expected);
    assert_eq!(rows(&mut s, "SELECT * FROM plain"), expected);
    // Every file starts with Avro's magic and names its codec.
    for (table, codec) in [("av", "snappy"), ("plain", "null")] {
        let entry = std::fs::read_dir(tmp.path().join(table))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("part-")
            })
            .unwrap();
        let bytes = std::fs::read(entry).unwrap();
        assert_eq!(&bytes[..4], b"Obj\x01");
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains(codec), "{table}");
        assert!(
            text.contains("\"org.apache.flink.avro.generated\""),
            "{table}"
        );
    }

    // Maps and nested rows, read from JSON.
    std::fs::write(
        tmp.path().join("nested.json"),
        "{\"k\":1,\"m\":{\"a\":1,\"b\":null},\"r\":{\"a\":1,\"b\":\"x\"},\"rs\":[{\"a\":2,\"b\":null}]}\n{\"k\":2,\"m\":null,\"r\":null,\"rs\":[]}\n",
    )
    .unwrap();
    run(
        &mut s,
        &format!(
            "CREATE TABLE nested (k INT, m MAP<STRING, INT>, r ROW<a INT, b STRING>, rs ARRAY<ROW<a INT, b STRING>>) WITH ('connector' = 'filesystem', 'path' = '{dir}/nested.json', 'format' = 'json');
CREATE TABLE av_nested (k INT, m MAP<STRING, INT>, r ROW<a INT, b STRING>, rs ARRAY<ROW<a INT, b STRING>>) WITH ('connector' = 'filesystem', 'path' = '{dir}/av_nested', 'format' = 'avro');
INSERT INTO av_nested SELECT * FROM nested;
"
        ),
    );
    assert_eq!(
        rows(&mut s, "SELECT * FROM av_nested"),
        rows(&mut s, "SELECT * FROM nested")
    );
    // Columns are found by name, in any order, and may be a subset.
    run(
        &mut s,
        &format!(
            "CREATE TABLE some (x DOUBLE, id INT) WITH ('connector' = 'filesystem', 'path' = '{dir}/av', 'format' = 'avro')"
        ),
    );
    assert_eq!(
        rows(&mut s, "SELECT * FROM some"),
        vec!["-1.0E-5|3", "0.1|1", "1.0E10|2"]
    );
}

#[test]
fn a_checkpointed_job_rolls_a_readable_avro_part_at_each_checkpoint() {
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
CREATE TABLE av (id BIGINT, v STRING) WITH ('connector' = 'filesystem', 'path' = '{dir}/av', 'format' = 'avro');
INSERT INTO av SELECT * FROM gen;
"
        ),
    );
    assert!(
        part_files(&tmp.path().join("av")) > 2,
        "one part per checkpoint"
    );
    let mut ids: Vec<i64> = rows(&mut s, "SELECT id FROM av")
        .iter()
        .map(|r| r.parse().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=2000).collect::<Vec<i64>>());
}

#[test]
fn bad_avro_input_options_and_updates_are_errors_that_name_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().display();
    let mut s = Session::new(Config::new());
    run(
        &mut s,
        &format!(
            "CREATE TABLE av (id INT, name STRING) WITH ('connector' = 'filesystem', 'path' = '{dir}/av', 'format' = 'avro');
INSERT INTO av VALUES (1, 'a'), (2, 'b');
CREATE TABLE typed (id INT, name INT) WITH ('connector' = 'filesystem', 'path' = '{dir}/av', 'format' = 'avro');
CREATE TABLE junk (id INT) WITH ('connector' = 'filesystem', 'path' = '{dir}/junk', 'format' = 'avro');
CREATE TABLE counts (name STRING, c BIGINT) WITH ('connector' = 'filesystem', 'path' = '{dir}/counts', 'format' = 'avro');
CREATE TABLE bad_option (id INT) WITH ('connector' = 'filesystem', 'path' = '{dir}/x', 'format' = 'avro', 'avro.codec' = 'lz4ish')
"
        ),
    );
    std::fs::create_dir_all(tmp.path().join("junk")).unwrap();
    std::fs::write(tmp.path().join("junk/data.avro"), b"Obj\x01\x02garbage").unwrap();
    let mut error = |sql: &str| match s.execute_sql(sql) {
        Ok(_) => panic!("{sql}: no error"),
        Err(e) => e.to_string(),
    };
    let e = error("SELECT * FROM typed");
    assert!(e.contains("part-") && e.contains(":1:"), "{e}");
    let e = error("SELECT * FROM junk");
    assert!(e.contains("junk/data.avro"), "{e}");
    let e = error("INSERT INTO counts SELECT name, COUNT(*) FROM av GROUP BY name");
    assert!(e.contains("doesn't support consuming update"), "{e}");
    let e = error("INSERT INTO bad_option VALUES (1)");
    assert!(e.contains("avro.codec") && e.contains("lz4ish"), "{e}");
}
