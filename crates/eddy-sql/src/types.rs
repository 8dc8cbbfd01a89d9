//! Flink's SQL types: parsing their names and mapping them to Arrow.
//!
//! | SQL | Arrow |
//! |---|---|
//! | `BOOLEAN` | `Boolean` |
//! | `TINYINT`, `SMALLINT`, `INT`, `BIGINT` | `Int8` … `Int64` |
//! | `FLOAT`, `DOUBLE` | `Float32`, `Float64` |
//! | `DECIMAL(p, s)` | `Decimal128(p, s)` (default `(10, 0)`) |
//! | `CHAR(n)`, `VARCHAR(n)`, `STRING` | `Utf8` |
//! | `BINARY(n)`, `VARBINARY(n)`, `BYTES` | `Binary` |
//! | `DATE`, `TIME(p)` | `Date32`, `Time32(ms)` |
//! | `TIMESTAMP(p)` | `Timestamp(ms/µs/ns)` by precision (default 6) |
//! | `TIMESTAMP_LTZ(p)` | `Timestamp(…, "UTC")` |
//! | `INTERVAL …` | `Interval(DayTime)` or `Interval(YearMonth)` |
//! | `ARRAY<T>`, `MAP<K, V>`, `ROW<f T, …>` | `List`, `Map`, `Struct` |
//! | `MULTISET<T>` | `Map` from `T` to its count (`INT`) |

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, IntervalUnit, TimeUnit};
use datafusion_sql::sqlparser::keywords::Keyword;
use datafusion_sql::sqlparser::parser::{Parser, ParserError};
use datafusion_sql::sqlparser::tokenizer::Token;

/// The time zone of `TIMESTAMP_LTZ` values.
pub const LTZ: &str = "UTC";

fn unit_for(precision: u64) -> TimeUnit {
    match precision {
        0..=3 => TimeUnit::Millisecond,
        4..=6 => TimeUnit::Microsecond,
        _ => TimeUnit::Nanosecond,
    }
}

fn optional_precision(p: &mut Parser<'_>) -> Result<Option<u64>, ParserError> {
    if p.consume_token(&Token::LParen) {
        let n = p.parse_literal_uint()?;
        p.expect_token(&Token::RParen)?;
        Ok(Some(n))
    } else {
        Ok(None)
    }
}

fn word(p: &Parser<'_>) -> Option<String> {
    match p.peek_token().token {
        Token::Word(w) => Some(w.value.to_ascii_uppercase()),
        _ => None,
    }
}

fn expect_word(p: &mut Parser<'_>, expected: &str) -> Result<(), ParserError> {
    let t = p.next_token();
    match &t.token {
        Token::Word(w) if w.value.eq_ignore_ascii_case(expected) => Ok(()),
        other => Err(ParserError::ParserError(format!(
            "Expected: {expected}, found: {other} at Line: {}, Column: {}",
            t.span.start.line, t.span.start.column
        ))),
    }
}

/// Parses a type and its `NOT NULL` / `NULL` suffix; returns the Arrow type and
/// whether it is nullable.
pub fn parse_type(p: &mut Parser<'_>) -> Result<(DataType, bool), ParserError> {
    let data_type = parse_type_name(p)?;
    let nullable = if p.parse_keywords(&[Keyword::NOT, Keyword::NULL]) {
        false
    } else {
        let _ = p.parse_keyword(Keyword::NULL);
        true
    };
    Ok((data_type, nullable))
}

