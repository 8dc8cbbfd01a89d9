//! Values between eddy's Arrow columns and PostgreSQL's binary formats: which
//! column types fit which database types, a cell as a statement parameter
//! ([`Cell`]), and a result column decoded into an Arrow array
//! ([`decode_column`]).

use std::error::Error;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    Int8Type, Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array,
    Float64Array, Int16Array, Int32Array, Int64Array, Int8Array, LargeBinaryArray,
    LargeStringArray, StringArray, StringViewArray, Time32MillisecondArray, Time32SecondArray,
    Time64MicrosecondArray, Time64NanosecondArray, TimestampMicrosecondArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray,
};
use arrow_schema::{DataType, TimeUnit};
use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};

use crate::numeric;

/// Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days from 1970-01-01 to 2000-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;

const TEXT_TYPES: [Type; 6] = [
    Type::TEXT,
    Type::VARCHAR,
    Type::BPCHAR,
    Type::NAME,
    Type::JSON,
    Type::JSONB,
];

/// Whether values of eddy's `column` type can be written to a database
/// column of type `pg` without loss.
pub(crate) fn writable(column: &DataType, pg: &Type) -> bool {
    use DataType as D;
    let any = |types: &[Type]| types.contains(pg);
    match column {
        D::Boolean => any(&[Type::BOOL]),
        D::Int8 | D::Int16 => any(&[Type::INT2, Type::INT4, Type::INT8, Type::NUMERIC]),
        D::Int32 => any(&[Type::INT4, Type::INT8, Type::NUMERIC]),
        D::Int64 => any(&[Type::INT8, Type::NUMERIC]),
        D::Float32 => any(&[Type::FLOAT4, Type::FLOAT8]),
        D::Float64 => any(&[Type::FLOAT8]),
        D::Decimal128(..) => any(&[Type::NUMERIC]),
        D::Utf8 | D::LargeUtf8 | D::Utf8View => any(&TEXT_TYPES),
        D::Binary | D::LargeBinary => any(&[Type::BYTEA]),
        D::Date32 => any(&[Type::DATE]),
        D::Time32(_) | D::Time64(_) => any(&[Type::TIME]),
        D::Timestamp(_, None) => any(&[Type::TIMESTAMP]),
        D::Timestamp(_, Some(_)) => any(&[Type::TIMESTAMPTZ]),
        _ => false,
    }
}

/// Whether values of a database column of type `pg` can be read into eddy's
/// `column` type without loss.
pub(crate) fn readable(column: &DataType, pg: &Type) -> bool {
    use DataType as D;
    let any = |types: &[Type]| types.contains(pg);
    match column {
        D::Int8 | D::Int16 => any(&[Type::INT2]),
        D::Int32 => any(&[Type::INT2, Type::INT4]),
        D::Int64 => any(&[Type::INT2, Type::INT4, Type::INT8]),
        D::Float64 => any(&[Type::FLOAT4, Type::FLOAT8]),
        other => writable(other, pg),
    }
}

/// One cell of an Arrow column as a statement parameter, encoded for the
/// parameter's database type.
#[derive(Debug)]
pub(crate) struct Cell<'a> {
    /// The column.
    pub array: &'a ArrayRef,
    /// The row.
    pub row: usize,
}

type BoxError = Box<dyn Error + Sync + Send>;

impl ToSql for Cell<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        if self.array.is_null(self.row) {
            return Ok(IsNull::Yes);
        }
        encode(self.array.as_ref(), self.row, ty, out)?;
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        // Checked against the table's columns when the writer opens.
        true
    }

    to_sql_checked!();
}

fn integer_at(array: &dyn Array, row: usize) -> Option<i64> {
    Some(match array.data_type() {
        DataType::Int8 => array.as_primitive::<Int8Type>().value(row) as i64,
        DataType::Int16 => array.as_primitive::<Int16Type>().value(row) as i64,
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row) as i64,
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row),
        _ => return None,
    })
}

fn text_at(array: &dyn Array, row: usize) -> Option<&str> {
    Some(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(row),
        DataType::LargeUtf8 => array.as_string::<i64>().value(row),
        DataType::Utf8View => array.as_string_view().value(row),
        _ => return None,
    })
}

fn micros(value: i64, unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => value.saturating_mul(1_000_000),
        TimeUnit::Millisecond => value.saturating_mul(1_000),
        TimeUnit::Microsecond => value,
        TimeUnit::Nanosecond => value.div_euclid(1_000),
    }
}

