//! A batch encoded as CSV or JSON lines a column at a time: every column is
//! first written as the texts of its fields (one typed loop per column, no
//! allocation per value for numbers, strings and timestamps), then the
//! fields are joined into lines in one buffer. The text is exactly what the
//! per-value functions of [`super::encode`] write; types without a fast path
//! go through them.

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Decimal128Type, Int16Type, Int32Type, Int64Type, Int8Type, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};

use super::encode::{csv_value, json_value, push_decimal, CsvEncoding, JsonEncoding};

/// Lines in one buffer, each followed by `\n`: line `i` is
/// `text[ends[i - 1] + 1..ends[i]]` (from 0 for the first).
#[derive(Debug, Default)]
pub struct Lines {
    /// The lines, each followed by `\n`.
    pub text: String,
    /// Where each line ends in `text` (where its `\n` is).
    pub ends: Vec<usize>,
}

impl Lines {
    /// Ends the line written at the end of `text`.
    pub fn end_line(&mut self) {
        self.ends.push(self.text.len());
        self.text.push('\n');
    }

    /// Line `i`.
    pub fn line(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] + 1 };
        &self.text[start..self.ends[i]]
    }

    /// How many lines there are.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The lines joined by `\n` (no line ending after the last).
    pub fn joined(mut self) -> String {
        self.text.pop();
        self.text
    }
}

/// The texts of one column's fields, back to back.
struct Fields {
    text: String,
    ends: Vec<usize>,
}

impl Fields {
    fn with_rows(rows: usize) -> Self {
        Fields {
            text: String::with_capacity(rows * 8),
            ends: Vec::with_capacity(rows),
        }
    }

    fn end_field(&mut self) {
        self.ends.push(self.text.len());
    }

    fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }
}

/// Rows `0..batch.num_rows()` of the first `columns` columns as CSV lines.
pub fn csv_lines(batch: &RecordBatch, columns: usize, encoding: &CsvEncoding) -> Lines {
    let rows = batch.num_rows();
    let fields: Vec<Fields> = batch.columns()[..columns]
        .iter()
        .map(|array| csv_fields(array, encoding))
        .collect();
    let mut delimiter = [0u8; 4];
    let delimiter: &str = encoding.delimiter.encode_utf8(&mut delimiter);
    join(rows, &fields, |row, out| {
        for (c, column) in fields.iter().enumerate() {
            if c > 0 {
                out.push_str(delimiter);
            }
            out.push_str(column.get(row));
        }
    })
}

/// Rows of the first `names.len()` columns as JSON objects; `wrap` writes a
/// line around its row's object (as the Debezium envelope does).
pub fn json_lines(
    batch: &RecordBatch,
    names: &[String],
    encoding: &JsonEncoding,
    mut wrap: impl FnMut(usize, &str, &mut String),
) -> Lines {
    let rows = batch.num_rows();
    let fields: Vec<Fields> = batch.columns()[..names.len()]
        .iter()
        .map(|array| json_fields(array, encoding))
        .collect();
    let keys: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let mut key = String::from(if c == 0 { "{" } else { "," });
            json_string(name, &mut key);
            key.push(':');
            key
        })
        .collect();
    let mut object = String::new();
    join(rows, &fields, |row, out| {
        object.clear();
        for (key, column) in keys.iter().zip(&fields) {
            object.push_str(key);
            object.push_str(column.get(row));
        }
        if keys.is_empty() {
            object.push('{');
        }
        object.push('}');
        wrap(row, &object, out);
    })
}

fn join(rows: usize, fields: &[Fields], mut line: impl FnMut(usize, &mut String)) -> Lines {
    let size: usize = fields.iter().map(|f| f.text.len() + f.ends.len()).sum();
    let mut lines = Lines {
        text: String::with_capacity(size + rows),
        ends: Vec::with_capacity(rows),
    };
    for row in 0..rows {
        line(row, &mut lines.text);
        lines.end_line();
    }
    lines
}

/// Appends an integer.
fn integer(out: &mut String, value: impl itoa::Integer) {
    out.push_str(itoa::Buffer::new().format(value));
}

macro_rules! integers {
    ($array:expr, $fields:expr, $null:expr, $($t:ty),*) => {
        match $array.data_type() {
            $(dt if dt == &<$t as arrow::datatypes::ArrowPrimitiveType>::DATA_TYPE => {
                let values = $array.as_primitive::<$t>();
                for i in 0..values.len() {
                    match values.is_null(i) {
                        true => $fields.text.push_str($null),
                        false => integer(&mut $fields.text, values.value(i)),
                    }
                    $fields.end_field();
                }
                true
            })*
            _ => false,
        }
    };
}

