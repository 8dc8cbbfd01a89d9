//! Avro schemas: derived from a table's columns by Flink's rules
//! (`AvroSchemaConverter`), written as JSON for a schema registry, and parsed
//! from JSON (the writer schemas a registry hands back).

use std::collections::HashMap;

use arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use serde_json::{json, Value};

/// An Avro schema, with named types resolved.
#[derive(Clone, Debug, PartialEq)]
pub enum Schema {
    /// `null`.
    Null,
    /// `boolean`.
    Boolean,
    /// `int`, and what it carries.
    Int(IntKind),
    /// `long`, and what it carries.
    Long(LongKind),
    /// `float`.
    Float,
    /// `double`.
    Double,
    /// `bytes`, or a `decimal` (precision, scale) in bytes.
    Bytes(Option<(u32, u32)>),
    /// `string`.
    String,
    /// A `fixed` of this size, or a `decimal` (precision, scale) in it.
    Fixed(usize, Option<(u32, u32)>),
    /// An `enum` and its symbols.
    Enum(Vec<String>),
    /// An `array` of items.
    Array(Box<Schema>),
    /// A `map` (string keys) of values.
    Map(Box<Schema>),
    /// A `record`: its full name and fields.
    Record(String, Vec<(String, Schema)>),
    /// A `union` of branches.
    Union(Vec<Schema>),
}

/// What an `int` holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntKind {
    /// A number.
    Plain,
    /// Days since 1970-01-01 (`date`).
    Date,
    /// Milliseconds since midnight (`time-millis`).
    TimeMillis,
}

/// What a `long` holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LongKind {
    /// A number.
    Plain,
    /// Microseconds since midnight (`time-micros`).
    TimeMicros,
    /// Milliseconds since the epoch (`timestamp-millis`, `local-timestamp-millis`).
    TimestampMillis,
    /// Microseconds since the epoch (`timestamp-micros`, `local-timestamp-micros`).
    TimestampMicros,
}

/// The namespace Flink gives the records it derives.
const NAMESPACE: &str = "org.apache.flink.avro.generated";

impl Schema {
    /// The schema of a table's rows: a record named `record` of its columns,
    /// each nullable column a union with `null` first, as Flink derives it.
    pub fn of_table(fields: &Fields) -> Result<Schema, String> {
        record_of(fields, &format!("{NAMESPACE}.record"))
    }

    /// The schema without a `null` branch (the type of a nullable column).
    pub fn non_null(&self) -> &Schema {
        match self {
            Schema::Union(branches) if branches.len() == 2 && branches[0] == Schema::Null => {
                &branches[1]
            }
            other => other,
        }
    }

    /// The schema as Avro's JSON.
    pub fn to_json(&self) -> Value {
        let logical = |base: &str, logical: &str| json!({"type": base, "logicalType": logical});
        match self {
            Schema::Null => json!("null"),
            Schema::Boolean => json!("boolean"),
            Schema::Int(IntKind::Plain) => json!("int"),
            Schema::Int(IntKind::Date) => logical("int", "date"),
            Schema::Int(IntKind::TimeMillis) => logical("int", "time-millis"),
            Schema::Long(LongKind::Plain) => json!("long"),
            Schema::Long(LongKind::TimeMicros) => logical("long", "time-micros"),
            Schema::Long(LongKind::TimestampMillis) => logical("long", "timestamp-millis"),
            Schema::Long(LongKind::TimestampMicros) => logical("long", "timestamp-micros"),
            Schema::Float => json!("float"),
            Schema::Double => json!("double"),
            Schema::Bytes(None) => json!("bytes"),
            Schema::Bytes(Some((p, s))) => {
                json!({"type": "bytes", "logicalType": "decimal", "precision": p, "scale": s})
            }
            Schema::String => json!("string"),
            Schema::Fixed(size, decimal) => {
                let mut v = json!({"type": "fixed", "name": format!("fixed{size}"), "size": size});
                if let Some((p, s)) = decimal {
                    v["logicalType"] = json!("decimal");
                    v["precision"] = json!(p);
                    v["scale"] = json!(s);
                }
                v
            }
            Schema::Enum(symbols) => json!({"type": "enum", "name": "enum", "symbols": symbols}),
            Schema::Array(items) => json!({"type": "array", "items": items.to_json()}),
            Schema::Map(values) => json!({"type": "map", "values": values.to_json()}),
            Schema::Record(name, fields) => {
                let (namespace, short) = name.rsplit_once('.').unwrap_or(("", name));
                let fields: Vec<Value> = fields
                    .iter()
                    .map(|(name, schema)| {
                        let mut field = json!({"name": name, "type": schema.to_json()});
                        if matches!(schema, Schema::Union(b) if b.first() == Some(&Schema::Null)) {
                            field["default"] = Value::Null;
                        }
                        field
                    })
                    .collect();
                let mut v = json!({"type": "record", "name": short, "fields": fields});
                if !namespace.is_empty() {
                    v["namespace"] = json!(namespace);
                }
                v
            }
            Schema::Union(branches) => Value::Array(branches.iter().map(Schema::to_json).collect()),
        }
    }