fn from_micros(value: i64, unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => value.div_euclid(1_000_000),
        TimeUnit::Millisecond => value.div_euclid(1_000),
        TimeUnit::Microsecond => value,
        TimeUnit::Nanosecond => value.saturating_mul(1_000),
    }
}

fn timestamp_at(array: &dyn Array, row: usize) -> Option<(i64, TimeUnit)> {
    let DataType::Timestamp(unit, _) = array.data_type() else {
        return None;
    };
    let value = match unit {
        TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row),
        TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(row),
        TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(row),
        TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(row),
    };
    Some((value, *unit))
}

fn time_micros_at(array: &dyn Array, row: usize) -> Option<i64> {
    Some(match array.data_type() {
        DataType::Time32(TimeUnit::Second) => {
            array.as_primitive::<Time32SecondType>().value(row) as i64 * 1_000_000
        }
        DataType::Time32(_) => {
            array.as_primitive::<Time32MillisecondType>().value(row) as i64 * 1_000
        }
        DataType::Time64(TimeUnit::Nanosecond) => {
            array.as_primitive::<Time64NanosecondType>().value(row) / 1_000
        }
        DataType::Time64(_) => array.as_primitive::<Time64MicrosecondType>().value(row),
        _ => return None,
    })
}

/// Appends the value at `row` of `array` to `out` in `ty`'s binary format.
fn encode(array: &dyn Array, row: usize, ty: &Type, out: &mut BytesMut) -> Result<(), BoxError> {
    let mismatch = || -> BoxError {
        format!(
            "cannot write a {} value to a column of type {}",
            array.data_type(),
            ty.name()
        )
        .into()
    };
    let out_of_range =
        |v: i64| -> BoxError { format!("{v} is out of range for {}", ty.name()).into() };
    match array.data_type() {
        DataType::Boolean => out.put_u8(array.as_boolean().value(row) as u8),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            let v = integer_at(array, row).ok_or_else(mismatch)?;
            match *ty {
                Type::INT2 => out.put_i16(i16::try_from(v).map_err(|_| out_of_range(v))?),
                Type::INT4 => out.put_i32(i32::try_from(v).map_err(|_| out_of_range(v))?),
                Type::INT8 => out.put_i64(v),
                Type::NUMERIC => {
                    let mut bytes = Vec::new();
                    numeric::encode(v as i128, 0, &mut bytes);
                    out.put_slice(&bytes);
                }
                _ => return Err(mismatch()),
            }
        }
        DataType::Float32 | DataType::Float64 => {
            let v = match array.data_type() {
                DataType::Float32 => array.as_primitive::<Float32Type>().value(row) as f64,
                _ => array.as_primitive::<Float64Type>().value(row),
            };
            match *ty {
                Type::FLOAT4 => out.put_f32(v as f32),
                Type::FLOAT8 => out.put_f64(v),
                _ => return Err(mismatch()),
            }
        }
        DataType::Decimal128(_, scale) => {
            if *ty != Type::NUMERIC || *scale < 0 {
                return Err(mismatch());
            }
            let mut bytes = Vec::new();
            numeric::encode(
                array.as_primitive::<Decimal128Type>().value(row),
                *scale as u32,
                &mut bytes,
            );
            out.put_slice(&bytes);
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let text = text_at(array, row).ok_or_else(mismatch)?;
            if *ty == Type::JSONB {
                out.put_u8(1);
            }
            out.put_slice(text.as_bytes());
        }
        DataType::Binary => out.put_slice(array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => out.put_slice(array.as_binary::<i64>().value(row)),
        DataType::Date32 => {
            out.put_i32(array.as_primitive::<Date32Type>().value(row) - PG_EPOCH_DAYS)
        }
        DataType::Time32(_) | DataType::Time64(_) => {
            out.put_i64(time_micros_at(array, row).ok_or_else(mismatch)?)
        }
        DataType::Timestamp(..) => {
            let (value, unit) = timestamp_at(array, row).ok_or_else(mismatch)?;
            out.put_i64(micros(value, unit).saturating_sub(PG_EPOCH_MICROS));
        }
        _ => return Err(mismatch()),
    }
    Ok(())
}

