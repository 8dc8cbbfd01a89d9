//! The SQL front under hostile input: expressions nested or chained far beyond
//! what anyone writes, and a bounded fuzz run over the `.slt` corpus and a small
//! grammar. Whatever the input, a statement ends with a result or with one clean
//! sentence; never a panic, an abort (stack overflow) or a hang.
//!
//! The fuzz run is deterministic: `EDDY_FUZZ_SEED=<n>` repeats a run,
//! `EDDY_FUZZ_CASES=<n>` changes its length. A failure prints the seed and the
//! statement.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Rng;
use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use eddy_core::Config;
use eddy_sql::{Session, SqlError};

/// What is wrong with an error message as a user sees it, if anything.
fn unclean(message: &str) -> Option<&'static str> {
    const DUMPS: [&str; 10] = [
        "Ident {",
        "span:",
        "Span(",
        "Location {",
        "Expr::",
        "Value(",
        "Identifier(",
        "quote_style",
        "Some(",
        "Box(",
    ];
    if message.contains('\n') {
        return Some("more than one line");
    }
    if DUMPS.iter().any(|d| message.contains(d)) {
        return Some("a Debug dump");
    }
    if message.contains("line 0") || message.contains("column 0") {
        return Some("position 0");
    }
    if message.contains("Arrow error") || message.contains("DataFusion error") {
        return Some("a library's error prefix");
    }
    None
}

/// Runs `sql` in a fresh session after `setup`, on its own thread, within
/// `limit`; the error, if any.
fn run_bounded(setup: &[String], sql: &str, limit: Duration) -> Result<Option<SqlError>, String> {
    let (tx, rx) = mpsc::channel();
    let setup = setup.to_vec();
    let statement = sql.to_string();
    std::thread::Builder::new()
        .name("fuzz-case".into())
        .spawn(move || {
            let mut session = Session::new(Config::new());
            for s in &setup {
                let _ = session.execute_sql(s);
            }
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                session.execute_sql(&statement)
            }));
            let _ = tx.send(result.map(|r| r.err()));
        })
        .unwrap();
    match rx.recv_timeout(limit) {
        Ok(Ok(error)) => Ok(error),
        Ok(Err(_)) => Err("panicked".into()),
        Err(_) => Err(format!("did not end within {limit:?}")),
    }
}

fn check(setup: &[String], sql: &str) -> Result<Option<SqlError>, String> {
    let error = run_bounded(setup, sql, Duration::from_secs(20))?;
    if let Some(e) = &error {
        let text = e.to_string();
        if let Some(what) = unclean(&text) {
            return Err(format!("the error has {what}: {text}"));
        }
    }
    Ok(error)
}

fn orders() -> String {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/orders.csv");
    format!(
        "CREATE TABLE orders (id INT, customer STRING, amount BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv')",
        data.display()
    )
}

fn expect_error_at(sql: &str, line: u64, what: &str) {
    let error = check(&[orders()], sql)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("expected an error about {what}"));
    let text = error.to_string();
    assert!(text.contains(what), "{text}");
    let position = error.position.expect("the error has a position");
    assert_eq!(position.line, line, "{text}");
}

#[test]
fn long_operator_chains_are_errors_with_a_position() {
    let chain = vec!["1"; 3000].join(" + ");
    expect_error_at(&format!("SELECT\n  {chain}"), 2, "nests too deeply");
    let ands = vec!["id = 1"; 3000].join(" AND ");
    expect_error_at(
        &format!("SELECT id FROM orders WHERE {ands}"),
        1,
        "nests too deeply",
    );
    // Each comparison and each OR counts: 1000 of them are reached on line 501.
    let ors = vec!["id = 1"; 3000].join("\nOR ");
    expect_error_at(
        &format!("SELECT id FROM orders WHERE {ors}"),
        501,
        "nests too deeply",
    );
    let concat = vec!["customer"; 5000].join(" || ");
    expect_error_at(
        &format!("SELECT {concat} FROM orders"),
        1,
        "nests too deeply",
    );
}