/// The values of a timestamp column in its unit, the unit, and whether it
/// has a time zone (TIMESTAMP_LTZ).
fn timestamps(array: &ArrayRef) -> Option<(Vec<Option<i64>>, TimeUnit, bool)> {
    let DataType::Timestamp(unit, zone) = array.data_type() else {
        return None;
    };
    let values: Vec<Option<i64>> = match unit {
        TimeUnit::Second => array.as_primitive::<TimestampSecondType>().iter().collect(),
        TimeUnit::Millisecond => array
            .as_primitive::<TimestampMillisecondType>()
            .iter()
            .collect(),
        TimeUnit::Microsecond => array
            .as_primitive::<TimestampMicrosecondType>()
            .iter()
            .collect(),
        TimeUnit::Nanosecond => array
            .as_primitive::<TimestampNanosecondType>()
            .iter()
            .collect(),
    };
    Some((values, *unit, zone.is_some()))
}

fn csv_fields(array: &ArrayRef, encoding: &CsvEncoding) -> Fields {
    let quoting = Quoting::of(encoding);
    typed_fields(
        array,
        &encoding.null_literal,
        (false, false),
        |text, out| quoting.push(text, out),
        |i, out| out.push_str(&csv_value(array, i, encoding)),
    )
}

fn json_fields(array: &ArrayRef, encoding: &JsonEncoding) -> Fields {
    typed_fields(
        array,
        "null",
        (encoding.iso_timestamps, encoding.plain_decimals),
        json_string,
        |i, out| json_value(array, i, encoding, out),
    )
}

/// The fields of a column: integers and decimals as they are (decimals in
/// plain notation with `plain`), strings and timestamps (with a `T` with
/// `iso`) through `text` (which quotes or escapes them), NULL as `null`, and
/// any other type through `other(row)`.
fn typed_fields(
    array: &ArrayRef,
    null: &str,
    (iso, plain): (bool, bool),
    text: impl Fn(&str, &mut String),
    other: impl Fn(usize, &mut String),
) -> Fields {
    let rows = array.len();
    let mut fields = Fields::with_rows(rows);
    if integers!(
        array, fields, null, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
        UInt32Type, UInt64Type
    ) {
        return fields;
    }
    if let DataType::Decimal128(_, scale) = array.data_type() {
        let values = array.as_primitive::<Decimal128Type>();
        for i in 0..rows {
            match values.is_null(i) {
                true => fields.text.push_str(null),
                false => push_decimal(values.value(i), *scale, plain, &mut fields.text),
            }
            fields.end_field();
        }
        return fields;
    }
    if let Some(strings) = array.as_string_opt::<i32>() {
        for i in 0..rows {
            match strings.is_null(i) {
                true => fields.text.push_str(null),
                false => text(strings.value(i), &mut fields.text),
            }
            fields.end_field();
        }
        return fields;
    }
    if let Some((values, unit, ltz)) = timestamps(array) {
        let mut written = String::new();
        for value in values {
            match value {
                None => fields.text.push_str(null),
                Some(v) => {
                    written.clear();
                    super::encode::push_timestamp(v, &unit, iso, ltz, &mut written);
                    text(&written, &mut fields.text);
                }
            }
            fields.end_field();
        }
        return fields;
    }
    for i in 0..rows {
        if array.is_null(i) {
            fields.text.push_str(null);
        } else {
            other(i, &mut fields.text);
        }
        fields.end_field();
    }
    fields
}

/// When a CSV string is quoted: as [`super::encode::csv_field`] decides.
struct Quoting {
    quote: Option<char>,
    /// The largest character that makes a field quoted.
    highest: char,
}

impl Quoting {
    fn of(encoding: &CsvEncoding) -> Self {
        let highest = encoding
            .quote
            .map_or('\n', |q| encoding.delimiter.max(q).max('\n'));
        Quoting {
            quote: encoding.quote,
            highest,
        }
    }

