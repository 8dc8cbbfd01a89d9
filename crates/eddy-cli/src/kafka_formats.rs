//! The formats of a Kafka table's keys and values, with Flink's names and
//! options. eddy-sql decodes and encodes rows as lines of text (JSON, CSV,
//! Debezium JSON); binary formats are transcoded here, per record:
//!
//! - values: `json`, `csv`, `raw`, `debezium-json` pass as they are; `avro` and
//!   `avro-confluent` are turned into and from the JSON rows eddy-sql reads and
//!   writes ([`eddy_sql::connectors::avro`]);
//! - keys (`key.fields`): `json` (an object of the key columns), `raw` (the one
//!   key column's text), `csv` (the key columns as one CSV line), `avro` and
//!   `avro-confluent` (a record of the key columns).

use std::sync::Arc;

use arrow_schema::{DataType, Schema};
use eddy_sql::connectors::avro::AvroFormat;
use eddy_sql::connectors::encode::{csv_field, CsvEncoding};
use eddy_sql::connectors::lines::split_csv;
use eddy_sql::connectors::registry::ConnectorTable;
use eddy_sql::{SqlError, SqlResult};
use serde_json::{Map, Value};

use crate::table_options::{option_error, Options};

/// A JSON object of columns.
pub(crate) type Columns = Map<String, Value>;

/// Whether `format` is one of the Avro formats.
pub(crate) fn is_avro(format: &str) -> bool {
    matches!(format, "avro" | "avro-confluent")
}

/// The `avro` or `avro-confluent` format of the columns `schema`; `part` is
/// `key` or `value` (its options and the default subject `<topic>-<part>`).
fn avro(
    o: &Options<'_>,
    format: &str,
    schema: &Schema,
    part: &str,
    topic: &str,
) -> SqlResult<Arc<AvroFormat>> {
    let made = if format == "avro" {
        AvroFormat::plain(schema)
    } else {
        let option = |name: &str| {
            o.get(&format!("{part}.avro-confluent.{name}")).or_else(|| {
                (part == "value")
                    .then(|| o.get(&format!("avro-confluent.{name}")))
                    .flatten()
            })
        };
        let url = option("url").ok_or_else(|| {
            SqlError::new(format!(
                "table {} needs the option '{part}.avro-confluent.url' (the schema registry) for '{part}.format' = 'avro-confluent'",
                o.table
            ))
        })?;
        let subject = option("subject")
            .map(str::to_string)
            .unwrap_or_else(|| format!("{topic}-{part}"));
        AvroFormat::confluent(schema, url, &subject)
    };
    made.map(Arc::new)
        .map_err(|e| option_error(o.table, &format!("{part}.format"), e))
}

/// The columns of `table` named in `fields`, or all but them (`except`).
fn columns_of(table: &ConnectorTable<'_>, fields: &[String], except: bool) -> Schema {
    let kept: Vec<_> = table
        .schema
        .fields()
        .iter()
        .filter(|f| fields.contains(f.name()) != except)
        .cloned()
        .collect();
    Schema::new(kept)
}

/// How a record's value is read and written.
#[derive(Clone, Debug)]
pub(crate) enum ValueFormat {
    /// Text lines of the table's format, as they are.
    Text,
    /// Avro, as the JSON rows eddy-sql reads and writes.
    Avro(Arc<AvroFormat>),
}

impl ValueFormat {
    /// The value format named `format` of `table` (whose value leaves out the
    /// key's `fields` when `except_key`).
    pub(crate) fn of(
        o: &Options<'_>,
        table: &ConnectorTable<'_>,
        format: &str,
        fields: &[String],
        except_key: bool,
        topic: &str,
    ) -> SqlResult<ValueFormat> {
        if !is_avro(format) {
            return Ok(ValueFormat::Text);
        }
        // The value holds neither the metadata columns nor, with EXCEPT_KEY,
        // the key's.
        let mut excluded = table.metadata_columns.to_vec();
        if except_key {
            excluded.extend(fields.iter().cloned());
        }
        let schema = columns_of(table, &excluded, true);
        Ok(ValueFormat::Avro(avro(o, format, &schema, "value", topic)?))
    }

    /// A value as a line of text for the table's decoder.
    pub(crate) fn decode(&self, bytes: &[u8]) -> Result<String, String> {
        match self {
            ValueFormat::Text => String::from_utf8(bytes.to_vec())
                .map_err(|e| format!("the value is not UTF-8: {e}")),
            ValueFormat::Avro(avro) => avro.decode(bytes).map_err(|e| format!("the value: {e}")),
        }
    }

    /// A line of the table's encoder as a value.
    pub(crate) fn encode(&self, line: String) -> Result<Vec<u8>, String> {
        match self {
            ValueFormat::Text => Ok(line.into_bytes()),
            ValueFormat::Avro(avro) => avro.encode(&line).map_err(|e| format!("the value: {e}")),
        }
    }
}

/// How a record's key is read and written.
#[derive(Clone, Debug)]
pub(crate) enum KeyFormat {
    /// A JSON object of the key columns.
    Json,
    /// The one key column's text.
    Raw,
    /// The key columns as one CSV line; for each, whether its text is a JSON
    /// number or boolean (else a string).
    Csv(Vec<bool>),
    /// A record of the key columns.
    Avro(Arc<AvroFormat>),
}

