//! Rows as Flink's `csv` and `json` formats write them (the `debezium-json`
//! format wraps the `json` encoding of its images).
//!
//! What Flink writes, and so eddy:
//!
//! | type | json | csv |
//! |---|---|---|
//! | NULL | `null` | empty, or `csv.null-literal` |
//! | BOOLEAN | `true` | `true` |
//! | FLOAT, DOUBLE | Java's `toString` (`1.0E10`), `"NaN"` | the same, `NaN` |
//! | DECIMAL | Java's `BigDecimal` without trailing zeros: `10.5`, `1E+2`; with `json.encode.decimal-as-plain-number` its plain text (`100.000`) | without trailing zeros (`csv.write-bigdecimal-in-scientific-notation` changes nothing in Flink 2.3) |
//! | TIMESTAMP | `"2024-01-01 00:00:01.5"` (no trailing zeros in the fraction); `T` with `json.timestamp-format.standard` = `ISO-8601` | the same |
//! | TIMESTAMP_LTZ | the same with a `Z` | the same |
//! | DATE, TIME | `"2024-02-03"`, `"04:05:06.789"` | the same |
//! | BYTES | base64 | base64 |
//! | ARRAY, ROW | `[..]`, an object in the row's field order | one string: the elements or fields joined by `csv.array-element-delimiter` (`;`), a NULL inside as the null literal |
//! | MAP | an object | not writable |
//!
//! JSON objects keep the table's column order. A CSV string is quoted (the
//! quote doubled inside) when it holds a character up to the largest of the
//! delimiter, the quote and the line feed, as Jackson's CSV writer that Flink
//! uses decides (with `,`: space, `#`, `'`, control characters...); numbers
//! are never quoted.

use crate::connectors::format::{java_double, java_float};
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, Time32MillisecondType, Time32SecondType, Time64MicrosecondType,
    Time64NanosecondType, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};

/// How the `json` format writes values (its `json.*` or `debezium-json.*`
/// options).
#[derive(Clone, Debug, Default)]
pub struct JsonEncoding {
    /// `timestamp-format.standard` = `ISO-8601` (`T` between date and time).
    pub iso_timestamps: bool,
    /// `encode.decimal-as-plain-number`.
    pub plain_decimals: bool,
}

/// How the `csv` format writes values (its `csv.*` options).
#[derive(Clone, Debug)]
pub struct CsvEncoding {
    /// `csv.field-delimiter`.
    pub delimiter: char,
    /// `csv.quote-character`; `None` with `csv.disable-quote-character`.
    pub quote: Option<char>,
    /// `csv.null-literal`: what a NULL is written as (empty by default).
    pub null_literal: String,
    /// `csv.array-element-delimiter`.
    pub array_delimiter: String,
}

impl Default for CsvEncoding {
    fn default() -> Self {
        CsvEncoding {
            delimiter: ',',
            quote: Some('"'),
            null_literal: String::new(),
            array_delimiter: ";".into(),
        }
    }
}

/// A decimal `unscaled * 10^-scale` as Flink's formats write it: Java's
/// `BigDecimal.stripTrailingZeros().toString()` (scientific when the exponent
/// is positive or the number is below 1e-6), or with `plain` the value's own
/// `toPlainString()` (its scale kept).
pub fn decimal(unscaled: i128, scale: i8, plain: bool) -> String {
    let mut out = String::new();
    push_decimal(unscaled, scale, plain, &mut out);
    out
}

/// Appends [`decimal`]'s text, without allocating.
pub(super) fn push_decimal(unscaled: i128, scale: i8, plain: bool, out: &mut String) {
    if unscaled < 0 {
        out.push('-');
    }
    let (mut digits, mut scale) = (unscaled.unsigned_abs(), i64::from(scale));
    if plain {
        push_plain_digits(itoa::Buffer::new().format(digits), scale, out);
        return;
    }
    if digits == 0 {
        // `-0` cannot be: the sign was written only for a negative value.
        out.push('0');
        return;
    }
    while digits % 10 == 0 {
        digits /= 10;
        scale -= 1;
    }
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(digits);
    let exponent = digits.len() as i64 - 1 - scale;
    if scale >= 0 && exponent >= -6 {
        push_plain_digits(digits, scale, out);
        return;
    }
    let (first, rest) = digits.split_at(1);
    out.push_str(first);
    if !rest.is_empty() {
        out.push('.');
        out.push_str(rest);
    }
    out.push('E');
    if exponent > 0 {
        out.push('+');
    }
    out.push_str(itoa::Buffer::new().format(exponent));
}

