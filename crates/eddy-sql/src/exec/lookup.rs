//! Lookup joins (`JOIN t FOR SYSTEM_TIME AS OF s.proctime`): each row of the
//! stream is joined with the rows of a table that have its key. A table of
//! files is read whole into a hash index when a subtask opens, as it is when
//! the job starts (like Flink's filesystem lookup source, without reloading);
//! a database table is asked for the keys of each batch that its cache
//! ([`LookupCache`]) does not hold, as it is at that moment. The stream is not
//! exchanged. An INNER join drops unmatched rows, a LEFT join pads them with
//! nulls; the stream's row kinds pass through.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use arrow::array::{new_null_array, Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion_physical_expr::PhysicalExpr;
use eddy_core::Result;
use eddy_runtime::output::Emitter;
use eddy_runtime::{Operator, OperatorContext, SourceEvent, SourceReader};

use crate::connectors::registry::{LookupFactory, RowLookup};
use crate::connectors::sources::SourceFactory;
use crate::error::runtime;
use crate::exec::calc::evaluate;
use crate::exec::changelog::{self, conform};
use crate::exec::keys::KeyCodec;
use crate::exec::lookup_cache::{CacheOptions, LookupCache};

/// How a lookup join reads its table.
#[derive(Clone)]
pub enum LookupTable {
    /// Whole, into an index, when the operator opens, and again every
    /// `reload` (a FULL cache).
    Full {
        /// Reads the table.
        table: SourceFactory,
        /// How often it is read again.
        reload: Option<std::time::Duration>,
    },
    /// By key, through a cache.
    Keyed {
        /// Opens the lookups.
        lookup: LookupFactory,
        /// The cache.
        cache: CacheOptions,
    },
}

/// A lookup join's plan.
#[derive(Clone)]
pub struct LookupSpec {
    /// The stream's Arrow schema.
    pub probe: SchemaRef,
    /// How many leading stream columns are output.
    pub width: usize,
    /// The stream's key columns (typed as the table's key columns).
    pub keys: Vec<usize>,
    /// Reads the table.
    pub table: LookupTable,
    /// The table's Arrow schema.
    pub table_schema: SchemaRef,
    /// The table's key columns.
    pub table_keys: Vec<usize>,
    /// The rest of the join condition, over the joined columns.
    pub condition: Option<Arc<dyn PhysicalExpr>>,
    /// The joined schema the condition reads (no `__op`).
    pub joined: SchemaRef,
    /// Whether unmatched stream rows are kept (LEFT JOIN).
    pub left_outer: bool,
    /// The output schema.
    pub output: SchemaRef,
    /// The table's name, for errors.
    pub name: String,
}

/// See the module docs.
pub struct LookupJoinOperator {
    spec: LookupSpec,
    /// The whole table by key ([`LookupTable::Full`]).
    index: HashMap<Vec<u8>, Vec<Vec<u8>>>,
    /// The lookups and their cache ([`LookupTable::Keyed`]).
    keyed: Option<(Box<dyn RowLookup>, LookupCache)>,
    /// A FULL cache: when the index was loaded, and the context to load it again.
    loaded: Option<(Instant, OperatorContext)>,
    keys: Option<KeyCodec>,
    rows: Option<KeyCodec>,
    null_row: Vec<u8>,
}

impl LookupJoinOperator {
    /// A lookup join for `spec`.
    pub fn new(spec: LookupSpec) -> Self {
        LookupJoinOperator {
            spec,
            index: HashMap::new(),
            keyed: None,
            loaded: None,
            keys: None,
            rows: None,
            null_row: Vec::new(),
        }
    }

