//! The lines of a CSV, JSON or Debezium JSON file as rows of a table.
//!
//! Every line stands alone: a CSV line is one record (a quoted field cannot
//! span lines), a JSON line is exactly one JSON object. A line that breaks
//! these rules, or whose values do not fit the table's columns, fails the job
//! with an error naming its file and line; with the format's
//! `ignore-parse-errors` it is skipped (a CSV field that is not of its
//! column's type is read as NULL, as in Flink) and counted in
//! [`SkippedLines`], which reports the first few on stderr. Either way a bad
//! line never costs the good lines around it.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use eddy_connectors::sources::SkippedLines;
use eddy_connectors::TextLine;
use eddy_core::{Error, Result};

use super::csv_cells::{text_at, timestamp_millis_column, CellRule, CsvCells};
use super::sources::FileFormat;
use crate::error::runtime;
use crate::exec::changelog::{self, RowKind};
use crate::exec::origin::RowOrigins;

/// Decodes lines of one file format into batches of a table's rows.
pub struct LineDecoder {
    schema: SchemaRef,
    output: SchemaRef,
    format: FileFormat,
    skipped: Option<SkippedLines>,
}

/// A line that cannot be read: which (its index in the batch), where, and why.
struct Bad {
    order: usize,
    location: String,
    message: String,
}

/// The bad lines of a batch, in the order found.
#[derive(Default)]
struct Bads(Vec<Bad>);

impl Bads {
    fn add(&mut self, order: usize, line: &TextLine, message: impl Into<String>) {
        self.0.push(Bad {
            order,
            location: line.location(),
            message: message.into(),
        });
    }
}

impl LineDecoder {
    /// A decoder of lines in `format` into rows of `schema` (the table's
    /// physical columns), as batches of `output` (the same, plus the row
    /// kind for a changelog format). When the format ignores parse errors,
    /// bad lines are counted in [`LineDecoder::skipped`].
    pub fn new(schema: SchemaRef, output: SchemaRef, format: FileFormat) -> Self {
        let skipped = format.ignore_errors_option().map(SkippedLines::new);
        Self::counting_in(schema, output, format, skipped)
    }

    /// A decoder as [`LineDecoder::new`] that counts skipped lines in `skipped`
    /// (one subtask's handle on its source's record).
    pub fn counting_in(
        schema: SchemaRef,
        output: SchemaRef,
        format: FileFormat,
        skipped: Option<SkippedLines>,
    ) -> Self {
        LineDecoder {
            schema,
            output,
            format,
            skipped,
        }
    }

    /// Where skipped lines are counted, when the format ignores parse errors.
    pub fn skipped(&self) -> Option<&SkippedLines> {
        self.skipped.as_ref()
    }

    /// Fails naming the first bad line, or counts them all when errors are
    /// ignored.
    fn reject(&self, bads: Bads) -> Result<()> {
        let mut bads = bads.0;
        bads.sort_by_key(|b| b.order);
        match &self.skipped {
            Some(skipped) => {
                for bad in bads {
                    skipped.skip(&bad.location, &bad.message);
                }
                Ok(())
            }
            None => match bads.into_iter().next() {
                Some(bad) => Err(Error::MalformedRecord {
                    location: bad.location,
                    message: bad.message,
                }),
                None => Ok(()),
            },
        }
    }

    /// The rows of `lines` (blank lines, and comments when the format allows
    /// them, are not rows); `None` when there are none.
    pub fn decode(&self, lines: &[&TextLine]) -> Result<Option<RecordBatch>> {
        Ok(self.decode_with_origins(lines)?.map(|(batch, _)| batch))
    }