/// Appends `digits * 10^-scale` without an exponent.
fn push_plain_digits(digits: &str, scale: i64, out: &mut String) {
    let n = digits.len() as i64;
    if scale <= 0 {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', (-scale) as usize));
    } else if scale >= n {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (scale - n) as usize));
        out.push_str(digits);
    } else {
        let (int, frac) = digits.split_at((n - scale) as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    }
}

/// Standard base64 with padding (how both formats write BYTES).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Seconds and nanoseconds of a timestamp column's value.
fn split(value: i64, unit: &TimeUnit) -> (i64, u32) {
    let per_second = match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    };
    let nanos = value.rem_euclid(per_second) * (1_000_000_000 / per_second);
    (value.div_euclid(per_second), nanos as u32)
}

/// `.5`, `.123`, or nothing: a fraction of a second without trailing zeros.
fn fraction(nanos: u32) -> String {
    if nanos == 0 {
        return String::new();
    }
    let digits = format!("{nanos:09}");
    format!(".{}", digits.trim_end_matches('0'))
}

fn timestamp(value: i64, unit: &TimeUnit, iso: bool, ltz: bool) -> String {
    let (secs, nanos) = split(value, unit);
    let Some(dt) = chrono::DateTime::from_timestamp(secs, nanos) else {
        return value.to_string();
    };
    let pattern = if iso {
        "%Y-%m-%dT%H:%M:%S"
    } else {
        "%Y-%m-%d %H:%M:%S"
    };
    format!(
        "{}{}{}",
        dt.naive_utc().format(pattern),
        fraction(nanos),
        if ltz { "Z" } else { "" }
    )
}

/// Milliseconds and microseconds since the epoch of a timestamp as the csv
/// and json formats write it (`2024-01-01 00:00:01.5`), or in ISO-8601 (`T`
/// between date and time; a `Z` after a TIMESTAMP_LTZ).
pub fn parse_timestamp(text: &str) -> Result<(i64, i64), String> {
    let trimmed = text.trim_end_matches('Z');
    let parsed = chrono::NaiveDateTime::parse_from_str(trimmed, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(trimmed, "%Y-%m-%dT%H:%M:%S%.f"))
        .map_err(|e| format!("'{text}' is not a timestamp: {e}"))?
        .and_utc();
    Ok((parsed.timestamp_millis(), parsed.timestamp_micros()))
}

