//! Streaming plans: a DataFusion logical plan becomes a graph of eddy operators.
//!
//! Each plan node is translated into a [`Stream`]: the vertex that produces it,
//! its schema, whether it updates (carries row kinds) and, per column, whether
//! it is a time attribute or a window bound. Window aggregation is recognized by
//! grouping on the `window_start`/`window_end` columns of a window TVF, exactly
//! as Flink does; any other GROUP BY is an unbounded, updating aggregation.

pub mod builder;

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion_common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion_common::{Column, DFSchema, DFSchemaRef, NullEquality, ScalarValue};
use datafusion_expr::execution_props::ExecutionProps;
use datafusion_expr::expr::AggregateFunction;
use datafusion_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion_expr::type_coercion::binary::comparison_coercion;
use datafusion_expr::utils::{conjunction, split_conjunction};
use datafusion_expr::{
    Distinct, Expr, ExprSchemable, Filter, Join, JoinType, LogicalPlan, Operator, Projection,
    Window,
};
use datafusion_expr::{WindowFrameBound, WindowFrameUnits, WindowFunctionDefinition};
use datafusion_physical_expr::{create_physical_expr, PhysicalExpr};
use eddy_core::graph::VertexKind;
use eddy_core::{Partitioning, VertexId};
use eddy_runtime::{OperatorVertex, SourceVertex, TwoInputVertex, TypedEdge};

use crate::catalog::{ConnectorSource, LookupSource, TableDef, ViewSource, WindowTvfSource};
use crate::connectors::sources::{self, FileFormat, SourceFactory};
use crate::error::{SqlError, SqlResult};
use crate::exec::accum::AggSpec;
use crate::exec::aggs::Aggs;
use crate::exec::calc::{CalcOperator, WatermarkAssigner};
use crate::exec::changelog::physical_schema;
use crate::exec::group_agg::GroupAggOperator;
use crate::exec::interval_join::{IntervalJoinOperator, IntervalSpec};
use crate::exec::join::{JoinOperator, JoinSide, JoinSpec};
use crate::exec::keys::key_hasher;
use crate::exec::lookup::{LookupJoinOperator, LookupSpec};
use crate::exec::over::{Frame, OverAggOperator, OverSpec};
use crate::exec::rank::{RankMode, RankOperator, RankSpec};
use crate::exec::values::ValuesSource;
use crate::exec::window::{WindowAggOperator, WindowOut, WindowSpec, WindowTvfOperator};
use crate::functions::AggKind;
use crate::tvf::TvfKind;
use builder::JobBuilder;

/// What a column of a stream is, beyond its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attr {
    /// A plain value.
    Plain,
    /// An event-time attribute.
    Rowtime,
    /// A processing-time attribute.
    Proctime,
    /// `window_start` of window `n`.
    WindowStart(usize),
    /// `window_end` of window `n`.
    WindowEnd(usize),
    /// `window_time` of window `n` (also an event-time attribute).
    WindowTime(usize),
}

/// A translated plan node.
#[derive(Clone)]
pub struct Stream {
    /// The vertex producing it.
    pub vertex: VertexId,
    /// Its columns.
    pub schema: DFSchemaRef,
    /// Whether its rows carry row kinds (`-U`, `+U`, `-D`).
    pub updating: bool,
    /// Per column.
    pub attrs: Vec<Attr>,
    /// What produces the updates, for error messages.
    pub updated_by: Option<String>,
}

impl Stream {
    /// The Arrow schema of its batches.
    pub fn arrow(&self) -> SchemaRef {
        physical_schema(&self.schema, self.updating)
    }
}

/// Translates plans into one job.
pub struct StreamPlanner {
    /// The job under construction.
    pub job: JobBuilder,
    parallelism: u32,
    max_parallelism: u32,
    state_ttl_ms: Option<u64>,
    windows: Vec<WindowSpec>,
    /// Per window TVF, its `PARTITION BY` columns (SESSION).
    session_partitions: Vec<Vec<String>>,
    /// Per window TVF, whether it windows processing time.
    window_proctime: Vec<bool>,
    /// The rank filter found above a ROW_NUMBER window, for its translation.
    pending_rank: Option<PendingRank>,
    /// Whether the projection over a rank filter selects the row number.
    rank_output_hint: Option<bool>,
}

/// A `WHERE rownum ...` bound waiting for its ROW_NUMBER window.
struct PendingRank {
    window: *const Window,
    start: u64,
    end: u64,
    output_rank: bool,
}

/// The aggregate function of a name.
fn agg_kind(name: &str) -> SqlResult<AggKind> {
    Ok(match name {
        "count" => AggKind::Count,
        "sum" => AggKind::Sum,
        "avg" => AggKind::Avg,
        "min" => AggKind::Min,
        "max" => AggKind::Max,
        "first_value" => AggKind::FirstValue,
        "last_value" => AggKind::LastValue,
        other => {
            return Err(SqlError::unsupported(format!(
                "the aggregate function {other}"
            )))
        }
    })
}

/// A frame bound as rows (`None` for UNBOUNDED) or milliseconds.
fn frame_bound(bound: &WindowFrameBound, rows: bool) -> SqlResult<Option<i64>> {
    match bound {
        WindowFrameBound::CurrentRow => Ok(Some(0)),
        WindowFrameBound::Preceding(v) if v.is_null() => Ok(None),
        WindowFrameBound::Preceding(v) if rows => match v.cast_to(&arrow::datatypes::DataType::Int64)? {
            ScalarValue::Int64(Some(n)) if n >= 0 => Ok(Some(n)),
            other => Err(SqlError::new(format!("a ROWS frame needs a row count, found {other}"))),
        },
        WindowFrameBound::Preceding(v) => interval_literal(&Expr::Literal(v.clone(), None))
            .map(Some)
            .ok_or_else(|| {
                SqlError::unsupported(format!(
                    "the RANGE frame bound {v} (eddy has INTERVAL ... PRECEDING over a time attribute)"
                ))
            }),
        WindowFrameBound::Following(_) => Err(SqlError::unsupported(
            "OVER windows ending after the current row (a stream's OVER window ends at CURRENT ROW)",
        )),
    }
}

/// The time bounds of an interval (or window) join.
struct IntervalBounds {
    left_time: usize,
    right_time: usize,
    lower: i64,
    upper: i64,
    window: bool,
}

/// A window join: both inputs windowed, joined on equal `window_start` and
/// `window_end`; an interval join on `window_end` with bounds `[0, 0]`.
fn window_join(on: &[(Expr, Expr)], left: &Stream, right: &Stream) -> Option<IntervalBounds> {
    let attr = |s: &Stream, e: &Expr| match e {
        Expr::Column(c) => s.schema.index_of_column(c).ok().map(|i| (i, s.attrs[i])),
        _ => None,
    };
    let mut start = false;
    let mut ends = None;
    for (l, r) in on {
        match (attr(left, l)?, attr(right, r)?) {
            ((_, Attr::WindowStart(_)), (_, Attr::WindowStart(_))) => start = true,
            ((a, Attr::WindowEnd(_)), (b, Attr::WindowEnd(_))) => ends = Some((a, b)),
            _ => {}
        }
    }
    let (left_time, right_time) = ends.filter(|_| start)?;
    Some(IntervalBounds {
        left_time,
        right_time,
        lower: 0,
        upper: 0,
        window: true,
    })
}

/// A literal interval in milliseconds.
fn interval_literal(e: &Expr) -> Option<i64> {
    match e {
        Expr::Literal(ScalarValue::IntervalDayTime(Some(v)), _) => {
            Some(v.days as i64 * 86_400_000 + v.milliseconds as i64)
        }
        Expr::Literal(ScalarValue::IntervalMonthDayNano(Some(v)), _) if v.months == 0 => {
            Some(v.days as i64 * 86_400_000 + v.nanoseconds / 1_000_000)
        }
        Expr::Cast(c) => interval_literal(&c.expr),
        _ => None,
    }
}

/// `column ± interval ...` of one side: (side, column, offset in ms).
fn time_term(e: &Expr, left: &Stream, right: &Stream) -> Option<(usize, usize, i64)> {
    match e {
        Expr::Column(c) => left
            .schema
            .index_of_column(c)
            .ok()
            .map(|i| (0, i))
            .or_else(|| right.schema.index_of_column(c).ok().map(|i| (1, i)))
            .map(|(s, i)| (s, i, 0)),
        Expr::BinaryExpr(b) if matches!(b.op, Operator::Plus | Operator::Minus) => {
            let (s, c, o) = time_term(&b.left, left, right)?;
            let v = interval_literal(&b.right)?;
            Some((s, c, if b.op == Operator::Plus { o + v } else { o - v }))
        }
        Expr::Cast(c) => time_term(&c.expr, left, right),
        _ => None,
    }
}

