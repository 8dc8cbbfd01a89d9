//! Avro's binary encoding, to and from the JSON rows of Flink's `json` format:
//! a record read with its writer's schema becomes one JSON object the table's
//! JSON decoder reads by column name (so fields the table does not have are
//! ignored and columns the writer did not have are NULL); a row the JSON
//! encoder wrote becomes a record of the table's schema.

use std::collections::{BTreeMap, HashMap};

use arrow::datatypes::TimeUnit;
use base64::Engine;
use chrono::{Datelike, Timelike};
use serde_json::value::RawValue;

use super::schema::{IntKind, LongKind, Schema};
use crate::connectors::encode::{decimal, json_string, parse_timestamp, push_timestamp};

/// How deep values may nest.
const MAX_DEPTH: usize = 128;
/// The most items an array or map block may announce.
const MAX_BLOCK: i64 = 1 << 24;

type Result<T> = std::result::Result<T, String>;

/// Reads one datum of `schema` from `bytes` (all of them) as a JSON value.
pub fn to_json(schema: &Schema, bytes: &[u8]) -> Result<String> {
    let mut reader = Reader::new(bytes);
    let mut out = String::with_capacity(bytes.len() * 2);
    reader.value(schema, &mut out, 0)?;
    if reader.at != bytes.len() {
        return Err(format!(
            "{} bytes left after the Avro record (not written with this schema?)",
            bytes.len() - reader.at
        ));
    }
    Ok(out)
}

/// Reads `count` data of `schema` from `bytes` (a block of a container file,
/// all of it), each as a JSON value.
pub fn to_json_records(schema: &Schema, bytes: &[u8], count: i64) -> Result<Vec<String>> {
    let mut reader = Reader::new(bytes);
    let mut out = Vec::with_capacity(count.clamp(0, 1 << 16) as usize);
    for _ in 0..count {
        let mut record = String::new();
        reader.value(schema, &mut record, 0)?;
        out.push(record);
    }
    if !reader.at_end() {
        return Err(format!(
            "{} bytes left after the block's {count} records",
            bytes.len() - reader.at
        ));
    }
    Ok(out)
}

