//! Reading rows: eddy's columns checked against the database table's, and
//! result rows turned into an Arrow batch of eddy's schema.

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::SchemaRef;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Row};

use crate::connection::{find_column, table_columns};
use crate::error::{JdbcError, JdbcResult};
use crate::values::{decode_column, readable, Raw};

/// The database type of each of eddy's columns of `table`, checked to be
/// readable into them; and the database's names of them.
pub(crate) async fn readable_columns(
    client: &Client,
    table: &str,
    schema: &SchemaRef,
) -> JdbcResult<(Vec<Type>, Vec<String>)> {
    let columns = table_columns(client, table).await?;
    let mut types = Vec::new();
    let mut names = Vec::new();
    for field in schema.fields() {
        let column = find_column(&columns, field.name()).ok_or_else(|| JdbcError::Schema {
            table: table.to_string(),
            message: format!(
                "the database table has no column {} (it has {})",
                field.name(),
                columns
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        if !readable(field.data_type(), &column.ty) {
            return Err(JdbcError::Schema {
                table: table.to_string(),
                message: format!(
                    "column {} is {} in the database, which does not fit eddy's {}",
                    field.name(),
                    column.ty.name(),
                    field.data_type()
                ),
            });
        }
        types.push(column.ty.clone());
        names.push(column.name.clone());
    }
    Ok((types, names))
}

/// `rows` (selecting eddy's columns in order, of database types `types`) as
/// a batch of `schema`.
pub(crate) fn to_batch(
    table: &str,
    schema: &SchemaRef,
    types: &[Type],
    rows: &[Row],
) -> JdbcResult<RecordBatch> {
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(types.len());
    for (i, (field, ty)) in schema.fields().iter().zip(types).enumerate() {
        let value_error = |message: String| JdbcError::Value {
            table: table.to_string(),
            column: field.name().clone(),
            message,
        };
        let values = rows
            .iter()
            .map(|row| row.try_get::<_, Raw<'_>>(i).map(|raw| raw.0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| value_error(e.to_string()))?;
        columns.push(decode_column(field.data_type(), ty, &values).map_err(value_error)?);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
    RecordBatch::try_new_with_options(schema.clone(), columns, &options).map_err(|e| {
        JdbcError::Schema {
            table: table.to_string(),
            message: e.to_string(),
        }
    })
}
