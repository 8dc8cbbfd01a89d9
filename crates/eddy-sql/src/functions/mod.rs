//! Functions under Flink's names and with Flink's semantics where they differ from
//! DataFusion's, and the metadata of the aggregate functions eddy runs itself.

mod calendar;
mod conditional;
pub mod json;
pub(crate) mod maps;
mod text;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, Int64Builder, StringArray, StringBuilder,
    TimestampMillisecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use chrono::{DateTime, Datelike, NaiveDateTime, Timelike};
use datafusion_common::{exec_err, plan_err, Result};
use datafusion_expr::function::AccumulatorArgs;
use datafusion_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility, WindowUDF,
};

type Body = fn(&[ArrayRef], usize) -> Result<ArrayRef>;
type Coerce = fn(&[DataType]) -> Result<Vec<DataType>>;

/// A scalar function with Flink's name and semantics.
#[derive(Debug)]
struct FlinkFunction {
    name: &'static str,
    signature: Signature,
    returns: DataType,
    coerce: Coerce,
    body: Body,
}

impl PartialEq for FlinkFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for FlinkFunction {}
impl std::hash::Hash for FlinkFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for FlinkFunction {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.returns.clone())
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        (self.coerce)(arg_types)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let rows = if scalar { 1 } else { args.number_rows };
        let out = (self.body)(&arrays, rows)?;
        if scalar {
            Ok(ColumnarValue::Scalar(
                datafusion_common::ScalarValue::try_from_array(&out, 0)?,
            ))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

fn function(
    name: &'static str,
    volatility: Volatility,
    returns: DataType,
    coerce: Coerce,
    body: Body,
) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(FlinkFunction {
        name,
        signature: Signature::user_defined(volatility),
        returns,
        coerce,
        body,
    }))
}

const TS: DataType = DataType::Timestamp(TimeUnit::Millisecond, None);

fn arity(name: &str, types: &[DataType], range: std::ops::RangeInclusive<usize>) -> Result<()> {
    if range.contains(&types.len()) {
        Ok(())
    } else if range.start() == range.end() {
        plan_err!(
            "{name} takes {} arguments, not {}",
            range.start(),
            types.len()
        )
    } else {
        plan_err!(
            "{name} takes {} to {} arguments, not {}",
            range.start(),
            range.end(),
            types.len()
        )
    }
}

fn time_or_string(t: &DataType) -> DataType {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        _ => TS,
    }
}

/// Converts a Java `SimpleDateFormat` pattern (Flink's) to a chrono format.
pub fn java_to_chrono(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '%' {
                    out.push('%');
                }
                out.push(chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        let piece = match (c, n) {
            ('y', 2) => "%y".to_string(),
            ('y', _) => "%Y".to_string(),
            ('M', 1) => "%-m".to_string(),
            ('M', 2) => "%m".to_string(),
            ('M', 3) => "%b".to_string(),
            ('M', _) => "%B".to_string(),
            ('d', 1) => "%-d".to_string(),
            ('d', _) => "%d".to_string(),
            ('H', 1) => "%-H".to_string(),
            ('H', _) => "%H".to_string(),
            ('h', _) => "%I".to_string(),
            ('m', 1) => "%-M".to_string(),
            ('m', _) => "%M".to_string(),
            ('s', 1) => "%-S".to_string(),
            ('s', _) => "%S".to_string(),
            ('S', n) => format!("%{}f", n.min(9)),
            ('a', _) => "%p".to_string(),
            ('E', 1..=3) => "%a".to_string(),
            ('E', _) => "%A".to_string(),
            ('D', _) => "%j".to_string(),
            ('%', _) => "%%".repeat(n),
            (c, n) => c.to_string().repeat(n),
        };
        // chrono's %3f prints fractional digits without the dot, as Java's SSS.
        out.push_str(&piece);
        i += n;
    }
    out
}

fn millis_to_datetime(ms: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp_millis(ms).map(|d| d.naive_utc())
}

fn format_str(arrays: &[ArrayRef], i: usize, default: &str) -> String {
    arrays
        .get(1)
        .and_then(|a| a.as_string_opt::<i32>())
        .filter(|a| !a.is_null(i))
        .map_or_else(|| default.to_string(), |a| a.value(i).to_string())
}

fn row(array: &ArrayRef, i: usize) -> usize {
    if array.len() == 1 {
        0
    } else {
        i
    }
}