/// Reads Avro's primitive encodings from a slice.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    pub(super) fn at_end(&self) -> bool {
        self.at == self.bytes.len()
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| format!("the Avro record ends early (at byte {})", self.at))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    pub(super) fn long(&mut self) -> Result<i64> {
        let mut value: u64 = 0;
        for shift in (0..70).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok((value >> 1) as i64 ^ -((value & 1) as i64));
            }
        }
        Err(format!(
            "a variable-length number too long at byte {}",
            self.at
        ))
    }

    fn int(&mut self) -> Result<i32> {
        let v = self.long()?;
        i32::try_from(v).map_err(|_| format!("{v} is out of range for an Avro int"))
    }

    pub(super) fn sized(&mut self) -> Result<&'a [u8]> {
        let n = self.long()?;
        let n = usize::try_from(n).map_err(|_| format!("a negative length {n}"))?;
        self.take(n)
    }

    /// The item count of the next array or map block (0 at the end).
    pub(super) fn block_count(&mut self) -> Result<i64> {
        let count = self.long()?;
        if count < 0 {
            self.long()?; // the block's size in bytes
        }
        let count = count.checked_abs().unwrap_or(i64::MAX);
        if count > MAX_BLOCK {
            return Err(format!("an Avro block of {count} items"));
        }
        Ok(count)
    }

    fn value(&mut self, schema: &Schema, out: &mut String, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(format!("Avro values nested deeper than {MAX_DEPTH}"));
        }
        match schema {
            Schema::Null => out.push_str("null"),
            Schema::Boolean => out.push_str(match self.take(1)?[0] {
                0 => "false",
                1 => "true",
                b => return Err(format!("{b} is not an Avro boolean")),
            }),
            Schema::Int(IntKind::Plain) => out.push_str(&self.int()?.to_string()),
            Schema::Int(IntKind::Date) => {
                let days = self.int()?;
                let date = chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163)
                    .ok_or_else(|| format!("date {days} is out of range"))?;
                out.push_str(&format!("\"{}\"", date.format("%Y-%m-%d")));
            }
            Schema::Int(IntKind::TimeMillis) => {
                let ms = i64::from(self.int()?);
                time(ms * 1_000_000, out);
            }
            Schema::Long(kind) => {
                let v = self.long()?;
                match kind {
                    LongKind::Plain => out.push_str(&v.to_string()),
                    LongKind::TimeMicros => time(v.saturating_mul(1000), out),
                    LongKind::TimestampMillis | LongKind::TimestampMicros => {
                        let unit = if *kind == LongKind::TimestampMillis {
                            TimeUnit::Millisecond
                        } else {
                            TimeUnit::Microsecond
                        };
                        out.push('"');
                        push_timestamp(v, &unit, false, false, out);
                        out.push('"');
                    }
                }
            }
            Schema::Float => {
                let b = self.take(4)?;
                number(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])), out);
            }
            Schema::Double => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                number(f64::from_le_bytes(a), out);
            }
            Schema::Bytes(decimal_of) => {
                let bytes = self.sized()?.to_vec();
                bytes_or_decimal(&bytes, *decimal_of, out)?;
            }
            Schema::Fixed(size, decimal_of) => {
                let bytes = self.take(*size)?.to_vec();
                bytes_or_decimal(&bytes, *decimal_of, out)?;
            }
            Schema::String => {
                let bytes = self.sized()?;
                let text = std::str::from_utf8(bytes)
                    .map_err(|e| format!("an Avro string that is not UTF-8: {e}"))?;
                json_string(text, out);
            }
            Schema::Enum(symbols) => {
                let i = self.int()?;
                let symbol = usize::try_from(i)
                    .ok()
                    .and_then(|i| symbols.get(i))
                    .ok_or_else(|| format!("enum index {i} out of range"))?;
                json_string(symbol, out);
            }
            Schema::Array(items) => {
                out.push('[');
                let mut first = true;
                loop {
                    let count = self.block_count()?;
                    if count == 0 {
                        break;
                    }
                    for _ in 0..count {
                        if !first {
                            out.push(',');
                        }
                        first = false;
                        self.value(items, out, depth + 1)?;
                    }
                }
                out.push(']');
            }
            Schema::Map(values) => {
                out.push('{');
                let mut first = true;
                loop {
                    let count = self.block_count()?;
                    if count == 0 {
                        break;
                    }
                    for _ in 0..count {
                        if !first {
                            out.push(',');
                        }
                        first = false;
                        let key = std::str::from_utf8(self.sized()?)
                            .map_err(|e| format!("an Avro map key that is not UTF-8: {e}"))?
                            .to_string();
                        json_string(&key, out);
                        out.push(':');
                        self.value(values, out, depth + 1)?;
                    }
                }
                out.push('}');
            }
            Schema::Record(_, fields) => {
                out.push('{');
                for (i, (name, field)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json_string(name, out);
                    out.push(':');
                    self.value(field, out, depth + 1)?;
                }
                out.push('}');
            }
            Schema::Union(branches) => {
                let i = self.long()?;
                let branch = usize::try_from(i)
                    .ok()
                    .and_then(|i| branches.get(i))
                    .ok_or_else(|| format!("union branch {i} out of range"))?;
                self.value(branch, out, depth + 1)?;
            }
        }
        Ok(())
    }
}

fn number(v: f64, out: &mut String) {
    if v.is_finite() {
        out.push_str(&format!("{v:?}"));
    } else {
        out.push_str("null");
    }
}

