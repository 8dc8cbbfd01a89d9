//! ROW_NUMBER filters (Top-N, deduplication, window Top-N) and OVER
//! aggregation.

use super::aggregate::agg_kind;
use super::join::interval_literal;
use super::*;
use crate::exec::accum::LagSpec;
use crate::exec::first_row::RowtimeFirstRowOperator;
use crate::functions::AggKind;

/// A `WHERE rownum ...` bound waiting for its ROW_NUMBER window.
pub(super) struct PendingRank {
    pub(super) window: *const Window,
    pub(super) start: u64,
    pub(super) end: u64,
    pub(super) output_rank: bool,
}

/// The ROW_NUMBER window whose number is column `index` of `plan`, looking
/// through aliases and projections.
pub(super) fn rank_source(plan: &LogicalPlan, index: usize) -> Option<&Window> {
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
pub(super) fn rank_column(filter: &Filter) -> Option<(usize, &Window)> {
    (0..filter.input.schema().fields().len())
        .find_map(|i| rank_source(&filter.input, i).map(|w| (i, w)))
}

/// Whether a projection over a rank filter selects the row number.
pub(super) fn rank_hint(p: &Projection) -> Option<bool> {
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
pub(super) fn literal_u64(e: &Expr) -> Option<u64> {
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
pub(super) fn rank_bound(e: &Expr, column: usize, schema: &DFSchema) -> Option<(u64, u64)> {
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

/// A frame bound as rows (`None` for UNBOUNDED) or milliseconds.
pub(super) fn frame_bound(bound: &WindowFrameBound, rows: bool) -> SqlResult<Option<i64>> {
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

impl StreamPlanner {
    /// OVER aggregation: aggregates over one OVER window ordered by an
    /// event-time attribute, ending at the current row.
    pub(super) fn over(&mut self, w: &Window) -> SqlResult<Stream> {
        let mut window: Option<&datafusion_expr::expr::WindowFunctionParams> = None;
        let mut kinds = Vec::new();
        for e in &w.window_expr {
            let Expr::WindowFunction(f) = unalias(e) else {
                return Err(SqlError::unsupported(format!("the window expression {e}")));
            };
            // FIRST_VALUE and LAST_VALUE arrive as window functions; over a
            // frame ending at the current row they are the aggregates.
            let name = match &f.fun {
                WindowFunctionDefinition::AggregateUDF(udaf) => udaf.name(),
                WindowFunctionDefinition::WindowUDF(udwf)
                    if matches!(udwf.name(), "first_value" | "last_value" | "lag") =>
                {
                    udwf.name()
                }
                _ => {
                    return Err(SqlError::unsupported(format!(
                        "the window function {} here (ROW_NUMBER needs a filter on its number for Top-N; aggregates, FIRST_VALUE and LAST_VALUE can run over OVER windows)",
                        f.fun.name()
                    )))
                }
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
            if params.args.len() > 1 && name != "lag" {
                return Err(SqlError::unsupported(format!(
                    "{name} with {} arguments",
                    params.args.len()
                )));
            }
            kinds.push(match name {
                "lag" => AggKind::Lag,
                name => agg_kind(name)?,
            });
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
        let (time, proctime) = match time.map(|t| (t, input.attrs[t])) {
            Some((t, Attr::Rowtime | Attr::WindowTime(_))) => (t, false),
            Some((t, Attr::Proctime)) => (t, true),
            _ => return Err(SqlError::new(
                "an OVER window on a stream must be ordered by one time attribute (event or processing time), ascending",
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
        let unbounded = matches!(frame, Frame::Rows(None) | Frame::Range(None));
        if kinds.contains(&AggKind::Lag) && !unbounded {
            return Err(SqlError::unsupported(
                "LAG over a bounded frame (LAG looks back over the whole partition; drop the frame)",
            ));
        }
        let mut needed = params.partition_by.clone();
        let mut slots = Vec::new();
        for e in &w.window_expr {
            let Expr::WindowFunction(f) = unalias(e) else {
                continue;
            };
            if f.params.null_treatment.is_some() {
                return Err(SqlError::unsupported(format!(
                    "RESPECT NULLS / IGNORE NULLS in an OVER aggregate ({e})"
                )));
            }
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
                lag: None,
                separator: None,
            })
            .collect::<Vec<_>>();
        let mut specs = specs;
        for (spec, e) in specs.iter_mut().zip(&w.window_expr) {
            if let (AggKind::Lag, Expr::WindowFunction(f)) = (spec.kind, unalias(e)) {
                spec.lag = Some(lag_spec(&f.params.args, &spec.output_type)?);
            }
        }
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
            // Over processing time each row is its own: an unbounded RANGE
            // has no peers, as in Flink.
            frame: match (frame, proctime) {
                (Frame::Range(None), true) => Frame::Rows(None),
                (frame, _) => frame,
            },
            aggs: Aggs { specs },
            output,
            proctime,
        };
        let vertex = self.job.add_vertex(
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
    pub(super) fn rank_filter(&mut self, f: &Filter) -> SqlResult<Option<Stream>> {
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
    pub(super) fn rank(&mut self, w: &Window, rank: PendingRank) -> SqlResult<Stream> {
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
        // The first row by event time of an append-only input is emitted once,
        // when the watermark reaches it (Flink 2.3's insert-only plan).
        let first_row_insert_only =
            matches!(mode, RankMode::RowtimeDedup { keep_last: false }) && !stream.updating;
        let updating = !first_row_insert_only
            && !matches!(
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
                "Deduplicate(keep=[{}], key=[{}], order=[{}]{})",
                if keep_last { "LastRow" } else { "FirstRow" },
                partition.join(", "),
                if matches!(mode, RankMode::RowtimeDedup { .. }) { "ROWTIME" } else { "PROCTIME" },
                if first_row_insert_only { ", outputInsertOnly=[true]" } else { "" }
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
        let vertex = self.job.add_vertex(
            &name,
            VertexKind::OneInput,
            self.parallelism,
            self.max_parallelism,
            if first_row_insert_only {
                let time_column = spec.order[0].0;
                Arc::new(OperatorVertex::new(move |_| {
                    RowtimeFirstRowOperator::new(spec.clone(), time_column)
                })) as Arc<dyn eddy_runtime::VertexFactory>
            } else {
                Arc::new(OperatorVertex::new(move |_| {
                    RankOperator::new(spec.clone())
                }))
            },
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
}

/// LAG's offset (a constant non-negative integer, 1 by default) and default (a
/// constant of the argument's type, NULL by default).
fn lag_spec(args: &[Expr], output: &arrow::datatypes::DataType) -> SqlResult<LagSpec> {
    let offset = match args.get(1) {
        None => 1,
        Some(e) => match constant(e, "offset")?.cast_to(&arrow::datatypes::DataType::Int64)? {
            ScalarValue::Int64(Some(n)) if (0..=1_000_000).contains(&n) => n as usize,
            v => {
                return Err(SqlError::new(format!(
                    "the offset of LAG must be an integer from 0 to 1000000, not {v}"
                )))
            }
        },
    };
    let default = match args.get(2) {
        None => crate::exec::val::Val::Null,
        Some(e) => {
            let array = constant(e, "default")?.cast_to(output)?.to_array()?;
            crate::exec::val::read(&array, 0)?
        }
    };
    Ok(LagSpec { offset, default })
}

/// The value of an argument that must not depend on the row.
fn constant(e: &Expr, what: &str) -> SqlResult<ScalarValue> {
    if !e.column_refs().is_empty() {
        return Err(SqlError::unsupported(format!(
            "LAG with the {what} {e}, which depends on the row (give a constant)"
        )));
    }
    let one_row = RecordBatch::try_new_with_options(
        Arc::new(arrow::datatypes::Schema::empty()),
        vec![],
        &arrow::array::RecordBatchOptions::new().with_row_count(Some(1)),
    )?;
    let value = physical(e, &DFSchema::empty())?
        .evaluate(&one_row)
        .and_then(|v| v.into_array(1))
        .and_then(|a| ScalarValue::try_from_array(&a, 0))?;
    Ok(value)
}
