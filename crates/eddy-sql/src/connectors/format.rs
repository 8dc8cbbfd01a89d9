//! Values as text, by Flink's rules: `CAST(x AS STRING)` for printing and
//! results (the csv and json formats are in [`crate::connectors::encode`]).

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, Time32MillisecondType, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use chrono::DateTime;

/// A double as Java's `Double.toString` writes it.
pub fn java_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let a = v.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let s = format!("{v:?}");
        if s.contains('.') || s.contains('e') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let s = format!("{v:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        format!("{mantissa}E{exp}")
    }
}

/// A float as Java's `Float.toString` writes it.
pub fn java_float(v: f32) -> String {
    if !v.is_finite() || v == 0.0 {
        return java_double(v as f64);
    }
    let a = v.abs();
    if (1e-3..1e7).contains(&a) {
        let s = format!("{v:?}");
        if s.contains('.') || s.contains('e') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let s = format!("{v:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        format!("{mantissa}E{exp}")
    }
}

fn decimal(v: i128, scale: i8) -> String {
    if scale <= 0 {
        return v.to_string();
    }
    let negative = v < 0;
    let digits = v.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{}{int}.{frac}", if negative { "-" } else { "" })
}

fn timestamp(value: i64, unit: &TimeUnit) -> String {
    let (secs, nanos, digits) = match unit {
        TimeUnit::Second => (value, 0, 0),
        TimeUnit::Millisecond => (
            value.div_euclid(1000),
            value.rem_euclid(1000) * 1_000_000,
            3,
        ),
        TimeUnit::Microsecond => (
            value.div_euclid(1_000_000),
            value.rem_euclid(1_000_000) * 1000,
            6,
        ),
        TimeUnit::Nanosecond => (
            value.div_euclid(1_000_000_000),
            value.rem_euclid(1_000_000_000),
            9,
        ),
    };
    let Some(dt) = DateTime::from_timestamp(secs, nanos as u32) else {
        return value.to_string();
    };
    let base = dt.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string();
    if digits == 0 {
        base
    } else {
        let frac = format!("{nanos:09}");
        format!("{base}.{}", &frac[..digits])
    }
}

/// Row `i` of `array` as Flink's `CAST(... AS STRING)`; `None` for NULL.
pub fn cell(array: &ArrayRef, i: usize) -> Option<String> {
    if array.is_null(i) {
        return None;
    }
    Some(match array.data_type() {
        DataType::Boolean => if array.as_boolean().value(i) {
            "TRUE"
        } else {
            "FALSE"
        }
        .into(),
        DataType::Int8 => array.as_primitive::<Int8Type>().value(i).to_string(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(i).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(i).to_string(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(i).to_string(),
        DataType::Float32 => java_float(array.as_primitive::<Float32Type>().value(i)),
        DataType::Float64 => java_double(array.as_primitive::<Float64Type>().value(i)),
        DataType::Decimal128(_, s) => decimal(array.as_primitive::<Decimal128Type>().value(i), *s),
        DataType::Utf8 => array.as_string::<i32>().value(i).to_string(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(i).to_string(),
        DataType::Utf8View => array.as_string_view().value(i).to_string(),
        DataType::Binary => {
            let bytes = array.as_binary::<i32>().value(i);
            format!(
                "x'{}'",
                bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
            )
        }
        DataType::Date32 => {
            let days = array.as_primitive::<Date32Type>().value(i);
            chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163)
                .map_or(days.to_string(), |d| d.format("%Y-%m-%d").to_string())
        }
        DataType::Time32(TimeUnit::Millisecond) => {
            let ms = array.as_primitive::<Time32MillisecondType>().value(i);
            let t = chrono::NaiveTime::from_num_seconds_from_midnight_opt(
                (ms / 1000) as u32,
                ((ms % 1000) * 1_000_000) as u32,
            );
            t.map_or(ms.to_string(), |t| t.format("%H:%M:%S").to_string())
        }
        DataType::Timestamp(unit, _) => {
            let v = match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(i),
                TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(i),
                TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(i),
                TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(i),
            };
            timestamp(v, unit)
        }
        DataType::Struct(_) => {
            let s = array.as_struct();
            let parts: Vec<String> = s
                .columns()
                .iter()
                .map(|c| cell(c, i).unwrap_or_else(|| "NULL".into()))
                .collect();
            format!("({})", parts.join(", "))
        }
        DataType::List(_) => {
            let l = array.as_list::<i32>();
            let values = l.value(i);
            let parts: Vec<String> = (0..values.len())
                .map(|j| cell(&values, j).unwrap_or_else(|| "NULL".into()))
                .collect();
            format!("[{}]", parts.join(", "))
        }
        DataType::Map(_, _) => {
            let entries = array.as_map().value(i);
            let text = |column: &ArrayRef, j| cell(column, j).unwrap_or_else(|| "NULL".into());
            let parts: Vec<String> = (0..entries.len())
                .map(|j| {
                    let (key, value) = (text(entries.column(0), j), text(entries.column(1), j));
                    format!("{key}={value}")
                })
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        _ => arrow::util::display::array_value_to_string(array, i).unwrap_or_default(),
    })
}

/// Every row of a batch (its data columns) as cells.
pub fn rows(batch: &RecordBatch, columns: usize) -> Vec<Vec<Option<String>>> {
    (0..batch.num_rows())
        .map(|i| (0..columns).map(|c| cell(batch.column(c), i)).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_like_numbers_and_times() {
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(0.5), "0.5");
        assert_eq!(java_double(1.0e7), "1.0E7");
        assert_eq!(java_double(1.25e-5), "1.25E-5");
        assert_eq!(java_float(0.1), "0.1");
        assert_eq!(java_float(-1.5e-4), "-1.5E-4");
        assert_eq!(java_float(1.5), "1.5");
        assert_eq!(decimal(-5, 3), "-0.005");
        assert_eq!(decimal(123456, 3), "123.456");
        assert_eq!(
            timestamp(1_000, &TimeUnit::Millisecond),
            "1970-01-01 00:00:01.000"
        );
    }
}
