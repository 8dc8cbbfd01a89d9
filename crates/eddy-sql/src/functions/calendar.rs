//! Calendar fields of a timestamp or date (`QUARTER`, `DAYOFWEEK`, `DAYOFYEAR`,
//! `WEEK`), and the current time, read per row as Flink does in streaming mode
//! (`NOW()`, `CURRENT_TIMESTAMP`, `CURRENT_DATE`).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int32Builder, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampMillisecondType};
use chrono::{Datelike, Months, NaiveDate, NaiveDateTime};
use datafusion_common::{exec_err, Result};
use datafusion_expr::{ScalarUDF, Volatility};

use super::{arity, function, millis_to_datetime, row, time_part, TS};

/// The calendar and current-time functions.
pub(super) fn functions() -> Vec<Arc<ScalarUDF>> {
    use Volatility::{Immutable, Volatile};
    vec![
        function(
            "quarter",
            Immutable,
            DataType::Int64,
            |t| {
                arity("QUARTER", t, 1..=1)?;
                Ok(vec![TS])
            },
            |a, n| time_part(a, n, |d| d.month0() as i64 / 3 + 1),
        ),
        // 1 is Sunday, 7 is Saturday.
        function(
            "dayofweek",
            Immutable,
            DataType::Int64,
            |t| {
                arity("DAYOFWEEK", t, 1..=1)?;
                Ok(vec![TS])
            },
            |a, n| time_part(a, n, |d| d.weekday().num_days_from_sunday() as i64 + 1),
        ),
        function(
            "dayofyear",
            Immutable,
            DataType::Int64,
            |t| {
                arity("DAYOFYEAR", t, 1..=1)?;
                Ok(vec![TS])
            },
            |a, n| time_part(a, n, |d| d.ordinal() as i64),
        ),
        // The ISO-8601 week: weeks start on Monday, week 1 holds January 4th.
        function(
            "week",
            Immutable,
            DataType::Int64,
            |t| {
                arity("WEEK", t, 1..=1)?;
                Ok(vec![TS])
            },
            |a, n| time_part(a, n, |d| d.iso_week().week() as i64),
        ),
        function(
            "timestampadd",
            Immutable,
            TS,
            |t| {
                arity("TIMESTAMPADD", t, 3..=3)?;
                Ok(vec![DataType::Utf8, DataType::Int64, TS])
            },
            timestampadd,
        ),
        function(
            "timestampdiff",
            Immutable,
            DataType::Int32,
            |t| {
                arity("TIMESTAMPDIFF", t, 3..=3)?;
                Ok(vec![DataType::Utf8, TS, TS])
            },
            timestampdiff,
        ),
        function("now", Volatile, ltz(), no_arguments, now),
        function(
            "current_date",
            Volatile,
            DataType::Date32,
            no_arguments,
            current_date,
        ),
        function("current_timestamp", Volatile, ltz(), no_arguments, now),
        function(
            "localtimestamp",
            Volatile,
            DataType::Timestamp(TimeUnit::Millisecond, None),
            no_arguments,
            local_timestamp,
        ),
        function(
            "localtime",
            Volatile,
            DataType::Time32(TimeUnit::Millisecond),
            no_arguments,
            local_time,
        ),
        function(
            "convert_tz",
            Immutable,
            DataType::Utf8,
            |t| {
                arity("CONVERT_TZ", t, 3..=3)?;
                Ok(vec![DataType::Utf8; 3])
            },
            convert_tz,
        ),
    ]
}

/// The local time now (eddy's local time zone is UTC), in milliseconds.
fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `LOCALTIMESTAMP`: the local date and time, without a zone.
fn local_timestamp(_: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    Ok(Arc::new(arrow::array::TimestampMillisecondArray::from(
        vec![now_millis(); rows.max(1)],
    )))
}

/// `LOCALTIME`: the local time of day.
fn local_time(_: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let of_day = now_millis().rem_euclid(86_400_000) as i32;
    Ok(Arc::new(arrow::array::Time32MillisecondArray::from(
        vec![of_day; rows.max(1)],
    )))
}

/// A time zone as Java's `TimeZone.getTimeZone` reads it: a region name
/// (`America/Los_Angeles`), `UTC`/`GMT`, or `GMT+hh:mm`; anything else is GMT.
fn zone(name: &str) -> chrono_tz::Tz {
    use std::str::FromStr;
    chrono_tz::Tz::from_str(name).unwrap_or(chrono_tz::Tz::UTC)
}

