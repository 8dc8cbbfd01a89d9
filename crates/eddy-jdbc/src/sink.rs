//! The JDBC sink: rows buffered per subtask, reduced by primary key, and
//! written in one transaction per flush: when `sink.buffer-flush.max-rows`
//! rows wait, when rows arrive `sink.buffer-flush.interval` after the last
//! flush, at each checkpoint barrier and at the end of input. Everything runs
//! on the task's thread (no flusher beside it), so rows that arrive last wait
//! at most until the next checkpoint.
//!
//! With a primary key, additions (`+I`, `+U`) are upserts
//! (`INSERT .. ON CONFLICT (key) DO UPDATE`) and retractions (`-U`, `-D`)
//! deletes; only the last change of a key in a buffer is written. Because a
//! checkpoint completes only after the flush at its barrier, and upserts and
//! deletes by key are idempotent, a job restored from a checkpoint replays its
//! changes into exactly the table a failure-free run writes. Without a key,
//! rows are appended (at least once, as Flink's JDBC sink).
//!
//! A failed flush is retried `sink.max-retries` times, one second longer each
//! time, reconnecting when the connection broke; then the job fails with the
//! database's message.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::Int8Type;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use bytes::BytesMut;
use eddy_core::{Records, Result};
use eddy_runtime::operators::SinkWriter;
use eddy_runtime::OperatorContext;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Client;

use crate::connection::{block_on, connect, find_column, table_columns, ConnectionOptions};
use crate::dialect;
use crate::error::{JdbcError, JdbcResult};
use crate::values::{writable, Cell};

/// Flink's row-kind bytes that retract a row: `-U` and `-D`.
const RETRACTIONS: [i8; 2] = [1, 3];

/// What a JDBC sink writes, and how (Flink's `jdbc` sink options).
#[derive(Clone, Debug)]
pub struct JdbcSinkOptions {
    /// The database.
    pub connection: ConnectionOptions,
    /// The database table (`table-name`).
    pub table: String,
    /// eddy's columns, written to the database's columns of the same names.
    pub schema: SchemaRef,
    /// The primary key's columns: upserts and deletes by key; empty: appends.
    pub primary_key: Vec<String>,
    /// Flush when this many rows wait (`sink.buffer-flush.max-rows`, 100; 0: no limit).
    pub max_rows: usize,
    /// Flush when rows arrive this long after the last flush
    /// (`sink.buffer-flush.interval`, 1 s; `None`: only at
    /// the limit, checkpoints and the end).
    pub interval: Option<Duration>,
    /// Retries of a failed flush (`sink.max-retries`, 3).
    pub max_retries: usize,
}

impl JdbcSinkOptions {
    /// Flink's defaults for a table.
    pub fn new(connection: ConnectionOptions, table: impl Into<String>, schema: SchemaRef) -> Self {
        JdbcSinkOptions {
            connection,
            table: table.into(),
            schema,
            primary_key: Vec::new(),
            max_rows: 100,
            interval: Some(Duration::from_secs(1)),
            max_retries: 3,
        }
    }
}

/// A buffered change: the row `row` of batch `batch`, and whether it deletes.
#[derive(Clone, Copy)]
struct Change {
    batch: u32,
    row: u32,
    delete: bool,
}

/// The rows waiting for the next flush.
#[derive(Default)]
struct Buffer {
    batches: Vec<RecordBatch>,
    changes: Vec<Change>,
    /// The position in `changes` of each key's last change (upserts only).
    by_key: HashMap<Vec<u8>, usize>,
}

impl Buffer {
    fn len(&self) -> usize {
        self.changes.len()
    }

    fn clear(&mut self) {
        self.batches.clear();
        self.changes.clear();
        self.by_key.clear();
    }
}

/// The connection and the buffer.
struct State {
    client: Option<Client>,
    buffer: Buffer,
    /// The database type of each of eddy's columns.
    types: Vec<Type>,
    /// The indices of the key columns.
    keys: Vec<usize>,
}

struct Shared {
    options: JdbcSinkOptions,
    state: tokio::sync::Mutex<State>,
}

/// See the module docs.
pub struct JdbcSinkWriter {
    shared: Arc<Shared>,
    /// When the buffer was last written.
    last_flush: std::time::Instant,
}

impl JdbcSinkWriter {
    /// A writer for `options` (it connects when the task opens it).
    pub fn new(options: JdbcSinkOptions) -> Self {
        JdbcSinkWriter {
            shared: Arc::new(Shared {
                options,
                state: tokio::sync::Mutex::new(State {
                    client: None,
                    buffer: Buffer::default(),
                    types: Vec::new(),
                    keys: Vec::new(),
                }),
            }),
            last_flush: std::time::Instant::now(),
        }
    }

