//! SQL's `kafka` and `upsert-kafka` tables, registered with eddy-sql's
//! connector registry from eddy-kafka's source and sink, with Flink's option
//! names.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use eddy::connectors::TextLine;
use eddy::runtime::operators::WatermarkStrategy;
use eddy_kafka::{
    parse_specific_offsets, split_uri, ConsumedRecord, DeliveryGuarantee, KafkaError, KafkaSink,
    KafkaSource, OffsetsInitializer, ProducerRecord, SinkPartitioner,
};
use eddy_sql::connectors::registry::{
    self, ConnectorTable, LineReader, LineReaderFactory, LineWriterFactory, MetadataValue,
    SourceLine, TableConnector,
};
use eddy_sql::{SqlError, SqlResult};

use crate::kafka_formats::{is_avro, Columns, KeyFormat, ValueFormat};
use crate::table_options::{option_error, Options};

/// The options of the `kafka` connector.
const KAFKA_OPTIONS: &[&str] = &[
    "topic",
    "format",
    "value.format",
    "key.format",
    "key.fields",
    "value.fields-include",
    "scan.startup.mode",
    "scan.startup.specific-offsets",
    "scan.startup.timestamp-millis",
    "scan.bounded.mode",
    "scan.bounded.specific-offsets",
    "scan.bounded.timestamp-millis",
    "scan.topic-partition-discovery.interval",
    "sink.delivery-guarantee",
    "sink.transactional-id-prefix",
    "sink.partitioner",
    "avro-confluent.url",
    "avro-confluent.subject",
    "value.avro-confluent.url",
    "value.avro-confluent.subject",
    "key.avro-confluent.url",
    "key.avro-confluent.subject",
];

/// The options of the `upsert-kafka` connector.
const UPSERT_KAFKA_OPTIONS: &[&str] = &[
    "topic",
    "key.format",
    "value.format",
    "value.fields-include",
    "scan.bounded.mode",
    "scan.bounded.specific-offsets",
    "scan.bounded.timestamp-millis",
    "scan.topic-partition-discovery.interval",
    "sink.delivery-guarantee",
    "sink.transactional-id-prefix",
    "value.avro-confluent.url",
    "value.avro-confluent.subject",
    "key.avro-confluent.url",
    "key.avro-confluent.subject",
];

/// Registers `kafka` and `upsert-kafka`.
pub fn register() {
    registry::register("kafka", Arc::new(Kafka { upsert: false }));
    registry::register("upsert-kafka", Arc::new(Kafka { upsert: true }));
}

struct Kafka {
    upsert: bool,
}

fn error(e: KafkaError) -> SqlError {
    SqlError::new(e.to_string())
}

impl Options<'_> {
    /// The client properties: `properties.*` without the prefix.
    fn properties(&self) -> BTreeMap<String, String> {
        self.options
            .iter()
            .filter_map(|(k, v)| {
                let key = k.strip_prefix("properties.")?;
                (key != "bootstrap.servers" && key != "group.id")
                    .then(|| (key.to_string(), v.clone()))
            })
            .collect()
    }

    fn topic(&self) -> SqlResult<&str> {
        self.required("topic")
    }
}

fn starting(o: &Options<'_>, topic: &str) -> SqlResult<OffsetsInitializer> {
    Ok(match o.get("scan.startup.mode").unwrap_or("group-offsets") {
        "earliest-offset" => OffsetsInitializer::Earliest,
        "latest-offset" => OffsetsInitializer::Latest,
        "group-offsets" => OffsetsInitializer::Committed,
        "timestamp" => OffsetsInitializer::Timestamp(o.millis("scan.startup.timestamp-millis")?),
        "specific-offsets" => OffsetsInitializer::Specific(
            parse_specific_offsets(
                "scan.startup.specific-offsets",
                topic,
                o.required("scan.startup.specific-offsets")?,
            )
            .map_err(error)?,
        ),
        other => {
            return Err(option_error(
                o.table,
                "scan.startup.mode",
                format!("'{other}' is not one of earliest-offset, latest-offset, group-offsets, timestamp, specific-offsets"),
            ))
        }
    })
}

