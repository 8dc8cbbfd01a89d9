//! The bounded scan: a table read once, split into `scan.partition.num`
//! ranges of `scan.partition.column` between `scan.partition.lower-bound` and
//! `scan.partition.upper-bound` (Flink's numeric partitioning), spread over
//! the subtasks (partition `i` to subtask `i mod p`), or read whole by
//! subtask 0 without partitioning.
//!
//! A checkpoint records the finished partitions and how many rows of the
//! current one were emitted; a restored reader skips that many rows of the
//! same query. Rows come in the order of the table's primary key when it has
//! one, so the skipped rows are the ones emitted before (Flink's JDBC source
//! relies on a deterministic query in the same way).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::pin::Pin;
use std::task::{Context, Poll};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use eddy_core::Result;
use eddy_runtime::{OperatorContext, SourceEvent, SourceReader};
use futures_util::StreamExt;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row, RowStream};

use crate::connection::{block_on, connect, ConnectionOptions};
use crate::dialect;
use crate::error::{JdbcError, JdbcResult};
use crate::read::{readable_columns, to_batch};

/// Numeric partitioning of a scan (Flink's `scan.partition.*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanPartitioning {
    /// The column (`scan.partition.column`), numeric.
    pub column: String,
    /// How many partitions (`scan.partition.num`).
    pub num: u64,
    /// The smallest value of the first partition (`scan.partition.lower-bound`).
    pub lower: i64,
    /// The largest value of the last partition (`scan.partition.upper-bound`).
    pub upper: i64,
}

impl ScanPartitioning {
    /// The inclusive value range of each partition: the values split as evenly
    /// as they go, the first partitions one larger.
    pub fn ranges(&self) -> Vec<(i64, i64)> {
        let total = (self.upper as i128 - self.lower as i128 + 1).max(0);
        let num = (self.num.max(1) as i128).min(total.max(1));
        let (size, remainder) = (total / num, total % num);
        let mut start = self.lower as i128;
        (0..num)
            .map(|i| {
                let len = size + i128::from(i < remainder);
                let range = (start as i64, (start + len - 1) as i64);
                start += len;
                range
            })
            .collect()
    }
}

/// What a scan reads (Flink's `jdbc` scan options).
#[derive(Clone, Debug)]
pub struct JdbcScanOptions {
    /// The database.
    pub connection: ConnectionOptions,
    /// The database table (`table-name`).
    pub table: String,
    /// eddy's columns of the table.
    pub schema: SchemaRef,
    /// The partitioning, if any.
    pub partitioning: Option<ScanPartitioning>,
    /// The order of rows within a partition (the primary key; may be empty).
    pub order_by: Vec<String>,
    /// Rows per batch (`scan.fetch-size`, 0: 1000).
    pub fetch_size: usize,
}

/// The partition being read.
struct Current {
    index: u64,
    rows: Pin<Box<RowStream>>,
    /// Rows of it emitted so far (including skipped ones).
    emitted: u64,
    /// Rows to drop before emitting (emitted before a restore).
    skip: u64,
}

/// One subtask's reader of a scan.
pub struct JdbcScanReader {
    options: JdbcScanOptions,
    client: Option<Client>,
    types: Vec<Type>,
    names: Vec<String>,
    /// This subtask's partitions not begun yet: index and range.
    pending: VecDeque<(u64, Option<(i64, i64)>)>,
    current: Option<Current>,
    done: BTreeSet<u64>,
    /// Restored: rows of a partition already emitted.
    resumed: BTreeMap<u64, u64>,
}

impl JdbcScanReader {
    /// A reader (it connects when opened).
    pub fn new(options: JdbcScanOptions) -> Self {
        JdbcScanReader {
            options,
            client: None,
            types: Vec::new(),
            names: Vec::new(),
            pending: VecDeque::new(),
            current: None,
            done: BTreeSet::new(),
            resumed: BTreeMap::new(),
        }
    }

    fn fetch_size(&self) -> usize {
        if self.options.fetch_size == 0 {
            1000
        } else {
            self.options.fetch_size
        }
    }

