//! The SQL `filesystem` source through a `Session`: what it reads from
//! directories, symbolic links and hostile files, and what it counts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Rng;
use std::path::Path;

use eddy_core::Config;
use eddy_sql::{Output, Session};

fn session() -> Session {
    Session::new(Config::new())
}

fn table(session: &mut Session, name: &str, columns: &str, path: &Path, options: &str) {
    session
        .execute_sql(&format!(
            "CREATE TABLE {name} ({columns}) WITH ('connector' = 'filesystem', 'path' = '{}'{options})",
            path.display()
        ))
        .unwrap();
}

fn select(session: &mut Session, sql: &str) -> Result<Vec<Vec<String>>, String> {
    match session.execute_sql(sql) {
        Ok(Output::Rows { rows, .. }) => Ok(rows
            .into_iter()
            .map(|(_, cells)| {
                cells
                    .into_iter()
                    .map(|c| c.unwrap_or_else(|| "NULL".into()))
                    .collect()
            })
            .collect()),
        Ok(other) => panic!("expected rows, got {other:?}"),
        Err(e) => Err(e.to_string()),
    }
}

fn skipped(session: &Session) -> u64 {
    session
        .last_job_counters()
        .iter()
        .filter(|(k, _)| k.ends_with(".numRecordsInErrors"))
        .map(|(_, v)| v)
        .sum()
}

#[test]
fn deeply_nested_json_is_an_error_or_skipped_never_an_abort() {
    let tmp = tempfile::tempdir().unwrap();
    let deep = "[".repeat(100_000);
    let json = tmp.path().join("deep.json");
    std::fs::write(
        &json,
        format!("{{\"id\": 1}}\n{{\"id\": {deep}\n{{\"id\": 2}} xyz\n{{\"id\": 3}}\n"),
    )
    .unwrap();
    let cdc = tmp.path().join("deep.debezium.json");
    std::fs::write(
        &cdc,
        format!("{{\"op\": \"c\", \"after\": {{\"id\": {deep}}}}}\n{{\"op\": \"c\", \"after\": {{\"id\": 4}}}}\n"),
    )
    .unwrap();
    let mut s = session();
    table(&mut s, "strict", "id INT", &json, ", 'format' = 'json'");
    let e = select(&mut s, "SELECT * FROM strict").unwrap_err();
    assert!(
        e.contains("deep.json:2: invalid JSON at column 135: nested deeper than 128 levels"),
        "{e}"
    );
    table(
        &mut s,
        "lenient",
        "id INT",
        &json,
        ", 'format' = 'json', 'json.ignore-parse-errors' = 'true'",
    );
    let rows = select(&mut s, "SELECT * FROM lenient").unwrap();
    assert_eq!(rows, vec![vec!["1"], vec!["3"]]);
    assert_eq!(skipped(&s), 2);
    table(
        &mut s,
        "cdc",
        "id INT",
        &cdc,
        ", 'format' = 'debezium-json'",
    );
    let e = select(&mut s, "SELECT * FROM cdc").unwrap_err();
    assert!(e.contains("deep.debezium.json:1: invalid JSON"), "{e}");
    table(
        &mut s,
        "cdc_lenient",
        "id INT",
        &cdc,
        ", 'format' = 'debezium-json', 'debezium-json.ignore-parse-errors' = 'true'",
    );
    assert_eq!(
        select(&mut s, "SELECT * FROM cdc_lenient").unwrap(),
        vec![vec!["4"]]
    );
    assert_eq!(skipped(&s), 1);
}

