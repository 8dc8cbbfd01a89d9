//! Changelog normalization (Flink's `ChangelogNormalize`): an upsert changelog
//! (a source that only says "key k now has this row" or "k is gone", such as
//! an `upsert-kafka` topic) made a full changelog. The last row of each primary
//! key is kept; a row for a key without one emits `+I`, a row for a key with
//! one emits `-U` (the old row) and `+U` (the new), or nothing when it equals
//! the old; a deletion emits `-D` with the old row, or nothing when the key has
//! none (a tombstone of a key never seen).

use arrow::array::{Int8Array, RecordBatch};
use arrow::datatypes::SchemaRef;
use eddy_core::Result;
use eddy_runtime::output::Emitter;
use eddy_runtime::{KeyedState, ManagedState};
use eddy_runtime::{Operator, OperatorContext};
use eddy_state::{KeyedStateBackend, ValueState, ValueStateDescriptor};

use crate::error::runtime;
use crate::exec::changelog::{self, conform, RowKind};
use crate::exec::keys::KeyCodec;

/// See the module docs.
pub struct ChangelogNormalize {
    /// The input's schema (the row kinds in `__op` last).
    schema: SchemaRef,
    /// The primary key's columns.
    keys: Vec<usize>,
    key_codec: Option<KeyCodec>,
    row_codec: Option<KeyCodec>,
    backend: Option<KeyedStateBackend<Vec<u8>>>,
    last: Option<ValueState<Vec<u8>>>,
}

impl ChangelogNormalize {
    /// Normalizes a changelog of `schema` by the primary key `keys`.
    pub fn new(schema: SchemaRef, keys: Vec<usize>) -> Self {
        ChangelogNormalize {
            schema,
            keys,
            key_codec: None,
            row_codec: None,
            backend: None,
            last: None,
        }
    }

    /// The data columns (all but `__op`).
    fn width(&self) -> usize {
        self.schema.fields().len() - 1
    }
}

impl Operator for ChangelogNormalize {
    type In = RecordBatch;
    type Out = RecordBatch;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let KeyedState { mut backend, .. } = ctx.keyed_state::<Vec<u8>, ()>()?;
        self.last = Some(backend.value_state(ValueStateDescriptor::new("last-row"))?);
        self.backend = Some(backend);
        let all: Vec<usize> = (0..self.width()).collect();
        self.key_codec = Some(KeyCodec::new(&self.schema, &self.keys).map_err(runtime)?);
        self.row_codec = Some(KeyCodec::new(&self.schema, &all).map_err(runtime)?);
        Ok(())
    }

    fn process_batch(
        &mut self,
        batch: RecordBatch,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        let (Some(backend), Some(last), Some(key_codec), Some(row_codec)) = (
            self.backend.as_mut(),
            self.last.as_ref(),
            self.key_codec.as_ref(),
            self.row_codec.as_ref(),
        ) else {
            return Err(runtime("changelog normalization used before open"));
        };
        let keys = key_codec.encode(&batch).map_err(runtime)?;
        let rows = row_codec.encode(&batch).map_err(runtime)?;
        let kinds = changelog::kinds(&batch);
        let mut emitted: Vec<(RowKind, Vec<u8>)> = Vec::new();
        for i in 0..batch.num_rows() {
            backend.set_current_key(keys.row(i).data().to_vec());
            let previous = last.take(backend);
            match changelog::kind_at(kinds, i) {
                RowKind::Insert | RowKind::UpdateAfter => {
                    let row = rows.row(i).data().to_vec();
                    match previous {
                        Some(old) if old == row => {}
                        Some(old) => {
                            emitted.push((RowKind::UpdateBefore, old));
                            emitted.push((RowKind::UpdateAfter, row.clone()));
                        }
                        None => emitted.push((RowKind::Insert, row.clone())),
                    }
                    last.update(backend, row);
                }
                RowKind::Delete => {
                    if let Some(old) = previous {
                        emitted.push((RowKind::Delete, old));
                    }
                }
                // An upsert changelog has no -U; a full one's -U precedes its +U.
                RowKind::UpdateBefore => {
                    if let Some(old) = previous {
                        last.update(backend, old);
                    }
                }
            }
        }
        if emitted.is_empty() {
            return Ok(());
        }
        let n = emitted.len();
        let mut columns = row_codec
            .decode(emitted.iter().map(|(_, row)| row.as_slice()))
            .map_err(runtime)?;
        columns.push(std::sync::Arc::new(Int8Array::from_iter_values(
            emitted.iter().map(|(kind, _)| *kind as i8),
        )));
        let columns = conform(&self.schema, columns).map_err(runtime)?;
        out.collect(changelog::batch(self.schema.clone(), columns, n).map_err(runtime)?)
    }

    fn managed_state(&mut self) -> Option<ManagedState<'_>> {
        Some(ManagedState::new(self.backend.as_mut()?))
    }
}