/// A result column's value as the bytes the server sent (`None` for NULL).
pub(crate) struct Raw<'a>(pub Option<&'a [u8]>);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Raw(Some(raw)))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Raw(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

fn fixed<const N: usize>(raw: &[u8]) -> Result<[u8; N], String> {
    raw.try_into()
        .map_err(|_| format!("expected {N} bytes, the server sent {}", raw.len()))
}

/// An integer of type `pg` (INT2, INT4 or INT8).
fn read_integer(raw: &[u8], pg: &Type) -> Result<i64, String> {
    Ok(match *pg {
        Type::INT2 => i16::from_be_bytes(fixed(raw)?) as i64,
        Type::INT4 => i32::from_be_bytes(fixed(raw)?) as i64,
        _ => i64::from_be_bytes(fixed(raw)?),
    })
}

fn read_text<'a>(raw: &'a [u8], pg: &Type) -> Result<&'a str, String> {
    let raw = if *pg == Type::JSONB {
        raw.get(1..).unwrap_or_default()
    } else {
        raw
    };
    std::str::from_utf8(raw).map_err(|e| format!("invalid UTF-8: {e}"))
}

fn map_values<'a, T>(
    values: &[Option<&'a [u8]>],
    read: impl Fn(&'a [u8]) -> Result<T, String>,
) -> Result<Vec<Option<T>>, String> {
    values.iter().map(|v| v.map(&read).transpose()).collect()
}

/// The values of one result column (of database type `pg`) as an Arrow array
/// of eddy's `column` type.
pub(crate) fn decode_column(
    column: &DataType,
    pg: &Type,
    values: &[Option<&[u8]>],
) -> Result<ArrayRef, String> {
    let narrow = |v: i64, what: &str| format!("{v} does not fit {what}");
    Ok(match column {
        DataType::Boolean => Arc::new(BooleanArray::from(map_values(values, |r| {
            Ok(fixed::<1>(r)?[0] != 0)
        })?)),
        DataType::Int8 => Arc::new(Int8Array::from(map_values(values, |r| {
            let v = read_integer(r, pg)?;
            i8::try_from(v).map_err(|_| narrow(v, "TINYINT"))
        })?)),
        DataType::Int16 => Arc::new(Int16Array::from(map_values(values, |r| {
            let v = read_integer(r, pg)?;
            i16::try_from(v).map_err(|_| narrow(v, "SMALLINT"))
        })?)),
        DataType::Int32 => Arc::new(Int32Array::from(map_values(values, |r| {
            let v = read_integer(r, pg)?;
            i32::try_from(v).map_err(|_| narrow(v, "INT"))
        })?)),
        DataType::Int64 => Arc::new(Int64Array::from(map_values(values, |r| {
            read_integer(r, pg)
        })?)),
        DataType::Float32 => Arc::new(Float32Array::from(map_values(values, |r| {
            Ok(f32::from_be_bytes(fixed(r)?))
        })?)),
        DataType::Float64 => Arc::new(Float64Array::from(map_values(values, |r| {
            Ok(match *pg {
                Type::FLOAT4 => f32::from_be_bytes(fixed(r)?) as f64,
                _ => f64::from_be_bytes(fixed(r)?),
            })
        })?)),
        DataType::Decimal128(precision, scale) => {
            let scale_u = (*scale).max(0) as u32;
            let limit = 10i128.pow(*precision as u32);
            let values = map_values(values, |r| {
                let v = numeric::decode(r, scale_u)?;
                if v.abs() >= limit {
                    return Err(format!(
                        "the value does not fit DECIMAL({precision}, {scale})"
                    ));
                }
                Ok(v)
            })?;
            Arc::new(
                Decimal128Array::from(values)
                    .with_precision_and_scale(*precision, *scale)
                    .map_err(|e| e.to_string())?,
            )
        }
        DataType::Utf8 => Arc::new(StringArray::from(map_values(values, |r| read_text(r, pg))?)),
        DataType::LargeUtf8 => Arc::new(LargeStringArray::from(map_values(values, |r| {
            read_text(r, pg)
        })?)),
        DataType::Utf8View => Arc::new(StringViewArray::from(map_values(values, |r| {
            read_text(r, pg)
        })?)),
        DataType::Binary => Arc::new(BinaryArray::from(values.to_vec())),
        DataType::LargeBinary => Arc::new(LargeBinaryArray::from(values.to_vec())),
        DataType::Date32 => Arc::new(Date32Array::from(map_values(values, |r| {
            Ok(i32::from_be_bytes(fixed(r)?) + PG_EPOCH_DAYS)
        })?)),
        DataType::Time32(unit) | DataType::Time64(unit) => {
            let micros = map_values(values, |r| Ok(i64::from_be_bytes(fixed(r)?)))?;
            match (column, unit) {
                (DataType::Time32(_), TimeUnit::Second) => Arc::new(Time32SecondArray::from(
                    micros
                        .iter()
                        .map(|v| v.map(|m| (m / 1_000_000) as i32))
                        .collect::<Vec<_>>(),
                )),
                (DataType::Time32(_), _) => Arc::new(Time32MillisecondArray::from(
                    micros
                        .iter()
                        .map(|v| v.map(|m| (m / 1_000) as i32))
                        .collect::<Vec<_>>(),
                )),
                (_, TimeUnit::Nanosecond) => Arc::new(Time64NanosecondArray::from(
                    micros
                        .iter()
                        .map(|v| v.map(|m| m * 1_000))
                        .collect::<Vec<_>>(),
                )),
                _ => Arc::new(Time64MicrosecondArray::from(micros)),
            }
        }
        DataType::Timestamp(unit, zone) => {
            let values: Vec<Option<i64>> = map_values(values, |r| {
                let v = i64::from_be_bytes(fixed(r)?);
                Ok(from_micros(v.saturating_add(PG_EPOCH_MICROS), *unit))
            })?;
            match unit {
                TimeUnit::Second => {
                    Arc::new(TimestampSecondArray::from(values).with_timezone_opt(zone.clone()))
                }
                TimeUnit::Millisecond => Arc::new(
                    TimestampMillisecondArray::from(values).with_timezone_opt(zone.clone()),
                ),
                TimeUnit::Microsecond => Arc::new(
                    TimestampMicrosecondArray::from(values).with_timezone_opt(zone.clone()),
                ),
                TimeUnit::Nanosecond => {
                    Arc::new(TimestampNanosecondArray::from(values).with_timezone_opt(zone.clone()))
                }
            }
        }
        other => return Err(format!("eddy cannot read database values into {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(array: ArrayRef, ty: Type) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode(array.as_ref(), 0, &ty, &mut out).expect("encodes");
        out.to_vec()
    }

    fn back(column: DataType, ty: Type, raw: Vec<u8>) -> ArrayRef {
        decode_column(&column, &ty, &[Some(&raw), None]).expect("decodes")
    }

    #[test]
    fn values_round_trip_through_the_binary_formats() {
        let cases: Vec<(ArrayRef, Type)> = vec![
            (Arc::new(Int64Array::from(vec![-42])), Type::INT8),
            (Arc::new(Int32Array::from(vec![7])), Type::INT4),
            (Arc::new(Float64Array::from(vec![1.5])), Type::FLOAT8),
            (Arc::new(StringArray::from(vec!["héllo"])), Type::TEXT),
            (Arc::new(StringArray::from(vec!["{\"a\":1}"])), Type::JSONB),
            (Arc::new(BooleanArray::from(vec![true])), Type::BOOL),
            (Arc::new(Date32Array::from(vec![19_000])), Type::DATE),
            (
                Arc::new(TimestampMillisecondArray::from(vec![1_700_000_000_123])),
                Type::TIMESTAMP,
            ),
            (
                Arc::new(
                    Decimal128Array::from(vec![-12_345])
                        .with_precision_and_scale(10, 2)
                        .expect("valid"),
                ),
                Type::NUMERIC,
            ),
        ];
        for (array, ty) in cases {
            let raw = encoded(array.clone(), ty.clone());
            let decoded = back(array.data_type().clone(), ty.clone(), raw);
            assert_eq!(decoded.slice(0, 1).as_ref(), array.as_ref(), "{ty}");
            assert!(decoded.is_null(1));
        }
    }

    #[test]
    fn narrowing_and_mismatches_are_errors() {
        let big: ArrayRef = Arc::new(Int64Array::from(vec![1 << 40]));
        let mut out = BytesMut::new();
        assert!(encode(big.as_ref(), 0, &Type::INT4, &mut out).is_err());
        assert!(encode(big.as_ref(), 0, &Type::TEXT, &mut out).is_err());
        let raw = 70_000i32.to_be_bytes().to_vec();
        assert!(decode_column(&DataType::Int16, &Type::INT4, &[Some(&raw)]).is_err());
        assert!(writable(&DataType::Int64, &Type::INT8));
        assert!(!writable(&DataType::Int64, &Type::INT4));
        assert!(readable(&DataType::Int64, &Type::INT4));
        assert!(!readable(&DataType::Int32, &Type::INT8));
    }
}
