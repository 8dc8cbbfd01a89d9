//! The sqllogictest-style suite: every `tests/slt/*.slt` file runs in its own
//! session, statement by statement, through the public `Session` API.
//!
//! Records:
//!
//! ```text
//! statement ok            the statement succeeds
//! statement error TEXT    it fails with a message containing TEXT
//! query [rowsort]         a SELECT; its changelog rows follow `----`
//! query final             a SELECT whose changelog, applied in order, leaves
//!                         the rows that follow (sorted); for results whose
//!                         changelog depends on how two inputs interleave
//! skipped N               the last job's sources counted N malformed lines
//!                         (`<source>.numRecordsInErrors`)
//! plan TEXT               the statement's EXPLAIN contains TEXT
//! plan !TEXT              ... and does not contain TEXT
//! ```
//!
//! Every error must read cleanly: one line, no Debug dumps, no `line 0`.
//!
//! A record's text ends at an empty line. `$DATA` is the test data directory,
//! `$TMP` a fresh directory per file. `set parallelism N` (a record of its own)
//! changes the parallelism.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use eddy_core::Config;
use eddy_sql::exec::changelog::RowKind;
use eddy_sql::{Output, Session};

fn row_text(kind: &str, cells: &[Option<String>]) -> String {
    let cells: Vec<String> = cells
        .iter()
        .map(|c| c.clone().unwrap_or_else(|| "NULL".into()))
        .collect();
    format!("{kind}[{}]", cells.join(", "))
}

/// The rows a changelog leaves when applied in order (sorted, as `+I` rows);
/// an error when it retracts a row that is not there.
fn final_rows(rows: &[(RowKind, Vec<Option<String>>)]) -> Result<Vec<String>, String> {
    let mut table: Vec<String> = Vec::new();
    for (kind, cells) in rows {
        let row = row_text("+I", cells);
        if kind.is_addition() {
            table.push(row);
        } else {
            let at = table.iter().position(|r| *r == row).ok_or_else(|| {
                format!(
                    "{}{} retracts a row that is not there",
                    kind.short(),
                    &row[2..]
                )
            })?;
            table.remove(at);
        }
    }
    table.sort();
    Ok(table)
}

/// What is wrong with an error message as a user sees it, if anything: every
/// error is one line without Debug dumps of the parser's or planner's
/// structures and without a position of zero.
fn unclean(message: &str) -> Option<&'static str> {
    const DUMPS: [&str; 8] = [
        "Ident {",
        "span:",
        "Span(",
        "Location {",
        "Expr::",
        "quote_style",
        "Some(",
        "Box(",
    ];
    if message.contains('\n') {
        Some("more than one line")
    } else if DUMPS.iter().any(|d| message.contains(d)) {
        Some("a Debug dump")
    } else if message.contains("line 0") || message.contains("column 0") {
        Some("position 0")
    } else if message.contains("Arrow error") || message.contains("DataFusion error") {
        Some("a library's error prefix")
    } else {
        None
    }
}

fn run_file(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let tmp = tempfile::tempdir().unwrap();
    let text = text
        .replace("$DATA", data.to_str().unwrap())
        .replace("$TMP", tmp.path().to_str().unwrap());
    let mut session = Session::new(Config::new());
    let mut failures = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let header = lines[i].trim();
        let at = i + 1;
        i += 1;
        if header.is_empty() || header.starts_with('#') {
            continue;
        }
        let mut body = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() && lines[i].trim() != "----" {
            body.push(lines[i]);
            i += 1;
        }
        let sql = body.join("\n");
        let mut expected = Vec::new();
        if i < lines.len() && lines[i].trim() == "----" {
            i += 1;
            while i < lines.len() && !lines[i].trim().is_empty() {
                expected.push(lines[i].trim().to_string());
                i += 1;
            }
        }
        let place = format!("{}:{at}", path.display());
        if let Some(p) = header.strip_prefix("set parallelism ") {
            session.config.set("parallelism.default", p.trim());
            continue;
        }
        if let Some(n) = header.strip_prefix("skipped ") {
            let counted: u64 = session
                .last_job_counters()
                .iter()
                .filter(|(name, _)| name.ends_with(".numRecordsInErrors"))
                .map(|(_, n)| n)
                .sum();
            if counted.to_string() != n.trim() {
                failures.push(format!(
                    "{place}: expected {} malformed lines counted, got {counted}",
                    n.trim()
                ));
            }
            continue;
        }
        if let Some(wanted) = header.strip_prefix("plan ") {
            let (absent, text) = match wanted.strip_prefix('!') {
                Some(text) => (true, text),
                None => (false, wanted),
            };
            match session.execute_sql(&format!("EXPLAIN {sql}")) {
                Ok(Output::Text(plan)) if plan.contains(text) == absent => failures.push(format!(
                    "{place}: expected the plan {} '{text}', got:\n{plan}",
                    if absent { "without" } else { "with" }
                )),
                Ok(Output::Text(_)) => {}
                Ok(other) => failures.push(format!("{place}: expected a plan, got {other:?}")),
                Err(e) => failures.push(format!("{place}: EXPLAIN failed: {e}")),
            }
            continue;
        }
        if header == "statement ok" {
            if let Err(e) = session.execute_sql(&sql) {
                failures.push(format!("{place}: expected success, got: {e}"));
            }
        } else if let Some(message) = header.strip_prefix("statement error") {
            match session.execute_sql(&sql) {
                Ok(_) => failures.push(format!(
                    "{place}: expected an error, the statement succeeded"
                )),
                Err(e) => {
                    let text = e.to_string();
                    if let Some(what) = unclean(&text) {
                        failures.push(format!("{place}: the error has {what}: {text}"));
                    }
                    if !text.contains(message.trim()) {
                        failures.push(format!(
                            "{place}: expected an error containing '{}', got: {text}",
                            message.trim()
                        ));
                    }
                }
            }
        } else if header.starts_with("query") {
            let rowsort = header.contains("rowsort");
            let materialize = header.contains("final");
            match session.execute_sql(&sql) {
                Ok(Output::Rows { rows, .. }) => {
                    let mut actual: Vec<String> = if materialize {
                        match final_rows(&rows) {
                            Ok(rows) => rows,
                            Err(e) => {
                                failures.push(format!("{place}: {e}"));
                                continue;
                            }
                        }
                    } else {
                        rows.iter()
                            .map(|(kind, cells)| row_text(kind.short(), cells))
                            .collect()
                    };
                    if rowsort || materialize {
                        actual.sort();
                        expected.sort();
                    }
                    if actual != expected {
                        failures.push(format!(
                            "{place}: rows differ\n  expected:\n    {}\n  actual:\n    {}",
                            expected.join("\n    "),
                            actual.join("\n    ")
                        ));
                    }
                }
                Ok(other) => failures.push(format!("{place}: expected rows, got {other:?}")),
                Err(e) => failures.push(format!("{place}: query failed: {e}")),
            }
        } else {
            failures.push(format!("{place}: unknown record '{header}'"));
        }
    }
    failures
}

#[test]
fn sqllogictest_suite() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let failures: Vec<String> = files.iter().flat_map(|f| run_file(f)).collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