    /// As [`LineDecoder::decode`], with the file and line each row was read from.
    pub fn decode_with_origins(
        &self,
        lines: &[&TextLine],
    ) -> Result<Option<(RecordBatch, RowOrigins)>> {
        let raw = matches!(self.format, FileFormat::Raw);
        let lines: Vec<&TextLine> = lines
            .iter()
            .copied()
            .filter(|l| raw || !l.text.trim().is_empty())
            .collect();
        let mut bads = Bads::default();
        // For each row, the index in `lines` of the line it was read from.
        let (columns, kinds, rows) = match &self.format {
            FileFormat::Csv { .. } => {
                let (columns, kept) = self.csv(&lines, &mut bads)?;
                (columns, None, kept)
            }
            FileFormat::Json { .. } => {
                let mut objects = Vec::with_capacity(lines.len());
                for (order, line) in lines.iter().enumerate() {
                    match json_object(&line.text) {
                        Ok(()) => objects.push((order, vec![line.text.as_str()])),
                        Err(message) => bads.add(order, line, message),
                    }
                }
                let (columns, kept) = self.json(&lines, &objects, &mut bads)?;
                let rows = kept.into_iter().map(|g| objects[g].0).collect();
                (columns, None, rows)
            }
            FileFormat::Raw => {
                let fields = self.schema.fields();
                if fields.len() != 1 || !matches!(fields[0].data_type(), DataType::Utf8) {
                    return Err(Error::Other(
                        "the 'raw' format reads a table of one STRING column".into(),
                    ));
                }
                let column: ArrayRef = Arc::new(StringArray::from_iter_values(
                    lines.iter().map(|l| l.text.as_str()),
                ));
                (vec![column], None, (0..lines.len()).collect())
            }
            FileFormat::DebeziumJson { .. } => {
                let mut messages = Vec::with_capacity(lines.len());
                let mut kinds = Vec::with_capacity(lines.len());
                for (order, line) in lines.iter().enumerate() {
                    match debezium(&line.text) {
                        Ok(rows) => {
                            kinds.push(rows.iter().map(|(k, _)| *k).collect::<Vec<_>>());
                            messages.push((order, rows.into_iter().map(|(_, i)| i).collect()));
                        }
                        Err(message) => bads.add(order, line, message),
                    }
                }
                let images: Vec<(usize, Vec<&str>)> = messages
                    .iter()
                    .map(|(order, images): &(usize, Vec<String>)| {
                        (*order, images.iter().map(String::as_str).collect())
                    })
                    .collect();
                let (columns, kept) = self.json(&lines, &images, &mut bads)?;
                let rows = kept
                    .iter()
                    .flat_map(|&m| std::iter::repeat_n(messages[m].0, kinds[m].len()))
                    .collect();
                let kinds: Vec<RowKind> = kept
                    .into_iter()
                    .flat_map(|m| kinds[m].iter().copied())
                    .collect();
                (columns, Some(kinds), rows)
            }
        };
        self.reject(bads)?;
        let n = columns.first().map_or(0, |c| c.len());
        if n == 0 {
            return Ok(None);
        }
        let mut columns = columns;
        if let Some(kinds) = kinds {
            columns.push(changelog::kind_column(&kinds));
        }
        let batch = changelog::batch(self.output.clone(), columns, n).map_err(runtime)?;
        let mut origins = RowOrigins::with_capacity(rows.len());
        for row in rows {
            origins.push(&lines[row].path, lines[row].line_number);
        }
        Ok(Some((batch, origins)))
    }

    /// The columns of the CSV rows and, for each, the index of its line.
    fn csv(&self, lines: &[&TextLine], bads: &mut Bads) -> Result<(Vec<ArrayRef>, Vec<usize>)> {
        let FileFormat::Csv {
            delimiter,
            quote,
            null_literal,
            allow_comments,
            ..
        } = &self.format
        else {
            return Ok((Vec::new(), Vec::new()));
        };
        let rules = self
            .schema
            .fields()
            .iter()
            .map(|f| CellRule {
                decimal: matches!(f.data_type(), DataType::Decimal128(..)),
            })
            .collect();
        let mut cells = CsvCells::new(*delimiter, *quote, null_literal.clone(), rules, lines.len());
        let mut kept = Vec::with_capacity(lines.len());
        for (order, line) in lines.iter().enumerate() {
            if *allow_comments && line.text.starts_with('#') {
                continue;
            }
            match cells.push(&line.text) {
                Ok(()) => kept.push(order),
                Err(message) => bads.add(order, line, message),
            }
        }
        let columns = self.typed_columns(cells.finish(), lines, &kept, bads)?;
        Ok((columns, kept))
    }