    /// Parses Avro's JSON form of a schema.
    pub fn parse(text: &str) -> Result<Schema, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("the Avro schema is not JSON: {e}"))?;
        Parser::default().parse(&value, "")
    }
}

fn record_of(fields: &Fields, name: &str) -> Result<Schema, String> {
    let mut out = Vec::with_capacity(fields.len());
    for field in fields {
        out.push((field.name().clone(), of_field(field, name)?));
    }
    Ok(Schema::Record(name.to_string(), out))
}

fn of_field(field: &Field, record: &str) -> Result<Schema, String> {
    let schema = of_type(field.data_type(), &format!("{record}_{}", field.name()))?;
    Ok(if field.is_nullable() {
        Schema::Union(vec![Schema::Null, schema])
    } else {
        schema
    })
}

fn of_type(data_type: &DataType, name: &str) -> Result<Schema, String> {
    Ok(match data_type {
        DataType::Boolean => Schema::Boolean,
        DataType::Int8 | DataType::Int16 | DataType::Int32 => Schema::Int(IntKind::Plain),
        DataType::Int64 => Schema::Long(LongKind::Plain),
        DataType::Float32 => Schema::Float,
        DataType::Float64 => Schema::Double,
        DataType::Decimal128(p, s) => Schema::Bytes(Some((u32::from(*p), (*s).max(0) as u32))),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Schema::String,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Schema::Bytes(None),
        DataType::Date32 => Schema::Int(IntKind::Date),
        DataType::Time32(_) => Schema::Int(IntKind::TimeMillis),
        DataType::Timestamp(TimeUnit::Second | TimeUnit::Millisecond, _) => {
            Schema::Long(LongKind::TimestampMillis)
        }
        DataType::Timestamp(_, _) => Schema::Long(LongKind::TimestampMicros),
        DataType::List(item) | DataType::LargeList(item) => {
            Schema::Array(Box::new(of_field(item, name)?))
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => {
                if !matches!(kv[0].data_type(), DataType::Utf8 | DataType::LargeUtf8) {
                    return Err(format!(
                        "Avro maps have string keys, not {}",
                        kv[0].data_type()
                    ));
                }
                Schema::Map(Box::new(of_field(&kv[1], name)?))
            }
            other => return Err(format!("unexpected map entries {other}")),
        },
        DataType::Struct(fields) => record_of(fields, name)?,
        other => return Err(format!("the avro format has no type for {other}")),
    })
}

/// Parses schemas, remembering named types for later references.
#[derive(Default)]
struct Parser {
    named: HashMap<String, Schema>,
}

