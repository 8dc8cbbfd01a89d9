//! SQL's `jdbc` tables (PostgreSQL), registered with eddy-sql's connector
//! registry from eddy-jdbc's sink, lookup and scan, with Flink's option names:
//! `url`, `table-name`, `username`, `password`, `sink.buffer-flush.*`,
//! `sink.max-retries`, `lookup.cache` and `lookup.partial-cache.*`,
//! `lookup.max-retries`, `scan.partition.*` and `scan.fetch-size`.

use std::sync::Arc;
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use eddy_jdbc::{
    ConnectionOptions, JdbcLookup, JdbcLookupOptions, JdbcScanOptions, JdbcScanReader,
    JdbcSinkOptions, JdbcSinkWriter, ScanPartitioning,
};
use eddy_sql::connectors::registry::{
    self, BatchReaderFactory, BatchWriterFactory, ConnectorTable, LookupFactory, RowLookup,
    TableConnector,
};
use eddy_sql::exec::lookup_cache::LOOKUP_OPTIONS;
use eddy_sql::{SqlError, SqlResult};

use crate::table_options::{option_error, Options};

/// The options of the `jdbc` connector besides the lookup cache's.
const JDBC_OPTIONS: &[&str] = &[
    "url",
    "table-name",
    "driver",
    "username",
    "password",
    "connection.max-retry-timeout",
    "scan.partition.column",
    "scan.partition.num",
    "scan.partition.lower-bound",
    "scan.partition.upper-bound",
    "scan.fetch-size",
    "scan.auto-commit",
    "lookup.max-retries",
    "sink.buffer-flush.max-rows",
    "sink.buffer-flush.interval",
    "sink.max-retries",
];

/// Registers `jdbc`.
pub fn register() {
    registry::register("jdbc", Arc::new(Jdbc));
}

struct Jdbc;

fn connection(o: &Options<'_>) -> SqlResult<ConnectionOptions> {
    if let Some(driver) = o.get("driver") {
        if driver != "org.postgresql.Driver" {
            return Err(option_error(
                o.table,
                "driver",
                format!("'{driver}' is not one eddy has (org.postgresql.Driver)"),
            ));
        }
    }
    let options = ConnectionOptions {
        url: o.required("url")?.to_string(),
        username: o.get("username").map(str::to_string),
        password: o.get("password").map(str::to_string),
        connect_timeout: o.duration("connection.max-retry-timeout", Duration::from_secs(60))?,
    };
    // A bad URL is an error when the statement is planned, not when the job runs.
    options
        .client_config()
        .map_err(|e| SqlError::new(format!("table {}: {e}", o.table)))?;
    Ok(options)
}

fn partitioning(o: &Options<'_>) -> SqlResult<Option<ScanPartitioning>> {
    const KEYS: [&str; 4] = [
        "scan.partition.column",
        "scan.partition.num",
        "scan.partition.lower-bound",
        "scan.partition.upper-bound",
    ];
    let given = KEYS.iter().filter(|k| o.get(k).is_some()).count();
    if given == 0 {
        return Ok(None);
    }
    if given < KEYS.len() {
        return Err(SqlError::new(format!(
            "table {}: either all or none of the options {} must be given",
            o.table,
            KEYS.join(", ")
        )));
    }
    let partitioning = ScanPartitioning {
        column: o.required("scan.partition.column")?.to_string(),
        num: o.number("scan.partition.num", "a positive number", 1u64)?,
        lower: o.number("scan.partition.lower-bound", "a whole number", 0i64)?,
        upper: o.number("scan.partition.upper-bound", "a whole number", 0i64)?,
    };
    if partitioning.num == 0 {
        return Err(option_error(
            o.table,
            "scan.partition.num",
            "must be positive",
        ));
    }
    if partitioning.lower > partitioning.upper {
        return Err(option_error(
            o.table,
            "scan.partition.lower-bound",
            "must not be greater than 'scan.partition.upper-bound'",
        ));
    }
    Ok(Some(partitioning))
}

/// A lookup of eddy-jdbc as eddy-sql's lookup.
struct Lookup(JdbcLookup);

impl RowLookup for Lookup {
    fn lookup(&mut self, keys: &RecordBatch) -> eddy::core::Result<RecordBatch> {
        Ok(self.0.lookup(keys)?)
    }
}

impl TableConnector for Jdbc {
    fn options(&self) -> &'static [&'static str] {
        static ALL: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        ALL.get_or_init(|| JDBC_OPTIONS.iter().chain(LOOKUP_OPTIONS).copied().collect())
    }

    fn format_of(&self, _: &std::collections::BTreeMap<String, String>) -> Option<String> {
        None
    }

    fn batches(&self) -> bool {
        true
    }

    fn batch_source(
        &self,
        table: ConnectorTable<'_>,
        output: &SchemaRef,
    ) -> SqlResult<BatchReaderFactory> {
        let o = Options {
            table: table.name,
            options: table.options,
        };
        let partitioning = partitioning(&o)?;
        if let Some(p) = &partitioning {
            if !table.columns.contains(&p.column) {
                return Err(option_error(
                    table.name,
                    "scan.partition.column",
                    format!("{} is not a column of the table", p.column),
                ));
            }
        }
        let options = JdbcScanOptions {
            connection: connection(&o)?,
            table: o.required("table-name")?.to_string(),
            schema: output.clone(),
            partitioning,
            order_by: table.primary_key.to_vec(),
            fetch_size: o.number("scan.fetch-size", "a number of rows", 0usize)?,
        };
        Ok(Arc::new(move |_| {
            Box::new(JdbcScanReader::new(options.clone()))
        }))
    }

    fn batch_sink(
        &self,
        table: ConnectorTable<'_>,
        schema: &SchemaRef,
    ) -> SqlResult<BatchWriterFactory> {
        let o = Options {
            table: table.name,
            options: table.options,
        };
        let interval = o.duration("sink.buffer-flush.interval", Duration::from_secs(1))?;
        let options = JdbcSinkOptions {
            primary_key: table.primary_key.to_vec(),
            max_rows: o.number("sink.buffer-flush.max-rows", "a number of rows", 100usize)?,
            interval: (!interval.is_zero()).then_some(interval),
            max_retries: o.number("sink.max-retries", "a number of retries", 3usize)?,
            ..JdbcSinkOptions::new(connection(&o)?, o.required("table-name")?, schema.clone())
        };
        Ok(Arc::new(move |_| {
            Box::new(JdbcSinkWriter::new(options.clone()))
        }))
    }

    fn lookup(
        &self,
        table: ConnectorTable<'_>,
        schema: &SchemaRef,
        keys: &[String],
    ) -> SqlResult<Option<LookupFactory>> {
        let o = Options {
            table: table.name,
            options: table.options,
        };
        let options = JdbcLookupOptions {
            connection: connection(&o)?,
            table: o.required("table-name")?.to_string(),
            schema: schema.clone(),
            keys: keys.to_vec(),
            max_retries: o.number("lookup.max-retries", "a number of retries", 3usize)?,
        };
        Ok(Some(Arc::new(move || {
            Ok(Box::new(Lookup(JdbcLookup::open(options.clone())?)) as Box<dyn RowLookup>)
        })))
    }
}
