//! Single values of a row, for state: group keys, accumulators, distinct sets.

use std::cmp::Ordering;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Decimal128Array, Float64Array, Int16Array,
    Int32Array, Int64Array, Int8Array, StringArray,
};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, Date32Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    Time32MillisecondType, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use serde::{Deserialize, Serialize};

use crate::error::{SqlError, SqlResult};

/// An `f64` with a total order (for MIN/MAX and DISTINCT over floats).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct F64(pub f64);

impl PartialEq for F64 {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0) == Ordering::Equal
    }
}
impl Eq for F64 {}
impl PartialOrd for F64 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for F64 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}
impl std::hash::Hash for F64 {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}

/// One value. Integers, dates, times and timestamps are `Int` (their physical
/// value); the column's type says how to read them back.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Val {
    /// SQL NULL.
    Null,
    /// BOOLEAN.
    Bool(bool),
    /// Integers and temporal values.
    Int(i64),
    /// FLOAT, DOUBLE.
    Float(F64),
    /// DECIMAL, unscaled.
    Dec(i128),
    /// Strings.
    Str(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// An array (the result of ARRAY_AGG).
    List(Vec<Val>),
    /// A map's entries (the multiset COLLECT returns).
    Map(Vec<(Val, Val)>),
}

impl Val {
    /// Whether the value is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }
}

/// Reads row `i` of `array`.
pub fn read(array: &ArrayRef, i: usize) -> SqlResult<Val> {
    if array.is_null(i) {
        return Ok(Val::Null);
    }
    macro_rules! int {
        ($t:ty) => {
            Val::Int(array.as_primitive::<$t>().value(i) as i64)
        };
    }
    Ok(match array.data_type() {
        DataType::Null => Val::Null,
        DataType::Boolean => Val::Bool(array.as_boolean().value(i)),
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => int!(UInt64Type),
        DataType::Date32 => int!(Date32Type),
        DataType::Time32(TimeUnit::Millisecond) => int!(Time32MillisecondType),
        DataType::Timestamp(TimeUnit::Second, _) => int!(TimestampSecondType),
        DataType::Timestamp(TimeUnit::Millisecond, _) => int!(TimestampMillisecondType),
        DataType::Timestamp(TimeUnit::Microsecond, _) => int!(TimestampMicrosecondType),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => int!(TimestampNanosecondType),
        DataType::Float32 => Val::Float(F64(array.as_primitive::<Float32Type>().value(i) as f64)),
        DataType::Float64 => Val::Float(F64(array.as_primitive::<Float64Type>().value(i))),
        DataType::Decimal128(_, _) => Val::Dec(
            array
                .as_primitive::<arrow::datatypes::Decimal128Type>()
                .value(i),
        ),
        DataType::Utf8 => Val::Str(array.as_string::<i32>().value(i).to_string()),
        DataType::LargeUtf8 => Val::Str(array.as_string::<i64>().value(i).to_string()),
        DataType::Utf8View => Val::Str(array.as_string_view().value(i).to_string()),
        DataType::Binary => Val::Bytes(array.as_binary::<i32>().value(i).to_vec()),
        other => {
            return Err(SqlError::unsupported(format!(
                "aggregating values of type {}",
                crate::types::sql_name(other)
            )))
        }
    })
}

fn int(v: &Val) -> Option<i64> {
    match v {
        Val::Int(i) => Some(*i),
        _ => None,
    }
}

