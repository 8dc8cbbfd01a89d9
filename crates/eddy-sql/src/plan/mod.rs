//! Streaming plans: a DataFusion logical plan becomes a graph of eddy operators.
//!
//! Each plan node is translated into a [`Stream`]: the vertex that produces it,
//! its schema, whether it updates (carries row kinds) and, per column, whether
//! it is a time attribute or a window bound. As in Flink, the attributes decide
//! the operator: an aggregation grouped by a window TVF's bounds is a window
//! aggregation, any other GROUP BY an unbounded updating one; a join whose
//! condition bounds both sides' event times is an interval join, one on equal
//! window bounds a window join, one with a `FOR SYSTEM_TIME AS OF` table a
//! lookup join, any other a regular join; a filter on a ROW_NUMBER is a Top-N
//! (a window Top-N when partitioned by window bounds, a deduplication when
//! ordered by a time attribute); other OVER windows are OVER aggregations.

mod aggregate;
mod grouping_sets;
mod join;
mod rank;

use rank::{rank_column, rank_hint, PendingRank};

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
use crate::exec::calc::CalcOperator;
use crate::exec::changelog::physical_schema;
use crate::exec::group_agg::GroupAggOperator;
use crate::exec::interval_join::{IntervalJoinOperator, IntervalSpec};
use crate::exec::join::{JoinOperator, JoinSide, JoinSpec};
use crate::exec::keys::key_hasher;
use crate::exec::local_agg::{partial_schema, LocalGroupAggOperator};
use crate::exec::lookup::{LookupJoinOperator, LookupSpec};
use crate::exec::over::{Frame, OverAggOperator, OverSpec};
use crate::exec::rank::{RankMode, RankOperator, RankSpec};
use crate::exec::semi_join::SemiJoinOperator;
use crate::exec::temporal_join::{TemporalJoinOperator, TemporalSpec};
use crate::exec::values::ValuesSource;
use crate::exec::watermark::WatermarkAssigner;
use crate::exec::window::{WindowAggOperator, WindowOut, WindowSpec, WindowTvfOperator};
use crate::functions::AggKind;
use crate::tvf::TvfKind;
use eddy_runtime::graph_builder::{GraphBuilder, PendingEdge};

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

/// A window TVF of the plan.
struct TvfPlan {
    spec: WindowSpec,
    /// Its `PARTITION BY` columns (SESSION).
    partition_by: Vec<String>,
    /// Whether it windows processing time.
    proctime: bool,
    vertex: VertexId,
    time_column: usize,
    time_name: String,
    output: SchemaRef,
}

/// Translates plans into one job.
pub struct StreamPlanner {
    /// The job under construction.
    pub job: GraphBuilder,
    parallelism: u32,
    max_parallelism: u32,
    state_ttl_ms: Option<u64>,
    /// `table.exec.mini-batch.*`, when enabled.
    mini_batch: Option<crate::exec::mini_batch::MiniBatch>,
    /// The window TVFs translated so far; a window id indexes it.
    tvfs: Vec<TvfPlan>,
    /// Vertices whose rows are a window TVF's rows, passed on by calcs that
    /// do not read its window columns (the TVF's window id): a window
    /// aggregation reading one may aggregate slices instead of windows.
    tvf_rows: std::collections::HashMap<VertexId, usize>,
    /// The tables read so far, by name.
    scans: std::collections::HashMap<String, Stream>,
    /// The rank filter found above a ROW_NUMBER window, for its translation.
    pending_rank: Option<PendingRank>,
    /// Whether the projection over a rank filter selects the row number.
    rank_output_hint: Option<bool>,
}

fn edge() -> Arc<TypedEdge<RecordBatch>> {
    Arc::new(TypedEdge::<RecordBatch>::new().with_codec())
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
            "a subquery here (eddy runs subqueries in WHERE conditions and in the select list; write this one as a join)",
        ));
    }
    let rewritten = simplified_calls(expr, schema)?;
    Ok(create_physical_expr(
        rewritten.as_ref().unwrap_or(expr),
        schema,
        &ExecutionProps::new(),
        &PhysicalPlanningContext::default(),
    )?)
}