/// The UTC offset of `GMT+hh:mm` / `GMT-hh[:mm]` / `UTC+..`, in seconds.
fn fixed_offset(name: &str) -> Option<i32> {
    let rest = name
        .strip_prefix("GMT")
        .or_else(|| name.strip_prefix("UTC"))?;
    let (sign, rest) = match rest.as_bytes().first()? {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        _ => return None,
    };
    let (hours, minutes) = rest.split_once(':').unwrap_or((rest, "0"));
    let (h, m): (i32, i32) = (hours.parse().ok()?, minutes.parse().ok()?);
    (h <= 18 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

/// `time` (local to `zone`) as UTC.
fn to_utc(time: chrono::NaiveDateTime, name: &str) -> Option<chrono::NaiveDateTime> {
    use chrono::TimeZone;
    match fixed_offset(name) {
        Some(offset) => Some(time - chrono::Duration::seconds(offset as i64)),
        None => zone(name)
            .from_local_datetime(&time)
            .earliest()
            .map(|t| t.naive_utc()),
    }
}

/// UTC `time` as local time of `zone`.
fn from_utc(time: chrono::NaiveDateTime, name: &str) -> chrono::NaiveDateTime {
    use chrono::TimeZone;
    match fixed_offset(name) {
        Some(offset) => time + chrono::Duration::seconds(offset as i64),
        None => zone(name).from_utc_datetime(&time).naive_local(),
    }
}

/// `CONVERT_TZ(datetime, from, to)`: a `yyyy-MM-dd HH:mm:ss` text of zone
/// `from` as the same instant's text in zone `to`; NULL for NULL or
/// unreadable text.
fn convert_tz(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let [text, from, to] = [0, 1, 2].map(|k| arrays[k].as_string::<i32>());
    let mut out = arrow::array::StringBuilder::new();
    for i in 0..rows {
        let (t, f, z) = (row(&arrays[0], i), row(&arrays[1], i), row(&arrays[2], i));
        if text.is_null(t) || from.is_null(f) || to.is_null(z) {
            out.append_null();
            continue;
        }
        let parsed = chrono::NaiveDateTime::parse_from_str(text.value(t), "%Y-%m-%d %H:%M:%S");
        match parsed.ok().and_then(|local| to_utc(local, from.value(f))) {
            Some(utc) => out.append_value(
                from_utc(utc, to.value(z))
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string(),
            ),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn ltz() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some(crate::types::LTZ.into()))
}

fn no_arguments(t: &[DataType]) -> Result<Vec<DataType>> {
    arity("NOW(), CURRENT_TIMESTAMP or CURRENT_DATE", t, 0..=0)?;
    Ok(vec![])
}

/// Today's date (in UTC, eddy's local time zone), for every row of the batch.
fn current_date(_: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let days = chrono::Utc::now()
        .date_naive()
        .signed_duration_since(chrono::NaiveDate::default())
        .num_days() as i32;
    Ok(Arc::new(arrow::array::Date32Array::from(vec![
        days;
        rows.max(1)
    ])))
}

/// The wall-clock time now, for every row of the batch.
fn now(_: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let now = chrono::Utc::now().timestamp_millis();
    Ok(Arc::new(
        TimestampMillisecondArray::from(vec![now; rows.max(1)]).with_timezone(crate::types::LTZ),
    ))
}

/// The length of a unit of fixed length, in milliseconds; `None` for months,
/// quarters and years.
fn fixed_unit(unit: &str) -> Result<Option<i64>> {
    Ok(match unit {
        "SECOND" => Some(1_000),
        "MINUTE" => Some(60_000),
        "HOUR" => Some(3_600_000),
        "DAY" => Some(86_400_000),
        "WEEK" => Some(7 * 86_400_000),
        "MONTH" | "QUARTER" | "YEAR" => None,
        other => return exec_err!("'{other}' is not a unit of TIMESTAMPADD or TIMESTAMPDIFF"),
    })
}

/// Months in one `unit` of months.
fn months_in(unit: &str) -> i64 {
    match unit {
        "QUARTER" => 3,
        "YEAR" => 12,
        _ => 1,
    }
}

fn unit_at(arrays: &[ArrayRef], i: usize) -> Option<String> {
    let units = arrays[0].as_string::<i32>();
    let r = row(&arrays[0], i);
    (!units.is_null(r)).then(|| units.value(r).to_ascii_uppercase())
}

/// `TIMESTAMPADD(unit, n, ts)`: `ts` plus `n` units; months past the end of a
/// shorter month end on its last day.
fn timestampadd(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let n = arrays[1].as_primitive::<Int64Type>();
    let ts = arrays[2].as_primitive::<TimestampMillisecondType>();
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let (nr, tr) = (row(&arrays[1], i), row(&arrays[2], i));
        let Some(unit) = unit_at(arrays, i) else {
            out.push(None);
            continue;
        };
        if n.is_null(nr) || ts.is_null(tr) {
            out.push(None);
            continue;
        }
        let (n, t) = (n.value(nr), ts.value(tr));
        let added = match fixed_unit(&unit)? {
            Some(ms) => n.checked_mul(ms).and_then(|d| t.checked_add(d)),
            None => millis_to_datetime(t).and_then(|dt| {
                let months = n.checked_mul(months_in(&unit))?;
                let shifted = if months >= 0 {
                    dt.checked_add_months(Months::new(u32::try_from(months).ok()?))
                } else {
                    dt.checked_sub_months(Months::new(u32::try_from(-months).ok()?))
                }?;
                Some(shifted.and_utc().timestamp_millis())
            }),
        };
        match added {
            Some(v) => out.push(Some(v)),
            None => {
                return exec_err!("TIMESTAMPADD({unit}, {n}, ...) is out of the range of TIMESTAMP")
            }
        }
    }
    Ok(std::sync::Arc::new(TimestampMillisecondArray::from(out)))
}

/// `date` plus `months` months, on the last day of a shorter month.
fn add_months(date: NaiveDate, months: i64) -> Option<NaiveDate> {
    let n = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
    if months >= 0 {
        date.checked_add_months(n)
    } else {
        date.checked_sub_months(n)
    }
}

/// Whole months from `from` to `to` by date, as Flink (Calcite) counts them: the
/// most months that can be added to `from` without passing `to` (so January 31
/// to February 29 is one month).
fn months_between_dates(to: NaiveDate, from: NaiveDate) -> i64 {
    if to < from {
        return -months_between_dates(from, to);
    }
    let mut m = (to - from).num_days() / 31;
    loop {
        match (add_months(from, m), add_months(from, m + 1)) {
            (Some(d), _) if d >= to => return m,
            (_, Some(d)) if d > to => return m,
            (Some(_), Some(_)) => m += 1,
            _ => return m,
        }
    }
}

/// Whole months from `a` to `b`: by date, one less when the dates are a whole
/// number of months apart but `b`'s time of day is earlier than `a`'s.
fn months_between(a: &NaiveDateTime, b: &NaiveDateTime) -> i64 {
    let months = months_between_dates(b.date(), a.date());
    if add_months(a.date(), months) == Some(b.date()) && b.time() < a.time() {
        months - 1
    } else {
        months
    }
}

/// `TIMESTAMPDIFF(unit, t1, t2)`: whole units from `t1` to `t2` (negative when
/// `t2` is earlier).
fn timestampdiff(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let (a, b) = (
        arrays[1].as_primitive::<TimestampMillisecondType>(),
        arrays[2].as_primitive::<TimestampMillisecondType>(),
    );
    let mut out = Int32Builder::with_capacity(rows);
    for i in 0..rows {
        let (ar, br) = (row(&arrays[1], i), row(&arrays[2], i));
        let Some(unit) = unit_at(arrays, i) else {
            out.append_null();
            continue;
        };
        if a.is_null(ar) || b.is_null(br) {
            out.append_null();
            continue;
        }
        let (a, b) = (a.value(ar), b.value(br));
        let diff = match fixed_unit(&unit)? {
            Some(ms) => (b - a) / ms,
            None => match (millis_to_datetime(a), millis_to_datetime(b)) {
                (Some(a), Some(b)) => months_between(&a, &b) / months_in(&unit),
                _ => {
                    out.append_null();
                    continue;
                }
            },
        };
        match i32::try_from(diff) {
            Ok(v) => out.append_value(v),
            Err(_) => return exec_err!("TIMESTAMPDIFF({unit}, ...) = {diff} does not fit an INT"),
        }
    }
    Ok(std::sync::Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn months_are_counted_as_flink_counts_them() {
        for (a, b, months) in [
            ("2024-01-31 10:00:00", "2024-02-29 09:59:59", 0),
            ("2024-01-31 10:00:00", "2024-02-29 10:00:00", 1),
            ("2024-03-15 12:00:00", "2023-01-15 12:00:01", -14),
            ("2024-02-29 00:00:00", "2025-02-28 00:00:00", 12),
            ("2024-01-01 00:00:00", "2024-01-01 00:00:00", 0),
        ] {
            assert_eq!(months_between(&at(a), &at(b)), months, "{a} -> {b}");
        }
    }
}