impl Parser {
    fn parse(&mut self, value: &Value, namespace: &str) -> Result<Schema, String> {
        match value {
            Value::String(name) => self.primitive_or_named(name, namespace),
            Value::Array(branches) => Ok(Schema::Union(
                branches
                    .iter()
                    .map(|b| self.parse(b, namespace))
                    .collect::<Result<_, _>>()?,
            )),
            Value::Object(object) => {
                let kind = object
                    .get("type")
                    .ok_or("an Avro schema object without \"type\"")?;
                let logical = object.get("logicalType").and_then(Value::as_str);
                let decimal = || -> Option<(u32, u32)> {
                    (logical == Some("decimal")).then(|| {
                        let number =
                            |k: &str| object.get(k).and_then(Value::as_u64).unwrap_or(0) as u32;
                        (number("precision"), number("scale"))
                    })
                };
                let Value::String(kind) = kind else {
                    return self.parse(kind, namespace);
                };
                let full_name = || -> String {
                    let name = object.get("name").and_then(Value::as_str).unwrap_or("");
                    let space = object
                        .get("namespace")
                        .and_then(Value::as_str)
                        .unwrap_or(namespace);
                    if name.contains('.') || space.is_empty() {
                        name.to_string()
                    } else {
                        format!("{space}.{name}")
                    }
                };
                let schema = match kind.as_str() {
                    "record" | "error" => {
                        let name = full_name();
                        let space = name.rsplit_once('.').map_or("", |(s, _)| s).to_string();
                        let fields = object
                            .get("fields")
                            .and_then(Value::as_array)
                            .ok_or("an Avro record without \"fields\"")?;
                        // A record may refer to itself; register a stub first.
                        self.named
                            .insert(name.clone(), Schema::Record(name.clone(), Vec::new()));
                        let mut out = Vec::with_capacity(fields.len());
                        for field in fields {
                            let field_name = field
                                .get("name")
                                .and_then(Value::as_str)
                                .ok_or("an Avro field without \"name\"")?;
                            let field_type =
                                field.get("type").ok_or("an Avro field without \"type\"")?;
                            out.push((field_name.to_string(), self.parse(field_type, &space)?));
                        }
                        Schema::Record(name, out)
                    }
                    "enum" => Schema::Enum(
                        object
                            .get("symbols")
                            .and_then(Value::as_array)
                            .ok_or("an Avro enum without \"symbols\"")?
                            .iter()
                            .map(|s| s.as_str().unwrap_or_default().to_string())
                            .collect(),
                    ),
                    "fixed" => Schema::Fixed(
                        object
                            .get("size")
                            .and_then(Value::as_u64)
                            .ok_or("an Avro fixed without \"size\"")?
                            as usize,
                        decimal(),
                    ),
                    "array" => Schema::Array(Box::new(
                        self.parse(
                            object
                                .get("items")
                                .ok_or("an Avro array without \"items\"")?,
                            namespace,
                        )?,
                    )),
                    "map" => Schema::Map(Box::new(
                        self.parse(
                            object
                                .get("values")
                                .ok_or("an Avro map without \"values\"")?,
                            namespace,
                        )?,
                    )),
                    "int" => Schema::Int(match logical {
                        Some("date") => IntKind::Date,
                        Some("time-millis") => IntKind::TimeMillis,
                        _ => IntKind::Plain,
                    }),
                    "long" => Schema::Long(match logical {
                        Some("time-micros") => LongKind::TimeMicros,
                        Some("timestamp-millis" | "local-timestamp-millis") => {
                            LongKind::TimestampMillis
                        }
                        Some("timestamp-micros" | "local-timestamp-micros") => {
                            LongKind::TimestampMicros
                        }
                        _ => LongKind::Plain,
                    }),
                    "bytes" => Schema::Bytes(decimal()),
                    other => self.primitive_or_named(other, namespace)?,
                };
                if matches!(kind.as_str(), "record" | "error" | "enum" | "fixed") {
                    self.named.insert(full_name(), schema.clone());
                }
                Ok(schema)
            }
            other => Err(format!("{other} is not an Avro schema")),
        }
    }

    fn primitive_or_named(&self, name: &str, namespace: &str) -> Result<Schema, String> {
        Ok(match name {
            "null" => Schema::Null,
            "boolean" => Schema::Boolean,
            "int" => Schema::Int(IntKind::Plain),
            "long" => Schema::Long(LongKind::Plain),
            "float" => Schema::Float,
            "double" => Schema::Double,
            "bytes" => Schema::Bytes(None),
            "string" => Schema::String,
            name => self
                .named
                .get(name)
                .or_else(|| self.named.get(&format!("{namespace}.{name}")))
                .cloned()
                .ok_or_else(|| format!("unknown Avro type '{name}'"))?,
        })
    }
}