fn time(nanos: i64, out: &mut String) {
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    out.push_str(&format!(
        "\"{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    ));
    if frac != 0 {
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('"');
}

fn bytes_or_decimal(bytes: &[u8], decimal_of: Option<(u32, u32)>, out: &mut String) -> Result<()> {
    match decimal_of {
        None => {
            out.push('"');
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(bytes));
            out.push('"');
        }
        Some((_, scale)) => {
            if bytes.len() > 16 {
                return Err(format!("a decimal of {} bytes (at most 16)", bytes.len()));
            }
            let mut unscaled: i128 = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
                -1
            } else {
                0
            };
            for b in bytes {
                unscaled = (unscaled << 8) | i128::from(*b);
            }
            out.push_str(&decimal(unscaled, scale as i8, true));
        }
    }
    Ok(())
}

/// Writes `json` (one JSON value, as Flink's `json` format writes a row) as a
/// datum of `schema`.
pub fn from_json(schema: &Schema, json: &str, out: &mut Vec<u8>) -> Result<()> {
    let raw: &RawValue = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    write(schema, raw, out, 0)
}

pub(super) fn put_long(v: i64, out: &mut Vec<u8>) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

pub(super) fn put_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    put_long(bytes.len() as i64, out);
    out.extend_from_slice(bytes);
}

fn parse<'a, T: serde::Deserialize<'a>>(raw: &'a RawValue, what: &str) -> Result<T> {
    serde_json::from_str(raw.get()).map_err(|e| format!("{} is not {what}: {e}", raw.get()))
}

fn write(schema: &Schema, raw: &RawValue, out: &mut Vec<u8>, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(format!("values nested deeper than {MAX_DEPTH}"));
    }
    let is_null = raw.get() == "null";
    match schema {
        Schema::Union(branches) => {
            let index = if is_null {
                branches.iter().position(|b| *b == Schema::Null)
            } else {
                branches.iter().position(|b| *b != Schema::Null)
            }
            .ok_or_else(|| format!("no branch of the union for {}", raw.get()))?;
            put_long(index as i64, out);
            return write(&branches[index], raw, out, depth + 1);
        }
        Schema::Null if is_null => return Ok(()),
        _ if is_null => return Err("NULL in a field that is not nullable".into()),
        _ => {}
    }
    match schema {
        Schema::Null | Schema::Union(_) => return Err(format!("{} is not null", raw.get())),
        Schema::Boolean => out.push(u8::from(parse::<bool>(raw, "a boolean")?)),
        Schema::Int(kind) => {
            let v: i64 = match kind {
                IntKind::Plain => parse(raw, "an integer")?,
                IntKind::Date => {
                    let text: &str = parse(raw, "a date")?;
                    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                        .map_err(|e| format!("'{text}' is not a date: {e}"))?;
                    i64::from(date.num_days_from_ce() - 719_163)
                }
                IntKind::TimeMillis => time_of(parse(raw, "a time")?)? / 1_000_000,
            };
            if i32::try_from(v).is_err() {
                return Err(format!("{v} is out of range for an Avro int"));
            }
            put_long(v, out);
        }
        Schema::Long(kind) => put_long(
            match kind {
                LongKind::Plain => parse(raw, "an integer")?,
                LongKind::TimeMicros => time_of(parse(raw, "a time")?)? / 1_000,
                LongKind::TimestampMillis => parse_timestamp(parse(raw, "a timestamp")?)?.0,
                LongKind::TimestampMicros => parse_timestamp(parse(raw, "a timestamp")?)?.1,
            },
            out,
        ),
        Schema::Float => {
            out.extend_from_slice(&(parse::<f64>(raw, "a number")? as f32).to_le_bytes())
        }
        Schema::Double => out.extend_from_slice(&parse::<f64>(raw, "a number")?.to_le_bytes()),
        Schema::Bytes(None) => put_bytes(&from_base64(parse(raw, "base64 text")?)?, out),
        Schema::Bytes(Some((_, scale))) => {
            put_bytes(&decimal_bytes(unscaled(raw.get(), *scale)?, None)?, out)
        }
        Schema::Fixed(size, None) => {
            let bytes = from_base64(parse(raw, "base64 text")?)?;
            if bytes.len() != *size {
                return Err(format!("{} bytes for a fixed of {size}", bytes.len()));
            }
            out.extend_from_slice(&bytes);
        }
        Schema::Fixed(size, Some((_, scale))) => {
            out.extend_from_slice(&decimal_bytes(unscaled(raw.get(), *scale)?, Some(*size))?)
        }
        Schema::String => put_bytes(parse::<String>(raw, "a string")?.as_bytes(), out),
        Schema::Enum(symbols) => {
            let symbol: String = parse(raw, "a string")?;
            let i = symbols
                .iter()
                .position(|s| *s == symbol)
                .ok_or_else(|| format!("'{symbol}' is not a symbol of the enum"))?;
            put_long(i as i64, out);
        }
        Schema::Array(items) => {
            let values: Vec<&RawValue> = parse(raw, "an array")?;
            if !values.is_empty() {
                put_long(values.len() as i64, out);
                for value in values {
                    write(items, value, out, depth + 1)?;
                }
            }
            put_long(0, out);
        }
        Schema::Map(values) => {
            let entries: BTreeMap<String, &RawValue> = parse(raw, "an object")?;
            if !entries.is_empty() {
                put_long(entries.len() as i64, out);
                for (key, value) in entries {
                    put_bytes(key.as_bytes(), out);
                    write(values, value, out, depth + 1)?;
                }
            }
            put_long(0, out);
        }
        Schema::Record(_, fields) => {
            let object: HashMap<String, &RawValue> = parse(raw, "an object")?;
            let null: &RawValue = serde_json::from_str("null").map_err(|e| e.to_string())?;
            for (name, field) in fields {
                let value = object.get(name).copied().unwrap_or(null);
                write(field, value, out, depth + 1).map_err(|e| format!("field {name}: {e}"))?;
            }
        }
    }
    Ok(())
}

