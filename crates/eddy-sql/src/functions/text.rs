//! String functions under Flink's names: `TO_BASE64`, `FROM_BASE64`, `LOCATE`,
//! `REGEXP`, `HEX` and `BIN`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanBuilder, Int64Builder, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};
use base64::Engine;
use datafusion_common::{exec_err, plan_err, Result};
use datafusion_expr::{ScalarUDF, Volatility};

use super::{arity, function, row, strings};

/// The string functions.
pub(super) fn functions() -> Vec<Arc<ScalarUDF>> {
    use Volatility::Immutable;
    vec![
        function(
            "split",
            Immutable,
            DataType::List(Arc::new(arrow::datatypes::Field::new_list_field(
                DataType::Utf8,
                true,
            ))),
            |t| {
                arity("SPLIT", t, 2..=2)?;
                Ok(strings(t))
            },
            split,
        ),
        function(
            "to_base64",
            Immutable,
            DataType::Utf8,
            |t| {
                arity("TO_BASE64", t, 1..=1)?;
                Ok(strings(t))
            },
            |a, n| {
                map_strings(a, n, |s| {
                    Some(base64::engine::general_purpose::STANDARD.encode(s))
                })
            },
        ),
        // Text that is not base64, or not UTF-8 once decoded, reads as NULL.
        function(
            "from_base64",
            Immutable,
            DataType::Utf8,
            |t| {
                arity("FROM_BASE64", t, 1..=1)?;
                Ok(strings(t))
            },
            |a, n| {
                map_strings(a, n, |s| {
                    let bytes = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
                    String::from_utf8(bytes).ok()
                })
            },
        ),
        function(
            "locate",
            Immutable,
            DataType::Int64,
            |t| {
                arity("LOCATE", t, 2..=3)?;
                Ok(vec![DataType::Utf8, DataType::Utf8, DataType::Int64][..t.len()].to_vec())
            },
            locate,
        ),
        function(
            "regexp",
            Immutable,
            DataType::Boolean,
            |t| {
                arity("REGEXP", t, 2..=2)?;
                Ok(strings(t))
            },
            regexp,
        ),
        function(
            "hex",
            Immutable,
            DataType::Utf8,
            |t| {
                arity("HEX", t, 1..=1)?;
                Ok(vec![if t[0].is_integer() {
                    DataType::Int64
                } else {
                    DataType::Utf8
                }])
            },
            hex,
        ),
        function(
            "bin",
            Immutable,
            DataType::Utf8,
            |t| {
                arity("BIN", t, 1..=1)?;
                if !(t[0].is_integer() || t[0].is_null()) {
                    return plan_err!("BIN takes an integer");
                }
                Ok(vec![DataType::Int64])
            },
            |a, n| map_integers(a, n, |v| format!("{:b}", v as u64)),
        ),
    ]
}