/// Appends a timestamp as [`timestamp`] writes it, without allocating for
/// the years 0 to 9999.
pub(crate) fn push_timestamp(value: i64, unit: &TimeUnit, iso: bool, ltz: bool, out: &mut String) {
    // One arm per unit, so that each divides by a constant.
    let (secs, nanos) = match unit {
        TimeUnit::Second => (value, 0),
        TimeUnit::Millisecond => (
            value.div_euclid(1_000),
            value.rem_euclid(1_000) as u32 * 1_000_000,
        ),
        TimeUnit::Microsecond => (
            value.div_euclid(1_000_000),
            value.rem_euclid(1_000_000) as u32 * 1_000,
        ),
        TimeUnit::Nanosecond => (
            value.div_euclid(1_000_000_000),
            value.rem_euclid(1_000_000_000) as u32,
        ),
    };
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    if !(0..=9999).contains(&year) {
        out.push_str(&timestamp(value, unit, iso, ltz));
        return;
    }
    let second = secs.rem_euclid(86_400) as u32;
    let mut text = [0u8; 30];
    let pair = |text: &mut [u8], at: usize, v: u32| {
        text[at] = b'0' + (v / 10) as u8;
        text[at + 1] = b'0' + (v % 10) as u8;
    };
    let year = year as u32;
    pair(&mut text, 0, year / 100);
    pair(&mut text, 2, year % 100);
    text[4] = b'-';
    pair(&mut text, 5, month as u32);
    text[7] = b'-';
    pair(&mut text, 8, day as u32);
    text[10] = if iso { b'T' } else { b' ' };
    pair(&mut text, 11, second / 3600);
    text[13] = b':';
    pair(&mut text, 14, second / 60 % 60);
    text[16] = b':';
    pair(&mut text, 17, second % 60);
    let mut len = 19;
    if nanos > 0 {
        text[19] = b'.';
        // Milliseconds (the usual TIMESTAMP(3)) need three digits, not nine.
        let (mut v, digits) = match nanos % 1_000_000 {
            0 => (nanos / 1_000_000, 3),
            _ => (nanos, 9),
        };
        for at in (20..20 + digits).rev() {
            text[at] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        len = 20 + digits;
        while text[len - 1] == b'0' {
            len -= 1;
        }
    }
    if ltz {
        text[len] = b'Z';
        len += 1;
    }
    // Only ASCII digits and separators were written.
    out.push_str(std::str::from_utf8(&text[..len]).unwrap_or_default());
}

/// The proleptic Gregorian (year, month, day) of a day counted from 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// A time of day in nanoseconds.
fn time_nanos(array: &ArrayRef, i: usize) -> Option<i64> {
    Some(match array.data_type() {
        DataType::Time32(TimeUnit::Second) => {
            array.as_primitive::<Time32SecondType>().value(i) as i64 * 1_000_000_000
        }
        DataType::Time32(_) => {
            array.as_primitive::<Time32MillisecondType>().value(i) as i64 * 1_000_000
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            array.as_primitive::<Time64MicrosecondType>().value(i) * 1_000
        }
        DataType::Time64(_) => array.as_primitive::<Time64NanosecondType>().value(i),
        _ => return None,
    })
}

fn time(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let rest = nanos.rem_euclid(1_000_000_000) as u32;
    let base = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    format!("{base}{}", fraction(rest))
}

/// A scalar value as text (what both formats write for it), and whether it
/// is a number (never quoted in CSV, bare in JSON). `None` for NULL or a
/// nested type.
fn scalar(array: &ArrayRef, i: usize, iso: bool, plain: bool) -> Option<(String, bool)> {
    Some(match array.data_type() {
        DataType::Boolean => (array.as_boolean().value(i).to_string(), true),
        DataType::Int8 => (array.as_primitive::<Int8Type>().value(i).to_string(), true),
        DataType::Int16 => (array.as_primitive::<Int16Type>().value(i).to_string(), true),
        DataType::Int32 => (array.as_primitive::<Int32Type>().value(i).to_string(), true),
        DataType::Int64 => (array.as_primitive::<Int64Type>().value(i).to_string(), true),
        DataType::Float32 => {
            let v = array.as_primitive::<Float32Type>().value(i);
            (java_float(v), v.is_finite())
        }
        DataType::Float64 => {
            let v = array.as_primitive::<Float64Type>().value(i);
            (java_double(v), v.is_finite())
        }
        DataType::Decimal128(_, s) => (
            decimal(array.as_primitive::<Decimal128Type>().value(i), *s, plain),
            true,
        ),
        DataType::Utf8 => (array.as_string::<i32>().value(i).to_string(), false),
        DataType::LargeUtf8 => (array.as_string::<i64>().value(i).to_string(), false),
        DataType::Utf8View => (array.as_string_view().value(i).to_string(), false),
        DataType::Binary => (base64(array.as_binary::<i32>().value(i)), false),
        DataType::LargeBinary => (base64(array.as_binary::<i64>().value(i)), false),
        DataType::Date32 => {
            let days = array.as_primitive::<Date32Type>().value(i);
            let text = chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163)
                .map_or(days.to_string(), |d| d.format("%Y-%m-%d").to_string());
            (text, false)
        }
        DataType::Time32(_) | DataType::Time64(_) => (time(time_nanos(array, i)?), false),
        DataType::Timestamp(unit, zone) => {
            let v = match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(i),
                TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(i),
                TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(i),
                TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(i),
            };
            let mut text = String::with_capacity(24);
            push_timestamp(v, unit, iso, zone.is_some(), &mut text);
            (text, false)
        }
        _ => return None,
    })
}