    /// Converts text columns to the column types. A value that does not
    /// parse fails the job naming file, line and field, or is read as NULL
    /// (and its line counted once) when errors are ignored.
    fn typed_columns(
        &self,
        texts: Vec<StringArray>,
        lines: &[&TextLine],
        kept: &[usize],
        bads: &mut Bads,
    ) -> Result<Vec<ArrayRef>> {
        let fields = self.schema.fields();
        let mut columns = Vec::with_capacity(fields.len());
        let mut nulled = vec![false; kept.len()];
        for (strings, field) in texts.into_iter().zip(fields.iter()) {
            if field.data_type() == &DataType::Utf8 {
                columns.push(Arc::new(strings) as ArrayRef);
                continue;
            }
            let options = CastOptions {
                safe: true,
                ..Default::default()
            };
            let fast = match field.data_type() {
                DataType::Timestamp(TimeUnit::Millisecond, None) => {
                    timestamp_millis_column(&strings).map(|a| Arc::new(a) as ArrayRef)
                }
                _ => None,
            };
            let typed = match fast {
                Some(typed) => typed,
                None => cast_with_options(&strings, field.data_type(), &options)
                    .map_err(|e| Error::Other(format!("column {}: {e}", field.name())))?,
            };
            if typed.null_count() > strings.null_count() {
                for i in 0..typed.len() {
                    if typed.is_null(i) && !strings.is_null(i) && !nulled[i] {
                        let value = text_at(&strings, i);
                        let message = format!(
                            "field '{}' cannot be read as {}: '{value}'",
                            field.name(),
                            crate::types::sql_name(field.data_type())
                        );
                        let message = match self.skipped {
                            Some(_) => format!("{message} (read as NULL)"),
                            None => message,
                        };
                        bads.add(kept[i], lines[kept[i]], message);
                        nulled[i] = true;
                    }
                }
            }
            columns.push(typed);
        }
        Ok(columns)
    }

    /// Decodes groups of JSON objects (each already one well-formed object):
    /// a group is the objects of one line. Returns the columns and the
    /// indexes of the groups they hold; a group whose objects do not fit the
    /// columns fails the job, or is skipped and counted.
    fn json(
        &self,
        lines: &[&TextLine],
        groups: &[(usize, Vec<&str>)],
        bads: &mut Bads,
    ) -> Result<(Vec<ArrayRef>, Vec<usize>)> {
        let all: Vec<usize> = (0..groups.len()).collect();
        if let Ok(columns) = self.decode_json(groups, &all) {
            return Ok((columns, all));
        }
        // Some group does not fit: find which, one group at a time.
        let mut kept = Vec::with_capacity(groups.len());
        for (g, (order, _)) in groups.iter().enumerate() {
            match self.decode_json(groups, &[g]) {
                Ok(_) => kept.push(g),
                Err(e) => bads.add(*order, lines[*order], format!("invalid JSON row: {e}")),
            }
        }
        let columns = self.decode_json(groups, &kept).map_err(|e| {
            Error::Other(format!(
                "JSON rows that decode one by one fail together: {e}"
            ))
        })?;
        Ok((columns, kept))
    }

    /// The columns of the objects of `groups[g]` for each `g` in `which`.
    fn decode_json(
        &self,
        groups: &[(usize, Vec<&str>)],
        which: &[usize],
    ) -> std::result::Result<Vec<ArrayRef>, arrow::error::ArrowError> {
        let objects: Vec<&str> = which
            .iter()
            .flat_map(|g| groups[*g].1.iter().copied())
            .collect();
        // BYTES are base64 strings in Flink's JSON: read as text, then decoded.
        let binary: Vec<usize> = self
            .schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| matches!(f.data_type(), DataType::Binary | DataType::LargeBinary))
            .map(|(i, _)| i)
            .collect();
        let read_schema = if binary.is_empty() {
            self.schema.clone()
        } else {
            let fields: Vec<arrow::datatypes::Field> = self
                .schema
                .fields()
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let f = f.as_ref().clone();
                    if binary.contains(&i) {
                        f.with_data_type(DataType::Utf8)
                    } else {
                        f
                    }
                })
                .collect();
            Arc::new(arrow::datatypes::Schema::new(fields))
        };
        let mut decoder = arrow::json::ReaderBuilder::new(read_schema)
            .with_batch_size(objects.len().max(1))
            .build_decoder()?;
        for object in &objects {
            let mut bytes = object.as_bytes();
            while !bytes.is_empty() {
                let read = decoder.decode(bytes)?;
                if read == 0 {
                    return Err(arrow::error::ArrowError::JsonError(
                        "the JSON decoder made no progress".into(),
                    ));
                }
                bytes = &bytes[read..];
            }
            decoder.decode(b"\n")?;
        }
        let columns = match decoder.flush()? {
            Some(batch) => {
                let mut columns = batch.columns().to_vec();
                for &i in &binary {
                    columns[i] = from_base64(&columns[i], self.schema.field(i).data_type())?;
                }
                columns
            }
            None => self
                .schema
                .fields()
                .iter()
                .map(|f| arrow::array::new_empty_array(f.data_type()))
                .collect(),
        };
        let rows = columns.first().map_or(0, |c| c.len());
        if !columns.is_empty() && rows != objects.len() {
            return Err(arrow::error::ArrowError::JsonError(format!(
                "{} objects decoded into {rows} rows",
                objects.len()
            )));
        }
        Ok(columns)
    }
}