/// The bounds a conjunct puts on `l.t - r.t`: (left column, right column,
/// lower, upper), when it compares an event-time attribute of each side.
fn time_bound(e: &Expr, left: &Stream, right: &Stream) -> Option<(usize, usize, i64, i64)> {
    match e {
        Expr::Between(b) if !b.negated => {
            let low = Expr::BinaryExpr(datafusion_expr::BinaryExpr::new(
                b.expr.clone(),
                Operator::GtEq,
                b.low.clone(),
            ));
            let high = Expr::BinaryExpr(datafusion_expr::BinaryExpr::new(
                b.expr.clone(),
                Operator::LtEq,
                b.high.clone(),
            ));
            let (l1, r1, lo1, hi1) = time_bound(&low, left, right)?;
            let (l2, r2, lo2, hi2) = time_bound(&high, left, right)?;
            ((l1, r1) == (l2, r2)).then_some((l1, r1, lo1.max(lo2), hi1.min(hi2)))
        }
        Expr::BinaryExpr(b) => {
            let (sa, ca, oa) = time_term(&b.left, left, right)?;
            let (sb, cb, ob) = time_term(&b.right, left, right)?;
            if sa == sb {
                return None;
            }
            let is_time = |s: usize, c: usize| {
                let stream = if s == 0 { left } else { right };
                matches!(stream.attrs[c], Attr::Rowtime | Attr::WindowTime(_))
            };
            if !is_time(sa, ca) || !is_time(sb, cb) {
                return None;
            }
            // (ta + oa) op (tb + ob), as l - r op c.
            let (op, c, lc, rc) = if sa == 0 {
                (b.op, ob - oa, ca, cb)
            } else {
                (b.op.swap()?, oa - ob, cb, ca)
            };
            let (lo, hi) = match op {
                Operator::GtEq => (c, i64::MAX),
                Operator::Gt => (c + 1, i64::MAX),
                Operator::LtEq => (i64::MIN, c),
                Operator::Lt => (i64::MIN, c - 1),
                _ => return None,
            };
            Some((lc, rc, lo, hi))
        }
        _ => None,
    }
}

/// Takes the conjuncts bounding the two sides' event times out of `rest`
/// when they bound `l.t - r.t` from both sides (an interval join).
fn interval_bounds(rest: &mut Vec<Expr>, left: &Stream, right: &Stream) -> Option<IntervalBounds> {
    let mut found: Option<(usize, usize, i64, i64)> = None;
    let mut used = Vec::new();
    for (k, c) in rest.iter().enumerate() {
        let Some((l, r, lo, hi)) = time_bound(c, left, right) else {
            continue;
        };
        match &mut found {
            None => found = Some((l, r, lo, hi)),
            Some(f) if (f.0, f.1) == (l, r) => {
                f.2 = f.2.max(lo);
                f.3 = f.3.min(hi);
            }
            Some(_) => continue,
        }
        used.push(k);
    }
    let (left_time, right_time, lower, upper) = found?;
    if lower == i64::MIN || upper == i64::MAX {
        return None;
    }
    for k in used.into_iter().rev() {
        rest.remove(k);
    }
    Some(IntervalBounds {
        left_time,
        right_time,
        lower,
        upper,
        window: false,
    })
}

/// The ROW_NUMBER window whose number is column `index` of `plan`, looking
/// through aliases and projections.
fn rank_source(plan: &LogicalPlan, index: usize) -> Option<&Window> {
    match plan {
        LogicalPlan::SubqueryAlias(a) => rank_source(&a.input, index),
        LogicalPlan::Projection(p) => match unalias(p.expr.get(index)?) {
            Expr::Column(c) => rank_source(&p.input, p.input.schema().index_of_column(c).ok()?),
            _ => None,
        },
        LogicalPlan::Window(w) => {
            let width = w.input.schema().fields().len();
            let row_number = matches!(
                w.window_expr.as_slice(),
                [e] if matches!(unalias(e), Expr::WindowFunction(f) if f.fun.name() == "row_number")
            );
            (index >= width && row_number).then_some(w)
        }
        _ => None,
    }
}

/// The column of a filter's input that is a row number, if any.
fn rank_column(filter: &Filter) -> Option<(usize, &Window)> {
    (0..filter.input.schema().fields().len())
        .find_map(|i| rank_source(&filter.input, i).map(|w| (i, w)))
}

/// Whether a projection over a rank filter selects the row number.
fn rank_hint(p: &Projection) -> Option<bool> {
    let mut input = p.input.as_ref();
    while let LogicalPlan::SubqueryAlias(a) = input {
        input = &a.input;
    }
    let LogicalPlan::Filter(f) = input else {
        return None;
    };
    let (column, _) = rank_column(f)?;
    Some(p.expr.iter().any(|e| {
        e.column_refs()
            .iter()
            .any(|c| p.input.schema().index_of_column(c).ok() == Some(column))
    }))
}

/// An integer literal.
fn literal_u64(e: &Expr) -> Option<u64> {
    match e {
        Expr::Literal(v, _) => match v.cast_to(&arrow::datatypes::DataType::Int64).ok()? {
            ScalarValue::Int64(Some(n)) => u64::try_from(n).ok(),
            _ => None,
        },
        Expr::Cast(c) => literal_u64(&c.expr),
        _ => None,
    }
}

/// The bounds a conjunct puts on the row number in `column`: (start, end).
fn rank_bound(e: &Expr, column: usize, schema: &DFSchema) -> Option<(u64, u64)> {
    let is_rank = |e: &Expr| match unalias(e) {
        Expr::Column(c) => schema.index_of_column(c).ok() == Some(column),
        Expr::Cast(c) => {
            matches!(c.expr.as_ref(), Expr::Column(c) if schema.index_of_column(c).ok() == Some(column))
        }
        _ => false,
    };
    match e {
        Expr::BinaryExpr(b) => {
            let (op, n) = if is_rank(&b.left) {
                (b.op, literal_u64(&b.right)?)
            } else if is_rank(&b.right) {
                (b.op.swap()?, literal_u64(&b.left)?)
            } else {
                return None;
            };
            match op {
                Operator::LtEq => Some((1, n)),
                Operator::Lt => Some((1, n.checked_sub(1)?)),
                Operator::Eq => Some((n, n)),
                Operator::GtEq => Some((n, u64::MAX)),
                Operator::Gt => Some((n + 1, u64::MAX)),
                _ => None,
            }
        }
        Expr::Between(b) if !b.negated && is_rank(&b.expr) => {
            Some((literal_u64(&b.low)?, literal_u64(&b.high)?))
        }
        _ => None,
    }
}

fn edge() -> Arc<TypedEdge<RecordBatch>> {
    Arc::new(TypedEdge::<RecordBatch>::new())
}