fn from_base64(text: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("'{text}' is not base64: {e}"))
}

/// Nanoseconds since midnight of `HH:MM:SS[.fffffffff]`.
fn time_of(text: &str) -> Result<i64> {
    let t = chrono::NaiveTime::parse_from_str(text, "%H:%M:%S%.f")
        .map_err(|e| format!("'{text}' is not a time: {e}"))?;
    Ok(i64::from(t.num_seconds_from_midnight()) * 1_000_000_000 + i64::from(t.nanosecond()))
}

/// The unscaled value of the decimal number `text` at `scale`.
fn unscaled(text: &str, scale: u32) -> Result<i128> {
    let bad = || format!("{text} is not a decimal number");
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (
            &text[..at],
            text[at + 1..].parse::<i64>().map_err(|_| bad())?,
        ),
        None => (text, 0),
    };
    let (negative, digits) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !(int.chars().chain(frac.chars())).all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    // value = int.frac * 10^exponent; unscaled = value * 10^scale.
    let shift = i64::from(scale) + exponent - frac.len() as i64;
    let mut all = format!("{int}{frac}");
    if shift >= 0 {
        all.push_str(&"0".repeat(shift as usize));
    } else {
        let cut = all.len().saturating_sub((-shift) as usize);
        if all[cut..].chars().any(|c| c != '0') {
            return Err(format!(
                "{text} has more than {scale} digits after the point"
            ));
        }
        all.truncate(cut);
    }
    let all = all.trim_start_matches('0');
    let v: i128 = if all.is_empty() {
        0
    } else {
        all.parse()
            .map_err(|_| format!("{text} is too large for a decimal"))?
    };
    Ok(if negative { -v } else { v })
}

