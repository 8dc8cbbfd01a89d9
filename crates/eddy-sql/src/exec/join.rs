//! Regular joins: INNER, LEFT, RIGHT and FULL OUTER over unbounded streams.
//!
//! Both inputs are partitioned by the equi-join key; each side keeps its rows
//! per key in keyed state (rows in Arrow's row format). A row of one side is
//! joined with the other side's rows of its key that pass the join condition.
//! Outer sides count each row's matches, so a row that gains its first match
//! retracts its null-padded result (`-D`) and one that loses its last match
//! emits it again (`+I`), as Flink's streaming join does. An inner join forwards
//! its input's row kind; an outer join emits only `+I` and `-D`.
//!
//! `table.exec.state.ttl` expires a key's rows on a side once that side has not
//! written the key for the retention time.

use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::SchemaRef;
use datafusion_physical_expr::PhysicalExpr;
use eddy_core::Result;
use eddy_runtime::output::Emitter;
use eddy_runtime::{KeyedState, ManagedState};
use eddy_runtime::{OperatorContext, TwoInputOperator};
use eddy_state::{KeyedStateBackend, ValueState};

use crate::error::runtime;
use crate::exec::calc::evaluate;
use crate::exec::changelog::{self, conform, RowKind};
use crate::exec::keys::KeyCodec;

/// A side's rows of one key: the row (Arrow row format) and, on an outer side,
/// its number of matches.
pub(crate) type Records = Vec<(Vec<u8>, u32)>;

/// One input of a join.
#[derive(Clone)]
pub struct JoinSide {
    /// Its Arrow schema (with `__op` when it updates).
    pub schema: SchemaRef,
    /// How many leading columns are the side's part of the output (key
    /// columns computed for the join follow them).
    pub width: usize,
    /// The equi-join key columns.
    pub keys: Vec<usize>,
    /// Whether unmatched rows of this side are emitted padded with nulls.
    pub outer: bool,
}

/// A join's plan.
#[derive(Clone)]
pub struct JoinSpec {
    /// The left input.
    pub left: JoinSide,
    /// The right input.
    pub right: JoinSide,
    /// The non-equi part of the condition, over the left then right columns.
    pub condition: Option<Arc<dyn PhysicalExpr>>,
    /// The joined schema the condition is evaluated on (no `__op`).
    pub joined: SchemaRef,
    /// The output schema (with `__op` when the join updates).
    pub output: SchemaRef,
    /// Whether `NULL` keys match each other (`IS NOT DISTINCT FROM`).
    pub nulls_equal: bool,
    /// Retention of each side's rows, from `table.exec.state.ttl`.
    pub ttl_ms: Option<u64>,
}

/// Encoders of one side: its key, its rows, and a row of nulls (padding).
pub(crate) struct Codecs {
    pub(crate) key: KeyCodec,
    pub(crate) row: KeyCodec,
    pub(crate) null_row: Vec<u8>,
}

impl Codecs {
    pub(crate) fn new(side: &JoinSide) -> crate::error::SqlResult<Self> {
        let all: Vec<usize> = (0..side.width).collect();
        let row = KeyCodec::new(&side.schema, &all)?;
        let nulls: Vec<ArrayRef> = (0..side.width)
            .map(|c| new_null_array(side.schema.field(c).data_type(), 1))
            .collect();
        let null_batch = changelog::batch(
            Arc::new(arrow::datatypes::Schema::new(
                side.schema.fields()[..side.width].to_vec(),
            )),
            nulls,
            1,
        )?;
        let null_row = row.encode(&null_batch)?.row(0).data().to_vec();
        Ok(Codecs {
            key: KeyCodec::new(&side.schema, &side.keys)?,
            row,
            null_row,
        })
    }
}

/// What one output row is made of: a row of the batch being processed (or
/// nulls) and a row of the other side (or nulls).
struct Pending {
    kinds: Vec<RowKind>,
    input: Vec<Option<u32>>,
    other: Vec<Option<Vec<u8>>>,
}

