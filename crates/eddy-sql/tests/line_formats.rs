//! A bounded property test of the CSV and JSON line readers: batches of good
//! lines mixed with random bytes and mutations of good lines. Whatever the
//! input, decoding never panics; in strict mode it reads every line or fails
//! naming the file and line of a bad one; with `ignore-parse-errors` every
//! line is a row or counted, and the good lines always come out, in order.
//!
//! The generator is a small deterministic one: a failure prints the seed of
//! its case (`EDDY_PROPTEST_SEED=<seed>` replays it, `EDDY_PROPTEST_CASES`
//! runs more cases).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Rng;
use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use eddy_connectors::TextLine;
use eddy_sql::connectors::encode::{csv_field, CsvEncoding};
use eddy_sql::connectors::format::rows;
use eddy_sql::connectors::lines::LineDecoder;
use eddy_sql::connectors::sources::FileFormat;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("amount", DataType::Int64, true),
    ]))
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Csv,
    Json,
}

fn format(kind: Kind, ignore_errors: bool) -> FileFormat {
    let mut options = BTreeMap::new();
    let (name, option) = match kind {
        Kind::Csv => ("csv", "csv.ignore-parse-errors"),
        Kind::Json => ("json", "json.ignore-parse-errors"),
    };
    options.insert("format".to_string(), name.to_string());
    options.insert(option.to_string(), ignore_errors.to_string());
    FileFormat::from_options("t", &options).unwrap()
}

/// A good row and its cells as the table reads them.
fn good_row(rng: &mut Rng) -> (i32, String, i64) {
    let id = rng.next() as i32 >> rng.below(31);
    let chars = [
        "a", "b", " ", ",", "\"", "é", "#", "\\", "{", "}", "'", "\t",
    ];
    let name: String = (0..rng.below(7)).map(|_| *rng.pick(&chars)).collect();
    let amount = rng.next() as i64 >> rng.below(63);
    (id, name, amount)
}

fn good_line(rng: &mut Rng, kind: Kind, row: &(i32, String, i64)) -> String {
    let (id, name, amount) = row;
    match kind {
        Kind::Csv => {
            let name = if rng.below(4) == 0 || name.is_empty() {
                format!("\"{}\"", name.replace('"', "\"\""))
            } else {
                csv_field(name, &CsvEncoding::default())
            };
            format!("{id},{name},{amount}")
        }
        Kind::Json => {
            let name = serde_json::to_string(name).unwrap();
            let mut fields = vec![
                format!("\"id\": {id}"),
                format!("\"name\":{name}"),
                format!(" \"amount\" : {amount}"),
            ];
            if rng.below(3) == 0 {
                fields.push("\"extra\": [1, {\"x\": null}]".into());
            }
            let at = rng.below(fields.len());
            fields.swap(0, at);
            format!(" {{{}}} ", fields.join(", "))
        }
    }
}

