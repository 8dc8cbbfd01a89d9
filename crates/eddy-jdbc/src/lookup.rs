//! Lookups for a lookup join: the rows of a database table with given keys,
//! one `SELECT .. WHERE key IN (..)` per batch of distinct keys (retried
//! `lookup.max-retries` times, reconnecting when the connection broke). The
//! join operator keeps Flink's partial cache in front of it.

use std::time::Duration;

use arrow_array::{Array, RecordBatch};
use arrow_schema::SchemaRef;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Client;

use crate::connection::{block_on, connect, ConnectionOptions};
use crate::dialect;
use crate::error::{JdbcError, JdbcResult};
use crate::read::{readable_columns, to_batch};
use crate::values::Cell;

/// What a lookup reads (Flink's `jdbc` lookup options).
#[derive(Clone, Debug)]
pub struct JdbcLookupOptions {
    /// The database.
    pub connection: ConnectionOptions,
    /// The database table (`table-name`).
    pub table: String,
    /// eddy's columns of the table.
    pub schema: SchemaRef,
    /// The columns looked up by.
    pub keys: Vec<String>,
    /// Retries of a failed lookup (`lookup.max-retries`, 3).
    pub max_retries: usize,
}

/// A connection looking rows up by key.
pub struct JdbcLookup {
    options: JdbcLookupOptions,
    client: Option<Client>,
    types: Vec<Type>,
    names: Vec<String>,
    keys: Vec<usize>,
}

impl JdbcLookup {
    /// Connects and checks the table's columns.
    pub fn open(options: JdbcLookupOptions) -> JdbcResult<JdbcLookup> {
        let keys = options
            .keys
            .iter()
            .map(|k| {
                options
                    .schema
                    .fields()
                    .iter()
                    .position(|f| f.name() == k)
                    .ok_or_else(|| JdbcError::Schema {
                        table: options.table.clone(),
                        message: format!("the lookup key {k} is not a column"),
                    })
            })
            .collect::<JdbcResult<Vec<_>>>()?;
        let (client, (types, names)) = block_on(async {
            let client = connect(&options.connection).await?;
            let columns = readable_columns(&client, &options.table, &options.schema).await?;
            JdbcResult::Ok((client, columns))
        })??;
        Ok(JdbcLookup {
            options,
            client: Some(client),
            types,
            names,
            keys,
        })
    }

    /// The table's rows whose key is one of the rows of `keys` (the key
    /// columns, in the order of [`JdbcLookupOptions::keys`], typed as the
    /// table's), as a batch of the table's schema. Rows with a NULL key match
    /// nothing.
    pub fn lookup(&mut self, keys: &RecordBatch) -> JdbcResult<RecordBatch> {
        let mut attempt = 0;
        loop {
            let result = block_on(self.query(keys))?;
            match result {
                Ok(batch) => return Ok(batch),
                Err(e) if e.is_transient() && attempt < self.options.max_retries => {
                    attempt += 1;
                    if self.client.as_ref().is_some_and(Client::is_closed) {
                        self.client = None;
                    }
                    std::thread::sleep(Duration::from_secs(attempt as u64));
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn query(&mut self, keys: &RecordBatch) -> JdbcResult<RecordBatch> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = Some(connect(&self.options.connection).await?);
        }
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| JdbcError::internal("looking up", "no connection"))?;
        let table = &self.options.table;
        let context = || format!("looking up rows of table {table}");
        let key_names: Vec<String> = self.keys.iter().map(|&k| self.names[k].clone()).collect();
        let key_types: Vec<Type> = self.keys.iter().map(|&k| self.types[k].clone()).collect();
        let rows: Vec<usize> = (0..keys.num_rows())
            .filter(|&r| keys.columns().iter().all(|c| !c.is_null(r)))
            .collect();
        let mut found = Vec::new();
        let per_statement = dialect::rows_per_statement(key_names.len(), 1000);
        for chunk in rows.chunks(per_statement) {
            let text = dialect::select_by_keys(table, &self.names, &key_names, chunk.len());
            let statement = client
                .prepare_typed(
                    &text,
                    &chunk
                        .iter()
                        .flat_map(|_| key_types.iter().cloned())
                        .collect::<Vec<_>>(),
                )
                .await
                .map_err(|e| JdbcError::database(context(), &e))?;
            let cells: Vec<Cell<'_>> = chunk
                .iter()
                .flat_map(|&row| keys.columns().iter().map(move |array| Cell { array, row }))
                .collect();
            let params: Vec<&(dyn ToSql + Sync)> =
                cells.iter().map(|c| c as &(dyn ToSql + Sync)).collect();
            found.extend(
                client
                    .query(&statement, &params)
                    .await
                    .map_err(|e| JdbcError::database(context(), &e))?,
            );
        }
        to_batch(table, &self.options.schema, &self.types, &found)
    }
}