/// A column of base64 text as the binary column of `target` type.
fn from_base64(
    text: &ArrayRef,
    target: &DataType,
) -> std::result::Result<ArrayRef, arrow::error::ArrowError> {
    use base64::Engine;
    let text = text.as_string::<i32>();
    let decoded = text
        .iter()
        .map(|v| {
            v.map(|v| {
                base64::engine::general_purpose::STANDARD
                    .decode(v)
                    .map_err(|e| {
                        arrow::error::ArrowError::JsonError(format!(
                            "'{v}' is not base64 for a BYTES column: {e}"
                        ))
                    })
            })
            .transpose()
        })
        .collect::<std::result::Result<Vec<Option<Vec<u8>>>, _>>()?;
    let refs = decoded.iter().map(|v| v.as_deref());
    Ok(match target {
        DataType::LargeBinary => Arc::new(arrow::array::LargeBinaryArray::from_iter(refs)),
        _ => Arc::new(arrow::array::BinaryArray::from_iter(refs)),
    })
}

/// How deep JSON values may nest (serde_json's limit for values).
const MAX_DEPTH: usize = 128;

/// The column (from 1) where `text` nests deeper than [`MAX_DEPTH`], if it does.
fn too_deep(text: &str) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (at, b) in text.bytes().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(at + 1);
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Checks that a line is exactly one JSON object, nested at most
/// [`MAX_DEPTH`] deep, with nothing but white space around it.
fn json_object(text: &str) -> std::result::Result<(), String> {
    use serde::de::{Deserialize, IgnoredAny};
    if !text.trim_start().starts_with('{') {
        return Err("expected a JSON object".into());
    }
    if let Some(column) = too_deep(text) {
        return Err(format!(
            "invalid JSON at column {column}: nested deeper than {MAX_DEPTH} levels"
        ));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    IgnoredAny::deserialize(&mut de)
        .and_then(|_| de.end())
        .map_err(|e| json_error(&e))
}

/// A serde_json error in the terms of one line.
fn json_error(e: &serde_json::Error) -> String {
    let what = e.to_string();
    let what = what
        .rsplit_once(" at line ")
        .map_or(what.as_str(), |(w, _)| w);
    let what = match what {
        "trailing characters" => "more than one JSON value (one object per line)",
        w => w,
    };
    format!("invalid JSON at column {}: {what}", e.column())
}

/// Splits a CSV line into fields, each with whether it was quoted. A quote
/// starts a quoted field only at the start of a field (elsewhere it is text,
/// as in Flink); a quoted field must end on the same line and be followed by
/// the delimiter or the end of the line.
pub fn split_csv(
    line: &str,
    delimiter: char,
    quote: char,
) -> std::result::Result<Vec<(String, bool)>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut in_quotes = false;
    let mut opened_at = 0;
    let mut chars = line.chars().enumerate().peekable();
    while let Some((at, c)) = chars.next() {
        if in_quotes {
            if c != quote {
                field.push(c);
            } else if chars.peek().is_some_and(|(_, n)| *n == quote) {
                field.push(quote);
                chars.next();
            } else {
                in_quotes = false;
                match chars.peek() {
                    None => {}
                    Some((_, n)) if *n == delimiter => {}
                    Some((n_at, n)) => {
                        return Err(format!(
                            "unexpected '{n}' at column {} after the closing quote of a field",
                            n_at + 1
                        ))
                    }
                }
            }
        } else if c == quote && field.is_empty() && !quoted {
            in_quotes = true;
            quoted = true;
            opened_at = at + 1;
        } else if c == delimiter {
            fields.push((std::mem::take(&mut field), quoted));
            quoted = false;
        } else {
            field.push(c);
        }
    }
    if in_quotes {
        return Err(format!(
            "the quoted field starting at column {opened_at} is not closed on this line"
        ));
    }
    fields.push((field, quoted));
    Ok(fields)
}

