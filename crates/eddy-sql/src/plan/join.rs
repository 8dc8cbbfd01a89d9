//! Joins: regular, interval, window and lookup joins.

use super::*;

/// The time bounds of an interval (or window) join.
pub(super) struct IntervalBounds {
    left_time: usize,
    right_time: usize,
    lower: i64,
    upper: i64,
    window: bool,
}

/// A window join: both inputs windowed, joined on equal `window_start` and
/// `window_end`; an interval join on `window_end` with bounds `[0, 0]`.
pub(super) fn window_join(
    on: &[(Expr, Expr)],
    left: &Stream,
    right: &Stream,
) -> Option<IntervalBounds> {
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
pub(super) fn interval_literal(e: &Expr) -> Option<i64> {
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
pub(super) fn time_term(e: &Expr, left: &Stream, right: &Stream) -> Option<(usize, usize, i64)> {
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
pub(super) fn time_bound(
    e: &Expr,
    left: &Stream,
    right: &Stream,
) -> Option<(usize, usize, i64, i64)> {
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
pub(super) fn interval_bounds(
    rest: &mut Vec<Expr>,
    left: &Stream,
    right: &Stream,
) -> Option<IntervalBounds> {
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

impl StreamPlanner {
    /// A regular join; `filter` is a WHERE condition over an inner join.
    pub(super) fn join(&mut self, j: &Join, filter: Option<Expr>) -> SqlResult<Stream> {
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
        // `semi`: Some(false) for a semi join, Some(true) for an anti join (from
        // [NOT] EXISTS and [NOT] IN subqueries).
        let (left_outer, right_outer, semi) = match j.join_type {
            JoinType::Inner => (false, false, None),
            JoinType::Left => (true, false, None),
            JoinType::Right => (false, true, None),
            JoinType::Full => (true, true, None),
            JoinType::LeftSemi => (false, false, Some(false)),
            JoinType::LeftAnti => (false, false, Some(true)),
            JoinType::LeftMark | JoinType::RightMark => {
                return Err(SqlError::unsupported(
                    "IN or EXISTS subqueries under OR or NOT of other conditions (write them as a UNION ALL, or as a join)",
                ))
            }
            other => {
                return Err(SqlError::unsupported(format!(
                    "{other} joins (eddy has INNER, LEFT, RIGHT and FULL OUTER joins, and semi and anti joins from subqueries)"
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
        let append_only = !left.updating && !right.updating && semi.is_none();
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
        let on: Vec<String> = on.iter().map(|(l, r)| format!("{l} = {r}")).collect();
        let where_ = condition.as_ref().map(short).unwrap_or_default();
        let left_side = JoinSide {
            schema: left_arrow.clone(),
            width: left_width,
            keys: left_keys.clone(),
            outer: left_outer,
        };
        let right_side = JoinSide {
            schema: right_arrow.clone(),
            width: right_width,
            keys: right_keys.clone(),
            outer: right_outer,
        };
        // A semi join outputs the left columns only; its condition reads both.
        let both = match semi {
            Some(_) => Arc::new(j.left.schema().join(j.right.schema())?),
            None => j.schema.clone(),
        };
        let condition = condition.as_ref().map(|c| physical(c, &both)).transpose()?;
        let joined = physical_schema(&both, false);
        let inputs = [
            (left.vertex, left_arrow, left_keys),
            (right.vertex, right_arrow, right_keys),
        ];
        if let Some(interval) = interval {
            let name = if interval.window {
                format!(
                    "WindowJoin(joinType=[{}], on=[{}], where=[{where_}])",
                    j.join_type,
                    on.join(", ")
                )
            } else {
                format!(
                    "IntervalJoin(joinType=[{}], on=[{}], between=[{}, {}] ms, where=[{where_}])",
                    j.join_type,
                    on.join(", "),
                    interval.lower,
                    interval.upper
                )
            };
            let spec = IntervalSpec {
                left: left_side,
                right: right_side,
                left_time: interval.left_time,
                right_time: interval.right_time,
                lower: interval.lower,
                upper: interval.upper,
                condition,
                output: joined.clone(),
                joined,
                window: interval.window,
                nulls_equal: j.null_equality == NullEquality::NullEqualsNull,
            };
            let vertex = self.add_keyed_two_input(&name, inputs, move |_| {
                IntervalJoinOperator::new(spec.clone())
            });
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
        let updating =
            left.updating || right.updating || left_outer || right_outer || semi == Some(true);
        let name = format!(
            "Join(joinType=[{}], on=[{}], where=[{where_}])",
            j.join_type,
            on.join(", ")
        );
        let spec = JoinSpec {
            left: left_side,
            right: right_side,
            condition,
            joined,
            output: physical_schema(&j.schema, updating),
            nulls_equal: j.null_equality == NullEquality::NullEqualsNull,
            ttl_ms: self.state_ttl_ms,
        };
        let (vertex, attrs) = match semi {
            Some(anti) => {
                // NOT IN over values that may be NULL: an unknown comparison
                // excludes the row as a match does (three-valued logic).
                let null_aware = j.null_aware;
                let vertex = self.add_keyed_two_input(&name, inputs, move |_| {
                    SemiJoinOperator::new(spec.clone(), anti).null_aware(null_aware)
                });
                // The left rows pass unchanged: they keep their attributes
                // unless they can be retracted.
                let attrs = if updating {
                    vec![Attr::Plain; left_width]
                } else {
                    left.attrs[..left_width].to_vec()
                };
                (vertex, attrs)
            }
            None => {
                let vertex = self
                    .add_keyed_two_input(&name, inputs, move |_| JoinOperator::new(spec.clone()));
                (vertex, vec![Attr::Plain; j.schema.fields().len()])
            }
        };
        Ok(Stream {
            vertex,
            attrs,
            schema: j.schema.clone(),
            updating,
            updated_by: updating.then(|| format!("the {} JOIN ({name})", j.join_type)),
        })
    }

    /// A two-input vertex whose inputs (vertex, schema, key columns) are
    /// partitioned by their keys.
    fn add_keyed_two_input<O, F>(
        &mut self,
        name: &str,
        inputs: [(VertexId, SchemaRef, Vec<usize>); 2],
        create: F,
    ) -> VertexId
    where
        O: eddy_runtime::TwoInputOperator<In1 = RecordBatch, In2 = RecordBatch>,
        F: Fn(usize) -> O + Send + Sync + 'static,
    {
        let vertex = self.job.add_vertex(
            name,
            VertexKind::TwoInput,
            self.parallelism,
            self.max_parallelism,
            Arc::new(TwoInputVertex::new(create)),
        );
        for (input, (from, schema, keys)) in inputs.into_iter().enumerate() {
            self.connect_input(
                from,
                vertex,
                Partitioning::Hash,
                Some((schema, keys)),
                input as u8,
            );
        }
        vertex
    }

    /// A lookup join: the right side is a table read `FOR SYSTEM_TIME AS OF`
    /// a processing-time attribute of the left side.
    pub(super) fn lookup_join(
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
        match time_column.map(|c| (c, left.attrs[c])) {
            Some((_, Attr::Proctime)) => {}
            Some((c, Attr::Rowtime | Attr::WindowTime(_))) => {
                return self.temporal_join(j, filter, lookup, left, c, left_outer)
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
        let (on, rest) = table_keys(j, filter, "lookup", "lookup table")?;
        if on.is_empty() {
            return Err(SqlError::new(format!(
                "a lookup join needs an equality between the left side and a column of {}",
                table.name
            )));
        }
        let table_schema = table.physical.clone();
        let key_exprs = keys_typed_as(&on, &left, &table_schema)?;
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
        let table_keys: Vec<usize> = on.iter().map(|(_, r)| *r).collect();
        let lookup_table = self.lookup_table(table, factory, &table_keys)?;
        let spec = LookupSpec {
            probe,
            width: left_width,
            keys,
            table: lookup_table,
            table_schema: table_schema.clone(),
            table_keys,
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

    /// How a lookup join reads `table`: by key through a cache when its
    /// connector looks rows up, else whole through `whole`.
    fn lookup_table(
        &self,
        table: &TableDef,
        whole: SourceFactory,
        keys: &[usize],
    ) -> SqlResult<crate::exec::lookup::LookupTable> {
        use crate::connectors::registry::{self, column_names, ConnectorTable};
        use crate::exec::lookup::LookupTable;
        use crate::exec::lookup_cache::CacheOptions;
        let connector = table.option("connector").unwrap_or_default();
        let Some(connector) = registry::lookup(connector) else {
            return Ok(LookupTable::Full {
                table: whole,
                reload: None,
            });
        };
        let cache = CacheOptions::from_options(&table.name, &table.options)?;
        if let Some(interval) = cache.full {
            return Ok(LookupTable::Full {
                table: whole,
                reload: Some(interval),
            });
        }
        let key_names: Vec<String> = keys
            .iter()
            .map(|&k| table.physical.field(k).name().clone())
            .collect();
        let described = ConnectorTable {
            name: &table.name,
            options: &table.options,
            primary_key: &table.primary_key,
            columns: &column_names(&table.physical),
            schema: &table.physical,
            metadata: &[],
            metadata_columns: &[],
        };
        Ok(
            match connector.lookup(described, &table.physical, &key_names)? {
                Some(lookup) => LookupTable::Keyed { lookup, cache },
                None => LookupTable::Full {
                    table: whole,
                    reload: None,
                },
            },
        )
    }

    /// An event-time temporal join: the right side is a versioned table (a
    /// changelog with a primary key and a watermark) read `FOR SYSTEM_TIME AS
    /// OF` a rowtime attribute of the left side (column `left_time`).
    fn temporal_join(
        &mut self,
        j: &Join,
        filter: Option<Expr>,
        lookup: &LookupSource,
        left: Stream,
        left_time: usize,
        left_outer: bool,
    ) -> SqlResult<Stream> {
        let table = &lookup.table;
        if left.updating {
            return Err(SqlError::unsupported(format!(
                "an event-time temporal join of an updating left input ({}); the left side must be append-only",
                left.updated_by.clone().unwrap_or_else(|| "the query".into())
            )));
        }
        let Some(watermark) = &table.watermark else {
            return Err(SqlError::new(format!(
                "Event-Time Temporal Table Join requires both primary key and row time attribute in versioned table, but no row time attribute can be found (table {} has no WATERMARK)",
                table.name
            )));
        };
        if table.primary_key.is_empty() {
            return Err(SqlError::new(format!(
                "Temporal Table Join requires primary key in versioned table, but no primary key can be found (table {})",
                table.name
            )));
        }
        let right_time = watermark.column;
        let (on, rest) = table_keys(j, filter, "temporal join", "versioned table")?;
        let schema = &table.schema;
        let key_names: Vec<&str> = on
            .iter()
            .map(|(_, r)| schema.field(*r).name().as_str())
            .collect();
        if let Some(missing) = table
            .primary_key
            .iter()
            .find(|k| !key_names.contains(&k.as_str()))
        {
            return Err(SqlError::new(format!(
                "Temporal Table Join requires the primary key of the versioned table {} in the join condition, and {missing} is not compared",
                table.name
            )));
        }
        let right = self.scan(table)?;
        let key_exprs = keys_typed_as(&on, &left, schema)?;
        let left_width = left.schema.fields().len();
        let right_width = right.schema.fields().len();
        let left_attrs = left.attrs[..left_width].to_vec();
        let (left, left_keys) = self.with_columns(left, &key_exprs)?;
        let right_keys: Vec<usize> = on.iter().map(|(_, r)| *r).collect();
        let (left_arrow, right_arrow) = (left.arrow(), right.arrow());
        crate::exec::keys::KeyCodec::new(&left_arrow, &left_keys)?;
        crate::exec::keys::KeyCodec::new(&right_arrow, &right_keys)?;
        let condition = conjunction(rest);
        let keys_text: Vec<String> = on
            .iter()
            .map(|(e, r)| format!("{e} = {}", schema.field(*r).name()))
            .collect();
        let name = format!(
            "TemporalJoin(table=[{}], joinType=[{}], on=[{}], where=[{}])",
            table.name,
            j.join_type,
            keys_text.join(", "),
            condition.as_ref().map(short).unwrap_or_default()
        );
        let spec = TemporalSpec {
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
                outer: false,
            },
            left_time,
            right_time,
            condition: condition
                .as_ref()
                .map(|c| physical(c, &j.schema))
                .transpose()?,
            joined: physical_schema(&j.schema, false),
            output: physical_schema(&j.schema, false),
        };
        let inputs = [
            (left.vertex, left_arrow, left_keys),
            (right.vertex, right_arrow, right_keys),
        ];
        let vertex = self.add_keyed_two_input(&name, inputs, move |_| {
            TemporalJoinOperator::new(spec.clone())
        });
        // The left side keeps its time attribute; the versioned table's is plain.
        let mut attrs = left_attrs;
        attrs.extend(std::iter::repeat_n(Attr::Plain, right_width));
        Ok(Stream {
            vertex,
            schema: j.schema.clone(),
            updating: false,
            attrs,
            updated_by: None,
        })
    }
}

/// Key pairs (a left expression, a table column) and the rest of a condition.
type TableKeys = (Vec<(Expr, usize)>, Vec<Expr>);

/// The keys of a join with a table read `FOR SYSTEM_TIME AS OF`: each
/// equality between an expression of the left side and a column of the table
/// (with the column's index), and the rest of the condition.
fn table_keys(j: &Join, filter: Option<Expr>, join: &str, table: &str) -> SqlResult<TableKeys> {
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
                    "the {join} key {r} (compare columns of the {table})"
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
    Ok((on, rest))
}

/// The left side's key expressions of `on`, cast to the type of the table
/// column each is compared with (so both encode alike).
fn keys_typed_as(
    on: &[(Expr, usize)],
    left: &Stream,
    table: &arrow::datatypes::Schema,
) -> SqlResult<Vec<Expr>> {
    on.iter()
        .map(|(e, r)| {
            let target = table.field(*r).data_type();
            Ok(if &e.get_type(&left.schema)? == target {
                e.clone()
            } else {
                Expr::Cast(datafusion_expr::Cast::new(
                    Box::new(e.clone()),
                    target.clone(),
                ))
            })
        })
        .collect()
}
