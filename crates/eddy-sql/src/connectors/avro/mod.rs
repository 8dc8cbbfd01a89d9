//! The `avro` and `avro-confluent` formats (Flink's names and options), for
//! connectors that carry one record per message (Kafka).
//!
//! ```text
//!  source: message bytes ─ Avro binary, writer schema ─▶ JSON object ─▶ the json
//!          (avro: the table's schema;                     decoder, columns by name
//!           avro-confluent: 0x00, schema id, then the id's schema from the registry)
//!  sink:   row ─ json encoder ─▶ JSON object ─ the table's schema ─▶ Avro binary
//!          (avro-confluent: the schema registered under the subject, its id first)
//! ```
//!
//! The table's Avro schema is derived from its columns as Flink derives it
//! ([`Schema::of_table`]): a record `org.apache.flink.avro.generated.record`,
//! nullable columns as unions with `null` first, DECIMAL as `bytes` with the
//! `decimal` logical type, TIMESTAMP(3) as `timestamp-millis`, DATE as `date`,
//! ARRAY as `array`, MAP as `map`, ROW as a nested record. A record read with a
//! writer schema that differs from the table's (an older or newer version from
//! the registry) is matched by field names: fields the table lacks are ignored,
//! columns the writer lacks are NULL.

mod binary;
mod container;
pub mod files;
mod registry;
mod schema;

use std::sync::{Arc, OnceLock};

use arrow::datatypes::Schema as ArrowSchema;

pub use registry::Registry;
pub use schema::Schema;

/// How a message frames its Avro record.
#[derive(Debug)]
enum Framing {
    /// The record alone, written with the table's schema.
    Plain,
    /// A zero byte, the writer schema's id (4 bytes, big-endian), the record.
    Confluent {
        registry: Arc<Registry>,
        subject: String,
        /// The id of the table's schema, once registered.
        id: OnceLock<u32>,
    },
}

/// One table's `avro` or `avro-confluent` format.
#[derive(Debug)]
pub struct AvroFormat {
    schema: Schema,
    framing: Framing,
}

impl AvroFormat {
    /// The `avro` format of a table of `columns`.
    pub fn plain(columns: &ArrowSchema) -> Result<AvroFormat, String> {
        Ok(AvroFormat {
            schema: Schema::of_table(columns.fields())?,
            framing: Framing::Plain,
        })
    }

    /// The `avro-confluent` format of a table of `columns`, with the registry
    /// at `url` and the table's schema registered under `subject`.
    pub fn confluent(
        columns: &ArrowSchema,
        url: &str,
        subject: &str,
    ) -> Result<AvroFormat, String> {
        Ok(AvroFormat {
            schema: Schema::of_table(columns.fields())?,
            framing: Framing::Confluent {
                registry: Arc::new(Registry::new(url)?),
                subject: subject.to_string(),
                id: OnceLock::new(),
            },
        })
    }

    /// The table's Avro schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// A message as one JSON object (a row for the json decoder).
    pub fn decode(&self, bytes: &[u8]) -> Result<String, String> {
        match &self.framing {
            Framing::Plain => binary::to_json(&self.schema, bytes),
            Framing::Confluent { registry, .. } => {
                if bytes.len() < 5 || bytes[0] != 0 {
                    return Err(
                        "not a schema registry message (no zero byte and schema id first)".into(),
                    );
                }
                let id = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
                let writer = registry.schema(id)?;
                binary::to_json(&writer, &bytes[5..])
            }
        }
    }

    /// A row as the json encoder wrote it, as a message.
    pub fn encode(&self, json: &str) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(json.len());
        if let Framing::Confluent {
            registry,
            subject,
            id,
        } = &self.framing
        {
            let id = match id.get() {
                Some(id) => *id,
                None => {
                    let registered = registry.register(subject, &self.schema)?;
                    *id.get_or_init(|| registered)
                }
            };
            out.push(0);
            out.extend_from_slice(&id.to_be_bytes());
        }
        binary::from_json(&self.schema, json, &mut out)?;
        Ok(out)
    }
}