fn stopping(o: &Options<'_>, topic: &str) -> SqlResult<Option<OffsetsInitializer>> {
    Ok(Some(match o.get("scan.bounded.mode").unwrap_or("unbounded") {
        "unbounded" => return Ok(None),
        "latest-offset" => OffsetsInitializer::Latest,
        "group-offsets" => OffsetsInitializer::Committed,
        "timestamp" => OffsetsInitializer::Timestamp(o.millis("scan.bounded.timestamp-millis")?),
        "specific-offsets" => OffsetsInitializer::Specific(
            parse_specific_offsets(
                "scan.bounded.specific-offsets",
                topic,
                o.required("scan.bounded.specific-offsets")?,
            )
            .map_err(error)?,
        ),
        other => {
            return Err(option_error(
                o.table,
                "scan.bounded.mode",
                format!("'{other}' is not one of unbounded, latest-offset, group-offsets, timestamp, specific-offsets"),
            ))
        }
    }))
}

/// The value of metadata `key` of a record.
fn metadata(key: &str, r: &ConsumedRecord<'_>) -> MetadataValue {
    match key {
        "topic" => MetadataValue::Text(r.topic.to_string()),
        "partition" => MetadataValue::Integer(i64::from(r.partition)),
        "offset" => MetadataValue::Integer(r.offset),
        "timestamp" => r
            .timestamp
            .map_or(MetadataValue::Null, MetadataValue::Timestamp),
        "headers" => MetadataValue::Map(
            r.headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(<[u8]>::to_vec)))
                .collect(),
        ),
        _ => MetadataValue::Null,
    }
}

/// What a row's `METADATA` columns set on its record.
#[derive(Default)]
struct WrittenMetadata {
    timestamp: Option<i64>,
    headers: Vec<(String, Vec<u8>)>,
}

/// Takes the `METADATA` columns (`(column, key)`) out of a JSON row: the row
/// without them, and what they set (a NULL sets nothing).
fn take_metadata(
    line: &str,
    columns: &[(String, String)],
) -> Result<(String, WrittenMetadata), String> {
    let mut written = WrittenMetadata::default();
    if columns.is_empty() {
        return Ok((line.to_string(), written));
    }
    let mut row: Columns =
        serde_json::from_str(line).map_err(|e| format!("reading the row's metadata: {e}"))?;
    for (column, key) in columns {
        let value = row.remove(column).unwrap_or(serde_json::Value::Null);
        match (key.as_str(), value) {
            (_, serde_json::Value::Null) => {}
            ("timestamp", serde_json::Value::String(text)) => {
                let (millis, _) = eddy_sql::connectors::encode::parse_timestamp(&text)
                    .map_err(|e| format!("column {column}: {e}"))?;
                written.timestamp = Some(millis);
            }
            ("headers", serde_json::Value::Object(headers)) => {
                use base64::Engine;
                for (name, value) in headers {
                    let bytes = match value {
                        serde_json::Value::String(b64) => base64::engine::general_purpose::STANDARD
                            .decode(&b64)
                            .map_err(|e| format!("header {name} of column {column}: {e}"))?,
                        _ => Vec::new(),
                    };
                    written.headers.push((name, bytes));
                }
            }
            (key, value) => {
                return Err(format!("column {column} cannot set '{key}' from {value}"));
            }
        }
    }
    Ok((serde_json::Value::Object(row).to_string(), written))
}

/// Drops the key columns from a JSON line (`value.fields-include` = `EXCEPT_KEY`).
fn without_fields(line: &str, fields: &[String]) -> Result<String, String> {
    let mut value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("encoding the value: {e}"))?;
    if let Some(object) = value.as_object_mut() {
        for field in fields {
            object.remove(field);
        }
    }
    Ok(value.to_string())
}

/// `value.fields-include`: whether the value leaves out the key's columns.
fn except_key(o: &Options<'_>, table: &str) -> SqlResult<bool> {
    match o.get("value.fields-include").unwrap_or("ALL") {
        "ALL" => Ok(false),
        "EXCEPT_KEY" => Ok(true),
        other => Err(option_error(
            table,
            "value.fields-include",
            format!("'{other}' is not ALL or EXCEPT_KEY"),
        )),
    }
}

/// An upsert-kafka table's values are JSON objects, or Avro records read and
/// written as them.
fn object_values(o: &Options<'_>, table: &str) -> SqlResult<String> {
    let format = o.required("value.format")?;
    if format != "json" && !is_avro(format) {
        return Err(SqlError::unsupported(format!(
            "'value.format' = '{format}' of table {table} (eddy reads and writes upsert-kafka values as 'json', 'avro' or 'avro-confluent')"
        )));
    }
    Ok(format.to_string())
}

