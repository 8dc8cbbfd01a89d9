//! Connectors registered by crates above eddy-sql (the `eddy` command
//! registers `kafka` and `upsert-kafka`), so that this crate links no client
//! library.
//!
//! A registered connector speaks in lines: as a source it yields
//! [`TextLine`]s (one per record; `path` names where it came from, e.g.
//! `topic-partition`, and `line_number` its offset), which the table's format
//! (`csv`, `json`, `debezium-json`) decodes as it decodes files; as a sink it
//! receives each row encoded by the format as a line. A table's options are
//! checked against [`TableConnector::options`], the format's options and the
//! connector's pass-through prefixes (e.g. `properties.`), as Flink checks them.
//!
//! A connector of typed rows (a database) says so with
//! [`TableConnector::batches`]: it reads and writes Arrow batches of the
//! table's columns instead, with the row kinds of an updating stream in a
//! trailing `__op` column (Flink's byte values), and may look rows up by key
//! for lookup joins ([`TableConnector::lookup`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock, RwLock};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use eddy_connectors::TextLine;
use eddy_core::Records;
use eddy_runtime::operators::SinkWriter;
use eddy_runtime::SourceReader;

use crate::SqlResult;

/// A record of a registered source: its line, and the values of the metadata
/// columns the table asked for, in the order of [`ConnectorTable::metadata`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    /// The record as a line for the format (`path` says where it came from,
    /// `line_number` its position there).
    pub line: TextLine,
    /// The requested metadata values (empty when the table asks for none).
    pub metadata: Vec<MetadataValue>,
}

/// A reader of one source subtask, yielding lines.
pub type LineReader = Box<dyn SourceReader<Out = Records<SourceLine>>>;

/// Builds the reader of each subtask of a table source.
pub type LineReaderFactory = Arc<dyn Fn(usize) -> LineReader + Send + Sync>;

/// Builds the writer of each subtask of a table sink.
pub type LineWriterFactory = Arc<dyn Fn(usize) -> Box<dyn SinkWriter<String>> + Send + Sync>;

/// Builds the reader of each subtask of a table read as Arrow batches.
pub type BatchReaderFactory =
    Arc<dyn Fn(usize) -> Box<dyn SourceReader<Out = RecordBatch>> + Send + Sync>;

/// Builds the writer of each subtask of a table written as Arrow batches.
pub type BatchWriterFactory = Arc<dyn Fn(usize) -> Box<dyn SinkWriter<RecordBatch>> + Send + Sync>;

/// Looks rows of a table up by key, for a lookup join.
pub trait RowLookup: Send {
    /// The table's rows whose key is one of the rows of `keys` (the key
    /// columns, typed as the table's), as a batch of the table's columns.
    fn lookup(&mut self, keys: &RecordBatch) -> eddy_core::Result<RecordBatch>;
}

/// Opens a [`RowLookup`] (each subtask of a lookup join opens one).
pub type LookupFactory = Arc<dyn Fn() -> eddy_core::Result<Box<dyn RowLookup>> + Send + Sync>;

/// A table as a connector sees it.
#[derive(Debug, Clone, Copy)]
pub struct ConnectorTable<'a> {
    /// The table's name.
    pub name: &'a str,
    /// Its `WITH` options.
    pub options: &'a BTreeMap<String, String>,
    /// Its `PRIMARY KEY` columns.
    pub primary_key: &'a [String],
    /// Its physical column names.
    pub columns: &'a [String],
    /// Its physical columns with their types.
    pub schema: &'a arrow::datatypes::Schema,
    /// The metadata keys its `METADATA` columns read (a source) or write (a
    /// sink), in column order (each one of [`TableConnector::metadata_keys`],
    /// or of [`TableConnector::writable_metadata_keys`] for a sink).
    pub metadata: &'a [String],
    /// The names of those `METADATA` columns, in the same order.
    pub metadata_columns: &'a [String],
}

/// The value of a `METADATA` column for one record (cast to the column's type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataValue {
    /// Text (e.g. a topic).
    Text(String),
    /// An integer (e.g. a partition or an offset).
    Integer(i64),
    /// Milliseconds since the epoch.
    Timestamp(i64),
    /// Key-value pairs (e.g. record headers), as a `MAP<STRING, BYTES>`.
    Map(Vec<(String, Option<Vec<u8>>)>),
    /// No value.
    Null,
}