fn date_format(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let input = &arrays[0];
    let mut out = StringBuilder::new();
    let mut cache: Option<(String, String)> = None;
    let times: Option<TimestampMillisecondArray> = match input.data_type() {
        DataType::Utf8 => None,
        _ => Some(cast(input, &TS)?.as_primitive().clone()),
    };
    for i in 0..rows {
        let r = row(input, i);
        if input.is_null(r) {
            out.append_null();
            continue;
        }
        let java = format_str(
            arrays,
            row(arrays.get(1).unwrap_or(input), i),
            "yyyy-MM-dd HH:mm:ss",
        );
        let chrono_fmt = match &cache {
            Some((j, c)) if *j == java => c.clone(),
            _ => {
                let c = java_to_chrono(&java);
                cache = Some((java, c.clone()));
                c
            }
        };
        let dt = match &times {
            Some(t) => millis_to_datetime(t.value(r)),
            None => parse_timestamp(input.as_string::<i32>().value(r), "yyyy-MM-dd HH:mm:ss")
                .and_then(millis_to_datetime),
        };
        match dt {
            Some(dt) => out.append_value(dt.format(&chrono_fmt).to_string()),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// Parses a timestamp with a Java pattern; also accepts ISO forms with `T` and
/// fractional seconds for the default pattern.
fn parse_timestamp(text: &str, java: &str) -> Option<i64> {
    let text = text.trim();
    let fmt = java_to_chrono(java);
    if let Ok(dt) = NaiveDateTime::parse_from_str(text, &fmt) {
        return Some(dt.and_utc().timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, &fmt) {
        return d
            .and_hms_opt(0, 0, 0)
            .map(|dt| dt.and_utc().timestamp_millis());
    }
    for fallback in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(text, fallback) {
            return Some(dt.and_utc().timestamp_millis());
        }
    }
    None
}

fn to_timestamp(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let input = cast(&arrays[0], &DataType::Utf8)?;
    let strings = input.as_string::<i32>();
    let values: TimestampMillisecondArray = (0..rows)
        .map(|i| {
            let r = row(&input, i);
            if strings.is_null(r) {
                return None;
            }
            let java = format_str(
                arrays,
                i.min(arrays.get(1).map_or(0, |a| a.len() - 1)),
                "yyyy-MM-dd HH:mm:ss",
            );
            parse_timestamp(strings.value(r), &java)
        })
        .collect();
    Ok(Arc::new(values))
}

fn unix_timestamp(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    if arrays.is_empty() {
        let now = chrono::Utc::now().timestamp();
        return Ok(Arc::new(Int64Array::from(vec![now; rows.max(1)])));
    }
    let millis = to_timestamp(arrays, rows)?;
    let millis = millis.as_primitive::<arrow::datatypes::TimestampMillisecondType>();
    Ok(Arc::new(
        millis
            .iter()
            .map(|v| v.map(|ms| ms.div_euclid(1000)))
            .collect::<Int64Array>(),
    ))
}

fn from_unixtime(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let secs = cast(&arrays[0], &DataType::Int64)?;
    let secs = secs.as_primitive::<arrow::datatypes::Int64Type>();
    let mut out = StringBuilder::new();
    for i in 0..rows {
        let r = row(&arrays[0], i);
        let java = format_str(
            arrays,
            i.min(arrays.get(1).map_or(0, |a| a.len() - 1)),
            "yyyy-MM-dd HH:mm:ss",
        );
        match (!secs.is_null(r))
            .then(|| millis_to_datetime(secs.value(r) * 1000))
            .flatten()
        {
            Some(dt) => out.append_value(dt.format(&java_to_chrono(&java)).to_string()),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn time_part(
    arrays: &[ArrayRef],
    rows: usize,
    part: fn(&NaiveDateTime) -> i64,
) -> Result<ArrayRef> {
    let ts = cast(&arrays[0], &TS)?;
    let ts = ts.as_primitive::<arrow::datatypes::TimestampMillisecondType>();
    let mut out = Int64Builder::with_capacity(rows);
    for i in 0..rows {
        let r = row(&arrays[0], i);
        match (!ts.is_null(r))
            .then(|| millis_to_datetime(ts.value(r)))
            .flatten()
        {
            Some(dt) => out.append_value(part(&dt)),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn split_index(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let (s, sep, idx) = (
        arrays[0].as_string::<i32>(),
        arrays[1].as_string::<i32>(),
        arrays[2].as_primitive::<arrow::datatypes::Int64Type>(),
    );
    let mut out = StringBuilder::new();
    for i in 0..rows {
        let (a, b, c) = (row(&arrays[0], i), row(&arrays[1], i), row(&arrays[2], i));
        if s.is_null(a) || sep.is_null(b) || idx.is_null(c) || idx.value(c) < 0 {
            out.append_null();
            continue;
        }
        let separator = sep.value(b);
        let part = if separator.is_empty() {
            None
        } else {
            s.value(a).split(separator).nth(idx.value(c) as usize)
        };
        match part {
            Some(p) => out.append_value(p),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn regexp_extract(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let s = arrays[0].as_string::<i32>();
    let pattern = arrays[1].as_string::<i32>();
    let group = arrays
        .get(2)
        .map(|a| a.as_primitive::<arrow::datatypes::Int64Type>());
    let mut cache: HashMap<String, Option<regex::Regex>> = HashMap::new();
    let mut out = StringBuilder::new();
    for i in 0..rows {
        let (a, b) = (row(&arrays[0], i), row(&arrays[1], i));
        let g = match (group, arrays.get(2)) {
            (Some(g), Some(arr)) => {
                let c = row(arr, i);
                (!g.is_null(c)).then(|| g.value(c))
            }
            _ => Some(0),
        };
        let (Some(g), false, false) = (g, s.is_null(a), pattern.is_null(b)) else {
            out.append_null();
            continue;
        };
        let re = cache
            .entry(pattern.value(b).to_string())
            .or_insert_with(|| regex::Regex::new(pattern.value(b)).ok());
        let found = re.as_ref().and_then(|re| {
            re.captures(s.value(a))
                .and_then(|c| usize::try_from(g).ok().and_then(|g| c.get(g)))
                .map(|m| m.as_str().to_string())
        });
        match found {
            Some(v) => out.append_value(v),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn count_char(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let (s, c) = (arrays[0].as_string::<i32>(), arrays[1].as_string::<i32>());
    let mut out = Int64Builder::with_capacity(rows);
    for i in 0..rows {
        let (a, b) = (row(&arrays[0], i), row(&arrays[1], i));
        if s.is_null(a) || c.is_null(b) {
            out.append_null();
            continue;
        }
        let Some(ch) = c.value(b).chars().next() else {
            out.append_value(0);
            continue;
        };
        out.append_value(s.value(a).chars().filter(|x| *x == ch).count() as i64);
    }
    Ok(Arc::new(out.finish()))
}

fn concat(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let strings: Vec<&StringArray> = arrays.iter().map(|a| a.as_string::<i32>()).collect();
    let mut out = StringBuilder::new();
    'rows: for i in 0..rows {
        let mut value = String::new();
        for (a, s) in arrays.iter().zip(&strings) {
            let r = row(a, i);
            if s.is_null(r) {
                out.append_null();
                continue 'rows;
            }
            value.push_str(s.value(r));
        }
        out.append_value(value);
    }
    Ok(Arc::new(out.finish()))
}

fn modulo(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let (a, b) = (
        arrays[0].as_primitive::<arrow::datatypes::Int64Type>(),
        arrays[1].as_primitive::<arrow::datatypes::Int64Type>(),
    );
    let mut out = Int64Builder::with_capacity(rows);
    for i in 0..rows {
        let (x, y) = (row(&arrays[0], i), row(&arrays[1], i));
        if a.is_null(x) || b.is_null(y) || b.value(y) == 0 {
            out.append_null();
        } else {
            out.append_value(a.value(x).wrapping_rem(b.value(y)));
        }
    }
    Ok(Arc::new(out.finish()))
}

fn proctime(_: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let now = chrono::Utc::now().timestamp_millis();
    Ok(Arc::new(
        TimestampMillisecondArray::from(vec![now; rows.max(1)]).with_timezone(crate::types::LTZ),
    ))
}

fn to_timestamp_ltz(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let values = cast(&arrays[0], &DataType::Int64)?;
    let values = values.as_primitive::<arrow::datatypes::Int64Type>();
    let precision = arrays
        .get(1)
        .map(|a| a.as_primitive::<arrow::datatypes::Int64Type>().clone());
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let r = row(&arrays[0], i);
        let p = precision
            .as_ref()
            .map_or(3, |p| p.value(row(&arrays[1], i)));
        out.push((!values.is_null(r)).then(|| match p {
            0 => values.value(r).saturating_mul(1000),
            _ => values.value(r),
        }));
    }
    Ok(Arc::new(
        TimestampMillisecondArray::from(out).with_timezone(crate::types::LTZ),
    ))
}

fn strings(types: &[DataType]) -> Vec<DataType> {
    vec![DataType::Utf8; types.len()]
}

/// The Flink-named scalar functions, which replace DataFusion's of the same name.
pub fn flink_functions() -> Vec<Arc<ScalarUDF>> {
    use Volatility::{Immutable, Volatile};
    vec![
        function(
            "date_format",
            Immutable,
            DataType::Utf8,
            |t| {
                arity("DATE_FORMAT", t, 1..=2)?;
                Ok(vec![time_or_string(&t[0]), DataType::Utf8][..t.len()].to_vec())
            },
            date_format,
        ),
        function(
            "split_index",
            Immutable,
            DataType::Utf8,
            |t| {
                arity("SPLIT_INDEX", t, 3..=3)?;
                Ok(vec![DataType::Utf8, DataType::Utf8, DataType::Int64])
            },
            split_index,
        ),
        function(
            "regexp_extract",
            Immutable,
            DataType::Utf8,
            |t| {
                arity("REGEXP_EXTRACT", t, 2..=3)?;
                Ok(vec![DataType::Utf8, DataType::Utf8, DataType::Int64][..t.len()].to_vec())
            },
            regexp_extract,
        ),
        function(
            "to_timestamp",
            Immutable,
            TS,
            |t| {
                arity("TO_TIMESTAMP", t, 1..=2)?;
                Ok(strings(t))
            },
            to_timestamp,
        ),
        function(
            "to_timestamp_ltz",
            Immutable,
            DataType::Timestamp(TimeUnit::Millisecond, Some(crate::types::LTZ.into())),
            |t| {
                arity("TO_TIMESTAMP_LTZ", t, 1..=2)?;
                if t.len() == 2 && !t[1].is_integer() {
                    return plan_err!("the precision of TO_TIMESTAMP_LTZ must be 0 or 3");
                }
                Ok(vec![DataType::Int64, DataType::Int64][..t.len()].to_vec())
            },
            to_timestamp_ltz,
        ),
        function(
            "unix_timestamp",
            Volatile,
            DataType::Int64,
            |t| {
                arity("UNIX_TIMESTAMP", t, 0..=2)?;
                Ok(strings(t))
            },
            unix_timestamp,
        ),
        function(
            "from_unixtime",
            Immutable,
            DataType::Utf8,
            |t| {
                arity("FROM_UNIXTIME", t, 1..=2)?;
                Ok(vec![DataType::Int64, DataType::Utf8][..t.len()].to_vec())
            },
            from_unixtime,
        ),
        function(
            "hour",
            Immutable,
            DataType::Int64,
            |t| {
                arity("HOUR", t, 1..=1)?;
                Ok(vec![TS])
            },
            |a, n| time_part(a, n, |d| d.hour() as i64),
        ),
        function(
            "minute",
            Immutable,
            DataType::Int64,
            |t| {
                arity("MINUTE", t, 1..=1)?;
                Ok(vec![TS])
            },
            |a, n| time_part(a, n, |d| d.minute() as i64),
        ),
        function(
            "second",
            Immutable,
            DataType::Int64,
            |t| {
                arity("SECOND", t, 1..=1)?;
                Ok(vec![TS])
            },
            |a, n| time_part(a, n, |d| d.second() as i64),
        ),
        function(
            "year",
            Immutable,
            DataType::Int64,
            |t| {
                arity("YEAR", t, 1..=1)?;
                Ok(vec![TS])
            },
            |a, n| time_part(a, n, |d| d.year() as i64),
        ),
        function(
            "month",
            Immutable,
            DataType::Int64,
            |t| {
                arity("MONTH", t, 1..=1)?;
                Ok(vec![TS])
            },
            |a, n| time_part(a, n, |d| d.month() as i64),
        ),
        function(
            "dayofmonth",
            Immutable,
            DataType::Int64,
            |t| {
                arity("DAYOFMONTH", t, 1..=1)?;
                Ok(vec![TS])
            },
            |a, n| time_part(a, n, |d| d.day() as i64),
        ),
        function(
            "count_char",
            Immutable,
            DataType::Int64,
            |t| {
                arity("count_char", t, 2..=2)?;
                Ok(strings(t))
            },
            count_char,
        ),
        function(
            "concat",
            Immutable,
            DataType::Utf8,
            |t| {
                if t.is_empty() {
                    return plan_err!("CONCAT takes at least one argument");
                }
                Ok(strings(t))
            },
            concat,
        ),
        function(
            "mod",
            Immutable,
            DataType::Int64,
            |t| {
                arity("MOD", t, 2..=2)?;
                if !t.iter().all(|t| t.is_integer() || t.is_null()) {
                    return plan_err!("MOD takes two integer arguments");
                }
                Ok(vec![DataType::Int64, DataType::Int64])
            },
            modulo,
        ),
        function(
            "proctime",
            Volatile,
            DataType::Timestamp(TimeUnit::Millisecond, Some(crate::types::LTZ.into())),
            |t| {
                arity("PROCTIME", t, 0..=0)?;
                Ok(vec![])
            },
            proctime,
        ),
    ]
}

/// The aggregate functions eddy runs (with retraction, in its state backend).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggKind {
    /// `COUNT(*)`, `COUNT(x)`.
    Count,
    /// `SUM(x)`.
    Sum,
    /// `AVG(x)`.
    Avg,
    /// `MIN(x)`.
    Min,
    /// `MAX(x)`.
    Max,
    /// `FIRST_VALUE(x)`.
    FirstValue,
    /// `LAST_VALUE(x)`.
    LastValue,
    /// `LAG(x [, offset [, default]])` over an OVER window.
    Lag,
    /// `LISTAGG(x [, separator])`: the non-null values joined, in arrival order.
    ListAgg,
    /// `ARRAY_AGG(x [RESPECT NULLS | IGNORE NULLS])`: the values (NULLs too,
    /// unless ignored) as an array, in arrival order.
    ArrayAgg,
    /// `COLLECT(x)`: the non-null values as a multiset, a map from each
    /// value to how many times it occurs (Flink's `MULTISET<T>`).
    Collect,
}

/// Planning metadata of an eddy aggregate: its name and Flink's result type.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FlinkAggregate {
    kind: AggKind,
    name: &'static str,
    signature: Signature,
}

impl FlinkAggregate {
    /// The function it plans.
    pub fn kind(&self) -> AggKind {
        self.kind
    }
}

/// Flink's result type of an aggregate over `input`.
pub fn aggregate_type(kind: AggKind, input: Option<&DataType>) -> Result<DataType> {
    let Some(input) = input else {
        return Ok(DataType::Int64);
    };
    Ok(match kind {
        AggKind::Count => DataType::Int64,
        AggKind::ListAgg => DataType::Utf8,
        AggKind::Collect => crate::types::multiset(input),
        AggKind::ArrayAgg => DataType::List(Arc::new(arrow::datatypes::Field::new_list_field(
            input.clone(),
            true,
        ))),
        AggKind::Sum => match input {
            DataType::Decimal128(_, s) => DataType::Decimal128(38, *s),
            t if t.is_numeric() => t.clone(),
            DataType::Null => DataType::Int32,
            t => return plan_err!("SUM does not take {}", crate::types::sql_name(t)),
        },
        AggKind::Avg => match input {
            DataType::Decimal128(_, s) => DataType::Decimal128(38, (*s).max(6)),
            t if t.is_numeric() => t.clone(),
            t => return plan_err!("AVG does not take {}", crate::types::sql_name(t)),
        },
        AggKind::Min | AggKind::Max | AggKind::FirstValue | AggKind::LastValue | AggKind::Lag => {
            input.clone()
        }
    })
}

impl AggregateUDFImpl for FlinkAggregate {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        aggregate_type(self.kind, arg_types.first())
    }
    fn accumulator(&self, _: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        exec_err!("{} runs in eddy's aggregate operators", self.name)
    }
    fn is_nullable(&self) -> bool {
        // COUNT is never NULL (BIGINT NOT NULL in Flink); the others are NULL
        // over no values.
        self.kind != AggKind::Count
    }
    fn default_value(&self, data_type: &DataType) -> Result<datafusion_common::ScalarValue> {
        match self.kind {
            AggKind::Count => Ok(datafusion_common::ScalarValue::Int64(Some(0))),
            _ => datafusion_common::ScalarValue::try_from(data_type),
        }
    }
    fn supports_null_handling_clause(&self) -> bool {
        // ARRAY_AGG(x [RESPECT NULLS | IGNORE NULLS]), as Flink.
        self.kind == AggKind::ArrayAgg
    }
}

/// The aggregate functions, by lower-case name.
pub fn flink_aggregates() -> Vec<Arc<AggregateUDF>> {
    [
        (AggKind::Count, "count"),
        (AggKind::Sum, "sum"),
        (AggKind::Avg, "avg"),
        (AggKind::Min, "min"),
        (AggKind::Max, "max"),
        (AggKind::FirstValue, "first_value"),
        (AggKind::LastValue, "last_value"),
        (AggKind::ListAgg, "listagg"),
        (AggKind::ArrayAgg, "array_agg"),
        (AggKind::Collect, "collect"),
    ]
    .into_iter()
    .map(|(kind, name)| {
        Arc::new(AggregateUDF::new_from_impl(FlinkAggregate {
            kind,
            name,
            signature: Signature::variadic_any(Volatility::Immutable),
        }))
    })
    .collect()
}

/// Every function the planner knows, by lower-case name.
pub struct Registry {
    /// Scalar functions.
    pub scalars: HashMap<String, Arc<ScalarUDF>>,
    /// Aggregate functions.
    pub aggregates: HashMap<String, Arc<AggregateUDF>>,
    /// Window functions (`ROW_NUMBER`, ...).
    pub windows: HashMap<String, Arc<WindowUDF>>,
}

/// The function registry, built once.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut scalars = HashMap::new();
        let defaults = datafusion_functions::all_default_functions()
            .into_iter()
            .chain(datafusion_functions_nested::all_default_nested_functions());
        let eddy = flink_functions()
            .into_iter()
            .chain(conditional::functions())
            .chain(maps::functions())
            .chain(calendar::functions())
            .chain(text::functions())
            .chain(json::functions());
        for f in defaults.chain(eddy) {
            let f = crate::string_limit::bounded(f);
            for alias in f.aliases() {
                scalars.insert(alias.to_lowercase(), f.clone());
            }
            scalars.insert(f.name().to_lowercase(), f);
        }
        let mut aggregates = HashMap::new();
        for f in flink_aggregates() {
            aggregates.insert(f.name().to_string(), f);
        }
        // GROUPING(e, ...) and GROUPING_ID(e, ...): the analyzer rewrites both
        // into bit operations on the grouping id of GROUPING SETS, ROLLUP, CUBE.
        let grouping = datafusion_functions_aggregate::grouping::grouping_udaf();
        aggregates.insert("grouping_id".to_string(), grouping.clone());
        aggregates.insert("grouping".to_string(), grouping);
        let mut windows = HashMap::new();
        for f in datafusion_functions_window::all_default_window_functions() {
            windows.insert(f.name().to_lowercase(), f);
        }
        Registry {
            scalars,
            aggregates,
            windows,
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn java_patterns() {
        assert_eq!(java_to_chrono("yyyy-MM-dd HH:mm:ss"), "%Y-%m-%d %H:%M:%S");
        assert_eq!(java_to_chrono("HH:mm"), "%H:%M");
        assert_eq!(java_to_chrono("yyyy-MM-dd'T'HH"), "%Y-%m-%dT%H");
    }

    #[test]
    fn split_and_extract() {
        let s: ArrayRef = Arc::new(StringArray::from(vec![
            Some("https://a.com/x/y?channel_id=7"),
            None,
        ]));
        let sep: ArrayRef = Arc::new(StringArray::from(vec!["/"]));
        let idx: ArrayRef = Arc::new(Int64Array::from(vec![3]));
        let out = split_index(&[s.clone(), sep, idx], 2).unwrap();
        let out = out.as_string::<i32>();
        assert_eq!(out.value(0), "x");
        assert!(out.is_null(1));
        let re: ArrayRef = Arc::new(StringArray::from(vec!["(&|^|\\?)channel_id=([^&]*)"]));
        let g: ArrayRef = Arc::new(Int64Array::from(vec![2]));
        let out = regexp_extract(&[s, re, g], 2).unwrap();
        assert_eq!(out.as_string::<i32>().value(0), "7");
    }
}