impl KeyFormat {
    /// `key.format`, checked against the key's columns `fields`.
    pub(crate) fn of(
        o: &Options<'_>,
        table: &ConnectorTable<'_>,
        fields: &[String],
        topic: &str,
    ) -> SqlResult<KeyFormat> {
        match o.required("key.format")? {
            "json" => Ok(KeyFormat::Json),
            "raw" if fields.len() == 1 => Ok(KeyFormat::Raw),
            "raw" => Err(option_error(
                table.name,
                "key.format",
                format!(
                    "'raw' keys hold one column, and the key has {} ({})",
                    fields.len(),
                    fields.join(", ")
                ),
            )),
            "csv" => Ok(KeyFormat::Csv(
                fields
                    .iter()
                    .map(|f| {
                        table.schema.field_with_name(f).is_ok_and(|f| {
                            f.data_type().is_numeric() || *f.data_type() == DataType::Boolean
                        })
                    })
                    .collect(),
            )),
            format if is_avro(format) => {
                // A key record holds the key columns in the key's order.
                let schema = Schema::new(
                    fields
                        .iter()
                        .filter_map(|f| table.schema.field_with_name(f).ok().cloned())
                        .collect::<Vec<_>>(),
                );
                Ok(KeyFormat::Avro(avro(o, format, &schema, "key", topic)?))
            }
            other => Err(SqlError::unsupported(format!(
                "'key.format' = '{other}' of table {} (eddy reads and writes keys as 'json', 'raw', 'csv', 'avro' or 'avro-confluent')",
                table.name
            ))),
        }
    }

    /// The key of a JSON row; `None` for a raw key whose column is NULL.
    pub(crate) fn encode(&self, line: &str, fields: &[String]) -> Result<Option<Vec<u8>>, String> {
        let value: Value =
            serde_json::from_str(line).map_err(|e| format!("encoding the key: {e}"))?;
        let field = |name: &String| value.get(name).cloned().unwrap_or(Value::Null);
        match self {
            KeyFormat::Raw => Ok(match field(&fields[0]) {
                Value::Null => None,
                Value::String(text) => Some(text.into_bytes()),
                other => Some(other.to_string().into_bytes()),
            }),
            KeyFormat::Csv(_) => {
                let encoding = CsvEncoding::default();
                let cells: Vec<String> = fields
                    .iter()
                    .map(|name| match field(name) {
                        Value::Null => encoding.null_literal.clone(),
                        Value::String(text) => csv_field(&text, &encoding),
                        other => csv_field(&other.to_string(), &encoding),
                    })
                    .collect();
                Ok(Some(
                    cells.join(&encoding.delimiter.to_string()).into_bytes(),
                ))
            }
            KeyFormat::Json | KeyFormat::Avro(_) => {
                let key: Columns = fields.iter().map(|f| (f.clone(), field(f))).collect();
                let json = Value::Object(key).to_string();
                match self {
                    KeyFormat::Avro(avro) => avro
                        .encode(&json)
                        .map(Some)
                        .map_err(|e| format!("encoding the key: {e}")),
                    _ => Ok(Some(json.into_bytes())),
                }
            }
        }
    }

    /// A record's key as the JSON object of its columns.
    pub(crate) fn decode(&self, bytes: &[u8], fields: &[String]) -> Result<Columns, String> {
        let text = match self {
            KeyFormat::Avro(avro) => avro.decode(bytes).map_err(|e| format!("the key: {e}"))?,
            _ => String::from_utf8(bytes.to_vec())
                .map_err(|e| format!("the key is not UTF-8: {e}"))?,
        };
        match self {
            KeyFormat::Raw => Ok(Columns::from_iter([(
                fields[0].clone(),
                Value::String(text),
            )])),
            KeyFormat::Csv(bare) => {
                let encoding = CsvEncoding::default();
                let quote = encoding.quote.unwrap_or('"');
                let cells = split_csv(&text, encoding.delimiter, quote)
                    .map_err(|e| format!("the key is not CSV: {e}"))?;
                if cells.len() != fields.len() {
                    return Err(format!(
                        "the key has {} CSV fields, not {} ({})",
                        cells.len(),
                        fields.len(),
                        fields.join(", ")
                    ));
                }
                let mut key = Columns::new();
                for ((field, (cell, quoted)), bare) in fields.iter().zip(cells).zip(bare) {
                    let value = if cell.is_empty() && !quoted {
                        Value::Null
                    } else if *bare {
                        serde_json::from_str(&cell).map_err(|_| {
                            format!("the key's field {field} '{cell}' is not of its type")
                        })?
                    } else {
                        Value::String(cell)
                    };
                    key.insert(field.clone(), value);
                }
                Ok(key)
            }
            KeyFormat::Json | KeyFormat::Avro(_) => match serde_json::from_str(&text) {
                Ok(Value::Object(map)) => Ok(map),
                Ok(_) => Err("the key is not a JSON object".into()),
                Err(e) => Err(format!("the key is not JSON: {e}")),
            },
        }
    }
}