#[cfg(unix)]
#[test]
fn directories_are_read_recursively_following_symbolic_links() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t");
    std::fs::create_dir_all(dir.join("day=1")).unwrap();
    std::fs::write(dir.join("a.csv"), "1\n").unwrap();
    std::fs::write(dir.join("day=1/b.csv"), "2\n").unwrap();
    std::fs::write(dir.join("day=1/_c.csv"), "9\n").unwrap();
    std::fs::write(outside.path().join("linked.csv"), "3\n").unwrap();
    std::fs::create_dir(outside.path().join("more")).unwrap();
    std::fs::write(outside.path().join("more/d.csv"), "4\n").unwrap();
    std::os::unix::fs::symlink(outside.path().join("linked.csv"), dir.join("c.csv")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("more"), dir.join("more")).unwrap();
    let mut s = session();
    s.config.set("parallelism.default", "2");
    table(&mut s, "t", "id INT", &dir, ", 'format' = 'csv'");
    let mut rows = select(&mut s, "SELECT * FROM t").unwrap();
    rows.sort();
    assert_eq!(rows, vec![vec!["1"], vec!["2"], vec!["3"], vec!["4"]]);

    // A dangling link fails naming it.
    std::os::unix::fs::symlink(tmp.path().join("gone.csv"), dir.join("day=1/gone.csv")).unwrap();
    let e = select(&mut s, "SELECT * FROM t").unwrap_err();
    assert!(
        e.contains("day=1/gone.csv") && e.contains("which does not exist"),
        "{e}"
    );
    std::fs::remove_file(dir.join("day=1/gone.csv")).unwrap();

    // A loop fails naming the link instead of enumerating for ever.
    std::os::unix::fs::symlink(&dir, dir.join("day=1/again")).unwrap();
    let e = select(&mut s, "SELECT * FROM t").unwrap_err();
    assert!(e.contains("day=1/again") && e.contains("loop"), "{e}");
}

/// Files of good lines and random bytes (not UTF-8, stray quotes and braces,
/// a BOM, CRLF endings): a lenient table reads every good line and counts
/// the rest; a strict one reads them all or names the file and line of a bad
/// one.
#[test]
fn random_bytes_in_files_never_lose_good_lines() {
    for seed in 0..8u64 {
        let mut rng = Rng(seed);
        let tmp = tempfile::tempdir().unwrap();
        for (format, good) in [("csv", "7,ok"), ("json", r#"{"id": 7, "s": "ok"}"#)] {
            let mut bytes = Vec::new();
            if rng.next() & 1 == 0 {
                bytes.extend_from_slice(b"\xEF\xBB\xBF");
            }
            let mut good_lines = 0;
            for _ in 0..20 {
                if rng.next() & 1 == 0 {
                    bytes.extend_from_slice(good.as_bytes());
                    good_lines += 1;
                } else {
                    let noise = b"\xff\xfe\x80{}[]\",:x1 \r\t";
                    for _ in 0..rng.next() % 12 {
                        bytes.push(noise[(rng.next() % noise.len() as u64) as usize]);
                    }
                    bytes.push(b'x');
                }
                bytes.extend_from_slice(if rng.next() & 1 == 0 { b"\n" } else { b"\r\n" });
            }
            let path = tmp.path().join(format!("t.{format}"));
            std::fs::write(&path, &bytes).unwrap();
            let mut s = session();
            let option =
                format!(", 'format' = '{format}', '{format}.ignore-parse-errors' = 'true'");
            table(&mut s, "lenient", "id INT, s STRING", &path, &option);
            let rows = select(&mut s, "SELECT * FROM lenient WHERE s = 'ok'").unwrap();
            assert_eq!(rows.len(), good_lines, "seed {seed}, {format}");
            table(&mut s, "all_rows", "id INT, s STRING", &path, &option);
            let all = select(&mut s, "SELECT * FROM all_rows").unwrap();
            assert!(all.len() <= 20, "seed {seed}, {format}");
            assert!(
                all.len() as u64 + skipped(&s) >= 20,
                "seed {seed}, {format}: every line a row or counted"
            );
            let strict = format!(", 'format' = '{format}'");
            table(&mut s, "strict", "id INT, s STRING", &path, &strict);
            if let Err(e) = select(&mut s, "SELECT * FROM strict") {
                assert!(e.contains(&format!("t.{format}:")), "seed {seed}: {e}");
            }
        }
    }
}