impl Pending {
    fn new() -> Self {
        Pending {
            kinds: Vec::new(),
            input: Vec::new(),
            other: Vec::new(),
        }
    }

    fn push(&mut self, kind: RowKind, input: Option<usize>, other: Option<&[u8]>) {
        self.kinds.push(kind);
        self.input.push(input.map(|i| i as u32));
        self.other.push(other.map(<[u8]>::to_vec));
    }
}

/// Joined columns, left side first: rows `indices` of the first `width`
/// columns of `batch` (side `s`; a null index gives nulls) next to the other
/// side's encoded rows.
fn side_by_side<'a>(
    s: usize,
    batch: &RecordBatch,
    width: usize,
    indices: &UInt32Array,
    other: &KeyCodec,
    other_rows: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<ArrayRef>> {
    let mine = batch.columns()[..width]
        .iter()
        .map(|c| take(c.as_ref(), indices, None))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(runtime)?;
    let theirs = other.decode(other_rows).map_err(runtime)?;
    Ok(if s == 0 {
        mine.into_iter().chain(theirs).collect()
    } else {
        theirs.into_iter().chain(mine).collect()
    })
}

/// What the join condition is checked with for a batch of one side.
pub(crate) struct PairCheck<'a> {
    /// The side of the batch (0 left, 1 right).
    pub(crate) side: usize,
    pub(crate) batch: &'a RecordBatch,
    /// The side's output width.
    pub(crate) width: usize,
    /// Rows whose key is NULL (they match nothing).
    pub(crate) null_key: &'a [bool],
    /// The other side's row codec.
    pub(crate) other: &'a KeyCodec,
    pub(crate) condition: &'a Arc<dyn PhysicalExpr>,
    /// The schema the condition reads: left columns, then right columns.
    pub(crate) joined: &'a SchemaRef,
    /// Whether a condition that is NULL (unknown) counts as a match.
    pub(crate) unknown_matches: bool,
}

/// Evaluates the condition once for every (row, other row of its key) pair of
/// a batch (`others_of(i)` gives row `i`'s other rows, in state order). Returns
/// where each row's pairs start and whether each pair matched.
pub(crate) fn condition_flags(
    check: &PairCheck<'_>,
    mut others_of: impl FnMut(usize) -> Vec<Vec<u8>>,
) -> Result<(Vec<usize>, Vec<bool>)> {
    let n = check.batch.num_rows();
    let mut starts = Vec::with_capacity(n + 1);
    let mut input = Vec::new();
    let mut others: Vec<Vec<u8>> = Vec::new();
    for (i, &null) in check.null_key.iter().enumerate() {
        starts.push(others.len());
        if null {
            continue;
        }
        for row in others_of(i) {
            input.push(i as u32);
            others.push(row);
        }
    }
    starts.push(others.len());
    let pairs = UInt32Array::from(input);
    let columns = side_by_side(
        check.side,
        check.batch,
        check.width,
        &pairs,
        check.other,
        others.iter().map(Vec::as_slice),
    )?;
    let columns = conform(check.joined, columns).map_err(runtime)?;
    let joined = changelog::batch(check.joined.clone(), columns, pairs.len()).map_err(runtime)?;
    let mask = evaluate(check.condition, &joined)?;
    let mask = mask.as_boolean();
    let flags = (0..mask.len())
        .map(|k| match mask.is_valid(k) {
            true => mask.value(k),
            false => check.unknown_matches,
        })
        .collect();
    Ok((starts, flags))
}

/// What a join keeps: each side's rows per key in keyed state, and their
/// codecs. Shared by the regular and the semi/anti join.
pub(crate) struct Sides {
    pub(crate) codecs: [Codecs; 2],
    pub(crate) backend: KeyedStateBackend<Vec<u8>>,
    pub(crate) states: [ValueState<Records>; 2],
}