/// A record of an upsert topic as a Debezium JSON line: the value (with the
/// key's fields when the value leaves them out) as `after`, or for a
/// tombstone the key as `before` of a deletion.
fn upsert_line(
    r: &ConsumedRecord<'_>,
    key_fields: &[String],
    key_format: &KeyFormat,
    value_format: &ValueFormat,
    except_key: bool,
) -> Result<String, KafkaError> {
    let malformed = |message: String| KafkaError::Malformed {
        topic: r.topic.to_string(),
        partition: r.partition,
        offset: r.offset,
        message,
    };
    let parse = |bytes: &[u8], what: &str| -> Result<Columns, KafkaError> {
        let text = value_format.decode(bytes).map_err(malformed)?;
        match serde_json::from_str(&text) {
            Ok(serde_json::Value::Object(map)) => Ok(map),
            Ok(_) => Err(malformed(format!("the {what} is not a JSON object"))),
            Err(e) => Err(malformed(format!("the {what} is not JSON: {e}"))),
        }
    };
    let key = match r.key {
        Some(bytes) => key_format.decode(bytes, key_fields).map_err(malformed)?,
        None => return Err(malformed("an upsert record without a key".into())),
    };
    let image = |map: serde_json::Map<String, serde_json::Value>| serde_json::Value::Object(map);
    let line = match r.value {
        None => serde_json::json!({"before": image(key), "after": null, "op": "d"}),
        Some(bytes) => {
            let mut value = parse(bytes, "value")?;
            if except_key {
                for field in key_fields {
                    if let Some(v) = key.get(field) {
                        value.insert(field.clone(), v.clone());
                    }
                }
            }
            serde_json::json!({"before": null, "after": image(value), "op": "c"})
        }
    };
    Ok(line.to_string())
}

impl Kafka {
    /// The table's value format as it names it (`value.format` or `format`).
    fn value_format(&self, options: &BTreeMap<String, String>) -> String {
        options
            .get("value.format")
            .or_else(|| options.get("format"))
            .cloned()
            .unwrap_or_default()
    }

    fn name(&self) -> &'static str {
        if self.upsert {
            "upsert-kafka"
        } else {
            "kafka"
        }
    }

    /// The key columns: `key.fields` (kafka) or the primary key (upsert-kafka).
    fn key_fields(&self, o: &Options<'_>, table: &ConnectorTable<'_>) -> SqlResult<Vec<String>> {
        if self.upsert {
            if table.primary_key.is_empty() {
                return Err(SqlError::new(format!(
                    "table {} uses 'upsert-kafka', which needs a PRIMARY KEY",
                    table.name
                )));
            }
            return Ok(table.primary_key.to_vec());
        }
        let Some(fields) = o.get("key.fields") else {
            return Ok(Vec::new());
        };
        let fields: Vec<String> = fields.split(';').map(|f| f.trim().to_string()).collect();
        for f in &fields {
            if !table.columns.contains(f) {
                return Err(option_error(
                    table.name,
                    "key.fields",
                    format!("no column '{f}'"),
                ));
            }
        }
        Ok(fields)
    }
}