/// A physical expression over `schema`.
pub fn physical(expr: &Expr, schema: &DFSchema) -> SqlResult<Arc<dyn PhysicalExpr>> {
    let mut subquery = false;
    expr.apply(|e| {
        subquery = matches!(
            e,
            Expr::InSubquery(_) | Expr::Exists(_) | Expr::ScalarSubquery(_)
        );
        Ok(if subquery {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    })?;
    if subquery {
        return Err(SqlError::unsupported(
            "subqueries in expressions (IN, EXISTS or a scalar subquery); write them as a join",
        ));
    }
    Ok(create_physical_expr(
        expr,
        schema,
        &ExecutionProps::new(),
        &PhysicalPlanningContext::default(),
    )?)
}

fn unalias(expr: &Expr) -> &Expr {
    match expr {
        Expr::Alias(a) => unalias(&a.expr),
        e => e,
    }
}

fn short(expr: &Expr) -> String {
    let text = expr.to_string();
    if text.len() > 60 {
        format!(
            "{}...",
            &text[..text.char_indices().nth(57).map_or(text.len(), |(i, _)| i)]
        )
    } else {
        text
    }
}

impl StreamPlanner {
    /// A planner for jobs at `parallelism`.
    pub fn new(parallelism: u32, max_parallelism: u32, state_ttl_ms: Option<u64>) -> Self {
        StreamPlanner {
            job: JobBuilder::default(),
            parallelism,
            max_parallelism,
            state_ttl_ms,
            windows: Vec::new(),
            session_partitions: Vec::new(),
            window_proctime: Vec::new(),
            pending_rank: None,
            rank_output_hint: None,
        }
    }

    /// The default parallelism.
    pub fn parallelism(&self) -> u32 {
        self.parallelism
    }

    fn add_operator<O, F>(
        &mut self,
        name: &str,
        input: VertexId,
        partitioning: Partitioning,
        create: F,
    ) -> VertexId
    where
        O: eddy_runtime::Operator<In = RecordBatch>,
        F: Fn(usize) -> O + Send + Sync + 'static,
    {
        let id = self.job.add(
            name,
            VertexKind::OneInput,
            self.parallelism,
            self.max_parallelism,
            Arc::new(OperatorVertex::new(create)),
        );
        self.connect(input, id, partitioning, None);
        id
    }

    fn connect(
        &mut self,
        from: VertexId,
        to: VertexId,
        partitioning: Partitioning,
        keyed: Option<(SchemaRef, Vec<usize>)>,
    ) {
        self.connect_input(from, to, partitioning, keyed, 0);
    }

    fn connect_input(
        &mut self,
        from: VertexId,
        to: VertexId,
        partitioning: Partitioning,
        keyed: Option<(SchemaRef, Vec<usize>)>,
        input: u8,
    ) {
        let factory: Arc<dyn eddy_runtime::EdgeFactory> = match keyed {
            Some((schema, keys)) => Arc::new(TypedEdge::keyed(
                key_hasher(schema, keys),
                self.max_parallelism,
            )),
            None => edge(),
        };
        self.job
            .connect_input(from, to, partitioning, factory, input);
    }

    /// Connects a stream to a sink-like vertex at the stream's parallelism.
    pub fn add_sink<O, F>(&mut self, name: &str, input: &Stream, create: F) -> VertexId
    where
        O: eddy_runtime::Operator<In = RecordBatch>,
        F: Fn(usize) -> O + Send + Sync + 'static,
    {
        let parallelism = self.job.parallelism(input.vertex);
        let id = self.job.add(
            name,
            VertexKind::Sink,
            parallelism,
            self.max_parallelism,
            Arc::new(OperatorVertex::new(create)),
        );
        self.connect(input.vertex, id, Partitioning::Forward, None);
        id
    }

    /// Translates a plan node.
    pub fn translate(&mut self, plan: &LogicalPlan) -> SqlResult<Stream> {
        match plan {
            LogicalPlan::TableScan(scan) => {
                let stream = if let Some(source) = scan.source.downcast_ref::<ConnectorSource>() {
                    self.table(&source.table)?
                } else if let Some(view) = scan.source.downcast_ref::<ViewSource>() {
                    self.translate(&view.view.plan)?
                } else if let Some(tvf) = scan.source.downcast_ref::<WindowTvfSource>() {
                    self.window_tvf(tvf)?
                } else if let Some(lookup) = scan.source.downcast_ref::<LookupSource>() {
                    return Err(SqlError::new(format!(
                        "{} FOR SYSTEM_TIME AS OF can only be the right side of a join",
                        lookup.table.name
                    )));
                } else {
                    return Err(SqlError::new(format!("table {} cannot be read", scan.table_name)));
                };
                let stream = Stream {
                    schema: DFSchema::try_from_qualified_schema(
                        scan.table_name.clone(),
                        &scan.source.schema(),
                    )?
                    .into(),
                    ..stream
                };
                match &scan.projection {
                    Some(p) => {
                        let exprs: Vec<Expr> = p
                            .iter()
                            .map(|&i| Expr::Column(Column::from(stream.schema.qualified_field(i))))
                            .collect();
                        self.calc(stream, None, exprs, scan.projected_schema.clone())
                    }
                    None => Ok(stream),
                }
            }
            LogicalPlan::Projection(p) => {
                self.rank_output_hint = rank_hint(p);
                let input = self.translate(&p.input)?;
                self.calc(input, None, p.expr.clone(), p.schema.clone())
            }
            LogicalPlan::Filter(f) => {
                if let Some(stream) = self.rank_filter(f)? {
                    return Ok(stream);
                }
                // A filter over an inner join is part of the join's condition.
                if let LogicalPlan::Join(j) = f.input.as_ref() {
                    if j.join_type == JoinType::Inner {
                        return self.join(j, Some(f.predicate.clone()));
                    }
                }
                let input = self.translate(&f.input)?;
                let exprs = input
                    .schema
                    .columns()
                    .into_iter()
                    .map(Expr::Column)
                    .collect();
                let schema = input.schema.clone();
                self.calc(input, Some(f.predicate.clone()), exprs, schema)
            }
            LogicalPlan::SubqueryAlias(a) => {
                let input = self.translate(&a.input)?;
                Ok(Stream {
                    schema: a.schema.clone(),
                    ..input
                })
            }
            LogicalPlan::Aggregate(a) => {
                let input = self.translate(&a.input)?;
                self.aggregate(input, &a.group_expr, &a.aggr_expr, a.schema.clone())
            }
            LogicalPlan::Distinct(Distinct::All(input)) => {
                let input = self.translate(input)?;
                let group: Vec<Expr> = input.schema.columns().into_iter().map(Expr::Column).collect();
                let schema = input.schema.clone();
                self.aggregate(input, &group, &[], schema)
            }
            LogicalPlan::Union(u) => self.union(&u.inputs, u.schema.clone()),
            LogicalPlan::Values(v) => self.values(&v.values, v.schema.clone()),
            LogicalPlan::EmptyRelation(e) => {
                let rows = if e.produce_one_row { vec![vec![]] } else { vec![] };
                self.values(&rows, e.schema.clone())
            }
            LogicalPlan::Sort(_) => Err(SqlError::unsupported(
                "ORDER BY on a stream (eddy supports ORDER BY only inside ROW_NUMBER() OVER for Top-N)",
            )),
            LogicalPlan::Limit(_) => Err(SqlError::unsupported("LIMIT on a stream")),
            LogicalPlan::Join(j) => self.join(j, None),
            LogicalPlan::Window(w) => match self.pending_rank.take() {
                Some(rank) if std::ptr::eq(rank.window, w) => self.rank(w, rank),
                _ => self.over(w),
            },
            other => Err(SqlError::unsupported(format!(
                "the plan node {} in a streaming query",
                other.display()
            ))),
        }
    }

    /// How to read a table: its source and whether it is a changelog.
    fn source(&self, def: &TableDef) -> SqlResult<(SourceFactory, bool)> {
        let connector = def.option("connector").unwrap_or_default().to_string();
        let physical_schema_ = def.physical.clone();
        let name = def.name.clone();
        Ok(match connector.as_str() {
            "nexmark" => (sources::nexmark(&name, physical_schema_, &def.options)?, false),
            "datagen" => (sources::datagen(&name, physical_schema_, &def.options)?.0, false),
            "filesystem" => {
                let path = def.option("path").ok_or_else(|| {
                    SqlError::new(format!("table {name} needs the option 'path'"))
                })?;
                let format = FileFormat::from_options(&name, &def.options)?;
                let updating = format.is_changelog();
                let output = physical_schema(
                    &DFSchema::try_from(physical_schema_.as_ref().clone())?,
                    updating,
                );
                (
                    sources::filesystem(&name, physical_schema_, output, path.to_string(), format),
                    updating,
                )
            }
            "" => return Err(SqlError::new(format!("table {name} has no 'connector' option"))),
            "print" | "blackhole" => {
                return Err(SqlError::new(format!(
                    "table {name} uses the '{connector}' connector, which can only be written to"
                )))
            }
            other => {
                return Err(SqlError::unsupported(format!(
                    "connector '{other}' of table {name} (eddy has filesystem, datagen, nexmark, print and blackhole)"
                )))
            }
        })
    }

    fn table(&mut self, def: &Arc<TableDef>) -> SqlResult<Stream> {
        let connector = def.option("connector").unwrap_or_default().to_string();
        let physical_schema_ = def.physical.clone();
        let name = def.name.clone();
        let (factory, updating) = self.source(def)?;
        let parallelism = self.parallelism;
        let vertex = self.job.add(
            &format!("TableSourceScan(table=[{name}], connector=[{connector}])"),
            VertexKind::Source,
            parallelism,
            self.max_parallelism,
            Arc::new(SourceVertex::new(move |i| factory(i))),
        );
        let physical_df: DFSchemaRef = def.physical_df.clone();
        let mut stream = Stream {
            vertex,
            schema: physical_df.clone(),
            updating,
            attrs: vec![Attr::Plain; physical_schema_.fields().len()],
            updated_by: updating.then(|| format!("the changelog source {name}")),
        };
        if def.has_computed() {
            let exprs: Vec<Expr> = def
                .computed
                .iter()
                .zip(def.full_df.fields())
                .map(|(c, f)| match c {
                    Some(e) => e.clone().alias(f.name()),
                    None => Expr::Column(Column::new_unqualified(f.name())),
                })
                .collect();
            stream = self.calc(stream, None, exprs, def.full_df.clone())?;
        }
        stream.schema = def.full_df.clone();
        if let Some(wm) = &def.watermark {
            let expr = physical(&wm.expr, &def.full_df)?;
            let vertex = self.add_operator(
                &format!(
                    "WatermarkAssigner(rowtime=[{}], watermark=[{}])",
                    def.full_df.field(wm.column).name(),
                    wm.text
                ),
                stream.vertex,
                Partitioning::Forward,
                move |_| WatermarkAssigner::new(expr.clone()),
            );
            stream.vertex = vertex;
            stream.attrs[wm.column] = Attr::Rowtime;
        }
        if let Some(p) = def.proctime {
            stream.attrs[p] = Attr::Proctime;
        }
        Ok(stream)
    }

    fn calc(
        &mut self,
        input: Stream,
        filter: Option<Expr>,
        exprs: Vec<Expr>,
        schema: DFSchemaRef,
    ) -> SqlResult<Stream> {
        // A projection that keeps every column in order is no operator at all.
        let identity = filter.is_none()
            && exprs.len() == input.schema.fields().len()
            && exprs.iter().enumerate().all(|(i, e)| match unalias(e) {
                Expr::Column(c) => input.schema.index_of_column(c).ok() == Some(i),
                _ => false,
            });
        let attrs: Vec<Attr> = exprs
            .iter()
            .map(|e| match unalias(e) {
                Expr::Column(c) => input
                    .schema
                    .index_of_column(c)
                    .map_or(Attr::Plain, |i| input.attrs[i]),
                Expr::ScalarFunction(f) if f.func.name() == "proctime" => Attr::Proctime,
                _ => Attr::Plain,
            })
            .collect();
        if identity {
            return Ok(Stream {
                schema,
                attrs,
                ..input
            });
        }
        let filter_expr = filter
            .as_ref()
            .map(|f| physical(f, &input.schema))
            .transpose()?;
        let projection = exprs
            .iter()
            .map(|e| physical(unalias(e), &input.schema))
            .collect::<SqlResult<Vec<_>>>()?;
        let updating = input.updating;
        let output = physical_schema(&schema, updating);
        let mut name = String::from("Calc(");
        if let Some(f) = &filter {
            name.push_str(&format!("where=[{}], ", short(f)));
        }
        let select: Vec<String> = exprs.iter().map(short).collect();
        name.push_str(&format!("select=[{}])", select.join(", ")));
        let vertex = self.add_operator(&name, input.vertex, Partitioning::Forward, move |_| {
            CalcOperator::new(
                filter_expr.clone(),
                projection.clone(),
                output.clone(),
                updating,
            )
        });
        Ok(Stream {
            vertex,
            schema,
            updating,
            attrs,
            updated_by: input.updated_by,
        })
    }

    fn window_tvf(&mut self, tvf: &WindowTvfSource) -> SqlResult<Stream> {
        let input = self.translate(&tvf.input)?;
        let call = &tvf.call;
        match input.attrs[tvf.time_column] {
            Attr::Rowtime | Attr::WindowTime(_) | Attr::Proctime => {}
            _ => {
                return Err(SqlError::new(format!(
                    "the time column '{}' of {} must be a time attribute (declare a WATERMARK for it), but it is a plain {}",
                    call.time_column,
                    call.kind.name(),
                    crate::types::sql_name(input.schema.field(tvf.time_column).data_type())
                )))
            }
        }
        if input.updating {
            return Err(SqlError::unsupported(format!(
                "{} over an updating input ({})",
                call.kind.name(),
                input.updated_by.clone().unwrap_or_default()
            )));
        }
        let iv = &call.intervals;
        let spec = match call.kind {
            TvfKind::Tumble => WindowSpec::Tumble {
                size: iv[0],
                offset: iv[1],
            },
            TvfKind::Hop => {
                if iv[1] % iv[0] != 0 {
                    return Err(SqlError::new(format!(
                        "HOP window size ({} ms) must be an integral multiple of its slide ({} ms)",
                        iv[1], iv[0]
                    )));
                }
                WindowSpec::Hop {
                    slide: iv[0],
                    size: iv[1],
                    offset: iv[2],
                }
            }
            TvfKind::Cumulate => {
                if iv[1] % iv[0] != 0 {
                    return Err(SqlError::new(format!(
                        "CUMULATE window size ({} ms) must be an integral multiple of its step ({} ms)",
                        iv[1], iv[0]
                    )));
                }
                WindowSpec::Cumulate {
                    step: iv[0],
                    size: iv[1],
                    offset: iv[2],
                }
            }
            TvfKind::Session => WindowSpec::Session { gap: iv[0] },
        };
        let proctime = input.attrs[tvf.time_column] == Attr::Proctime;
        let id = self.windows.len();
        self.windows.push(spec);
        self.session_partitions.push(call.partition_by.clone());
        self.window_proctime.push(proctime);
        let schema: DFSchemaRef = DFSchema::try_from(tvf.schema.as_ref().clone())?.into();
        let output = physical_schema(&schema, false);
        let time_column = tvf.time_column;
        let vertex = self.add_operator(
            &format!(
                "WindowTableFunction({:?}, time_col=[{}])",
                spec, call.time_column
            ),
            input.vertex,
            Partitioning::Forward,
            move |_| {
                let operator = WindowTvfOperator::new(spec, time_column, output.clone());
                if proctime {
                    operator.processing_time()
                } else {
                    operator
                }
            },
        );
        let mut attrs = input.attrs.clone();
        attrs.extend([
            Attr::WindowStart(id),
            Attr::WindowEnd(id),
            Attr::WindowTime(id),
        ]);
        Ok(Stream {
            vertex,
            schema,
            updating: false,
            attrs,
            updated_by: None,
        })
    }

    fn aggregate(
        &mut self,
        input: Stream,
        group: &[Expr],
        aggr: &[Expr],
        schema: DFSchemaRef,
    ) -> SqlResult<Stream> {
        struct Call {
            kind: AggKind,
            arg: Option<usize>,
            filter: Option<usize>,
            distinct: bool,
            input_type: Option<arrow::datatypes::DataType>,
        }
        // Every group expression, argument and filter becomes a column.
        let mut needed: Vec<Expr> = group.to_vec();
        let mut calls = Vec::new();
        for e in aggr {
            let Expr::AggregateFunction(AggregateFunction { func, params }) = unalias(e) else {
                return Err(SqlError::unsupported(format!("aggregate expression {e}")));
            };
            let kind = agg_kind(func.name())?;
            if params.args.len() > 1 {
                return Err(SqlError::unsupported(format!(
                    "{} with {} arguments",
                    func.name(),
                    params.args.len()
                )));
            }
            if !params.order_by.is_empty() {
                return Err(SqlError::unsupported(format!(
                    "ORDER BY inside {}",
                    func.name()
                )));
            }
            let arg = params.args.first().filter(|a| {
                !(kind == AggKind::Count
                    && !params.distinct
                    && matches!(a, Expr::Literal(v, _) if !v.is_null()))
            });
            let input_type = arg.map(|a| a.get_type(&input.schema)).transpose()?;
            let mut slot = |e: Option<&Expr>| {
                e.map(|e| {
                    needed.push(e.clone());
                    needed.len() - 1
                })
            };
            calls.push(Call {
                kind,
                arg: slot(arg),
                filter: slot(params.filter.as_deref()),
                distinct: params.distinct,
                input_type,
            });
        }
        let (stream, columns) = self.with_columns(input, &needed)?;
        let group_cols: Vec<usize> = columns[..group.len()].to_vec();
        for c in &mut calls {
            c.arg = c.arg.map(|k| columns[k]);
            c.filter = c.filter.map(|k| columns[k]);
        }
        let retracting = stream.updating;
        let specs: Vec<AggSpec> = calls
            .into_iter()
            .zip(schema.fields().iter().skip(group.len()))
            .map(|(c, f)| AggSpec {
                kind: c.kind,
                arg: c.arg,
                filter: c.filter,
                distinct: c.distinct,
                input_type: c.input_type,
                output_type: f.data_type().clone(),
                retracting,
            })
            .collect();
        for s in &specs {
            if retracting && matches!(s.kind, AggKind::FirstValue | AggKind::LastValue) {
                return Err(SqlError::unsupported(format!(
                    "{:?} over an updating input ({})",
                    s.kind,
                    stream.updated_by.clone().unwrap_or_default()
                )));
            }
        }
        let aggs = Aggs { specs };
        let in_arrow = stream.arrow();
        // Keys must have a row encoding (the exchange and the state use it).
        if !group_cols.is_empty() {
            crate::exec::keys::KeyCodec::new(&in_arrow, &group_cols)?;
        }
        // Window aggregation: grouped by the bounds of one window TVF.
        let window_attr = |i: usize| stream.attrs.get(i).copied().unwrap_or(Attr::Plain);
        let mut window_id = None;
        for &c in &group_cols {
            if let Attr::WindowStart(w) | Attr::WindowEnd(w) | Attr::WindowTime(w) = window_attr(c)
            {
                window_id = Some(w);
            }
        }
        let agg_names: Vec<String> = aggr.iter().map(short).collect();
        let group_names: Vec<String> = group.iter().map(short).collect();
        let output = physical_schema(&schema, window_id.is_none());
        if let Some(w) = window_id {
            if stream.updating {
                return Err(SqlError::unsupported(
                    "window aggregation over an updating input",
                ));
            }
            let start = group_cols
                .iter()
                .find(|&&c| window_attr(c) == Attr::WindowStart(w));
            let end = group_cols
                .iter()
                .find(|&&c| window_attr(c) == Attr::WindowEnd(w));
            let (Some(&start), Some(&end)) = (start, end) else {
                return Err(SqlError::new(
                    "a window aggregation must GROUP BY both window_start and window_end of its window TVF",
                ));
            };
            let mut keys = Vec::new();
            let mut outputs = Vec::new();
            let mut attrs = Vec::new();
            for &c in &group_cols {
                match window_attr(c) {
                    Attr::WindowStart(x) if x == w => {
                        outputs.push(WindowOut::Start);
                        attrs.push(Attr::WindowStart(w));
                    }
                    Attr::WindowEnd(x) if x == w => {
                        outputs.push(WindowOut::End);
                        attrs.push(Attr::WindowEnd(w));
                    }
                    Attr::WindowTime(x) if x == w => {
                        outputs.push(WindowOut::Time);
                        attrs.push(Attr::WindowTime(w));
                    }
                    _ => {
                        outputs.push(WindowOut::Key(keys.len()));
                        keys.push(c);
                        attrs.push(Attr::Plain);
                    }
                }
            }
            for k in 0..aggr.len() {
                outputs.push(WindowOut::Agg(k));
                attrs.push(Attr::Plain);
            }
            let spec = self.windows[w];
            let merging = matches!(spec, WindowSpec::Session { .. });
            let proctime = self.window_proctime[w];
            if merging && proctime {
                return Err(SqlError::unsupported(
                    "SESSION windows over processing time",
                ));
            }
            if merging {
                // Sessions are formed per PARTITION BY key, which must be
                // exactly the aggregation's other keys.
                let mut grouped: Vec<String> = keys
                    .iter()
                    .map(|&k| in_arrow.field(k).name().clone())
                    .collect();
                let mut partition = self.session_partitions[w].clone();
                grouped.sort();
                partition.sort();
                if grouped != partition {
                    return Err(SqlError::unsupported(format!(
                        "a SESSION window aggregation grouped by [{}] over sessions partitioned by [{}] (group by exactly the PARTITION BY columns)",
                        grouped.join(", "),
                        partition.join(", ")
                    )));
                }
            }
            let name = format!(
                "WindowAggregate(groupBy=[{}], window=[{:?}], select=[{}])",
                group_names.join(", "),
                spec,
                agg_names.join(", ")
            );
            let vertex = self.job.add(
                &name,
                VertexKind::OneInput,
                self.parallelism,
                self.max_parallelism,
                {
                    let (in_arrow, keys, aggs, outputs, output) = (
                        in_arrow.clone(),
                        keys.clone(),
                        aggs.clone(),
                        outputs.clone(),
                        output.clone(),
                    );
                    Arc::new(OperatorVertex::new(move |_| {
                        let operator = WindowAggOperator::new(
                            in_arrow.clone(),
                            keys.clone(),
                            start,
                            end,
                            aggs.clone(),
                            outputs.clone(),
                            output.clone(),
                        );
                        let operator = if proctime {
                            operator.processing_time()
                        } else {
                            operator
                        };
                        if merging {
                            operator.merging()
                        } else {
                            operator
                        }
                    }))
                },
            );
            self.connect(
                stream.vertex,
                vertex,
                Partitioning::Hash,
                Some((in_arrow, keys)),
            );
            return Ok(Stream {
                vertex,
                schema,
                updating: false,
                attrs,
                updated_by: None,
            });
        }
        let name = format!(
            "GroupAggregate(groupBy=[{}], select=[{}])",
            group_names.join(", "),
            agg_names.join(", ")
        );
        let ttl = self.state_ttl_ms;
        let vertex = self.job.add(
            &name,
            VertexKind::OneInput,
            self.parallelism,
            self.max_parallelism,
            {
                let (in_arrow, keys, aggs, output) = (
                    in_arrow.clone(),
                    group_cols.clone(),
                    aggs.clone(),
                    output.clone(),
                );
                Arc::new(OperatorVertex::new(move |_| {
                    GroupAggOperator::new(
                        in_arrow.clone(),
                        keys.clone(),
                        aggs.clone(),
                        output.clone(),
                        ttl,
                    )
                }))
            },
        );
        self.connect(
            stream.vertex,
            vertex,
            Partitioning::Hash,
            Some((in_arrow, group_cols.clone())),
        );
        let what = if aggr.is_empty() {
            "SELECT DISTINCT"
        } else {
            "GROUP BY aggregation"
        };
        Ok(Stream {
            vertex,
            attrs: vec![Attr::Plain; schema.fields().len()],
            schema,
            updating: true,
            updated_by: Some(format!("{what} ({name})")),
        })
    }

    /// OVER aggregation: aggregates over one OVER window ordered by an
    /// event-time attribute, ending at the current row.
    fn over(&mut self, w: &Window) -> SqlResult<Stream> {
        let mut window: Option<&datafusion_expr::expr::WindowFunctionParams> = None;
        let mut kinds = Vec::new();
        for e in &w.window_expr {
            let Expr::WindowFunction(f) = unalias(e) else {
                return Err(SqlError::unsupported(format!("the window expression {e}")));
            };
            let WindowFunctionDefinition::AggregateUDF(udaf) = &f.fun else {
                return Err(SqlError::unsupported(format!(
                    "the window function {} here (ROW_NUMBER needs a filter on its number for Top-N; aggregates can run over OVER windows)",
                    f.fun.name()
                )));
            };
            let params = &f.params;
            if let Some(first) = window {
                if (&first.partition_by, &first.order_by, &first.window_frame)
                    != (&params.partition_by, &params.order_by, &params.window_frame)
                {
                    return Err(SqlError::unsupported(
                        "several different OVER windows in one SELECT",
                    ));
                }
            }
            window = Some(params);
            if params.distinct {
                return Err(SqlError::unsupported(
                    "DISTINCT aggregates over OVER windows",
                ));
            }
            if params.args.len() > 1 {
                return Err(SqlError::unsupported(format!(
                    "{} with {} arguments",
                    udaf.name(),
                    params.args.len()
                )));
            }
            kinds.push(agg_kind(udaf.name())?);
        }
        let Some(params) = window else {
            return Err(SqlError::unsupported("an empty window"));
        };
        let input = self.translate(&w.input)?;
        let width = input.schema.fields().len();
        let time = match params.order_by.as_slice() {
            [sort] if sort.asc => match &sort.expr {
                Expr::Column(c) => input.schema.index_of_column(c).ok(),
                _ => None,
            },
            _ => None,
        };
        let time = match time.map(|t| (t, input.attrs[t])) {
            Some((t, Attr::Rowtime | Attr::WindowTime(_))) => t,
            Some((_, Attr::Proctime)) => {
                return Err(SqlError::unsupported("OVER windows over processing time"))
            }
            _ => return Err(SqlError::new(
                "an OVER window on a stream must be ordered by one event-time attribute, ascending",
            )),
        };
        if input.updating {
            return Err(SqlError::unsupported(format!(
                "OVER aggregation over an updating input ({})",
                input.updated_by.clone().unwrap_or_default()
            )));
        }
        let frame = &params.window_frame;
        if !matches!(frame.end_bound, WindowFrameBound::CurrentRow) {
            return Err(SqlError::unsupported(
                "OVER windows ending after the current row (a stream's OVER window ends at CURRENT ROW)",
            ));
        }
        let frame = match frame.units {
            WindowFrameUnits::Rows => {
                Frame::Rows(frame_bound(&frame.start_bound, true)?.map(|n| n as u64))
            }
            WindowFrameUnits::Range => Frame::Range(frame_bound(&frame.start_bound, false)?),
            WindowFrameUnits::Groups => {
                return Err(SqlError::unsupported("GROUPS frames in OVER windows"))
            }
        };
        let mut needed = params.partition_by.clone();
        let mut slots = Vec::new();
        for e in &w.window_expr {
            let Expr::WindowFunction(f) = unalias(e) else {
                continue;
            };
            let arg = f
                .params
                .args
                .first()
                .filter(|a| !(matches!(a, Expr::Literal(v, _) if !v.is_null())));
            let input_type = arg.map(|a| a.get_type(&input.schema)).transpose()?;
            let mut slot = |e: Option<&Expr>| {
                e.map(|e| {
                    needed.push(e.clone());
                    needed.len() - 1
                })
            };
            slots.push((slot(arg), slot(f.params.filter.as_deref()), input_type));
        }
        let (stream, columns) = self.with_columns(input, &needed)?;
        let keys = columns[..params.partition_by.len()].to_vec();
        let specs: Vec<AggSpec> = slots
            .into_iter()
            .zip(kinds)
            .zip(w.schema.fields().iter().skip(width))
            .map(|(((arg, filter, input_type), kind), f)| AggSpec {
                kind,
                arg: arg.map(|k| columns[k]),
                filter: filter.map(|k| columns[k]),
                distinct: false,
                input_type,
                output_type: f.data_type().clone(),
                retracting: false,
            })
            .collect();
        let in_arrow = stream.arrow();
        if !keys.is_empty() {
            crate::exec::keys::KeyCodec::new(&in_arrow, &keys)?;
        }
        let output = physical_schema(&w.schema, false);
        let select: Vec<String> = w.window_expr.iter().map(short).collect();
        let name = format!(
            "OverAggregate(frame=[{frame:?}], select=[{}])",
            select.join(", ")
        );
        let spec = OverSpec {
            input: in_arrow.clone(),
            width,
            keys: keys.clone(),
            time,
            frame,
            aggs: Aggs { specs },
            output,
        };
        let vertex = self.job.add(
            &name,
            VertexKind::OneInput,
            self.parallelism,
            self.max_parallelism,
            Arc::new(OperatorVertex::new(move |_| {
                OverAggOperator::new(spec.clone())
            })),
        );
        self.connect(
            stream.vertex,
            vertex,
            Partitioning::Hash,
            Some((in_arrow, keys)),
        );
        let mut attrs = stream.attrs[..width].to_vec();
        attrs.extend(std::iter::repeat_n(Attr::Plain, w.window_expr.len()));
        Ok(Stream {
            vertex,
            schema: w.schema.clone(),
            updating: false,
            attrs,
            updated_by: None,
        })
    }

    /// A filter bounding a ROW_NUMBER: Top-N or deduplication, then the rest
    /// of the filter. `None` when the filter bounds no row number.
    fn rank_filter(&mut self, f: &Filter) -> SqlResult<Option<Stream>> {
        let Some((column, window)) = rank_column(f) else {
            return Ok(None);
        };
        let (mut start, mut end) = (1u64, u64::MAX);
        let mut rest = Vec::new();
        for c in split_conjunction(&f.predicate) {
            match rank_bound(c, column, f.input.schema()) {
                Some((s, e)) => {
                    start = start.max(s);
                    end = end.min(e);
                }
                None => rest.push(c.clone()),
            }
        }
        if end == u64::MAX {
            return Err(SqlError::unsupported(
                "ROW_NUMBER() without an upper bound on its number (Top-N needs WHERE rownum <= N)",
            ));
        }
        self.pending_rank = Some(PendingRank {
            window,
            start,
            end,
            output_rank: self.rank_output_hint.take().unwrap_or(true),
        });
        let input = self.translate(&f.input)?;
        if self.pending_rank.take().is_some() {
            return Err(SqlError::unsupported("this use of ROW_NUMBER()"));
        }
        match conjunction(rest) {
            None => Ok(Some(input)),
            Some(predicate) => {
                let exprs = input
                    .schema
                    .columns()
                    .into_iter()
                    .map(Expr::Column)
                    .collect();
                let schema = input.schema.clone();
                Ok(Some(self.calc(input, Some(predicate), exprs, schema)?))
            }
        }
    }

    /// Top-N or deduplication over a ROW_NUMBER window.
    fn rank(&mut self, w: &Window, rank: PendingRank) -> SqlResult<Stream> {
        let Some(Expr::WindowFunction(function)) = w.window_expr.first().map(unalias) else {
            return Err(SqlError::unsupported("this use of ROW_NUMBER()"));
        };
        let params = &function.params;
        if params.order_by.is_empty() {
            return Err(SqlError::new(
                "ROW_NUMBER() for Top-N needs an ORDER BY in its OVER clause",
            ));
        }
        let input = self.translate(&w.input)?;
        let width = input.schema.fields().len();
        let mut needed = params.partition_by.clone();
        needed.extend(params.order_by.iter().map(|s| s.expr.clone()));
        let (stream, columns) = self.with_columns(input, &needed)?;
        let keys = columns[..params.partition_by.len()].to_vec();
        let order: Vec<(usize, arrow::compute::SortOptions)> = columns[params.partition_by.len()..]
            .iter()
            .zip(&params.order_by)
            .map(|(&c, s)| {
                (
                    c,
                    arrow::compute::SortOptions {
                        descending: !s.asc,
                        nulls_first: s.nulls_first,
                    },
                )
            })
            .collect();
        let in_arrow = stream.arrow();
        if !keys.is_empty() {
            crate::exec::keys::KeyCodec::new(&in_arrow, &keys)?;
        }
        let time = match order.as_slice() {
            [(c, _)] => stream.attrs.get(*c).copied(),
            _ => None,
        };
        let dedup = rank.start == 1 && rank.end == 1 && !rank.output_rank && !stream.updating;
        let descending = order.first().is_some_and(|(_, o)| o.descending);
        // Partitioned by a window's bounds: window Top-N or deduplication.
        let window_end = keys.iter().find_map(|&k| match stream.attrs[k] {
            Attr::WindowEnd(w)
                if keys
                    .iter()
                    .any(|&s| stream.attrs[s] == Attr::WindowStart(w)) =>
            {
                Some(k)
            }
            _ => None,
        });
        let mode = match time {
            _ if window_end.is_some() && !stream.updating => RankMode::WindowTopN {
                start: rank.start,
                end: rank.end,
                output_rank: rank.output_rank,
                last_first: dedup
                    && descending
                    && matches!(time, Some(Attr::Rowtime | Attr::WindowTime(_))),
                window_end: window_end.unwrap_or_default(),
            },
            Some(Attr::Rowtime | Attr::WindowTime(_)) if dedup => RankMode::RowtimeDedup {
                keep_last: descending,
            },
            Some(Attr::Proctime) if dedup => RankMode::ProctimeDedup {
                keep_last: descending,
            },
            _ => RankMode::TopN {
                start: rank.start,
                end: rank.end,
                output_rank: rank.output_rank,
            },
        };
        let updating = !matches!(
            mode,
            RankMode::ProctimeDedup { keep_last: false } | RankMode::WindowTopN { .. }
        );
        let output = physical_schema(&w.schema, updating);
        let partition: Vec<String> = params.partition_by.iter().map(short).collect();
        let sort: Vec<String> = params.order_by.iter().map(|s| s.to_string()).collect();
        let name = match mode {
            RankMode::WindowTopN { .. } => format!(
                "WindowRank(rankType=[ROW_NUMBER], rankRange=[rankStart={}, rankEnd={}], partitionBy=[{}], orderBy=[{}])",
                rank.start,
                rank.end,
                partition.join(", "),
                sort.join(", ")
            ),
            RankMode::TopN { .. } => format!(
                "Rank(rankType=[ROW_NUMBER], rankRange=[rankStart={}, rankEnd={}], partitionBy=[{}], orderBy=[{}])",
                rank.start,
                rank.end,
                partition.join(", "),
                sort.join(", ")
            ),
            RankMode::RowtimeDedup { keep_last } | RankMode::ProctimeDedup { keep_last } => format!(
                "Deduplicate(keep=[{}], key=[{}], order=[{}])",
                if keep_last { "LastRow" } else { "FirstRow" },
                partition.join(", "),
                if matches!(mode, RankMode::RowtimeDedup { .. }) { "ROWTIME" } else { "PROCTIME" }
            ),
        };
        let spec = RankSpec {
            input: in_arrow.clone(),
            width,
            keys: keys.clone(),
            order,
            mode,
            output,
            ttl_ms: self.state_ttl_ms,
        };
        let vertex = self.job.add(
            &name,
            VertexKind::OneInput,
            self.parallelism,
            self.max_parallelism,
            Arc::new(OperatorVertex::new(move |_| {
                RankOperator::new(spec.clone())
            })),
        );
        self.connect(
            stream.vertex,
            vertex,
            Partitioning::Hash,
            Some((in_arrow, keys)),
        );
        // An append-only result keeps its time attributes and window bounds.
        let mut attrs: Vec<Attr> = stream.attrs[..width].to_vec();
        if updating {
            attrs.iter_mut().for_each(|a| *a = Attr::Plain);
        }
        attrs.push(Attr::Plain);
        Ok(Stream {
            vertex,
            schema: w.schema.clone(),
            updating,
            attrs,
            updated_by: updating.then(|| name.clone()),
        })
    }

    /// A regular join; `filter` is a WHERE condition over an inner join.
    fn join(&mut self, j: &Join, filter: Option<Expr>) -> SqlResult<Stream> {
        let mut right = j.right.as_ref();
        while let LogicalPlan::SubqueryAlias(a) = right {
            right = &a.input;
        }
        if let LogicalPlan::TableScan(scan) = right {
            if let Some(lookup) = scan.source.downcast_ref::<LookupSource>() {
                if scan.projection.is_some() {
                    return Err(SqlError::unsupported("a projection inside a lookup join"));
                }
                return self.lookup_join(j, filter, lookup);
            }
        }
        let (left_outer, right_outer) = match j.join_type {
            JoinType::Inner => (false, false),
            JoinType::Left => (true, false),
            JoinType::Right => (false, true),
            JoinType::Full => (true, true),
            other => {
                return Err(SqlError::unsupported(format!(
                    "{other} joins (eddy has INNER, LEFT, RIGHT and FULL OUTER joins)"
                )))
            }
        };
        let left = self.translate(&j.left)?;
        let right = self.translate(&j.right)?;
        let (left_width, right_width) = (left.schema.fields().len(), right.schema.fields().len());
        // Equalities between an expression of each side are keys; the rest
        // of the condition is checked per pair of rows.
        let condition = match (j.filter.clone(), filter) {
            (Some(a), Some(b)) => Some(a.and(b)),
            (a, b) => a.or(b),
        };
        let mut on = j.on.clone();
        let mut rest = Vec::new();
        for c in condition.iter().flat_map(split_conjunction) {
            let side_of = |e: &Expr| {
                let columns = e.column_refs();
                if columns.is_empty() {
                    None
                } else if columns.iter().all(|c| j.left.schema().has_column(c)) {
                    Some(0)
                } else if columns.iter().all(|c| j.right.schema().has_column(c)) {
                    Some(1)
                } else {
                    None
                }
            };
            match c {
                Expr::BinaryExpr(b) if b.op == Operator::Eq => {
                    match (side_of(&b.left), side_of(&b.right)) {
                        (Some(0), Some(1)) => on.push((*b.left.clone(), *b.right.clone())),
                        (Some(1), Some(0)) => on.push((*b.right.clone(), *b.left.clone())),
                        _ => rest.push(c.clone()),
                    }
                }
                _ => rest.push(c.clone()),
            }
        }
        // Bounds between the two sides' event times make an interval join;
        // equal window bounds of two windowed inputs make a window join.
        let append_only = !left.updating && !right.updating;
        let interval = if append_only {
            match window_join(&on, &left, &right) {
                Some(w) => Some(w),
                None => interval_bounds(&mut rest, &left, &right),
            }
        } else {
            None
        };
        let condition = conjunction(rest);
        // Both sides' keys get one type, so equal keys encode and hash alike.
        let (mut left_keys, mut right_keys) = (Vec::new(), Vec::new());
        for (l, r) in &on {
            let (lt, rt) = (l.get_type(&left.schema)?, r.get_type(&right.schema)?);
            let common = if lt == rt {
                lt.clone()
            } else {
                comparison_coercion(&lt, &rt).ok_or_else(|| {
                    SqlError::new(format!(
                        "cannot join {l} of type {lt} with {r} of type {rt}"
                    ))
                })?
            };
            let cast = |e: &Expr, t: &arrow::datatypes::DataType| {
                if *t == common {
                    e.clone()
                } else {
                    Expr::Cast(datafusion_expr::Cast::new(
                        Box::new(e.clone()),
                        common.clone(),
                    ))
                }
            };
            left_keys.push(cast(l, &lt));
            right_keys.push(cast(r, &rt));
        }
        let (left, left_keys) = self.with_columns(left, &left_keys)?;
        let (right, right_keys) = self.with_columns(right, &right_keys)?;
        let (left_arrow, right_arrow) = (left.arrow(), right.arrow());
        crate::exec::keys::KeyCodec::new(&left_arrow, &left_keys)?;
        crate::exec::keys::KeyCodec::new(&right_arrow, &right_keys)?;
        if let Some(interval) = interval {
            let on: Vec<String> = on.iter().map(|(l, r)| format!("{l} = {r}")).collect();
            let name = if interval.window {
                format!(
                    "WindowJoin(joinType=[{}], on=[{}], where=[{}])",
                    j.join_type,
                    on.join(", "),
                    condition.as_ref().map(short).unwrap_or_default()
                )
            } else {
                format!(
                    "IntervalJoin(joinType=[{}], on=[{}], between=[{}, {}] ms, where=[{}])",
                    j.join_type,
                    on.join(", "),
                    interval.lower,
                    interval.upper,
                    condition.as_ref().map(short).unwrap_or_default()
                )
            };
            let spec = IntervalSpec {
                left: JoinSide {
                    schema: left_arrow.clone(),
                    width: left_width,
                    keys: left_keys.clone(),
                    outer: left_outer,
                },
                right: JoinSide {
                    schema: right_arrow.clone(),
                    width: right_width,
                    keys: right_keys.clone(),
                    outer: right_outer,
                },
                left_time: interval.left_time,
                right_time: interval.right_time,
                lower: interval.lower,
                upper: interval.upper,
                condition: condition
                    .as_ref()
                    .map(|c| physical(c, &j.schema))
                    .transpose()?,
                joined: physical_schema(&j.schema, false),
                output: physical_schema(&j.schema, false),
            };
            let vertex = self.job.add(
                &name,
                VertexKind::TwoInput,
                self.parallelism,
                self.max_parallelism,
                {
                    let name = name.clone();
                    Arc::new(TwoInputVertex::new(move |_| {
                        IntervalJoinOperator::new(spec.clone(), name.clone())
                    }))
                },
            );
            self.connect_input(
                left.vertex,
                vertex,
                Partitioning::Hash,
                Some((left_arrow, left_keys)),
                0,
            );
            self.connect_input(
                right.vertex,
                vertex,
                Partitioning::Hash,
                Some((right_arrow, right_keys)),
                1,
            );
            // Both sides keep their time attributes (an outer side's may be null).
            let mut attrs = left.attrs[..left_width].to_vec();
            attrs.extend_from_slice(&right.attrs[..right_width]);
            return Ok(Stream {
                vertex,
                attrs,
                schema: j.schema.clone(),
                updating: false,
                updated_by: None,
            });
        }
        let updating = left.updating || right.updating || left_outer || right_outer;
        let output = physical_schema(&j.schema, updating);
        let on: Vec<String> = on.iter().map(|(l, r)| format!("{l} = {r}")).collect();
        let name = format!(
            "Join(joinType=[{}], on=[{}], where=[{}])",
            j.join_type,
            on.join(", "),
            condition.as_ref().map(short).unwrap_or_default()
        );
        let spec = JoinSpec {
            left: JoinSide {
                schema: left_arrow.clone(),
                width: left_width,
                keys: left_keys.clone(),
                outer: left_outer,
            },
            right: JoinSide {
                schema: right_arrow.clone(),
                width: right_width,
                keys: right_keys.clone(),
                outer: right_outer,
            },
            condition: condition
                .as_ref()
                .map(|c| physical(c, &j.schema))
                .transpose()?,
            joined: physical_schema(&j.schema, false),
            output,
            nulls_equal: j.null_equality == NullEquality::NullEqualsNull,
            ttl_ms: self.state_ttl_ms,
        };
        let vertex = self.job.add(
            &name,
            VertexKind::TwoInput,
            self.parallelism,
            self.max_parallelism,
            {
                let name = name.clone();
                Arc::new(TwoInputVertex::new(move |_| {
                    JoinOperator::new(spec.clone(), name.clone())
                }))
            },
        );
        self.connect_input(
            left.vertex,
            vertex,
            Partitioning::Hash,
            Some((left_arrow, left_keys)),
            0,
        );
        self.connect_input(
            right.vertex,
            vertex,
            Partitioning::Hash,
            Some((right_arrow, right_keys)),
            1,
        );
        Ok(Stream {
            vertex,
            attrs: vec![Attr::Plain; j.schema.fields().len()],
            schema: j.schema.clone(),
            updating,
            updated_by: updating.then(|| format!("the {} JOIN ({name})", j.join_type)),
        })
    }

    /// A lookup join: the right side is a table read `FOR SYSTEM_TIME AS OF`
    /// a processing-time attribute of the left side.
    fn lookup_join(
        &mut self,
        j: &Join,
        filter: Option<Expr>,
        lookup: &LookupSource,
    ) -> SqlResult<Stream> {
        let table = &lookup.table;
        let left_outer = match j.join_type {
            JoinType::Inner => false,
            JoinType::Left => true,
            other => {
                return Err(SqlError::unsupported(format!(
                    "{other} lookup joins (eddy has INNER and LEFT lookup joins)"
                )))
            }
        };
        let left = self.translate(&j.left)?;
        let time = lookup.call.time.join(".");
        let time_column = left.schema.columns().iter().position(|c| {
            let name = lookup.call.time.last().map(String::as_str);
            let qualifier = (lookup.call.time.len() > 1).then(|| lookup.call.time[0].as_str());
            Some(c.name.as_str()) == name
                && qualifier.is_none_or(|q| c.relation.as_ref().is_some_and(|r| r.table() == q))
        });
        match time_column.map(|c| left.attrs[c]) {
            Some(Attr::Proctime) => {}
            Some(Attr::Rowtime | Attr::WindowTime(_)) => {
                return Err(SqlError::unsupported(format!(
                    "event-time temporal joins ({time} is a rowtime attribute; eddy joins lookup tables as of processing time)"
                )))
            }
            Some(_) => {
                return Err(SqlError::new(format!(
                    "FOR SYSTEM_TIME AS OF {time}: the column must be a processing-time attribute (PROCTIME())"
                )))
            }
            None => {
                return Err(SqlError::new(format!(
                    "FOR SYSTEM_TIME AS OF {time}: no such column on the left side of the join"
                )))
            }
        }
        if table.has_computed() {
            return Err(SqlError::unsupported(format!(
                "computed columns in the lookup table {}",
                table.name
            )));
        }
        let (factory, changelog) = self.source(table)?;
        if changelog {
            return Err(SqlError::unsupported(format!(
                "the changelog table {} as a lookup table",
                table.name
            )));
        }
        let right_schema = j.right.schema();
        let condition = match (j.filter.clone(), filter) {
            (Some(a), Some(b)) => Some(a.and(b)),
            (a, b) => a.or(b),
        };
        let mut on: Vec<(Expr, usize)> = Vec::new();
        for (l, r) in &j.on {
            match r {
                Expr::Column(c) => on.push((l.clone(), right_schema.index_of_column(c)?)),
                _ => {
                    return Err(SqlError::unsupported(format!(
                        "the lookup key {r} (compare columns of the lookup table)"
                    )))
                }
            }
        }
        let mut rest = Vec::new();
        for c in condition.iter().flat_map(split_conjunction) {
            let key = match c {
                Expr::BinaryExpr(b) if b.op == Operator::Eq => {
                    let right_column = |e: &Expr| match e {
                        Expr::Column(c) => right_schema.index_of_column(c).ok(),
                        _ => None,
                    };
                    let left_only = |e: &Expr| {
                        let columns = e.column_refs();
                        !columns.is_empty() && columns.iter().all(|c| j.left.schema().has_column(c))
                    };
                    match (right_column(&b.right), right_column(&b.left)) {
                        (Some(r), _) if left_only(&b.left) => Some((*b.left.clone(), r)),
                        (_, Some(r)) if left_only(&b.right) => Some((*b.right.clone(), r)),
                        _ => None,
                    }
                }
                _ => None,
            };
            match key {
                Some(k) => on.push(k),
                None => rest.push(c.clone()),
            }
        }
        if on.is_empty() {
            return Err(SqlError::new(format!(
                "a lookup join needs an equality between the left side and a column of {}",
                table.name
            )));
        }
        let table_schema = table.physical.clone();
        let mut key_exprs = Vec::new();
        for (e, r) in &on {
            let target = table_schema.field(*r).data_type();
            key_exprs.push(if &e.get_type(&left.schema)? == target {
                e.clone()
            } else {
                Expr::Cast(datafusion_expr::Cast::new(
                    Box::new(e.clone()),
                    target.clone(),
                ))
            });
        }
        let left_width = left.schema.fields().len();
        let (left, keys) = self.with_columns(left, &key_exprs)?;
        let probe = left.arrow();
        let condition = conjunction(rest);
        let keys_text: Vec<String> = on
            .iter()
            .map(|(e, r)| format!("{e} = {}", table_schema.field(*r).name()))
            .collect();
        let name = format!(
            "LookupJoin(table=[{}], joinType=[{}], lookup=[{}], where=[{}])",
            table.name,
            j.join_type,
            keys_text.join(", "),
            condition.as_ref().map(short).unwrap_or_default()
        );
        let spec = LookupSpec {
            probe,
            width: left_width,
            keys,
            table: factory,
            table_schema: table_schema.clone(),
            table_keys: on.iter().map(|(_, r)| *r).collect(),
            condition: condition
                .as_ref()
                .map(|c| physical(c, &j.schema))
                .transpose()?,
            joined: physical_schema(&j.schema, false),
            left_outer,
            output: physical_schema(&j.schema, left.updating),
            name: table.name.clone(),
        };
        let vertex = self.add_operator(&name, left.vertex, Partitioning::Forward, move |_| {
            LookupJoinOperator::new(spec.clone())
        });
        let mut attrs = left.attrs[..left_width].to_vec();
        attrs.extend(std::iter::repeat_n(
            Attr::Plain,
            table_schema.fields().len(),
        ));
        Ok(Stream {
            vertex,
            schema: j.schema.clone(),
            updating: left.updating,
            attrs,
            updated_by: left.updated_by,
        })
    }

    /// The column of `input` holding each expression: a plain column is used
    /// as it is, any other expression is computed into a column appended by a
    /// projection (only when some expression needs it).
    fn with_columns(&mut self, input: Stream, exprs: &[Expr]) -> SqlResult<(Stream, Vec<usize>)> {
        let width = input.schema.fields().len();
        let mut extra: Vec<Expr> = Vec::new();
        let mut columns = Vec::with_capacity(exprs.len());
        for e in exprs {
            if let Expr::Column(c) = unalias(e) {
                if let Ok(i) = input.schema.index_of_column(c) {
                    columns.push(i);
                    continue;
                }
            }
            let k = match extra.iter().position(|x| x == e) {
                Some(k) => k,
                None => {
                    extra.push(e.clone());
                    extra.len() - 1
                }
            };
            columns.push(width + k);
        }
        if extra.is_empty() {
            return Ok((input, columns));
        }
        let mut projection: Vec<Expr> = input
            .schema
            .columns()
            .into_iter()
            .map(Expr::Column)
            .collect();
        let mut fields: Vec<(
            Option<datafusion_common::TableReference>,
            Arc<arrow::datatypes::Field>,
        )> = input
            .schema
            .iter()
            .map(|(q, f)| (q.cloned(), f.clone()))
            .collect();
        for (k, e) in extra.iter().enumerate() {
            let name = format!("$e{k}");
            let (_, field) = e.to_field(&input.schema)?;
            fields.push((None, Arc::new(field.as_ref().clone().with_name(&name))));
            projection.push(e.clone().alias(name));
        }
        let schema: DFSchemaRef = DFSchema::new_with_metadata(fields, Default::default())?.into();
        let stream = self.calc(input, None, projection, schema)?;
        Ok((stream, columns))
    }

    fn union(&mut self, inputs: &[Arc<LogicalPlan>], schema: DFSchemaRef) -> SqlResult<Stream> {
        let streams = inputs
            .iter()
            .map(|p| self.translate(p))
            .collect::<SqlResult<Vec<_>>>()?;
        let updating = streams.iter().any(|s| s.updating);
        if updating && !streams.iter().all(|s| s.updating) {
            return Err(SqlError::unsupported(
                "UNION ALL of an updating and an append-only input",
            ));
        }
        let output = physical_schema(&schema, updating);
        let projection: Vec<Arc<dyn PhysicalExpr>> = (0..schema.fields().len())
            .map(|i| {
                Arc::new(datafusion_physical_expr::expressions::Column::new(
                    schema.field(i).name(),
                    i,
                )) as Arc<dyn PhysicalExpr>
            })
            .collect();
        let vertex = self.job.add(
            "Union",
            VertexKind::OneInput,
            self.parallelism,
            self.max_parallelism,
            {
                let output = output.clone();
                Arc::new(OperatorVertex::new(move |_| {
                    CalcOperator::new(None, projection.clone(), output.clone(), updating)
                }))
            },
        );
        let mut attrs = streams[0].attrs.clone();
        for s in &streams {
            for (a, b) in attrs.iter_mut().zip(&s.attrs) {
                if a != b {
                    *a = Attr::Plain;
                }
            }
            self.connect(s.vertex, vertex, Partitioning::Forward, None);
        }
        Ok(Stream {
            vertex,
            schema,
            updating,
            attrs,
            updated_by: streams.iter().find_map(|s| s.updated_by.clone()),
        })
    }

    fn values(&mut self, rows: &[Vec<Expr>], schema: DFSchemaRef) -> SqlResult<Stream> {
        let output = physical_schema(&schema, false);
        let empty = DFSchema::empty();
        let one_row = RecordBatch::try_new_with_options(
            Arc::new(arrow::datatypes::Schema::empty()),
            vec![],
            &arrow::array::RecordBatchOptions::new().with_row_count(Some(1)),
        )?;
        let mut columns: Vec<Vec<ScalarValue>> = vec![Vec::new(); schema.fields().len()];
        for row in rows {
            for (c, e) in row.iter().enumerate() {
                let value = physical(e, &empty)?
                    .evaluate(&one_row)
                    .and_then(|v| v.into_array(1))
                    .and_then(|a| ScalarValue::try_from_array(&a, 0))?;
                let target = schema.field(c).data_type();
                columns[c].push(value.cast_to(target)?);
            }
        }
        let arrays = columns
            .into_iter()
            .zip(schema.fields())
            .map(|(values, f)| {
                if values.is_empty() {
                    Ok(arrow::array::new_empty_array(f.data_type()))
                } else {
                    ScalarValue::iter_to_array(values)
                }
            })
            .collect::<datafusion_common::Result<Vec<_>>>()?;
        let batch = crate::exec::changelog::batch(output, arrays, rows.len())?;
        let vertex = self.job.add(
            &format!("Values(rows=[{}])", rows.len()),
            VertexKind::Source,
            1,
            self.max_parallelism,
            Arc::new(SourceVertex::new(move |_| ValuesSource::new(batch.clone()))),
        );
        Ok(Stream {
            vertex,
            attrs: vec![Attr::Plain; schema.fields().len()],
            schema,
            updating: false,
            updated_by: None,
        })
    }
}