/// A batch of one side, ready to be joined: its keys and rows encoded, which
/// rows have a NULL key (and match nothing), and which (row, other row) pairs
/// pass the join condition.
pub(crate) struct Prepared {
    keys: Option<arrow::row::Rows>,
    pub(crate) rows: arrow::row::Rows,
    pub(crate) null_key: Vec<bool>,
    pub(crate) matched: Option<(Vec<usize>, Vec<bool>)>,
}

impl Prepared {
    /// Row `i`'s key (empty without equality keys).
    pub(crate) fn key(&self, i: usize) -> Vec<u8> {
        self.keys
            .as_ref()
            .map_or(Vec::new(), |k| k.row(i).data().to_vec())
    }
}

impl Sides {
    /// The state of a join of `spec`, from the operator's context.
    pub(crate) fn open(ctx: &OperatorContext, spec: &JoinSpec) -> Result<Self> {
        let KeyedState { mut backend, .. } = ctx.keyed_state::<Vec<u8>, ()>()?;
        let descriptor = |name: &str| super::value_state(name, spec.ttl_ms);
        let states = [
            backend.value_state(descriptor("left-records"))?,
            backend.value_state(descriptor("right-records"))?,
        ];
        let codecs = [
            Codecs::new(&spec.left).map_err(runtime)?,
            Codecs::new(&spec.right).map_err(runtime)?,
        ];
        Ok(Sides {
            codecs,
            backend,
            states,
        })
    }

    /// Prepares a batch of side `s`; with `unknown_matches` a NULL condition
    /// counts as a match.
    pub(crate) fn prepare(
        &mut self,
        spec: &JoinSpec,
        s: usize,
        batch: &RecordBatch,
        unknown_matches: bool,
    ) -> Result<Prepared> {
        let o = 1 - s;
        let mine = if s == 0 { &spec.left } else { &spec.right };
        // Without equality keys every row has the empty key.
        let keys = (!mine.keys.is_empty())
            .then(|| self.codecs[s].key.encode(batch))
            .transpose()
            .map_err(runtime)?;
        let rows = self.codecs[s].row.encode(batch).map_err(runtime)?;
        let null_key: Vec<bool> = (0..batch.num_rows())
            .map(|i| !spec.nulls_equal && mine.keys.iter().any(|&k| batch.column(k).is_null(i)))
            .collect();
        let mut prepared = Prepared {
            keys,
            rows,
            null_key,
            matched: None,
        };
        if let Some(condition) = &spec.condition {
            let Sides {
                codecs,
                backend,
                states,
            } = self;
            prepared.matched = Some(condition_flags(
                &PairCheck {
                    side: s,
                    batch,
                    width: mine.width,
                    null_key: &prepared.null_key,
                    other: &codecs[o].row,
                    condition,
                    joined: &spec.joined,
                    unknown_matches,
                },
                |i| {
                    backend.set_current_key(prepared.key(i));
                    let mut rows = Vec::new();
                    states[o].with_mut(backend, |records| {
                        rows.extend(records.iter().map(|(row, _)| row.clone()));
                    });
                    rows
                },
            )?);
        }
        Ok(prepared)
    }
}

/// See the module docs.
pub struct JoinOperator {
    spec: JoinSpec,
    sides: Option<Sides>,
}

impl JoinOperator {
    /// A join operator.
    pub fn new(spec: JoinSpec) -> Self {
        JoinOperator { spec, sides: None }
    }

    fn side(&self, s: usize) -> &JoinSide {
        if s == 0 {
            &self.spec.left
        } else {
            &self.spec.right
        }
    }