    fn push(&self, text: &str, out: &mut String) {
        let Some(quote) = self.quote else {
            out.push_str(text);
            return;
        };
        // Whether the field is quoted, and whether it holds the quote.
        let (quoted, doubled) = if self.highest.is_ascii() && quote.is_ascii() {
            let (highest, quote) = (self.highest as u8, quote as u8);
            let mut holds_quote = false;
            let mut quoted = false;
            for b in text.bytes() {
                holds_quote |= b == quote;
                quoted |= b <= highest;
            }
            (quoted | holds_quote, holds_quote)
        } else {
            let holds_quote = text.contains(quote);
            (
                holds_quote || text.chars().any(|c| c <= self.highest),
                holds_quote,
            )
        };
        if !quoted {
            out.push_str(text);
            return;
        }
        out.push(quote);
        if doubled {
            let mut rest = text;
            while let Some(at) = rest.find(quote) {
                let (head, tail) = rest.split_at(at + quote.len_utf8());
                out.push_str(head);
                out.push(quote);
                rest = tail;
            }
            out.push_str(rest);
        } else {
            out.push_str(text);
        }
        out.push(quote);
    }
}

/// Appends `text` as a JSON string, escaped as `serde_json` escapes it.
pub fn json_string(text: &str, out: &mut String) {
    if !text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push('"');
        out.push_str(text);
        out.push('"');
        return;
    }
    match serde_json::to_string(text) {
        Ok(quoted) => out.push_str(&quoted),
        Err(_) => out.push_str("null"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use arrow::array::{
        Decimal128Array, Float64Array, Int32Array, Int64Array, StringArray,
        TimestampMillisecondArray,
    };
    use arrow::datatypes::{Field, Schema};

    use super::*;
    use crate::connectors::encode::{csv_row, json_row};

    fn batch() -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![
                Some(1),
                None,
                Some(-7),
                Some(i64::MIN),
            ])),
            Arc::new(StringArray::from(vec![
                Some("plain"),
                Some("a,\"b\""),
                None,
                Some("tab\there ü \\ \u{1}"),
            ])),
            Arc::new(
                TimestampMillisecondArray::from(vec![
                    Some(1_500),
                    Some(1_767_225_600_123),
                    None,
                    Some(-1),
                ])
                .with_timezone_opt(None::<String>),
            ),
            Arc::new(
                TimestampMillisecondArray::from(vec![Some(0), None, Some(10), Some(i64::MAX)])
                    .with_timezone("UTC"),
            ),
            Arc::new(Float64Array::from(vec![
                Some(1e10),
                Some(0.5),
                None,
                Some(f64::NAN),
            ])),
            Arc::new(
                Decimal128Array::from(vec![Some(100), Some(1050), None, Some(-1)])
                    .with_precision_and_scale(10, 2)
                    .unwrap(),
            ),
            Arc::new(Int32Array::from(vec![None, Some(3), Some(4), Some(5)])),
        ];
        let fields: Vec<Field> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true))
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    #[test]
    fn csv_lines_are_the_rows_as_csv_row_writes_them() {
        let batch = batch();
        for encoding in [
            CsvEncoding::default(),
            CsvEncoding {
                delimiter: ';',
                quote: Some('\''),
                null_literal: "NULL".into(),
                ..CsvEncoding::default()
            },
            CsvEncoding {
                quote: None,
                ..CsvEncoding::default()
            },
            CsvEncoding {
                delimiter: '¦',
                ..CsvEncoding::default()
            },
        ] {
            let lines = csv_lines(&batch, 7, &encoding);
            assert_eq!(lines.len(), 4);
            for i in 0..4 {
                assert_eq!(
                    lines.line(i),
                    csv_row(&batch, 7, i, &encoding),
                    "{encoding:?}"
                );
            }
        }
    }

    #[test]
    fn json_lines_are_the_rows_as_json_row_writes_them() {
        let batch = batch();
        let names: Vec<String> = (0..7).map(|i| format!("c{i}")).collect();
        for encoding in [
            JsonEncoding::default(),
            JsonEncoding {
                iso_timestamps: true,
                plain_decimals: true,
            },
        ] {
            let lines = json_lines(&batch, &names, &encoding, |_, row, out| out.push_str(row));
            for i in 0..4 {
                assert_eq!(lines.line(i), json_row(&batch, &names, i, &encoding));
            }
        }
        let lines = json_lines(
            &batch,
            &names[..0],
            &JsonEncoding::default(),
            |row, o, out| out.push_str(&format!("{row}{o}")),
        );
        assert_eq!(lines.line(3), "3{}");
        assert_eq!(lines.joined(), "0{}\n1{}\n2{}\n3{}");
    }
}