fn parse_type_name(p: &mut Parser<'_>) -> Result<DataType, ParserError> {
    let t = p.next_token();
    let name = match &t.token {
        Token::Word(w) => w.value.to_ascii_uppercase(),
        other => {
            return Err(ParserError::ParserError(format!(
                "Expected: a data type, found: {other} at Line: {}, Column: {}",
                t.span.start.line, t.span.start.column
            )))
        }
    };
    let at = |msg: String| {
        ParserError::ParserError(format!(
            "{msg} at Line: {}, Column: {}",
            t.span.start.line, t.span.start.column
        ))
    };
    Ok(match name.as_str() {
        "BOOLEAN" | "BOOL" => DataType::Boolean,
        "TINYINT" => DataType::Int8,
        "SMALLINT" => DataType::Int16,
        "INT" | "INTEGER" => DataType::Int32,
        "BIGINT" => DataType::Int64,
        "FLOAT" | "REAL" => DataType::Float32,
        "DOUBLE" => {
            let _ = p.parse_keyword(Keyword::PRECISION);
            DataType::Float64
        }
        "DECIMAL" | "DEC" | "NUMERIC" => {
            let (precision, scale) = if p.consume_token(&Token::LParen) {
                let precision = p.parse_literal_uint()?;
                let scale = if p.consume_token(&Token::Comma) {
                    p.parse_literal_uint()?
                } else {
                    0
                };
                p.expect_token(&Token::RParen)?;
                (precision, scale)
            } else {
                (10, 0)
            };
            if !(1..=38).contains(&precision) || scale > precision {
                return Err(at(format!(
                    "DECIMAL({precision}, {scale}) is out of range: precision 1..38, scale 0..precision"
                )));
            }
            DataType::Decimal128(precision as u8, scale as i8)
        }
        "CHAR" | "VARCHAR" | "STRING" | "TEXT" => {
            optional_precision(p)?;
            DataType::Utf8
        }
        "BINARY" | "VARBINARY" | "BYTES" => {
            optional_precision(p)?;
            DataType::Binary
        }
        "DATE" => DataType::Date32,
        "TIME" => {
            optional_precision(p)?;
            if p.parse_keyword(Keyword::WITHOUT) {
                expect_word(p, "TIME")?;
                expect_word(p, "ZONE")?;
            }
            DataType::Time32(TimeUnit::Millisecond)
        }
        "TIMESTAMP" => {
            let precision = optional_precision(p)?.unwrap_or(6);
            if p.parse_keyword(Keyword::WITH) {
                expect_word(p, "LOCAL")?;
                expect_word(p, "TIME")?;
                expect_word(p, "ZONE")?;
                DataType::Timestamp(unit_for(precision), Some(LTZ.into()))
            } else {
                if p.parse_keyword(Keyword::WITHOUT) {
                    expect_word(p, "TIME")?;
                    expect_word(p, "ZONE")?;
                }
                DataType::Timestamp(unit_for(precision), None)
            }
        }
        "TIMESTAMP_LTZ" => {
            let precision = optional_precision(p)?.unwrap_or(6);
            DataType::Timestamp(unit_for(precision), Some(LTZ.into()))
        }
        "INTERVAL" => {
            let first = word(p).unwrap_or_default();
            p.next_token();
            optional_precision(p)?;
            if p.parse_keyword(Keyword::TO) {
                p.next_token();
                optional_precision(p)?;
            }
            if first == "YEAR" || first == "MONTH" {
                DataType::Interval(IntervalUnit::YearMonth)
            } else {
                DataType::Interval(IntervalUnit::DayTime)
            }
        }
        "ARRAY" => {
            p.expect_token(&Token::Lt)?;
            let (inner, nullable) = parse_type(p)?;
            p.expect_token(&Token::Gt)?;
            DataType::List(Arc::new(Field::new("item", inner, nullable)))
        }
        "MAP" => {
            p.expect_token(&Token::Lt)?;
            let (key, _) = parse_type(p)?;
            p.expect_token(&Token::Comma)?;
            let (value, nullable) = parse_type(p)?;
            p.expect_token(&Token::Gt)?;
            let entries = Field::new(
                "entries",
                DataType::Struct(Fields::from(vec![
                    Field::new("key", key, false),
                    Field::new("value", value, nullable),
                ])),
                false,
            );
            DataType::Map(Arc::new(entries), false)
        }
        "ROW" => {
            let close = if p.consume_token(&Token::Lt) {
                Token::Gt
            } else {
                p.expect_token(&Token::LParen)?;
                Token::RParen
            };
            let mut fields = Vec::new();
            loop {
                let name = p.parse_identifier()?.value;
                let (data_type, nullable) = parse_type(p)?;
                if let Token::SingleQuotedString(_) = p.peek_token().token {
                    p.next_token(); // a field description
                }
                fields.push(Field::new(name, data_type, nullable));
                if !p.consume_token(&Token::Comma) {
                    break;
                }
            }
            p.expect_token(&close)?;
            DataType::Struct(Fields::from(fields))
        }
        "MULTISET" => {
            p.expect_token(&Token::Lt)?;
            let (element, _) = parse_type(p)?;
            p.expect_token(&Token::Gt)?;
            multiset(&element)
        }
        "RAW" => return Err(at(format!("the type {name} is not supported"))),
        other => return Err(at(format!("unknown data type {other}"))),
    })
}