/// Writes row `i` of `array` as a JSON value.
pub(super) fn json_value(array: &ArrayRef, i: usize, encoding: &JsonEncoding, out: &mut String) {
    if array.is_null(i) {
        out.push_str("null");
        return;
    }
    match array.data_type() {
        DataType::Struct(fields) => {
            let columns = array.as_struct().columns();
            json_object(
                fields.iter().map(|f| f.name().as_str()).zip(columns),
                i,
                encoding,
                out,
            );
        }
        DataType::List(_) => json_list(&array.as_list::<i32>().value(i), encoding, out),
        DataType::LargeList(_) => json_list(&array.as_list::<i64>().value(i), encoding, out),
        DataType::Map(_, _) => {
            let entries = array.as_map().value(i);
            out.push('{');
            for j in 0..entries.len() {
                if j > 0 {
                    out.push(',');
                }
                let key = scalar(entries.column(0), j, encoding.iso_timestamps, true)
                    .map_or_else(|| "null".to_string(), |(k, _)| k);
                json_string(&key, out);
                out.push(':');
                json_value(entries.column(1), j, encoding, out);
            }
            out.push('}');
        }
        _ => match scalar(array, i, encoding.iso_timestamps, encoding.plain_decimals) {
            Some((text, true)) => out.push_str(&text),
            Some((text, false)) => json_string(&text, out),
            None => json_string(
                &crate::connectors::format::cell(array, i).unwrap_or_default(),
                out,
            ),
        },
    }
}

fn json_list(values: &ArrayRef, encoding: &JsonEncoding, out: &mut String) {
    out.push('[');
    for j in 0..values.len() {
        if j > 0 {
            out.push(',');
        }
        json_value(values, j, encoding, out);
    }
    out.push(']');
}

pub(crate) fn json_string(text: &str, out: &mut String) {
    match serde_json::to_string(text) {
        Ok(quoted) => out.push_str(&quoted),
        Err(_) => out.push_str("null"),
    }
}

/// Writes the fields `(name, column)` of row `i` as a JSON object, in order.
pub fn json_object<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a ArrayRef)>,
    i: usize,
    encoding: &JsonEncoding,
    out: &mut String,
) {
    out.push('{');
    for (k, (name, column)) in fields.into_iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        json_string(name, out);
        out.push(':');
        json_value(column, i, encoding, out);
    }
    out.push('}');
}

/// Row `i` of the first `names.len()` columns of `batch` as a JSON object.
pub fn json_row(
    batch: &RecordBatch,
    names: &[String],
    i: usize,
    encoding: &JsonEncoding,
) -> String {
    let mut out = String::new();
    json_object(
        names.iter().map(String::as_str).zip(batch.columns()),
        i,
        encoding,
        &mut out,
    );
    out
}

/// A CSV field as Jackson writes a string: quoted (the quote doubled) when it
/// holds the quote or any character up to the largest of the delimiter, the
/// quote and the line feed; so with `,` anything below `-`, with `;` digits
/// and `:` too.
pub fn csv_field(text: &str, encoding: &CsvEncoding) -> String {
    let Some(quote) = encoding.quote else {
        return text.to_string();
    };
    let highest = encoding.delimiter.max(quote).max('\n');
    if text.chars().any(|c| c <= highest || c == quote) {
        let doubled = text.replace(quote, &format!("{quote}{quote}"));
        format!("{quote}{doubled}{quote}")
    } else {
        text.to_string()
    }
}

/// Row `i` of `array` as a CSV field: numbers bare, everything else a
/// string; the elements of an array or the fields of a row joined by the
/// array element delimiter into one string (a NULL inside as the null
/// literal).
pub(super) fn csv_value(array: &ArrayRef, i: usize, encoding: &CsvEncoding) -> String {
    if array.is_null(i) {
        return encoding.null_literal.clone();
    }
    let text = match array.data_type() {
        DataType::List(_) => element_list(&array.as_list::<i32>().value(i), encoding),
        DataType::LargeList(_) => element_list(&array.as_list::<i64>().value(i), encoding),
        DataType::Struct(_) => array
            .as_struct()
            .columns()
            .iter()
            .map(|c| element(c, i, encoding))
            .collect::<Vec<_>>()
            .join(&encoding.array_delimiter),
        _ => match scalar(array, i, false, false) {
            Some((text, true)) => return text,
            Some((text, false)) => text,
            None => crate::connectors::format::cell(array, i).unwrap_or_default(),
        },
    };
    csv_field(&text, encoding)
}

fn element_list(values: &ArrayRef, encoding: &CsvEncoding) -> String {
    (0..values.len())
        .map(|j| element(values, j, encoding))
        .collect::<Vec<_>>()
        .join(&encoding.array_delimiter)
}