    /// Prepares the row codec and the padding row of a LEFT join.
    fn prepare_rows(&mut self) -> Result<()> {
        let schema = &self.spec.table_schema;
        let all: Vec<usize> = (0..schema.fields().len()).collect();
        let rows = KeyCodec::new(schema, &all).map_err(runtime)?;
        let nulls: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| new_null_array(f.data_type(), 1))
            .collect();
        let null_batch = changelog::batch(schema.clone(), nulls, 1).map_err(runtime)?;
        self.null_row = rows
            .encode(&null_batch)
            .map_err(runtime)?
            .row(0)
            .data()
            .to_vec();
        self.rows = Some(rows);
        Ok(())
    }

    /// Reads the whole table into the index.
    fn load(&mut self, ctx: &OperatorContext, table: &SourceFactory) -> Result<()> {
        let schema = &self.spec.table_schema;
        let all: Vec<usize> = (0..schema.fields().len()).collect();
        let rows = KeyCodec::new(schema, &all).map_err(runtime)?;
        let keys = KeyCodec::new(schema, &self.spec.table_keys).map_err(runtime)?;
        // One reader for the whole table, whatever this subtask's index.
        let mut whole = ctx.clone();
        whole.subtask = 0;
        whole.parallelism = 1;
        whole.restored = None;
        let mut reader = table(0);
        reader.open(&whole)?;
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            match reader.poll_next(&mut cx) {
                Poll::Ready(Ok(SourceEvent::Batch(batch))) => {
                    let encoded_keys = keys.encode(&batch).map_err(runtime)?;
                    let encoded = rows.encode(&batch).map_err(runtime)?;
                    for i in 0..batch.num_rows() {
                        if self
                            .spec
                            .table_keys
                            .iter()
                            .any(|&k| batch.column(k).is_null(i))
                        {
                            continue;
                        }
                        self.index
                            .entry(encoded_keys.row(i).data().to_vec())
                            .or_default()
                            .push(encoded.row(i).data().to_vec());
                    }
                }
                Poll::Ready(Ok(SourceEvent::End)) => break,
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => {
                    return Err(runtime(format!(
                        "reading the lookup table {}: {e}",
                        self.spec.name
                    )))
                }
                Poll::Pending => std::thread::sleep(std::time::Duration::from_millis(1)),
            }
        }
        reader.close()?;
        Ok(())
    }

    /// A FULL cache older than its reload interval: the table read again.
    fn reload_if_due(&mut self) -> Result<()> {
        let LookupTable::Full {
            table,
            reload: Some(interval),
        } = self.spec.table.clone()
        else {
            return Ok(());
        };
        let Some((loaded_at, ctx)) = self.loaded.take() else {
            return Ok(());
        };
        if loaded_at.elapsed() < interval {
            self.loaded = Some((loaded_at, ctx));
            return Ok(());
        }
        self.index.clear();
        self.load(&ctx, &table)?;
        self.loaded = Some((Instant::now(), ctx));
        Ok(())
    }

    /// The table rows of each key of `batch` (encoded as `encoded`) that the
    /// cache does not hold are looked up; returns the rows of every key.
    fn fetch(
        &mut self,
        batch: &RecordBatch,
        encoded: &arrow::row::Rows,
    ) -> Result<HashMap<Vec<u8>, Vec<Vec<u8>>>> {
        let Some((lookup, cache)) = self.keyed.as_mut() else {
            return Err(runtime("lookup join used before open"));
        };
        let now = Instant::now();
        let mut found: HashMap<Vec<u8>, Vec<Vec<u8>>> = HashMap::new();
        let mut missing: Vec<u32> = Vec::new();
        for i in 0..batch.num_rows() {
            if self.spec.keys.iter().any(|&k| batch.column(k).is_null(i)) {
                continue;
            }
            let key = encoded.row(i).data();
            if found.contains_key(key) {
                continue;
            }
            match cache.get(key, now) {
                Some(rows) => {
                    found.insert(key.to_vec(), rows.clone());
                }
                None => {
                    found.insert(key.to_vec(), Vec::new());
                    missing.push(i as u32);
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let table = &self.spec.table_schema;
        let indices = UInt32Array::from(missing.clone());
        let fields: Vec<Field> = self
            .spec
            .table_keys
            .iter()
            .map(|&k| table.field(k).clone().with_nullable(true))
            .collect();
        let columns = self
            .spec
            .keys
            .iter()
            .map(|&k| take(batch.column(k).as_ref(), &indices, None))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(runtime)?;
        let keys = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(runtime)?;
        let looked_up = lookup.lookup(&keys)?;
        if looked_up.num_columns() != table.fields().len() {
            return Err(runtime(format!(
                "the lookup of table {} returned {} columns, not {}",
                self.spec.name,
                looked_up.num_columns(),
                table.fields().len()
            )));
        }
        let columns = conform(table, looked_up.columns().to_vec()).map_err(runtime)?;
        let rows =
            changelog::batch(table.clone(), columns, looked_up.num_rows()).map_err(runtime)?;
        {
            let key_codec = KeyCodec::new(table, &self.spec.table_keys).map_err(runtime)?;
            let row_codec = self
                .rows
                .as_ref()
                .ok_or_else(|| runtime("lookup join used before open"))?;
            let row_keys = key_codec.encode(&rows).map_err(runtime)?;
            let row_values = row_codec.encode(&rows).map_err(runtime)?;
            for r in 0..rows.num_rows() {
                if let Some(list) = found.get_mut(row_keys.row(r).data()) {
                    list.push(row_values.row(r).data().to_vec());
                }
            }
        }
        for i in missing {
            let key = encoded.row(i as usize).data();
            if let Some(rows) = found.get(key) {
                cache.put(key.to_vec(), rows.clone(), now);
            }
        }
        Ok(found)
    }
}

impl Operator for LookupJoinOperator {
    type In = RecordBatch;
    type Out = RecordBatch;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.keys = Some(KeyCodec::new(&self.spec.probe, &self.spec.keys).map_err(runtime)?);
        self.prepare_rows()?;
        match self.spec.table.clone() {
            LookupTable::Full { table, reload } => {
                self.load(ctx, &table)?;
                if reload.is_some() {
                    self.loaded = Some((Instant::now(), ctx.clone()));
                }
                Ok(())
            }
            LookupTable::Keyed { lookup, cache } => {
                self.keyed = Some((lookup()?, LookupCache::new(cache)));
                Ok(())
            }
        }
    }

    fn process_batch(
        &mut self,
        batch: RecordBatch,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        self.reload_if_due()?;
        let Some(keys) = self.keys.as_ref() else {
            return Err(runtime("lookup join used before open"));
        };
        let encoded = keys.encode(&batch).map_err(runtime)?;
        let fetched = match self.keyed {
            Some(_) => Some(self.fetch(&batch, &encoded)?),
            None => None,
        };
        let (Some(rows), index) = (self.rows.as_ref(), fetched.as_ref().unwrap_or(&self.index))
        else {
            return Err(runtime("lookup join used before open"));
        };
        let empty: Vec<Vec<u8>> = Vec::new();
        let candidates: Vec<&Vec<Vec<u8>>> = (0..batch.num_rows())
            .map(|i| {
                let null = self.spec.keys.iter().any(|&k| batch.column(k).is_null(i));
                if null {
                    &empty
                } else {
                    index.get(encoded.row(i).data()).unwrap_or(&empty)
                }
            })
            .collect();
        // Every (row, table row) pair, then the condition over all of them.
        let (mut probe, mut found): (Vec<u32>, Vec<&[u8]>) = (Vec::new(), Vec::new());
        for (i, list) in candidates.iter().enumerate() {
            for row in list.iter() {
                probe.push(i as u32);
                found.push(row);
            }
        }
        let columns = |probe: &[Option<u32>], found: &[&[u8]]| -> Result<Vec<ArrayRef>> {
            let indices = UInt32Array::from(probe.to_vec());
            let mut columns = batch.columns()[..self.spec.width]
                .iter()
                .map(|c| take(c.as_ref(), &indices, None))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(runtime)?;
            columns.extend(rows.decode(found.iter().copied()).map_err(runtime)?);
            Ok(columns)
        };
        let pairs: Vec<Option<u32>> = probe.iter().map(|&i| Some(i)).collect();
        let keep: Vec<bool> = match &self.spec.condition {
            None => vec![true; pairs.len()],
            Some(condition) => {
                let joined =
                    conform(&self.spec.joined, columns(&pairs, &found)?).map_err(runtime)?;
                let joined = changelog::batch(self.spec.joined.clone(), joined, pairs.len())
                    .map_err(runtime)?;
                let mask = evaluate(condition, &joined)?;
                let mask = mask.as_boolean();
                (0..mask.len())
                    .map(|k| mask.is_valid(k) && mask.value(k))
                    .collect()
            }
        };
        let (mut out_probe, mut out_found) = (Vec::new(), Vec::new());
        let mut k = 0;
        for (i, list) in candidates.iter().enumerate() {
            let mut matched = false;
            for _ in 0..list.len() {
                if keep[k] {
                    out_probe.push(Some(i as u32));
                    out_found.push(found[k]);
                    matched = true;
                }
                k += 1;
            }
            if !matched && self.spec.left_outer {
                out_probe.push(Some(i as u32));
                out_found.push(self.null_row.as_slice());
            }
        }
        if out_probe.is_empty() {
            return Ok(());
        }
        let n = out_probe.len();
        let mut output = columns(&out_probe, &out_found)?;
        if let Some(kinds) = changelog::kinds(&batch) {
            let indices = UInt32Array::from(out_probe);
            output.push(take(kinds, &indices, None).map_err(runtime)?);
        }
        let output = conform(&self.spec.output, output).map_err(runtime)?;
        out.collect(changelog::batch(self.spec.output.clone(), output, n).map_err(runtime)?)
    }
}