    /// Joins a batch of side `s` (0 left, 1 right).
    fn process(
        &mut self,
        s: usize,
        batch: RecordBatch,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        let o = 1 - s;
        let (mine, theirs) = (self.side(s).clone(), self.side(o).clone());
        let Some(sides) = self.sides.as_mut() else {
            return Err(runtime("join used before open"));
        };
        let prepared = sides.prepare(&self.spec, s, &batch, false)?;
        let Sides {
            codecs,
            backend,
            states,
        } = sides;
        let Prepared {
            rows,
            null_key,
            matched,
            ..
        } = &prepared;
        let key_of = |i: usize| prepared.key(i);
        let kinds = changelog::kinds(&batch);
        let n = batch.num_rows();
        let mut pending = Pending::new();
        for i in 0..n {
            let kind = changelog::kind_at(kinds, i);
            let row = rows.row(i).data();
            backend.set_current_key(key_of(i));
            let accumulate = kind.is_addition();
            let out_kind = match (mine.outer || theirs.outer, accumulate) {
                (false, _) => kind,
                (true, true) => RowKind::Insert,
                (true, false) => RowKind::Delete,
            };
            // The other side's rows are joined in place: only an outer side's
            // match counts change, and reading them keeps their retention time.
            let hits = if null_key[i] {
                0
            } else {
                states[o]
                    .with_mut(backend, |other| {
                        let mut hits = 0;
                        for (j, (other_row, count)) in other.iter_mut().enumerate() {
                            if let Some((starts, flags)) = &matched {
                                if !flags.get(starts[i] + j).copied().unwrap_or(false) {
                                    continue;
                                }
                            }
                            hits += 1;
                            if accumulate {
                                if theirs.outer {
                                    if *count == 0 {
                                        pending.push(RowKind::Delete, None, Some(other_row));
                                    }
                                    *count += 1;
                                }
                                pending.push(out_kind, Some(i), Some(other_row));
                            } else {
                                pending.push(out_kind, Some(i), Some(other_row));
                                if theirs.outer {
                                    if *count == 1 {
                                        pending.push(RowKind::Insert, None, Some(other_row));
                                    }
                                    *count = count.saturating_sub(1);
                                }
                            }
                        }
                        hits
                    })
                    .unwrap_or(0)
            };
            if mine.outer && hits == 0 {
                pending.push(out_kind, Some(i), None);
            }
            let mut own = states[s].take(backend).unwrap_or_default();
            if accumulate {
                own.push((row.to_vec(), hits));
            } else if let Some(at) = own.iter().position(|(r, _)| r.as_slice() == row) {
                own.remove(at);
            }
            if !own.is_empty() {
                states[s].update(backend, own);
            }
        }
        if pending.kinds.is_empty() {
            return Ok(());
        }
        let rows_out = pending.kinds.len();
        let null_row = codecs[o].null_row.as_slice();
        let mut columns = side_by_side(
            s,
            &batch,
            mine.width,
            &UInt32Array::from(pending.input),
            &codecs[o].row,
            pending
                .other
                .iter()
                .map(|r| r.as_deref().unwrap_or(null_row)),
        )?;
        let updating = self.spec.output.fields().len() > columns.len();
        if updating {
            columns.push(changelog::kind_column(&pending.kinds));
        }
        let columns = conform(&self.spec.output, columns).map_err(runtime)?;
        out.collect(changelog::batch(self.spec.output.clone(), columns, rows_out).map_err(runtime)?)
    }
}

impl TwoInputOperator for JoinOperator {
    type In1 = RecordBatch;
    type In2 = RecordBatch;
    type Out = RecordBatch;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.sides = Some(Sides::open(ctx, &self.spec)?);
        Ok(())
    }

    fn process_batch1(
        &mut self,
        batch: RecordBatch,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        self.process(0, batch, out)
    }

    fn process_batch2(
        &mut self,
        batch: RecordBatch,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        self.process(1, batch, out)
    }

    fn managed_state(&mut self) -> Option<ManagedState<'_>> {
        Some(ManagedState::new(&mut self.sides.as_mut()?.backend))
    }
}