#[test]
fn deep_nesting_is_an_error_with_a_position() {
    let n = 3000;
    let parens = format!("SELECT {}1{}", "(".repeat(n), ")".repeat(n));
    expect_error_at(&parens, 1, "nests too deeply");
    let calls = format!("SELECT {}1{}", "ABS(".repeat(n), ")".repeat(n));
    expect_error_at(&calls, 1, "nests too deeply");
    let cases = format!(
        "SELECT {}1{}",
        "CASE WHEN 1 = 1 THEN ".repeat(n),
        " END".repeat(n)
    );
    expect_error_at(&cases, 1, "nests too deeply");
    let subqueries = format!(
        "SELECT * FROM {}orders{}",
        "(SELECT * FROM ".repeat(n),
        ")".repeat(n)
    );
    expect_error_at(&subqueries, 1, "nests too deeply");
    let minus = format!("SELECT {}1", "- ".repeat(n));
    expect_error_at(&minus, 1, "nests too deeply");
    let nots = format!("SELECT id FROM orders WHERE {}TRUE", "NOT ".repeat(n));
    expect_error_at(&nots, 1, "nests too deeply");
}

#[test]
fn long_chains_below_the_limit_still_run() {
    let chain = vec!["1"; 995].join(" + ");
    let error = check(&[orders()], &format!("SELECT {chain}")).unwrap();
    assert!(error.is_none(), "{error:?}");
    let ors = (0..300)
        .map(|i| format!("id = {i}"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let error = check(&[orders()], &format!("SELECT id FROM orders WHERE {ors}")).unwrap();
    assert!(error.is_none(), "{error:?}");
}

/// A random expression over the orders table.
fn expr(rng: &mut Rng, depth: usize) -> String {
    let leaf = depth == 0 || rng.below(3) == 0;
    if leaf {
        return rng
            .pick(&[
                "id",
                "customer",
                "amount",
                "ts",
                "1",
                "0",
                "-1",
                "2.5",
                "'abc'",
                "'12'",
                "NULL",
                "TRUE",
                "o.id",
                "nope",
                "INTERVAL '1' SECOND",
                "TIMESTAMP '2024-01-01 00:00:00'",
            ])
            .to_string();
    }
    let d = depth - 1;
    match rng.below(9) {
        0 => format!(
            "{} {} {}",
            expr(rng, d),
            rng.pick(&["+", "-", "*", "/", "%", "=", "<>", "<", "AND", "OR", "||", "LIKE"]),
            expr(rng, d)
        ),
        1 => format!(
            "CAST({} AS {})",
            expr(rng, d),
            rng.pick(&[
                "INT",
                "BIGINT",
                "TINYINT",
                "STRING",
                "DOUBLE",
                "DECIMAL(5, 2)",
                "TIMESTAMP(3)",
                "BOOLEAN",
                "DATE"
            ])
        ),
        2 => format!(
            "{}({})",
            rng.pick(&[
                "ABS",
                "UPPER",
                "SQRT",
                "MOD",
                "CHAR_LENGTH",
                "CONCAT",
                "SUM",
                "COUNT",
                "COALESCE",
                "NOPE",
                "SPLIT_INDEX",
                "DATE_FORMAT"
            ]),
            expr(rng, d)
        ),
        3 => format!(
            "CASE WHEN {} THEN {} ELSE {} END",
            expr(rng, d),
            expr(rng, d),
            expr(rng, d)
        ),
        4 => format!("({})", expr(rng, d)),
        5 => format!("NOT {}", expr(rng, d)),
        6 => format!("{} IS NULL", expr(rng, d)),
        7 => format!("{} IN ({}, {})", expr(rng, d), expr(rng, d), expr(rng, d)),
        _ => format!("(SELECT MAX(id) FROM orders WHERE {})", expr(rng, d)),
    }
}

/// A random statement over the orders table.
fn statement(rng: &mut Rng) -> String {
    let items: Vec<String> = (0..1 + rng.below(3)).map(|_| expr(rng, 3)).collect();
    let mut sql = format!("SELECT {} FROM orders", items.join(", "));
    if rng.below(2) == 0 {
        sql.push_str(&format!(" WHERE {}", expr(rng, 3)));
    }
    if rng.below(3) == 0 {
        sql.push_str(" GROUP BY customer");
    }
    match rng.below(12) {
        0 => format!(
            "SELECT * FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR({}), INTERVAL '10' SECOND))",
            rng.pick(&["ts", "id", "nope"])
        ),
        1 => format!(
            "CREATE TABLE t{} (a INT, b AS {}) WITH ('connector' = '{}', '{}' = 'x')",
            rng.below(3),
            expr(rng, 2),
            rng.pick(&["datagen", "filesystem", "print", "kafka"]),
            rng.pick(&["path", "format", "csv.bogus", "number-of-rows"])
        ),
        2 => {
            let n = 900 + rng.below(2000);
            format!(
                "SELECT {} FROM orders",
                vec!["id"; n].join(*rng.pick(&[" + ", " AND ", " || "]))
            )
        }
        _ => sql,
    }
}

/// Random edits of a statement's words: delete, duplicate, swap, truncate.
fn mutate(rng: &mut Rng, sql: &str) -> String {
    let mut words: Vec<String> = sql
        .split_inclusive(|c: char| c.is_whitespace() || "(),".contains(c))
        .map(String::from)
        .collect();
    for _ in 0..1 + rng.below(3) {
        if words.is_empty() {
            break;
        }
        let i = rng.below(words.len());
        match rng.below(5) {
            0 => {
                words.remove(i);
            }
            1 => {
                let w = words[i].clone();
                words.insert(i, w);
            }
            2 => {
                let j = rng.below(words.len());
                words.swap(i, j);
            }
            3 => words.truncate(i),
            _ => {
                let w = rng.pick(&["(", ")", ",", "'", "SELECT ", "FROM ", "NULL ", ". ", "* "]);
                words.insert(i, w.to_string());
            }
        }
    }
    words.concat()
}

/// The statements of the `.slt` corpus, by file: DDL (setup) and the others.
fn corpus() -> Vec<(Vec<String>, Vec<String>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let tmp = std::env::temp_dir().join("eddy-fuzz-nowhere");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f)
                .unwrap()
                .replace("$DATA", data.to_str().unwrap())
                .replace("$TMP", tmp.to_str().unwrap());
            let (mut setup, mut statements) = (Vec::new(), Vec::new());
            for record in text.split("\n\n") {
                let mut lines = record.lines().filter(|l| !l.starts_with('#'));
                let Some(header) = lines.next() else { continue };
                let body: Vec<&str> = lines.take_while(|l| l.trim() != "----").collect();
                let sql = body.join("\n");
                if sql.trim().is_empty() || header.starts_with("set ") {
                    continue;
                }
                let upper = sql.trim_start().to_ascii_uppercase();
                if header == "statement ok" && upper.starts_with("CREATE") {
                    setup.push(sql.clone());
                }
                statements.push(sql);
            }
            (setup, statements)
        })
        .collect()
}

