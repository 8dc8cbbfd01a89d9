//! Window TVFs and aggregations: window aggregation when grouped by a
//! window's bounds, unbounded changelog aggregation otherwise.

use super::*;

/// The aggregate function of a name.
pub(super) fn agg_kind(name: &str) -> SqlResult<AggKind> {
    Ok(match name {
        "count" => AggKind::Count,
        "sum" => AggKind::Sum,
        "avg" => AggKind::Avg,
        "min" => AggKind::Min,
        "max" => AggKind::Max,
        "first_value" => AggKind::FirstValue,
        "last_value" => AggKind::LastValue,
        "listagg" => AggKind::ListAgg,
        "array_agg" => AggKind::ArrayAgg,
        "collect" => AggKind::Collect,
        other => {
            return Err(SqlError::unsupported(format!(
                "the aggregate function {other}"
            )))
        }
    })
}

impl StreamPlanner {
    pub(super) fn window_tvf(&mut self, tvf: &WindowTvfSource) -> SqlResult<Stream> {
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
        // Over a changelog, each row (and retraction) falls into the windows
        // of its own event time, as in Flink; sessions and processing time
        // need an append-only input.
        let event_time = matches!(
            input.attrs[tvf.time_column],
            Attr::Rowtime | Attr::WindowTime(_)
        );
        if input.updating && (call.kind == TvfKind::Session || !event_time) {
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
        let id = self.tvfs.len();
        let schema: DFSchemaRef = DFSchema::try_from(tvf.schema.as_ref().clone())?.into();
        let output = physical_schema(&schema, input.updating);
        let time_column = tvf.time_column;
        let vertex = self.add_operator(
            &format!(
                "WindowTableFunction({:?}, time_col=[{}])",
                spec, call.time_column
            ),
            input.vertex,
            Partitioning::Forward,
            {
                let output = output.clone();
                move |_| WindowTvfOperator::new(spec, time_column, output.clone())
            },
        );
        self.tvfs.push(TvfPlan {
            spec,
            partition_by: call.partition_by.clone(),
            proctime,
            vertex,
            time_column,
            time_name: call.time_column.clone(),
            output,
        });
        self.tvf_rows.insert(vertex, id);
        let mut attrs = input.attrs.clone();
        attrs.extend([
            Attr::WindowStart(id),
            Attr::WindowEnd(id),
            Attr::WindowTime(id),
        ]);
        Ok(Stream {
            vertex,
            schema,
            updating: input.updating,
            attrs,
            updated_by: input.updated_by.clone(),
        })
    }

    /// Whether the window aggregation of TVF `w` reading `input` aggregates
    /// slices (Flink's slicing window aggregation): each row lands in one
    /// slice (HOP: `slide`, CUMULATE: `step`), and a firing window merges its
    /// slices instead of every row updating each of its windows. Then the
    /// TVF assigns slices, which needs the aggregation to be its only reader
    /// of the window columns, an event-time HOP or CUMULATE, and aggregates
    /// whose merge does not depend on arrival order.
    fn slice_windows(&mut self, w: usize, input: VertexId, aggs: &Aggs) -> bool {
        let tvf = &self.tvfs[w];
        let sliceable = matches!(
            tvf.spec,
            WindowSpec::Hop { .. } | WindowSpec::Cumulate { .. }
        ) && !tvf.proctime
            && self.tvf_rows.get(&input) == Some(&w)
            && aggs.specs.iter().all(|a| {
                matches!(
                    a.kind,
                    AggKind::Count | AggKind::Sum | AggKind::Avg | AggKind::Min | AggKind::Max
                )
            });
        if !sliceable {
            return false;
        }
        let (spec, time_column, output) = (tvf.spec, tvf.time_column, tvf.output.clone());
        let name = format!(
            "WindowTableFunction({spec:?}, time_col=[{}], slices)",
            tvf.time_name
        );
        if let Some(vertex) = self.job.vertex_mut(tvf.vertex) {
            vertex.name = name;
        }
        self.job.set_factory(
            tvf.vertex,
            Arc::new(OperatorVertex::new(move |_| {
                WindowTvfOperator::new(spec, time_column, output.clone()).slicing()
            })),
        );
        // A second aggregation must not read the TVF's rows as windows.
        self.tvf_rows.retain(|_, x| *x != w);
        true
    }

    pub(super) fn aggregate(
        &mut self,
        input: Stream,
        group: &[Expr],
        aggr: &[Expr],
        schema: DFSchemaRef,
    ) -> SqlResult<Stream> {
        if let [Expr::GroupingSet(set)] = group {
            return self.grouping_sets(input, set, aggr, schema);
        }
        struct Call {
            kind: AggKind,
            arg: Option<usize>,
            filter: Option<usize>,
            distinct: bool,
            input_type: Option<arrow::datatypes::DataType>,
            separator: Option<String>,
        }
        // Every group expression, argument and filter becomes a column.
        let mut needed: Vec<Expr> = group.to_vec();
        let mut calls = Vec::new();
        for e in aggr {
            let Expr::AggregateFunction(AggregateFunction { func, params }) = unalias(e) else {
                return Err(SqlError::unsupported(format!("aggregate expression {e}")));
            };
            let kind = agg_kind(func.name())?;
            let separator = match (kind, params.args.get(1)) {
                (AggKind::ListAgg, Some(Expr::Literal(value, _))) => match value {
                    datafusion_common::ScalarValue::Utf8(Some(s))
                    | datafusion_common::ScalarValue::LargeUtf8(Some(s))
                    | datafusion_common::ScalarValue::Utf8View(Some(s)) => Some(s.clone()),
                    _ => {
                        return Err(SqlError::new(format!(
                            "the separator of LISTAGG must be a string literal, not {value}"
                        )))
                    }
                },
                (AggKind::ListAgg, Some(other)) => {
                    return Err(SqlError::new(format!(
                        "the separator of LISTAGG must be a string literal, not {other}"
                    )))
                }
                _ => None,
            };
            let max_args = if kind == AggKind::ListAgg { 2 } else { 1 };
            if params.args.len() > max_args {
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
            // `IGNORE NULLS` (ARRAY_AGG) skips the rows whose argument is NULL.
            let ignore_nulls = matches!(
                params.null_treatment,
                Some(datafusion_expr::expr::NullTreatment::IgnoreNulls)
            );
            let filter = match (
                ignore_nulls.then_some(arg).flatten(),
                params.filter.as_deref(),
            ) {
                (Some(arg), Some(filter)) => Some(arg.clone().is_not_null().and(filter.clone())),
                (Some(arg), None) => Some(arg.clone().is_not_null()),
                (None, filter) => filter.cloned(),
            };
            calls.push(Call {
                kind,
                arg: slot(arg),
                filter: slot(filter.as_ref()),
                distinct: params.distinct,
                input_type,
                separator,
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
                lag: None,
                separator: c.separator,
            })
            .collect();
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
            // Over a changelog, a hidden COUNT(*) tells a window whose rows
            // were all retracted, which emits nothing (Flink's record count).
            let mut aggs = aggs.clone();
            let row_count = stream.updating.then(|| {
                aggs.specs.push(AggSpec::count_rows());
                aggs.specs.len() - 1
            });
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
            let spec = self.tvfs[w].spec;
            let merging = matches!(spec, WindowSpec::Session { .. });
            let proctime = self.tvfs[w].proctime;
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
                let mut partition = self.tvfs[w].partition_by.clone();
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
            let slices = self.slice_windows(w, stream.vertex, &aggs);
            let name = format!(
                "WindowAggregate(groupBy=[{}], window=[{:?}]{}, select=[{}])",
                group_names.join(", "),
                spec,
                if slices { ", slices" } else { "" },
                agg_names.join(", ")
            );
            let vertex = self.job.add_vertex(
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
                        )
                        .counting_rows(row_count);
                        let operator = if proctime {
                            operator.processing_time()
                        } else if slices {
                            operator.slicing(spec)
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
        let mini_batch = self.mini_batch;
        let two_phase = mini_batch.is_some_and(|m| m.two_phase) && aggs.mergeable(stream.updating);
        let phase = if two_phase { "Global" } else { "" };
        let name = format!(
            "{phase}GroupAggregate(groupBy=[{}], select=[{}])",
            group_names.join(", "),
            agg_names.join(", ")
        );
        // Two phases: a local pre-aggregation before the exchange, whose
        // partials the global phase merges (keys first, then the partial).
        let (from, keyed) = match mini_batch.filter(|_| two_phase) {
            Some(settings) => {
                let local = self.add_operator(
                    &format!(
                        "LocalGroupAggregate(groupBy=[{}], select=[{}])",
                        group_names.join(", "),
                        agg_names.join(", ")
                    ),
                    stream.vertex,
                    Partitioning::Forward,
                    {
                        let (in_arrow, keys, aggs) =
                            (in_arrow.clone(), group_cols.clone(), aggs.clone());
                        move |_| {
                            LocalGroupAggOperator::new(
                                in_arrow.clone(),
                                keys.clone(),
                                aggs.clone(),
                                settings,
                            )
                        }
                    },
                );
                let partials = partial_schema(&in_arrow, &group_cols);
                (local, (partials, (0..group_cols.len()).collect::<Vec<_>>()))
            }
            None => (stream.vertex, (in_arrow.clone(), group_cols.clone())),
        };
        let ttl = self.state_ttl_ms;
        let vertex = self.job.add_vertex(
            &name,
            VertexKind::OneInput,
            self.parallelism,
            self.max_parallelism,
            {
                let (in_arrow, keys, aggs, output) = (
                    keyed.0.clone(),
                    keyed.1.clone(),
                    aggs.clone(),
                    output.clone(),
                );
                Arc::new(OperatorVertex::new(move |_| {
                    let operator = GroupAggOperator::new(
                        in_arrow.clone(),
                        keys.clone(),
                        aggs.clone(),
                        output.clone(),
                        ttl,
                    )
                    .mini_batch(mini_batch);
                    if two_phase {
                        operator.merging_partials()
                    } else {
                        operator
                    }
                }))
            },
        );
        self.connect(from, vertex, Partitioning::Hash, Some(keyed));
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
}