/// An element of an array or a field of a row, unquoted.
fn element(array: &ArrayRef, i: usize, encoding: &CsvEncoding) -> String {
    if array.is_null(i) {
        return encoding.null_literal.clone();
    }
    scalar(array, i, false, false)
        .map(|(text, _)| text)
        .or_else(|| crate::connectors::format::cell(array, i))
        .unwrap_or_default()
}

/// Row `i` of the first `columns` columns of `batch` as a CSV line.
pub fn csv_row(batch: &RecordBatch, columns: usize, i: usize, encoding: &CsvEncoding) -> String {
    (0..columns)
        .map(|c| csv_value(batch.column(c), i, encoding))
        .collect::<Vec<_>>()
        .join(&encoding.delimiter.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_as_java_writes_them_without_trailing_zeros() {
        assert_eq!(decimal(1050, 2, false), "10.5");
        assert_eq!(decimal(0, 2, false), "0");
        assert_eq!(decimal(100, 0, false), "1E+2");
        assert_eq!(decimal(-100, 0, false), "-1E+2");
        assert_eq!(decimal(120, 0, false), "1.2E+2");
        assert_eq!(
            decimal(12_345_678_901_234_567_890, 0, false),
            "1.234567890123456789E+19"
        );
        assert_eq!(decimal(1, 3, false), "0.001");
        assert_eq!(decimal(1, 7, false), "1E-7");
        assert_eq!(decimal(-2500, 3, false), "-2.5");
        assert_eq!(decimal(100_000, 3, true), "100.000");
        assert_eq!(decimal(1, 7, true), "0.0000001");
        assert_eq!(decimal(-5, 0, true), "-5");
        assert_eq!(decimal(12_345_675, 1, false), "1234567.5");
        assert_eq!(decimal(-1, 7, true), "-0.0000001");
        assert_eq!(decimal(-12, 2, true), "-0.12");
        assert_eq!(decimal(5, -2, true), "500");
        assert_eq!(
            decimal(i128::MIN + 1, 0, false),
            (i128::MIN + 1).to_string()
        );
    }

    #[test]
    fn timestamps_without_trailing_zeros() {
        let ms = TimeUnit::Millisecond;
        assert_eq!(timestamp(1_500, &ms, false, false), "1970-01-01 00:00:01.5");
        assert_eq!(timestamp(0, &ms, false, true), "1970-01-01 00:00:00Z");
        assert_eq!(timestamp(10, &ms, true, false), "1970-01-01T00:00:00.01");
        assert_eq!(
            timestamp(1, &TimeUnit::Microsecond, false, false),
            "1970-01-01 00:00:00.000001"
        );
        for (v, unit) in [
            (1_500, ms),
            (0, ms),
            (-1, ms),
            (1_767_225_600_123, ms),
            (-62_135_596_800_000, ms),
            (253_402_300_799_999, ms),
            (253_402_300_800_000, ms),
            (i64::MAX, ms),
            (i64::MIN, ms),
            (1, TimeUnit::Microsecond),
            (-1, TimeUnit::Nanosecond),
            (951_782_400, TimeUnit::Second),
        ] {
            for (iso, ltz) in [(false, false), (true, true)] {
                let mut pushed = String::new();
                push_timestamp(v, &unit, iso, ltz, &mut pushed);
                assert_eq!(pushed, timestamp(v, &unit, iso, ltz), "{v} {unit:?}");
            }
        }
        assert_eq!(time(14_706_789_000_000), "04:05:06.789");
        assert_eq!(time(14_706_000_000_000), "04:05:06");
        assert_eq!(base64(&[1, 2]), "AQI=");
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(&[]), "");
    }

    #[test]
    fn csv_quotes_as_jackson() {
        let csv = CsvEncoding::default();
        for (text, written) in [
            ("a b", "\"a b\""),
            ("a,\"b\"", "\"a,\"\"b\"\"\""),
            ("#x", "\"#x\""),
            ("a'b", "\"a'b\""),
            ("a;b", "a;b"),
            ("2024-02-03", "2024-02-03"),
            ("ü", "ü"),
            ("", ""),
        ] {
            assert_eq!(csv_field(text, &csv), written);
        }
        let semicolon = CsvEncoding {
            delimiter: ';',
            ..CsvEncoding::default()
        };
        assert_eq!(csv_field("x;y", &semicolon), "\"x;y\"");
        assert_eq!(csv_field("04:05:06", &semicolon), "\"04:05:06\"");
        assert_eq!(csv_field("abc", &semicolon), "abc");
    }
}