/// The rows of one Debezium JSON message: `c`/`r` insert `after`, `u` retracts
/// `before` and inserts `after`, `d` deletes `before`.
fn debezium(text: &str) -> std::result::Result<Vec<(RowKind, String)>, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| json_error(&e))?;
    let message = value
        .get("payload")
        .filter(|p| p.is_object())
        .unwrap_or(&value);
    let op = message
        .get("op")
        .and_then(|o| o.as_str())
        .ok_or_else(|| "a Debezium message needs a string field 'op'".to_string())?;
    let image = |name: &str| -> std::result::Result<String, String> {
        match message.get(name) {
            Some(v) if v.is_object() => Ok(v.to_string()),
            _ => Err(format!(
                "a Debezium '{op}' message needs an object '{name}'"
            )),
        }
    };
    Ok(match op {
        "c" | "r" => vec![(RowKind::Insert, image("after")?)],
        "u" => vec![
            (RowKind::UpdateBefore, image("before")?),
            (RowKind::UpdateAfter, image("after")?),
        ],
        "d" => vec![(RowKind::Delete, image("before")?)],
        other => return Err(format!("unknown Debezium operation '{other}'")),
    })
}

/// A number in scientific notation (`1.25E+2`, `-5E-3`) as plain decimal
/// text (`125`, `-0.005`); `None` when it is no such number.
pub(super) fn plain_decimal(text: &str) -> Option<String> {
    let (mantissa, exponent) = text.trim().split_once(['e', 'E'])?;
    let exponent: i64 = exponent.parse().ok()?;
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        || exponent.unsigned_abs() > 100
    {
        return None;
    }
    let digits = format!("{int}{frac}");
    // The decimal point sits after `point` digits.
    let point = int.len() as i64 + exponent;
    let text = if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (a, b) = digits.split_at(point as usize);
        format!("{a}.{b}")
    };
    Some(format!("{sign}{text}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn csv_quotes_and_delimiters() {
        let f = split_csv("1,\"a,b\",\"say \"\"hi\"\"\",", ',', '"').unwrap();
        let values: Vec<&str> = f.iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(values, vec!["1", "a,b", "say \"hi\"", ""]);
        let f = split_csv("a\"b,c", ',', '"').unwrap();
        assert_eq!(f[0].0, "a\"b");
        assert!(split_csv("1,\"open", ',', '"')
            .unwrap_err()
            .contains("column 3 is not closed"));
        assert!(split_csv("\"a\"b,c", ',', '"')
            .unwrap_err()
            .contains("unexpected 'b' at column 4"));
    }

    #[test]
    fn one_json_object_per_line() {
        let line = |text: &str| text.to_string();
        assert!(json_object(&line(r#" {"id": 1} "#)).is_ok());
        for bad in [
            r#"{"id": 2}{"id": 3}"#,
            r#"{"id": 2} x"#,
            "[1]",
            "1",
            r#"{"id": "#,
        ] {
            assert!(json_object(&line(bad)).is_err(), "{bad}");
        }
        let deep = "[".repeat(100_000);
        let e = json_object(&line(&format!("{{\"a\": {deep}")))
            .err()
            .unwrap();
        assert!(e.contains("column 134: nested deeper than 128"), "{e}");
        assert!(json_object(&line(r#"{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}"#)).is_ok());
    }

    #[test]
    fn debezium_messages() {
        let rows = debezium(r#"{"before":{"a":1},"after":{"a":2},"op":"u"}"#).unwrap_or_default();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, RowKind::UpdateBefore);
        assert!(debezium(r#"{"op":"x"}"#).is_err());
        assert!(debezium(r#"{"op":"c","after":{}} x"#).is_err());
    }

    #[test]
    fn scientific_decimals_as_plain_text() {
        assert_eq!(super::plain_decimal("1E+2").as_deref(), Some("100"));
        assert_eq!(super::plain_decimal("1.234E+2").as_deref(), Some("123.4"));
        assert_eq!(super::plain_decimal("-5E-3").as_deref(), Some("-0.005"));
        assert_eq!(super::plain_decimal("1.5e1").as_deref(), Some("15"));
        assert_eq!(super::plain_decimal("x1E2"), None);
        assert_eq!(super::plain_decimal("1E"), None);
    }
}