/// A mutation of a good line, or random text; it may happen to be good.
fn bad_line(rng: &mut Rng, good: &str) -> String {
    let mut chars: Vec<char> = good.chars().collect();
    let noise = [
        '{', '}', '[', ']', '"', ',', ':', 'x', '1', ' ', '\\', '\u{feff}', 'é', '\r', '\0',
    ];
    let line: String = match rng.below(8) {
        0 if !chars.is_empty() => {
            chars.remove(rng.below(chars.len()));
            chars.into_iter().collect()
        }
        1 => {
            let at = rng.below(chars.len() + 1);
            chars.insert(at, *rng.pick(&noise));
            chars.into_iter().collect()
        }
        2 => format!("{good}{good}"),
        3 => chars[..rng.below(chars.len() + 1)].iter().collect(),
        4 => format!("{good} xyz"),
        5 => {
            let bytes: Vec<u8> = (0..rng.below(40)).map(|_| rng.next() as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        }
        6 => format!("{{\"id\": {}1}}", "[".repeat(rng.below(400))),
        _ => (0..rng.below(20)).map(|_| *rng.pick(&noise)).collect(),
    };
    line.replace('\n', " ")
}

fn expected_cells(row: &(i32, String, i64)) -> Vec<Option<String>> {
    vec![
        Some(row.0.to_string()),
        Some(row.1.clone()),
        Some(row.2.to_string()),
    ]
}

/// Whether `needles` occur in `haystack` in order.
fn in_order(needles: &[Vec<Option<String>>], haystack: &[Vec<Option<String>>]) -> bool {
    let mut rest = haystack.iter();
    needles.iter().all(|n| rest.any(|h| h == n))
}

fn run_case(seed: u64, kind: Kind) {
    let mut rng = Rng(seed);
    let path: Arc<str> = Arc::from("/data/t.txt");
    let mut lines = Vec::new();
    let mut good = Vec::new(); // (line number, cells)
    for n in 1..=rng.below(12) as u64 + 1 {
        let row = good_row(&mut rng);
        let text = good_line(&mut rng, kind, &row);
        let text = if rng.below(3) == 0 {
            bad_line(&mut rng, &text)
        } else {
            good.push((n, expected_cells(&row)));
            text
        };
        lines.push(TextLine {
            path: path.clone(),
            line_number: n,
            text,
        });
    }
    let refs: Vec<&TextLine> = lines.iter().collect();
    let non_blank = lines.iter().filter(|l| !l.text.trim().is_empty()).count();
    let good_cells: Vec<Vec<Option<String>>> = good.iter().map(|(_, c)| c.clone()).collect();
    let context = || {
        let text: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        format!("seed {seed}, {kind:?}, lines {text:#?}")
    };

    // Strict: every line read, or an error naming a line that is not good.
    let strict = LineDecoder::new(schema(), schema(), format(kind, false));
    match strict.decode(&refs) {
        Ok(batch) => {
            let got = batch.map(|b| rows(&b, 3)).unwrap_or_default();
            assert_eq!(got.len(), non_blank, "{}", context());
            assert!(in_order(&good_cells, &got), "{}: {got:?}", context());
        }
        Err(eddy_core::Error::MalformedRecord { location, .. }) => {
            let line: u64 = location
                .strip_prefix("/data/t.txt:")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{}: bad location {location}", context()));
            assert!(
                good.iter().all(|(n, _)| *n != line),
                "{}: good line {line} rejected",
                context()
            );
        }
        Err(e) => panic!("{}: {e}", context()),
    }

    // Lenient: every line a row or counted; the good lines all come out.
    let lenient = LineDecoder::new(schema(), schema(), format(kind, true));
    let batch = lenient
        .decode(&refs)
        .unwrap_or_else(|e| panic!("{}: {e}", context()));
    let got = batch.map(|b| rows(&b, 3)).unwrap_or_default();
    let skipped = lenient.skipped().map_or(0, |s| s.count()) as usize;
    assert!(in_order(&good_cells, &got), "{}: {got:?}", context());
    assert!(got.len() <= non_blank, "{}", context());
    assert!(
        got.len() + skipped >= non_blank,
        "{}: {} rows, {skipped} counted",
        context(),
        got.len()
    );
}

fn cases() -> (u64, u64) {
    let env = |key: &str| std::env::var(key).ok().and_then(|v| v.parse().ok());
    match env("EDDY_PROPTEST_SEED") {
        Some(seed) => (seed, 1),
        None => (0x5EED, env("EDDY_PROPTEST_CASES").unwrap_or(300)),
    }
}

#[test]
fn csv_lines_never_lose_good_rows() {
    let (first, n) = cases();
    for seed in first..first + n {
        run_case(seed, Kind::Csv);
    }
}

#[test]
fn json_lines_never_lose_good_rows() {
    let (first, n) = cases();
    for seed in first..first + n {
        run_case(seed, Kind::Json);
    }
}
