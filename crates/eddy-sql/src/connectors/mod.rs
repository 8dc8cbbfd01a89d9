//! Connectors of SQL tables, by Flink's names and options: `filesystem` (line
//! formats, and the bulk format `parquet`),
//! `datagen`, `nexmark` (sources) and `print`, `blackhole`, `filesystem` (sinks);
//! and those of client libraries, registered from above ([`registry`]: `kafka`,
//! `upsert-kafka` and `jdbc`, by the `eddy` command).

pub mod avro;
mod csv_cells;
pub mod encode;
pub mod encode_batch;
pub mod format;
pub mod lines;
pub mod parquet;
pub mod registry;
pub mod sinks;
pub mod sources;

use std::collections::BTreeMap;

use crate::ddl::ColumnSpec;
use crate::error::SqlError;

/// The options of the `filesystem` connector (the format's come on top).
pub const FILESYSTEM_OPTIONS: &[&str] = &[
    "connector",
    "path",
    "format",
    "sink.rolling-policy.file-size",
    "sink.rolling-policy.rollover-interval",
];

/// The options of the `datagen` connector; `fields.<column>.<option>` take
/// [`DATAGEN_FIELD_OPTIONS`].
pub const DATAGEN_OPTIONS: &[&str] = &["connector", "number-of-rows", "rows-per-second"];

/// The per-column options of the `datagen` connector.
pub const DATAGEN_FIELD_OPTIONS: &[&str] = &["kind", "start", "end", "min", "max", "length"];

/// The options of the `nexmark` connector (Flink's, of which eddy reads
/// `first-event.rate`, `events.num` and the proportions, and eddy's own
/// `events.kind`, `seed` and `rows-per-second`).
pub const NEXMARK_OPTIONS: &[&str] = &[
    "connector",
    "first-event.rate",
    "next-event.rate",
    "events.num",
    "person.proportion",
    "auction.proportion",
    "bid.proportion",
    "events.kind",
    "seed",
    "rows-per-second",
];

/// The options of the `print` connector.
pub const PRINT_OPTIONS: &[&str] = &["connector", "print-identifier"];

/// The options of the `blackhole` connector.
pub const BLACKHOLE_OPTIONS: &[&str] = &["connector"];

/// The options of a file format, by the format's name.
pub fn format_options(format: &str) -> Option<&'static [&'static str]> {
    match format {
        "csv" => Some(&[
            "csv.field-delimiter",
            "csv.quote-character",
            "csv.ignore-parse-errors",
            "csv.null-literal",
            "csv.allow-comments",
            "csv.array-element-delimiter",
            "csv.disable-quote-character",
            "csv.write-bigdecimal-in-scientific-notation",
        ]),
        "json" => Some(&[
            "json.ignore-parse-errors",
            "json.timestamp-format.standard",
            "json.encode.decimal-as-plain-number",
        ]),
        "raw" => Some(&[]),
        "parquet" => Some(parquet::PARQUET_OPTIONS),
        "avro" => Some(avro::files::AVRO_FILE_OPTIONS),
        "debezium-json" => Some(&[
            "debezium-json.ignore-parse-errors",
            "debezium-json.timestamp-format.standard",
            "debezium-json.encode.decimal-as-plain-number",
        ]),
        _ => None,
    }
}

/// Checks a table's options against those its connector and format know, as
/// Flink does. `None` when all are known (or the connector or format is not
/// one eddy has: using the table says so); otherwise Flink's error and the
/// first unknown option, to point at.
pub fn check_options(
    options: &BTreeMap<String, String>,
    columns: &[ColumnSpec],
) -> Option<(SqlError, String)> {
    let connector = options.get("connector")?.as_str();
    let supported: Vec<String> = match connector {
        "filesystem" => {
            let mut s: Vec<String> = FILESYSTEM_OPTIONS.iter().map(|o| o.to_string()).collect();
            match options.get("format").map(|f| format_options(f)) {
                Some(Some(format)) => s.extend(format.iter().map(|o| o.to_string())),
                // No format or an unknown one: using the table says so.
                _ => return None,
            }
            s
        }
        "datagen" => {
            let mut s: Vec<String> = DATAGEN_OPTIONS.iter().map(|o| o.to_string()).collect();
            for c in columns {
                for o in DATAGEN_FIELD_OPTIONS {
                    s.push(format!("fields.{}.{o}", c.name()));
                }
            }
            s
        }
        "nexmark" => NEXMARK_OPTIONS.iter().map(|o| o.to_string()).collect(),
        "print" => PRINT_OPTIONS.iter().map(|o| o.to_string()).collect(),
        "blackhole" => BLACKHOLE_OPTIONS.iter().map(|o| o.to_string()).collect(),
        other => {
            let registered = registry::lookup(other)?;
            let mut s: Vec<String> = std::iter::once("connector")
                .chain(registered.options().iter().copied())
                .map(str::to_string)
                .collect();
            if let Some(format) = registered.format_of(options) {
                match format_options(&format) {
                    Some(f) => s.extend(f.iter().map(|o| o.to_string())),
                    None => return None,
                }
            }
            let prefixes = registered.option_prefixes();
            let unknown: Vec<&String> = options
                .keys()
                .filter(|k| !s.contains(k) && !prefixes.iter().any(|p| k.starts_with(p)))
                .collect();
            return unsupported(connector, unknown, s);
        }
    };
    let unknown: Vec<&String> = options.keys().filter(|k| !supported.contains(k)).collect();
    unsupported(connector, unknown, supported)
}

/// Flink's error for unknown options, and the first of them.
fn unsupported(
    connector: &str,
    unknown: Vec<&String>,
    mut supported: Vec<String>,
) -> Option<(SqlError, String)> {
    let first = unknown.first()?.to_string();
    supported.sort();
    let list = |items: Vec<String>| items.join(", ");
    let error = SqlError::new(format!(
        "Unsupported options found for '{connector}'. Unsupported options: {}. Supported options: {}.",
        list(unknown.iter().map(|k| k.to_string()).collect()),
        list(supported)
    ));
    Some((error, first))
}