/// DataFusion's functions that run only in their simplified form: `COALESCE`,
/// `NVL` (`IFNULL`) and `NVL2` become `CASE` expressions before planning.
const SIMPLIFIED_ONLY: [&str; 3] = ["coalesce", "nvl", "nvl2"];

/// `expr` with every call of a [`SIMPLIFIED_ONLY`] function replaced by its
/// simplified form, or `None` when it has none.
fn simplified_calls(expr: &Expr, schema: &DFSchema) -> SqlResult<Option<Expr>> {
    use datafusion_common::tree_node::Transformed;
    use datafusion_expr::simplify::{ExprSimplifyResult, SimplifyContext};
    let mut found = false;
    expr.apply(|e| {
        found |= matches!(e, Expr::ScalarFunction(f) if SIMPLIFIED_ONLY.contains(&f.func.name()));
        Ok(if found {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    })?;
    if !found {
        return Ok(None);
    }
    let info = SimplifyContext::builder()
        .with_schema(Arc::new(schema.clone()))
        .build();
    let rewritten = expr.clone().transform_up(|e| match e {
        Expr::ScalarFunction(f) if SIMPLIFIED_ONLY.contains(&f.func.name()) => {
            let func = f.func.clone();
            Ok(match func.simplify(f.args, &info)? {
                ExprSimplifyResult::Simplified(e) => Transformed::yes(e),
                ExprSimplifyResult::Original(args) => Transformed::no(Expr::ScalarFunction(
                    datafusion_expr::expr::ScalarFunction::new_udf(func, args),
                )),
            })
        }
        e => Ok(Transformed::no(e)),
    })?;
    Ok(Some(rewritten.data))
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
            job: GraphBuilder::new("sql-"),
            parallelism,
            max_parallelism,
            state_ttl_ms,
            mini_batch: None,
            tvfs: Vec::new(),
            tvf_rows: Default::default(),
            scans: std::collections::HashMap::new(),
            pending_rank: None,
            rank_output_hint: None,
        }
    }

    /// Plans unbounded aggregations with mini-batches
    /// (`table.exec.mini-batch.*`).
    pub fn with_mini_batch(mut self, settings: Option<crate::exec::mini_batch::MiniBatch>) -> Self {
        self.mini_batch = settings;
        self
    }

    /// One line per vertex of the job so far, for `EXPLAIN`.
    pub fn describe(&self) -> String {
        let lines: Vec<String> = self
            .job
            .vertices()
            .iter()
            .map(|v| format!("{}: {} (parallelism {})", v.id.0, v.name, v.parallelism))
            .collect();
        lines.join("\n")
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
        let id = self.job.add_vertex(
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
            Some((schema, keys)) => Arc::new(
                TypedEdge::keyed(key_hasher(schema, keys), self.max_parallelism).with_codec(),
            ),
            None => edge(),
        };
        // Forward stands for the default: forward between equal parallelism,
        // else rebalance.
        self.job.add_edge(PendingEdge {
            source: from,
            target: to,
            partitioning: (partitioning != Partitioning::Forward).then_some(partitioning),
            input,
            side_output: None,
            factory,
        });
    }

    /// Checks a sink's NOT NULL columns (index, name) before it; `drop`
    /// drops offending rows instead of failing.
    pub fn enforce_not_null(
        &mut self,
        input: &Stream,
        columns: Vec<(usize, String)>,
        drop: bool,
    ) -> Stream {
        let names: Vec<&str> = columns.iter().map(|(_, n)| n.as_str()).collect();
        let name = format!("ConstraintEnforcer(notNull=[{}])", names.join(", "));
        let parallelism = self.job.parallelism(input.vertex);
        let vertex = self.job.add_vertex(
            &name,
            VertexKind::OneInput,
            parallelism,
            self.max_parallelism,
            Arc::new(OperatorVertex::new(move |_| {
                crate::exec::not_null::NotNullEnforcer::new(columns.clone(), drop)
            })),
        );
        self.connect(input.vertex, vertex, Partitioning::Forward, None);
        Stream {
            vertex,
            ..input.clone()
        }
    }

    /// Connects a stream to a sink-like vertex at the stream's parallelism.
    pub fn add_sink<O, F>(&mut self, name: &str, input: &Stream, create: F) -> VertexId
    where
        O: eddy_runtime::Operator<In = RecordBatch>,
        F: Fn(usize) -> O + Send + Sync + 'static,
    {
        let parallelism = self.job.parallelism(input.vertex);
        let id = self.job.add_vertex(
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
                    self.scan(&source.table)?
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
                // A projection over a plain filter is one calc.
                if let LogicalPlan::Filter(f) = p.input.as_ref() {
                    let plain = !matches!(f.input.as_ref(), LogicalPlan::Join(_))
                        && rank_column(f).is_none();
                    if plain {
                        let input = self.translate(&f.input)?;
                        return self.calc(
                            input,
                            Some(f.predicate.clone()),
                            p.expr.clone(),
                            p.schema.clone(),
                        );
                    }
                }
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
        if !def.metadata.is_empty() && crate::connectors::registry::lookup(&connector).is_none() {
            return Err(SqlError::unsupported(format!(
                "METADATA columns of table {name}: the '{connector}' connector has no metadata"
            )));
        }
        Ok(match connector.as_str() {
            "nexmark" => (sources::nexmark(&name, physical_schema_, &def.options)?, false),
            "datagen" => (sources::datagen(&name, physical_schema_, &def.options)?.0, false),
            "filesystem" if def.option("format") == Some("avro") => {
                let path = def.option("path").ok_or_else(|| {
                    SqlError::new(format!("table {name} needs the option 'path'"))
                })?;
                let output = physical_schema(
                    &DFSchema::try_from(physical_schema_.as_ref().clone())?,
                    false,
                );
                (
                    crate::connectors::avro::files::source(path.to_string(), output),
                    false,
                )
            }
            "filesystem" if def.option("format") == Some("parquet") => {
                let path = def.option("path").ok_or_else(|| {
                    SqlError::new(format!("table {name} needs the option 'path'"))
                })?;
                let output = physical_schema(
                    &DFSchema::try_from(physical_schema_.as_ref().clone())?,
                    false,
                );
                (
                    crate::connectors::parquet::source(&name, path.to_string(), output),
                    false,
                )
            }
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
            other => match crate::connectors::registry::lookup(other) {
                Some(connector) if connector.batches() => {
                    use crate::connectors::registry::{column_names, ConnectorTable};
                    if let Some(column) = def.metadata.keys().next() {
                        return Err(SqlError::unsupported(format!(
                            "METADATA columns of table {name} (the column {column}): the '{other}' connector has no metadata"
                        )));
                    }
                    let output = physical_schema(
                        &DFSchema::try_from(physical_schema_.as_ref().clone())?,
                        false,
                    );
                    let readers = connector.batch_source(
                        ConnectorTable {
                            name: &name,
                            options: &def.options,
                            primary_key: &def.primary_key,
                            columns: &column_names(&physical_schema_),
                            schema: &physical_schema_,
                            metadata: &[],
                            metadata_columns: &[],
                        },
                        &output,
                    )?;
                    (Arc::new(move |i| sources::BoxedSource(readers(i))), false)
                }
                Some(connector) => {
                    use crate::connectors::registry::{column_names, with_format, ConnectorTable};
                    let options = with_format(connector.as_ref(), &def.options);
                    let format = FileFormat::from_options(&name, &options)?;
                    let updating = format.is_changelog();
                    let output = physical_schema(
                        &DFSchema::try_from(physical_schema_.as_ref().clone())?,
                        updating,
                    );
                    let columns = column_names(&physical_schema_);
                    let mut metadata = Vec::new();
                    let mut keys = Vec::new();
                    let mut metadata_columns = Vec::new();
                    for (index, column) in columns.iter().enumerate() {
                        let Some(key) = def.metadata.get(column) else {
                            continue;
                        };
                        if !connector.metadata_keys().contains(&key.as_str()) {
                            return Err(SqlError::new(format!(
                                "Invalid metadata key '{key}' of column {column} of table {name}. Available keys for '{other}': {}.",
                                connector.metadata_keys().join(", ")
                            )));
                        }
                        metadata.push(index);
                        keys.push(key.clone());
                        metadata_columns.push(column.clone());
                    }
                    let readers = connector.source(ConnectorTable {
                        name: &name,
                        options: &def.options,
                        primary_key: &def.primary_key,
                        columns: &columns,
                        schema: &physical_schema_,
                        metadata: &keys,
                        metadata_columns: &metadata_columns,
                    })?;
                    (
                        sources::registered(physical_schema_, output, readers, format, metadata),
                        updating,
                    )
                }
                None => {
                    return Err(SqlError::unsupported(format!(
                        "connector '{other}' of table {name} (eddy has filesystem, datagen, nexmark, print and blackhole{})",
                        crate::connectors::registry::names()
                            .iter()
                            .map(|n| format!(", {n}"))
                            .collect::<String>()
                    )))
                }
            },
        })
    }

    /// A table's stream: read once per job however often the query reads it
    /// (Flink's source reuse), so views of one table share its source.
    fn scan(&mut self, def: &Arc<TableDef>) -> SqlResult<Stream> {
        if let Some(stream) = self.scans.get(&def.name) {
            return Ok(stream.clone());
        }
        let stream = self.table(def)?;
        self.scans.insert(def.name.clone(), stream.clone());
        Ok(stream)
    }

    fn table(&mut self, def: &Arc<TableDef>) -> SqlResult<Stream> {
        let connector = def.option("connector").unwrap_or_default().to_string();
        let physical_schema_ = def.physical.clone();
        let name = def.name.clone();
        let (factory, updating) = self.source(def)?;
        let parallelism = self.parallelism;
        let vertex = self.job.add_vertex(
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
            let column_of = |e: &Expr| match e {
                Expr::Column(c) => def.full_df.index_of_column(c).ok(),
                _ => None,
            };
            let bounded = match &wm.expr {
                Expr::BinaryExpr(b) if b.op == Operator::Minus => column_of(&b.left)
                    .zip(join::interval_literal(&b.right))
                    .filter(|(_, delay)| *delay >= 0),
                e => column_of(e).map(|c| (c, 0)),
            };
            let rowtime = wm.column;
            let vertex = self.add_operator(
                &format!(
                    "WatermarkAssigner(rowtime=[{}], watermark=[{}])",
                    def.full_df.field(wm.column).name(),
                    wm.text
                ),
                stream.vertex,
                Partitioning::Forward,
                move |_| {
                    let assigner = WatermarkAssigner::new(expr.clone(), rowtime);
                    match bounded {
                        Some((column, delay)) => assigner.bounded(column, delay),
                        None => assigner,
                    }
                },
            );
            stream.vertex = vertex;
            stream.attrs[wm.column] = Attr::Rowtime;
        }
        if let Some(p) = def.proctime {
            stream.attrs[p] = Attr::Proctime;
        }
        let upsert =
            crate::connectors::registry::lookup(&connector).is_some_and(|c| c.upsert_source());
        if upsert {
            stream = self.normalize(stream, def)?;
        }
        Ok(stream)
    }

    /// An upsert source's changelog made a full one, by its primary key
    /// (Flink's ChangelogNormalize after the source and its watermark).
    fn normalize(&mut self, stream: Stream, def: &TableDef) -> SqlResult<Stream> {
        let keys = def
            .primary_key
            .iter()
            .map(|k| {
                def.schema.index_of(k).map_err(|_| {
                    SqlError::new(format!(
                        "the primary key column {k} of table {} is not a column",
                        def.name
                    ))
                })
            })
            .collect::<SqlResult<Vec<usize>>>()?;
        if keys.is_empty() {
            return Err(SqlError::new(format!(
                "table {} is an upsert source, which needs a PRIMARY KEY",
                def.name
            )));
        }
        let schema = stream.arrow();
        let name = format!("ChangelogNormalize(key=[{}])", def.primary_key.join(", "));
        let vertex = self.job.add_vertex(
            &name,
            VertexKind::OneInput,
            self.parallelism,
            self.max_parallelism,
            {
                let (schema, keys) = (schema.clone(), keys.clone());
                Arc::new(OperatorVertex::new(move |_| {
                    crate::exec::normalize::ChangelogNormalize::new(schema.clone(), keys.clone())
                }))
            },
        );
        self.connect(
            stream.vertex,
            vertex,
            Partitioning::Hash,
            Some((schema, keys)),
        );
        Ok(Stream {
            vertex,
            updated_by: Some(format!("the upsert source {}", def.name)),
            ..stream
        })
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
        // A filter copies the columns it keeps: only those the expressions read.
        let mut reading: Option<Vec<usize>> = None;
        let mut planning_schema = input.schema.clone();
        if filter.is_some() {
            let mut used: Vec<usize> = filter
                .iter()
                .chain(exprs.iter())
                .flat_map(|e| e.column_refs())
                .filter_map(|c| input.schema.index_of_column(c).ok())
                .collect();
            used.sort_unstable();
            used.dedup();
            if used.len() < input.schema.fields().len() {
                let fields: Vec<_> = used
                    .iter()
                    .map(|&i| {
                        let (q, f) = input.schema.qualified_field(i);
                        (q.cloned(), f.clone())
                    })
                    .collect();
                planning_schema = DFSchema::new_with_metadata(fields, Default::default())?.into();
                reading = Some(used);
            }
        }
        let filter_expr = filter
            .as_ref()
            .map(|f| physical(f, &planning_schema))
            .transpose()?;
        let projection = exprs
            .iter()
            .map(|e| physical(unalias(e), &planning_schema))
            .collect::<SqlResult<Vec<_>>>()?;
        let updating = input.updating;
        let output = physical_schema(&schema, updating);
        let mut name = String::from("Calc(");
        if let Some(f) = &filter {
            name.push_str(&format!("where=[{}], ", short(f)));
        }
        let select: Vec<String> = exprs.iter().map(short).collect();
        name.push_str(&format!("select=[{}])", select.join(", ")));
        // A TVF's rows stay slices-capable through a calc that only passes
        // its window columns on.
        let tvf = self.tvf_rows.get(&input.vertex).copied().filter(|&w| {
            let reads_window = |e: &Expr| {
                e.column_refs().into_iter().any(|c| {
                    input.schema.index_of_column(c).is_ok_and(|i| {
                        matches!(input.attrs[i],
                            Attr::WindowStart(x) | Attr::WindowEnd(x) | Attr::WindowTime(x) if x == w)
                    })
                })
            };
            !filter.as_ref().is_some_and(reads_window)
                && exprs
                    .iter()
                    .all(|e| matches!(unalias(e), Expr::Column(_)) || !reads_window(e))
        });
        let vertex = self.add_operator(&name, input.vertex, Partitioning::Forward, move |_| {
            let calc = CalcOperator::new(
                filter_expr.clone(),
                projection.clone(),
                output.clone(),
                updating,
            );
            match &reading {
                Some(columns) => calc.reading(columns.clone()),
                None => calc,
            }
        });
        if let Some(w) = tvf {
            self.tvf_rows.insert(vertex, w);
        }
        Ok(Stream {
            vertex,
            schema,
            updating,
            attrs,
            updated_by: input.updated_by,
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
        let vertex = self.job.add_vertex(
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
        let vertex = self.job.add_vertex(
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