/// `v` as big-endian two's complement: the fewest bytes, or exactly `size`.
fn decimal_bytes(v: i128, size: Option<usize>) -> Result<Vec<u8>> {
    let all = v.to_be_bytes();
    let sign = if v < 0 { 0xff } else { 0 };
    let mut start = 0;
    while start < 15 && all[start] == sign && (all[start + 1] & 0x80) == (sign & 0x80) {
        start += 1;
    }
    let minimal = &all[start..];
    match size {
        None => Ok(minimal.to_vec()),
        Some(size) if size >= minimal.len() => {
            let mut out = vec![sign; size - minimal.len()];
            out.extend_from_slice(minimal);
            Ok(out)
        }
        Some(size) => Err(format!("{v} does not fit a fixed of {size} bytes")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn round_trip(schema: &Schema, json: &str) -> (Vec<u8>, String) {
        let mut bytes = Vec::new();
        from_json(schema, json, &mut bytes).unwrap();
        (bytes.clone(), to_json(schema, &bytes).unwrap())
    }

    #[test]
    fn the_specification_s_encodings() {
        // Examples from the Avro specification: zigzag longs and a string.
        for (v, bytes) in [
            (0i64, vec![0u8]),
            (-1, vec![1]),
            (1, vec![2]),
            (-64, vec![0x7f]),
            (64, vec![0x80, 0x01]),
        ] {
            let mut out = Vec::new();
            put_long(v, &mut out);
            assert_eq!(out, bytes, "{v}");
        }
        let (bytes, back) = round_trip(&Schema::String, "\"foo\"");
        assert_eq!(bytes, [0x06, b'f', b'o', b'o']);
        assert_eq!(back, "\"foo\"");
    }

    #[test]
    fn decimals_timestamps_arrays_maps_and_nulls() {
        let schema = Schema::parse(
            r#"{"type":"record","name":"r","fields":[
              {"name":"d","type":["null",{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}]},
              {"name":"t","type":{"type":"long","logicalType":"timestamp-millis"}},
              {"name":"day","type":{"type":"int","logicalType":"date"}},
              {"name":"a","type":{"type":"array","items":["null","int"]}},
              {"name":"m","type":{"type":"map","values":"string"}},
              {"name":"b","type":"bytes"}]}"#,
        )
        .unwrap();
        let (_, back) = round_trip(
            &schema,
            r#"{"d":-123.45,"t":"2024-03-01 10:00:01.5","day":"2024-03-01","a":[1,null,3],"m":{"k":"v"},"b":"AQI="}"#,
        );
        assert_eq!(
            back,
            r#"{"d":-123.45,"t":"2024-03-01 10:00:01.5","day":"2024-03-01","a":[1,null,3],"m":{"k":"v"},"b":"AQI="}"#
        );
        let (_, back) = round_trip(
            &schema,
            r#"{"d":null,"t":"1970-01-01 00:00:00","day":"1970-01-01","a":[],"m":{},"b":""}"#,
        );
        assert_eq!(
            back,
            r#"{"d":null,"t":"1970-01-01 00:00:00","day":"1970-01-01","a":[],"m":{},"b":""}"#
        );
        assert_eq!(unscaled("1.5E3", 2).unwrap(), 150_000);
        assert!(unscaled("0.125", 2).is_err());
        assert_eq!(decimal_bytes(-1, None).unwrap(), [0xff]);
        assert_eq!(decimal_bytes(128, None).unwrap(), [0x00, 0x80]);
    }

    #[test]
    fn bad_input_is_an_error_never_a_panic() {
        let schema = Schema::parse(r#"{"type":"array","items":"long"}"#).unwrap();
        for bytes in [
            &[0x02u8][..],
            &[0xff; 11],
            &[0x01],
            &[
                0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
            ],
        ] {
            assert!(to_json(&schema, bytes).is_err(), "{bytes:?}");
        }
        assert!(to_json(&Schema::Long(LongKind::Plain), &[0x02, 0x00]).is_err());
        let mut out = Vec::new();
        assert!(from_json(&Schema::Int(IntKind::Plain), "3000000000", &mut out).is_err());
        assert!(from_json(&Schema::String, "null", &mut out).is_err());
    }
}