    /// Writes everything buffered.
    pub fn flush(&mut self) -> Result<()> {
        self.last_flush = std::time::Instant::now();
        let shared = self.shared.clone();
        block_on(async move {
            let mut state = shared.state.lock().await;
            flush(&shared.options, &mut state).await
        })??;
        Ok(())
    }
}

/// Checks eddy's columns and key against the database table, and returns the
/// database type of each column and the key's column indices.
async fn check_table(
    options: &JdbcSinkOptions,
    client: &Client,
) -> JdbcResult<(Vec<Type>, Vec<usize>)> {
    let table = &options.table;
    let schema_error = |message: String| JdbcError::Schema {
        table: table.clone(),
        message,
    };
    let columns = table_columns(client, table).await?;
    let mut types = Vec::new();
    for field in options.schema.fields() {
        let Some(column) = find_column(&columns, field.name()) else {
            return Err(schema_error(format!(
                "the database table has no column {} (it has {})",
                field.name(),
                columns
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        if !writable(field.data_type(), &column.ty) {
            return Err(schema_error(format!(
                "column {} is {} in the database, which eddy's {} does not fit",
                field.name(),
                column.ty.name(),
                field.data_type()
            )));
        }
        types.push(column.ty.clone());
    }
    let mut keys = Vec::new();
    for key in &options.primary_key {
        let index = options
            .schema
            .fields()
            .iter()
            .position(|f| f.name() == key)
            .ok_or_else(|| schema_error(format!("the primary key column {key} is not a column")))?;
        keys.push(index);
    }
    // The writes must plan: an upsert needs a unique constraint on the key.
    let probe = dialect::probe(table, &column_names(options), &options.primary_key);
    client
        .batch_execute(&format!("EXPLAIN {probe}"))
        .await
        .map_err(|e| JdbcError::database(format!("planning the writes to table {table}"), &e))?;
    Ok((types, keys))
}

fn column_names(options: &JdbcSinkOptions) -> Vec<String> {
    options
        .schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// Writes the buffer in one transaction, retrying as the options say.
async fn flush(options: &JdbcSinkOptions, state: &mut State) -> JdbcResult<()> {
    if state.buffer.len() == 0 {
        return Ok(());
    }
    let mut attempt = 0;
    loop {
        let result = async {
            if state.client.as_ref().is_none_or(Client::is_closed) {
                state.client = Some(connect(&options.connection).await?);
            }
            let client = state
                .client
                .as_mut()
                .ok_or_else(|| JdbcError::internal("flushing", "no connection"))?;
            write(options, client, &state.buffer, &state.types).await
        }
        .await;
        match result {
            Ok(()) => {
                state.buffer.clear();
                return Ok(());
            }
            Err(e) if e.is_transient() && attempt < options.max_retries => {
                attempt += 1;
                if state.client.as_ref().is_some_and(Client::is_closed) {
                    state.client = None;
                }
                tokio::time::sleep(Duration::from_secs(attempt as u64)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The buffer's statements, in one transaction.
async fn write(
    options: &JdbcSinkOptions,
    client: &mut Client,
    buffer: &Buffer,
    types: &[Type],
) -> JdbcResult<()> {
    let table = &options.table;
    let context = || format!("writing to table {table}");
    let names = column_names(options);
    let keys: Vec<usize> = options
        .primary_key
        .iter()
        .filter_map(|k| names.iter().position(|n| n == k))
        .collect();
    let (deletes, additions): (Vec<Change>, Vec<Change>) =
        buffer.changes.iter().partition(|c| c.delete);
    let transaction = client
        .transaction()
        .await
        .map_err(|e| JdbcError::database(context(), &e))?;
    let all: Vec<usize> = (0..names.len()).collect();
    for (changes, columns, delete) in [(&additions, &all, false), (&deletes, &keys, true)] {
        let per_statement = dialect::rows_per_statement(columns.len(), 1000);
        for chunk in changes.chunks(per_statement) {
            let text = match (delete, options.primary_key.is_empty()) {
                (true, _) => dialect::delete(table, &options.primary_key, chunk.len()),
                (false, true) => dialect::insert(table, &names, chunk.len()),
                (false, false) => dialect::upsert(table, &names, &options.primary_key, chunk.len()),
            };
            let cells: Vec<Cell<'_>> = chunk
                .iter()
                .flat_map(|change| {
                    let batch = &buffer.batches[change.batch as usize];
                    columns.iter().map(move |&c| Cell {
                        array: batch.column(c),
                        row: change.row as usize,
                    })
                })
                .collect();
            let params: Vec<&(dyn ToSql + Sync)> =
                cells.iter().map(|c| c as &(dyn ToSql + Sync)).collect();
            let statement = transaction
                .prepare_typed(
                    &text,
                    &chunk
                        .iter()
                        .flat_map(|_| columns.iter().map(|&c| types[c].clone()))
                        .collect::<Vec<_>>(),
                )
                .await
                .map_err(|e| JdbcError::database(context(), &e))?;
            transaction
                .execute(&statement, &params)
                .await
                .map_err(|e| JdbcError::database(context(), &e))?;
        }
    }
    transaction
        .commit()
        .await
        .map_err(|e| JdbcError::database(context(), &e))
}

/// The key of row `row` as bytes (the database encoding of each key cell).
fn key_of(
    options: &JdbcSinkOptions,
    batch: &RecordBatch,
    row: usize,
    keys: &[usize],
    types: &[Type],
) -> JdbcResult<Vec<u8>> {
    let mut key = Vec::new();
    for &k in keys {
        let mut cell = BytesMut::new();
        let is_null = Cell {
            array: batch.column(k),
            row,
        }
        .to_sql(&types[k], &mut cell)
        .map_err(|e| JdbcError::Value {
            table: options.table.clone(),
            column: options.schema.field(k).name().clone(),
            message: e.to_string(),
        })?;
        match is_null {
            tokio_postgres::types::IsNull::Yes => key.push(0),
            tokio_postgres::types::IsNull::No => {
                key.push(1);
                key.extend_from_slice(&(cell.len() as u32).to_le_bytes());
                key.extend_from_slice(&cell);
            }
        }
    }
    Ok(key)
}

impl SinkWriter<RecordBatch> for JdbcSinkWriter {
    fn open(&mut self, _: &OperatorContext) -> Result<()> {
        let shared = self.shared.clone();
        block_on(async move {
            let client = connect(&shared.options.connection).await?;
            let (types, keys) = check_table(&shared.options, &client).await?;
            let mut state = shared.state.lock().await;
            state.client = Some(client);
            state.types = types;
            state.keys = keys;
            JdbcResult::Ok(())
        })??;
        self.last_flush = std::time::Instant::now();
        Ok(())
    }

    /// Buffers the rows: the first `schema` columns of each batch, and its
    /// row kinds (Flink's byte values) in a trailing INT8 column when the
    /// batch has one more column.
    fn write_batch(&mut self, records: Records<RecordBatch>) -> Result<()> {
        let width = self.shared.options.schema.fields().len();
        let upsert = !self.shared.options.primary_key.is_empty();
        let shared = self.shared.clone();
        let full = block_on(async move {
            let mut state = shared.state.lock().await;
            let state = &mut *state;
            for record in records {
                let batch = record.value;
                if batch.num_rows() == 0 {
                    continue;
                }
                let kinds = (batch.num_columns() > width)
                    .then(|| batch.column(batch.num_columns() - 1).clone());
                let kinds: Option<&ArrayRef> = kinds.as_ref();
                let index = state.buffer.batches.len() as u32;
                for row in 0..batch.num_rows() {
                    let delete = kinds.is_some_and(|k| {
                        RETRACTIONS.contains(&k.as_primitive::<Int8Type>().value(row))
                    });
                    if delete && !upsert {
                        return Err(JdbcError::Schema {
                            table: shared.options.table.clone(),
                            message: "a retraction reached a sink without a primary key".into(),
                        });
                    }
                    let change = Change {
                        batch: index,
                        row: row as u32,
                        delete,
                    };
                    if upsert {
                        let key = key_of(&shared.options, &batch, row, &state.keys, &state.types)?;
                        match state.buffer.by_key.get(&key) {
                            Some(&at) => state.buffer.changes[at] = change,
                            None => {
                                state.buffer.by_key.insert(key, state.buffer.changes.len());
                                state.buffer.changes.push(change);
                            }
                        }
                    } else {
                        state.buffer.changes.push(change);
                    }
                }
                state.buffer.batches.push(batch);
            }
            let max = shared.options.max_rows;
            JdbcResult::Ok(max > 0 && state.buffer.len() >= max)
        })??;
        let due = self
            .shared
            .options
            .interval
            .is_some_and(|i| !i.is_zero() && self.last_flush.elapsed() >= i);
        if full || due {
            self.flush()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.flush()
    }

    fn snapshot(&mut self, _: u64) -> Result<Vec<u8>> {
        self.flush()?;
        Ok(Vec::new())
    }
}