/// A string function of one string argument; `f` returning `None` gives NULL.
fn map_strings(
    arrays: &[ArrayRef],
    rows: usize,
    f: impl Fn(&str) -> Option<String>,
) -> Result<ArrayRef> {
    let s = arrays[0].as_string::<i32>();
    let mut out = StringBuilder::with_capacity(rows, rows * 8);
    for i in 0..rows {
        let r = row(&arrays[0], i);
        match (!s.is_null(r)).then(|| f(s.value(r))).flatten() {
            Some(v) => out.append_value(v),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn map_integers(arrays: &[ArrayRef], rows: usize, f: impl Fn(i64) -> String) -> Result<ArrayRef> {
    let v = cast(&arrays[0], &DataType::Int64)?;
    let v = v.as_primitive::<Int64Type>();
    let mut out = StringBuilder::with_capacity(rows, rows * 8);
    for i in 0..rows {
        let r = row(&arrays[0], i);
        if v.is_null(r) {
            out.append_null();
        } else {
            out.append_value(f(v.value(r)));
        }
    }
    Ok(Arc::new(out.finish()))
}

/// `HEX(integer)`: the 64-bit two's complement in hexadecimal (as Java's
/// `Long.toHexString`); `HEX(string)`: its UTF-8 bytes. Upper case, as Flink.
/// `SPLIT(s, delimiter)`: the parts of `s` between delimiters (each
/// character for an empty delimiter; `s` itself when there is none), NULL
/// when either is NULL.
fn split(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let (text, delimiters) = (arrays[0].as_string::<i32>(), arrays[1].as_string::<i32>());
    let mut out = arrow::array::ListBuilder::new(StringBuilder::new());
    for i in 0..rows {
        let (t, d) = (row(&arrays[0], i), row(&arrays[1], i));
        if text.is_null(t) || delimiters.is_null(d) {
            out.append_null();
            continue;
        }
        let (value, delimiter) = (text.value(t), delimiters.value(d));
        if delimiter.is_empty() {
            for c in value.chars() {
                out.values().append_value(c.to_string());
            }
        } else {
            for part in value.split(delimiter) {
                out.values().append_value(part);
            }
        }
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}

fn hex(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    if arrays[0].data_type().is_integer() {
        return map_integers(arrays, rows, |v| format!("{:X}", v as u64));
    }
    map_strings(arrays, rows, |s| {
        Some(s.bytes().map(|b| format!("{b:02X}")).collect())
    })
}

/// `LOCATE(needle, haystack [, start])`: the 1-based position of the first
/// occurrence at or after character `start`, 0 when there is none.
fn locate(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let (needle, haystack) = (arrays[0].as_string::<i32>(), arrays[1].as_string::<i32>());
    let start = arrays.get(2).map(|a| a.as_primitive::<Int64Type>());
    let mut out = Int64Builder::with_capacity(rows);
    for i in 0..rows {
        let (n, h) = (row(&arrays[0], i), row(&arrays[1], i));
        let from = match (start, arrays.get(2)) {
            (Some(s), Some(a)) if s.is_null(row(a, i)) => None,
            (Some(s), Some(a)) => Some(s.value(row(a, i))),
            _ => Some(1),
        };
        let (Some(from), false, false) = (from, needle.is_null(n), haystack.is_null(h)) else {
            out.append_null();
            continue;
        };
        let haystack = haystack.value(h);
        if from < 1 {
            out.append_value(0);
            continue;
        }
        let skip = (from - 1) as usize;
        let Some((offset, _)) = haystack
            .char_indices()
            .nth(skip)
            .or_else(|| (haystack.chars().count() == skip).then_some((haystack.len(), ' ')))
        else {
            out.append_value(0);
            continue;
        };
        out.append_value(match haystack[offset..].find(needle.value(n)) {
            Some(at) => (haystack[..offset + at].chars().count() + 1) as i64,
            None => 0,
        });
    }
    Ok(Arc::new(out.finish()))
}

/// `REGEXP(string, pattern)`: whether some substring matches the pattern.
fn regexp(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let (s, p) = (arrays[0].as_string::<i32>(), arrays[1].as_string::<i32>());
    let mut out = BooleanBuilder::with_capacity(rows);
    let mut compiled: Option<(String, regex::Regex)> = None;
    for i in 0..rows {
        let (si, pi) = (row(&arrays[0], i), row(&arrays[1], i));
        if s.is_null(si) || p.is_null(pi) {
            out.append_null();
            continue;
        }
        let pattern = p.value(pi);
        if compiled.as_ref().is_none_or(|(text, _)| text != pattern) {
            match regex::Regex::new(pattern) {
                Ok(re) => compiled = Some((pattern.to_string(), re)),
                Err(e) => return exec_err!("REGEXP: invalid pattern '{pattern}': {e}"),
            }
        }
        let matched = compiled
            .as_ref()
            .is_some_and(|(_, re)| re.is_match(s.value(si)));
        out.append_value(matched);
    }
    Ok(Arc::new(out.finish()))
}