/// Builds an array of `data_type` from values.
pub fn to_array(values: &[Val], data_type: &DataType) -> SqlResult<ArrayRef> {
    let ints = || -> ArrayRef { Arc::new(values.iter().map(int).collect::<Int64Array>()) };
    let array: ArrayRef = match data_type {
        DataType::Null => arrow::array::new_null_array(data_type, values.len()),
        DataType::Boolean => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Val::Bool(b) => Some(*b),
                    _ => None,
                })
                .collect::<BooleanArray>(),
        ),
        DataType::Float32 | DataType::Float64 => {
            let a: ArrayRef = Arc::new(
                values
                    .iter()
                    .map(|v| match v {
                        Val::Float(f) => Some(f.0),
                        Val::Int(i) => Some(*i as f64),
                        _ => None,
                    })
                    .collect::<Float64Array>(),
            );
            return Ok(cast(&a, data_type)?);
        }
        DataType::Decimal128(p, s) => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Val::Dec(d) => Some(*d),
                    _ => None,
                })
                .collect::<Decimal128Array>()
                .with_precision_and_scale(*p, *s)?,
        ),
        DataType::Utf8 => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Val::Str(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect::<StringArray>(),
        ),
        DataType::Binary => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Val::Bytes(b) => Some(b.as_slice()),
                    _ => None,
                })
                .collect::<BinaryArray>(),
        ),
        DataType::Int64 => ints(),
        DataType::Date32 | DataType::Time32(_) => {
            let a = cast(&ints(), &DataType::Int32)?;
            return Ok(cast(&a, data_type)?);
        }
        // Narrower integers wrap around as Java's do (`SUM` of `INT` overflows
        // to a negative number, as in Flink), never become NULL.
        DataType::Int32 => Arc::new(Int32Array::from_iter(
            values.iter().map(|v| int(v).map(|i| i as i32)),
        )),
        DataType::Int16 => Arc::new(Int16Array::from_iter(
            values.iter().map(|v| int(v).map(|i| i as i16)),
        )),
        DataType::Int8 => Arc::new(Int8Array::from_iter(
            values.iter().map(|v| int(v).map(|i| i as i8)),
        )),
        t if t.is_integer() || matches!(t, DataType::Timestamp(_, _)) => {
            return Ok(cast(&ints(), data_type)?)
        }
        DataType::List(field) => {
            let mut items = Vec::new();
            let mut lengths = Vec::with_capacity(values.len());
            let mut valid = Vec::with_capacity(values.len());
            for v in values {
                match v {
                    Val::List(list) => {
                        items.extend(list.iter().cloned());
                        lengths.push(list.len());
                        valid.push(true);
                    }
                    _ => {
                        lengths.push(0);
                        valid.push(false);
                    }
                }
            }
            let child = to_array(&items, field.data_type())?;
            Arc::new(arrow::array::ListArray::try_new(
                field.clone(),
                arrow::buffer::OffsetBuffer::from_lengths(lengths),
                child,
                Some(arrow::buffer::NullBuffer::from(valid)),
            )?)
        }
        DataType::Map(entries, ordered) => {
            let DataType::Struct(fields) = entries.data_type() else {
                return Err(SqlError::unsupported("a map without key and value fields"));
            };
            let (mut keys, mut items) = (Vec::new(), Vec::new());
            let mut lengths = Vec::with_capacity(values.len());
            let mut valid = Vec::with_capacity(values.len());
            for v in values {
                match v {
                    Val::Map(map) => {
                        for (key, item) in map {
                            keys.push(key.clone());
                            items.push(item.clone());
                        }
                        lengths.push(map.len());
                        valid.push(true);
                    }
                    _ => {
                        lengths.push(0);
                        valid.push(false);
                    }
                }
            }
            let columns = vec![
                to_array(&keys, fields[0].data_type())?,
                to_array(&items, fields[1].data_type())?,
            ];
            let entries_array = arrow::array::StructArray::try_new(fields.clone(), columns, None)?;
            Arc::new(arrow::array::MapArray::try_new(
                entries.clone(),
                arrow::buffer::OffsetBuffer::from_lengths(lengths),
                entries_array,
                Some(arrow::buffer::NullBuffer::from(valid)),
                *ordered,
            )?)
        }
        other => {
            return Err(SqlError::unsupported(format!(
                "aggregate results of type {}",
                crate::types::sql_name(other)
            )))
        }
    };
    Ok(array)
}