/// Only plans: a query or INSERT becomes its EXPLAIN, so no job runs; DDL runs.
fn plan_only(sql: &str) -> Option<String> {
    let upper = sql.trim_start().to_ascii_uppercase();
    let first = upper.split_whitespace().next().unwrap_or_default();
    match first {
        "SELECT" | "WITH" | "VALUES" | "INSERT" | "(" => Some(format!("EXPLAIN {sql}")),
        "EXECUTE" | "BEGIN" | "EXPLAIN" => None,
        _ if first.starts_with('(') => Some(format!("EXPLAIN {sql}")),
        _ => Some(sql.to_string()),
    }
}

#[test]
fn fuzzed_statements_end_cleanly() {
    let seed: u64 = std::env::var("EDDY_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_240_601);
    let cases: usize = std::env::var("EDDY_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    // Printed past the harness's capture so that even an abort shows it.
    let _ = writeln!(std::io::stderr(), "fuzz seed {seed} ({cases} cases)");
    let mut rng = Rng(seed);
    let corpus = corpus();
    let orders = vec![orders()];
    for case in 0..cases {
        let (setup, sql) = if rng.below(3) == 0 {
            (&orders, statement(&mut rng))
        } else {
            let (setup, statements) = rng.pick(&corpus);
            let original = rng.pick(statements);
            (setup, mutate(&mut rng, original))
        };
        let Some(sql) = plan_only(&sql) else { continue };
        if let Err(e) = check(setup, &sql) {
            panic!("fuzz case {case} of seed {seed}: {e}\nstatement: {sql}");
        }
    }
}