/// A multiset of `element`s, as a map from each element to its count (INT),
/// which is how Flink stores its `MULTISET<T>` (the result of `COLLECT`).
pub fn multiset(element: &DataType) -> DataType {
    let entries = Field::new(
        "entries",
        DataType::Struct(Fields::from(vec![
            Field::new("key", element.clone(), false),
            Field::new("value", DataType::Int32, false),
        ])),
        false,
    );
    DataType::Map(Arc::new(entries), false)
}

/// The Flink name of an Arrow type, for `DESCRIBE` and error messages.
pub fn sql_name(data_type: &DataType) -> String {
    let precision = |unit: &TimeUnit| match unit {
        TimeUnit::Second => 0,
        TimeUnit::Millisecond => 3,
        TimeUnit::Microsecond => 6,
        TimeUnit::Nanosecond => 9,
    };
    match data_type {
        DataType::Null => "NULL".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            format!("BIGINT /* {data_type} */")
        }
        DataType::Float16 | DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("DECIMAL({p}, {s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "STRING".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "BYTES".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Time32(_) | DataType::Time64(_) => "TIME(0)".into(),
        DataType::Timestamp(unit, None) => format!("TIMESTAMP({})", precision(unit)),
        DataType::Timestamp(unit, Some(_)) => format!("TIMESTAMP_LTZ({})", precision(unit)),
        DataType::Interval(IntervalUnit::YearMonth) => "INTERVAL YEAR TO MONTH".into(),
        DataType::Interval(_) | DataType::Duration(_) => "INTERVAL DAY TO SECOND(3)".into(),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            format!("ARRAY<{}>", sql_name(f.data_type()))
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "MAP<{}, {}>",
                sql_name(kv[0].data_type()),
                sql_name(kv[1].data_type())
            ),
            _ => "MAP".into(),
        },
        DataType::Struct(fields) => {
            let inner: Vec<String> = fields
                .iter()
                .map(|f| format!("`{}` {}", f.name(), sql_name(f.data_type())))
                .collect();
            format!("ROW<{}>", inner.join(", "))
        }
        other => format!("{other}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use datafusion_sql::sqlparser::dialect::GenericDialect;

    fn parse(sql: &str) -> Result<(DataType, bool), ParserError> {
        let dialect = GenericDialect {};
        let mut p = Parser::new(&dialect).try_with_sql(sql)?;
        parse_type(&mut p)
    }

    #[test]
    fn names_round_trip() {
        for (sql, name) in [
            ("BIGINT NOT NULL", "BIGINT"),
            ("DECIMAL(23, 3)", "DECIMAL(23, 3)"),
            ("TIMESTAMP(3)", "TIMESTAMP(3)"),
            ("TIMESTAMP", "TIMESTAMP(6)"),
            ("TIMESTAMP_LTZ(3)", "TIMESTAMP_LTZ(3)"),
            ("TIMESTAMP(3) WITH LOCAL TIME ZONE", "TIMESTAMP_LTZ(3)"),
            ("VARCHAR(10)", "STRING"),
            ("ARRAY<INT>", "ARRAY<INT>"),
            ("MAP<STRING, BIGINT>", "MAP<STRING, BIGINT>"),
            ("ROW<a INT, `b` STRING>", "ROW<`a` INT, `b` STRING>"),
        ] {
            assert_eq!(sql_name(&parse(sql).unwrap().0), name, "{sql}");
        }
        assert!(!parse("INT NOT NULL").unwrap().1);
    }

    #[test]
    fn a_multiset_is_a_map_to_counts() {
        let (t, _) = parse("MULTISET<STRING>").unwrap();
        assert_eq!(t, multiset(&DataType::Utf8));
        assert_eq!(sql_name(&t), "MAP<STRING, INT>");
    }

    #[test]
    fn bad_types_are_named() {
        let e = parse("BIGNUM").unwrap_err().to_string();
        assert!(e.contains("unknown data type BIGNUM"), "{e}");
        let e = parse("DECIMAL(40, 2)").unwrap_err().to_string();
        assert!(e.contains("out of range"), "{e}");
    }
}