    /// Starts the next partition's query.
    fn start(&mut self, index: u64, range: Option<(i64, i64)>) -> JdbcResult<()> {
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| JdbcError::internal("scanning", "not open"))?;
        let table = &self.options.table;
        let partition = self
            .options
            .partitioning
            .as_ref()
            .map(|p| p.column.as_str());
        let mut text = dialect::scan(table, &self.names, partition.filter(|_| range.is_some()));
        if !self.options.order_by.is_empty() {
            text.push_str(&format!(
                " ORDER BY {}",
                self.options
                    .order_by
                    .iter()
                    .map(|c| dialect::name(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let context = || format!("scanning table {table}");
        let bounds: Vec<i64> = range.map(|(lo, hi)| vec![lo, hi]).unwrap_or_default();
        let rows = block_on(async {
            let statement = client
                .prepare_typed(&text, &vec![Type::INT8; bounds.len()])
                .await
                .map_err(|e| JdbcError::database(context(), &e))?;
            let params = bounds.iter().map(|b| b as &(dyn ToSql + Sync));
            client
                .query_raw(&statement, params)
                .await
                .map_err(|e| JdbcError::database(context(), &e))
        })??;
        self.current = Some(Current {
            index,
            rows: Box::pin(rows),
            emitted: 0,
            skip: self.resumed.get(&index).copied().unwrap_or(0),
        });
        Ok(())
    }

    /// Up to a batch of rows of the current partition; `None` when it ended.
    fn next_rows(&mut self) -> JdbcResult<Option<Vec<Row>>> {
        let fetch = self.fetch_size();
        let table = self.options.table.clone();
        let Some(current) = self.current.as_mut() else {
            return Ok(None);
        };
        let mut rows = Vec::new();
        let ended = block_on(async {
            while rows.len() < fetch {
                match current.rows.next().await {
                    Some(Ok(row)) => {
                        current.emitted += 1;
                        if current.emitted > current.skip {
                            rows.push(row);
                        }
                    }
                    Some(Err(e)) => {
                        return Err(JdbcError::database(format!("scanning table {table}"), &e))
                    }
                    None => return Ok(true),
                }
            }
            Ok(false)
        })??;
        if ended {
            self.done.insert(current.index);
            self.current = None;
            if rows.is_empty() {
                return Ok(None);
            }
        }
        Ok(Some(rows))
    }
}

impl SourceReader for JdbcScanReader {
    type Out = RecordBatch;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let options = self.options.clone();
        let (client, (types, names)) = block_on(async {
            let client = connect(&options.connection).await?;
            let columns = readable_columns(&client, &options.table, &options.schema).await?;
            JdbcResult::Ok((client, columns))
        })??;
        self.client = Some(client);
        self.types = types;
        self.names = names;
        let ranges: Vec<Option<(i64, i64)>> = match &self.options.partitioning {
            Some(p) => p.ranges().into_iter().map(Some).collect(),
            None => vec![None],
        };
        let parallelism = ctx.parallelism.max(1) as u64;
        self.pending = ranges
            .into_iter()
            .enumerate()
            .map(|(i, r)| (i as u64, r))
            .filter(|(i, _)| i % parallelism == ctx.subtask as u64 && !self.done.contains(i))
            .collect();
        self.done.retain(|i| i % parallelism == ctx.subtask as u64);
        Ok(())
    }

    fn poll_next(&mut self, _: &mut Context<'_>) -> Poll<Result<SourceEvent<RecordBatch>>> {
        loop {
            if self.current.is_none() {
                let Some((index, range)) = self.pending.pop_front() else {
                    return Poll::Ready(Ok(SourceEvent::End));
                };
                if let Err(e) = self.start(index, range) {
                    return Poll::Ready(Err(e.into()));
                }
            }
            match self.next_rows() {
                Ok(Some(rows)) if !rows.is_empty() => {
                    let batch = to_batch(
                        &self.options.table,
                        &self.options.schema,
                        &self.types,
                        &rows,
                    );
                    return Poll::Ready(batch.map(SourceEvent::Batch).map_err(Into::into));
                }
                Ok(_) => {}
                Err(e) => return Poll::Ready(Err(e.into())),
            }
        }
    }

    fn snapshot_position(&mut self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut push = |v: u64| out.extend_from_slice(&v.to_le_bytes());
        push(self.done.len() as u64);
        for index in &self.done {
            push(*index);
        }
        match &self.current {
            Some(c) => {
                push(1);
                push(c.index);
                push(c.emitted.max(c.skip));
            }
            None => push(0),
        }
        Ok(out)
    }

    fn restore_positions(&mut self, positions: Vec<Vec<u8>>) -> Result<()> {
        for position in positions {
            let words: Vec<u64> = position
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect();
            let corrupt = || eddy_core::Error::State("a corrupt JDBC scan position".into());
            let (&count, rest) = words.split_first().ok_or_else(corrupt)?;
            let count = count as usize;
            if rest.len() < count + 1 {
                return Err(corrupt());
            }
            self.done.extend(&rest[..count]);
            if rest[count] == 1 {
                let (index, rows) = (
                    *rest.get(count + 1).ok_or_else(corrupt)?,
                    *rest.get(count + 2).ok_or_else(corrupt)?,
                );
                self.resumed.insert(index, rows);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_cover_the_range_once() {
        let p = ScanPartitioning {
            column: "id".into(),
            num: 3,
            lower: 1,
            upper: 10,
        };
        assert_eq!(p.ranges(), vec![(1, 4), (5, 7), (8, 10)]);
        let tiny = ScanPartitioning {
            num: 5,
            upper: 2,
            ..p.clone()
        };
        assert_eq!(tiny.ranges(), vec![(1, 1), (2, 2)]);
    }
}