impl TableConnector for Kafka {
    fn options(&self) -> &'static [&'static str] {
        if self.upsert {
            UPSERT_KAFKA_OPTIONS
        } else {
            KAFKA_OPTIONS
        }
    }

    fn option_prefixes(&self) -> &'static [&'static str] {
        &["properties."]
    }

    fn format_of(&self, options: &BTreeMap<String, String>) -> Option<String> {
        if self.upsert {
            // Rows reach the sink as a changelog; the value is their JSON.
            return Some("debezium-json".into());
        }
        let format = self.value_format(options);
        // Avro values are read and written as JSON rows (see kafka_formats).
        Some(if is_avro(&format) {
            "json".into()
        } else {
            format
        })
    }

    fn metadata_keys(&self) -> &'static [&'static str] {
        &["topic", "partition", "offset", "timestamp", "headers"]
    }

    fn writable_metadata_keys(&self) -> &'static [&'static str] {
        if self.upsert {
            &[]
        } else {
            &["headers", "timestamp"]
        }
    }

    fn upsert_source(&self) -> bool {
        self.upsert
    }

    fn source(&self, table: ConnectorTable<'_>) -> SqlResult<LineReaderFactory> {
        let o = Options {
            table: table.name,
            options: table.options,
        };
        // upsert-kafka: each record becomes a Debezium line (the value as
        // `after`; a tombstone deletes its key, as `before`), normalized by
        // the planner.
        let topics: Vec<String> = o
            .topic()?
            .split(';')
            .map(|t| t.trim().to_string())
            .collect();
        let first = topics.first().cloned().unwrap_or_default();
        let except = except_key(&o, table.name)?;
        let upsert = if self.upsert {
            let key_fields = self.key_fields(&o, &table)?;
            let format = object_values(&o, table.name)?;
            let values = ValueFormat::of(&o, &table, &format, &key_fields, except, &first)?;
            let key_format = KeyFormat::of(&o, &table, &key_fields, &first)?;
            Some((key_fields, key_format, values, except))
        } else {
            None
        };
        let format = self.value_format(table.options);
        let values = ValueFormat::of(&o, &table, &format, &[], false, &first)?;
        let keys: Vec<String> = table.metadata.to_vec();
        let mut builder = KafkaSource::<SourceLine>::builder()
            .bootstrap_servers(o.required("properties.bootstrap.servers")?)
            .topics(topics)
            .starting_offsets(if upsert.is_some() {
                OffsetsInitializer::Earliest
            } else {
                starting(&o, &first)?
            })
            .deserializer(Arc::new(move |r: &ConsumedRecord<'_>| {
                let text = match &upsert {
                    Some((key_fields, key_format, value_format, except_key)) => {
                        upsert_line(r, key_fields, key_format, value_format, *except_key)?
                    }
                    None => values
                        .decode(r.value.unwrap_or_default())
                        .map_err(|message| KafkaError::Malformed {
                            topic: r.topic.to_string(),
                            partition: r.partition,
                            offset: r.offset,
                            message,
                        })?,
                };
                Ok(SourceLine {
                    line: TextLine {
                        path: split_uri(r.topic, r.partition).into(),
                        line_number: r.offset as u64,
                        text,
                    },
                    metadata: keys.iter().map(|k| metadata(k, r)).collect(),
                })
            }));
        match o.get("properties.group.id") {
            Some(group) => builder = builder.group_id(group),
            None if !self.upsert
                && o.get("scan.startup.mode").is_none_or(|m| m == "group-offsets") =>
            {
                return Err(SqlError::new(format!(
                    "table {} needs the option 'properties.group.id' to start from the group's offsets ('scan.startup.mode' = 'group-offsets', the default); or set 'scan.startup.mode' to 'earliest-offset' or 'latest-offset'",
                    table.name
                )))
            }
            None => {}
        }
        if let Some(stop) = stopping(&o, &first)? {
            builder = builder.bounded(stop);
        }
        let discovery = match o.get("scan.topic-partition-discovery.interval") {
            Some(text) => eddy::core::time::parse_duration(text).map_err(|e| {
                option_error(table.name, "scan.topic-partition-discovery.interval", e)
            })?,
            None => Duration::from_secs(300),
        };
        builder = builder.partition_discovery_interval(discovery);
        for (k, v) in o.properties() {
            builder = builder.property(k, v);
        }
        let source = builder.build().map_err(error)?;
        Ok(Arc::new(move |_| -> LineReader {
            Box::new(source.create_reader(WatermarkStrategy::no_watermarks()))
        }))
    }

    fn sink(&self, table: ConnectorTable<'_>) -> SqlResult<LineWriterFactory> {
        let o = Options {
            table: table.name,
            options: table.options,
        };
        let key_fields = self.key_fields(&o, &table)?;
        let topic = o.topic()?.to_string();
        let value_format = if self.upsert {
            object_values(&o, table.name)?
        } else {
            self.value_format(table.options)
        };
        let except_key = except_key(&o, table.name)?;
        let values = ValueFormat::of(&o, &table, &value_format, &key_fields, except_key, &topic)?;
        let key_format = if key_fields.is_empty() {
            KeyFormat::Json
        } else {
            if value_format != "json" && !is_avro(&value_format) {
                return Err(SqlError::unsupported(format!(
                    "keys of table {} with values in '{value_format}' (eddy writes keys beside a 'json', 'avro' or 'avro-confluent' value)",
                    table.name
                )));
            }
            KeyFormat::of(&o, &table, &key_fields, &topic)?
        };
        let guarantee = match o.get("sink.delivery-guarantee") {
            None => DeliveryGuarantee::AtLeastOnce,
            Some(text) => DeliveryGuarantee::parse(text).ok_or_else(|| {
                option_error(
                    table.name,
                    "sink.delivery-guarantee",
                    format!("'{text}' is not one of none, at-least-once, exactly-once"),
                )
            })?,
        };
        let partitioner = match o.get("sink.partitioner") {
            None => SinkPartitioner::Default,
            Some(text) => SinkPartitioner::parse(text).ok_or_else(|| {
                option_error(
                    table.name,
                    "sink.partitioner",
                    format!("'{text}' is not one of default, fixed, round-robin"),
                )
            })?,
        };
        let written: Vec<(String, String)> = table
            .metadata_columns
            .iter()
            .cloned()
            .zip(table.metadata.iter().cloned())
            .collect();
        if !written.is_empty() && value_format != "json" && !is_avro(&value_format) {
            return Err(SqlError::unsupported(format!(
                "writing METADATA columns of table {} with values in '{value_format}' (eddy writes them beside a 'json', 'avro' or 'avro-confluent' value)",
                table.name
            )));
        }
        let upsert = self.upsert;
        let name = self.name();
        let table_name = table.name.to_string();
        let serializer = Arc::new(
            move |line: &String, timestamp| -> eddy_kafka::KafkaResult<ProducerRecord> {
                let malformed = |message: String| KafkaError::Malformed {
                    topic: format!("(sink of table {table_name})"),
                    partition: -1,
                    offset: -1,
                    message,
                };
                if upsert {
                    // A Debezium JSON line: `after` is upserted, a `before` alone deletes.
                    let row: serde_json::Value =
                        serde_json::from_str(line).map_err(|e| malformed(e.to_string()))?;
                    let (image, delete) = match row.get("op").and_then(|o| o.as_str()) {
                        Some("d") => (row.get("before").cloned().unwrap_or_default(), true),
                        _ => (row.get("after").cloned().unwrap_or_default(), false),
                    };
                    let text = image.to_string();
                    let key = key_format.encode(&text, &key_fields).map_err(malformed)?;
                    let value = if delete {
                        None
                    } else if except_key {
                        let text = without_fields(&text, &key_fields).map_err(malformed)?;
                        Some(values.encode(text).map_err(malformed)?)
                    } else {
                        Some(values.encode(text).map_err(malformed)?)
                    };
                    return Ok(ProducerRecord {
                        key,
                        value,
                        timestamp,
                        ..Default::default()
                    });
                }
                let (line, written) = take_metadata(line, &written).map_err(malformed)?;
                let line = &line;
                let key = if key_fields.is_empty() {
                    None
                } else {
                    key_format.encode(line, &key_fields).map_err(malformed)?
                };
                let value = if except_key && !key_fields.is_empty() {
                    without_fields(line, &key_fields).map_err(malformed)?
                } else {
                    line.clone()
                };
                Ok(ProducerRecord {
                    key,
                    value: Some(values.encode(value).map_err(malformed)?),
                    timestamp: written.timestamp.or(timestamp),
                    headers: written.headers,
                    ..Default::default()
                })
            },
        );
        let mut builder = KafkaSink::<String>::builder()
            .bootstrap_servers(o.required("properties.bootstrap.servers")?)
            .topic(o.topic()?)
            .delivery_guarantee(guarantee)
            .partitioner(partitioner)
            .record_serializer(serializer);
        if let Some(prefix) = o.get("sink.transactional-id-prefix") {
            builder = builder.transactional_id_prefix(prefix);
        }
        for (k, v) in o.properties() {
            builder = builder.property(k, v);
        }
        let sink = builder
            .build()
            .map_err(|e| SqlError::new(format!("table {} ('{name}'): {e}", table.name)))?;
        Ok(Arc::new(
            move |_| -> Box<dyn eddy::runtime::operators::SinkWriter<String>> {
                Box::new(sink.create_writer())
            },
        ))
    }
}