/// A connector that reads and writes lines.
pub trait TableConnector: Send + Sync {
    /// The options it takes, besides `connector` and the format's.
    fn options(&self) -> &'static [&'static str];

    /// Option prefixes passed through unchecked (e.g. `properties.`).
    fn option_prefixes(&self) -> &'static [&'static str] {
        &[]
    }

    /// The option naming the table's format (`format`, or `value.format`).
    fn format_of(&self, options: &BTreeMap<String, String>) -> Option<String> {
        options.get("format").cloned()
    }

    /// Whether its source is an upsert changelog (each record the row of its
    /// key now, a deletion only the key): the planner then keeps the last row
    /// per primary key to make a full changelog, as Flink's ChangelogNormalize.
    fn upsert_source(&self) -> bool {
        false
    }

    /// The metadata keys its sources offer to `METADATA` columns.
    fn metadata_keys(&self) -> &'static [&'static str] {
        &[]
    }

    /// The metadata keys its sink writes from `METADATA` columns (e.g. a
    /// record's `timestamp` and `headers`); the sink's rows carry them as
    /// columns named as in [`ConnectorTable::metadata_columns`].
    fn writable_metadata_keys(&self) -> &'static [&'static str] {
        &[]
    }

    /// A source of the table's records as lines.
    fn source(&self, table: ConnectorTable<'_>) -> SqlResult<LineReaderFactory> {
        Err(crate::SqlError::new(format!(
            "table {} cannot be read as lines",
            table.name
        )))
    }

    /// A sink writing the table's rows, encoded as lines.
    fn sink(&self, table: ConnectorTable<'_>) -> SqlResult<LineWriterFactory> {
        Err(crate::SqlError::new(format!(
            "table {} cannot be written as lines",
            table.name
        )))
    }

    /// Whether the connector reads and writes Arrow batches of the table's
    /// columns ([`batch_source`](Self::batch_source),
    /// [`batch_sink`](Self::batch_sink)) rather than lines of a format.
    fn batches(&self) -> bool {
        false
    }

    /// A source of the table's rows as batches of `output` (the table's
    /// columns, nullable).
    fn batch_source(
        &self,
        table: ConnectorTable<'_>,
        output: &SchemaRef,
    ) -> SqlResult<BatchReaderFactory> {
        let _ = output;
        Err(crate::SqlError::new(format!(
            "table {} cannot be read as rows",
            table.name
        )))
    }

    /// A sink writing batches of `schema` (the table's columns), plus `__op`
    /// when the query updates.
    fn batch_sink(
        &self,
        table: ConnectorTable<'_>,
        schema: &SchemaRef,
    ) -> SqlResult<BatchWriterFactory> {
        let _ = schema;
        Err(crate::SqlError::new(format!(
            "table {} cannot be written as rows",
            table.name
        )))
    }

    /// Lookups of the table's rows (of `schema`) by the columns `keys`, for
    /// lookup joins; `None` when lookup joins read the whole table instead.
    fn lookup(
        &self,
        table: ConnectorTable<'_>,
        schema: &SchemaRef,
        keys: &[String],
    ) -> SqlResult<Option<LookupFactory>> {
        let _ = (table, schema, keys);
        Ok(None)
    }
}

fn connectors() -> &'static RwLock<HashMap<String, Arc<dyn TableConnector>>> {
    static REGISTRY: OnceLock<RwLock<HashMap<String, Arc<dyn TableConnector>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// Registers `connector` under the name tables give in `'connector' = '<name>'`
/// (replacing one of the same name).
pub fn register(name: &str, connector: Arc<dyn TableConnector>) {
    if let Ok(mut map) = connectors().write() {
        map.insert(name.to_string(), connector);
    }
}

/// The connector registered under `name`.
pub fn lookup(name: &str) -> Option<Arc<dyn TableConnector>> {
    connectors()
        .read()
        .ok()
        .and_then(|map| map.get(name).cloned())
}

/// The names of the registered connectors, sorted.
pub fn names() -> Vec<String> {
    let mut names: Vec<String> = connectors()
        .read()
        .map(|map| map.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// The options with `format` set to what [`TableConnector::format_of`] names,
/// for the format code shared with files.
pub fn with_format(
    connector: &dyn TableConnector,
    options: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut options = options.clone();
    if let Some(format) = connector.format_of(&options) {
        options.insert("format".into(), format);
    }
    options
}

/// The physical column names of a schema.
pub fn column_names(schema: &arrow::datatypes::Schema) -> Vec<String> {
    schema.fields().iter().map(|f| f.name().clone()).collect()
}
