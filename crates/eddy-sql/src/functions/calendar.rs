//! Calendar fields of a timestamp or date (`QUARTER`, `DAYOFWEEK`, `DAYOFYEAR`,
//! `WEEK`), and the current time, read per row as Flink does in streaming mode
//! (`NOW()`, `CURRENT_TIMESTAMP`).

use std::sync::Arc;

use arrow::array::{ArrayRef, TimestampMillisecondArray};
use arrow::datatypes::{DataType, TimeUnit};
use chrono::Datelike;
use datafusion_common::Result;
use datafusion_expr::{ScalarUDF, Volatility};

use super::{arity, function, time_part, TS};

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
        function("now", Volatile, ltz(), no_arguments, now),
        function("current_timestamp", Volatile, ltz(), no_arguments, now),
    ]
}

fn ltz() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some(crate::types::LTZ.into()))
}

fn no_arguments(t: &[DataType]) -> Result<Vec<DataType>> {
    arity("NOW", t, 0..=0)?;
    Ok(vec![])
}

/// The wall-clock time now, for every row of the batch.
fn now(_: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let now = chrono::Utc::now().timestamp_millis();
    Ok(Arc::new(
        TimestampMillisecondArray::from(vec![now; rows.max(1)]).with_timezone(crate::types::LTZ),
    ))
}
