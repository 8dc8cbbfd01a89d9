//! `GROUPING SETS`, `ROLLUP` and `CUBE`: an expand, then one aggregation keyed by
//! the grouping expressions and the grouping id (as Flink plans them).
//!
//! ```text
//!  input ──▶ Expand (every row once per set: the columns, the grouping
//!            expressions with those outside the set NULL, the set's id)
//!        ──▶ aggregation grouped by (grouping expressions, __grouping_id)
//! ```
//!
//! The grouping id is DataFusion's `__grouping_id`, which `GROUPING()` and
//! `GROUPING_ID()` above the aggregation read: a bit per grouping expression
//! (the rightmost is the lowest bit), set when the expression is NULLed, and
//! above those bits an ordinal telling repeated sets apart.

use std::collections::HashMap;

use arrow::datatypes::Field;
use datafusion_expr::{Aggregate, ExprSchemable, GroupingSet};

use super::*;
use crate::exec::expand::ExpandOperator;

/// The sets a grouping-set expression stands for, in its order.
fn sets_of(set: &GroupingSet) -> Vec<Vec<Expr>> {
    match set {
        GroupingSet::GroupingSets(sets) => sets.clone(),
        GroupingSet::Rollup(exprs) => (0..=exprs.len())
            .rev()
            .map(|k| exprs[..k].to_vec())
            .collect(),
        // Every subset, by its grouping id: all expressions first, none last (the
        // order Flink expands a CUBE in).
        GroupingSet::Cube(exprs) => {
            let n = exprs.len();
            (0..1u64 << n)
                .map(|mask| {
                    exprs
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| mask & (1 << (n - 1 - j)) == 0)
                        .map(|(_, e)| e.clone())
                        .collect()
                })
                .collect()
        }
    }
}

/// The grouping id of each set over `distinct` grouping expressions.
fn grouping_ids(distinct: &[Expr], sets: &[Vec<Expr>]) -> Vec<u64> {
    let n = distinct.len();
    let mut seen: HashMap<u64, u64> = HashMap::new();
    sets.iter()
        .map(|set| {
            let mask = distinct
                .iter()
                .enumerate()
                .filter(|(_, e)| !set.contains(e))
                .fold(0u64, |mask, (j, _)| mask | 1 << (n - 1 - j));
            let ordinal = seen.entry(mask).or_insert(0);
            let id = (*ordinal << n) | mask;
            *ordinal += 1;
            id
        })
        .collect()
}

impl StreamPlanner {
    /// An aggregation grouped by a grouping-set expression, producing `schema`
    /// (the grouping expressions, `__grouping_id`, the aggregates).
    pub(super) fn grouping_sets(
        &mut self,
        input: Stream,
        set: &GroupingSet,
        aggr: &[Expr],
        schema: DFSchemaRef,
    ) -> SqlResult<Stream> {
        let distinct: Vec<Expr> = set.distinct_expr().into_iter().cloned().collect();
        let n = distinct.len();
        if n > 63 {
            return Err(SqlError::unsupported(format!(
                "GROUPING SETS over {n} expressions (at most 63)"
            )));
        }
        let sets = sets_of(set);
        let ids = grouping_ids(&distinct, &sets);
        let id_type = schema.field(n).data_type().clone();
        // The expanded rows: the input's columns, the grouping expressions, the id.
        let mut fields: Vec<_> = input
            .schema
            .iter()
            .map(|(q, f)| (q.cloned(), f.clone()))
            .collect();
        let mut types = Vec::with_capacity(n);
        for (j, e) in distinct.iter().enumerate() {
            let data_type = e.get_type(&input.schema)?;
            fields.push((
                None,
                Arc::new(Field::new(
                    format!("__grouping_{j}"),
                    data_type.clone(),
                    true,
                )),
            ));
            types.push(data_type);
        }
        fields.push((
            None,
            Arc::new(Field::new(
                Aggregate::INTERNAL_GROUPING_ID,
                id_type.clone(),
                false,
            )),
        ));
        let expanded = Arc::new(DFSchema::new_with_metadata(fields, Default::default())?);
        let updating = input.updating;
        let output = physical_schema(&expanded, updating);
        let columns: Vec<Expr> = input
            .schema
            .columns()
            .into_iter()
            .map(Expr::Column)
            .collect();
        let mut projections = Vec::with_capacity(sets.len());
        for (set, id) in sets.iter().zip(&ids) {
            let mut exprs = columns.clone();
            for (e, data_type) in distinct.iter().zip(&types) {
                exprs.push(if set.contains(e) {
                    e.clone()
                } else {
                    Expr::Literal(ScalarValue::try_from(data_type)?, None)
                });
            }
            exprs.push(Expr::Literal(
                ScalarValue::UInt64(Some(*id)).cast_to(&id_type)?,
                None,
            ));
            let projection = exprs
                .iter()
                .map(|e| physical(e, &input.schema))
                .collect::<SqlResult<Vec<_>>>()?;
            projections.push(projection);
        }
        // A grouping expression in every set keeps its attribute (a window bound).
        let mut attrs = input.attrs.clone();
        for e in &distinct {
            let everywhere = sets.iter().all(|s| s.contains(e));
            attrs.push(match e {
                Expr::Column(c) if everywhere => input
                    .schema
                    .index_of_column(c)
                    .map_or(Attr::Plain, |i| input.attrs[i]),
                _ => Attr::Plain,
            });
        }
        attrs.push(Attr::Plain);
        let names: Vec<String> = sets
            .iter()
            .map(|s| format!("({})", s.iter().map(short).collect::<Vec<_>>().join(", ")))
            .collect();
        let name = format!("Expand(sets=[{}])", names.join(", "));
        let vertex = self.add_operator(&name, input.vertex, Partitioning::Forward, move |_| {
            ExpandOperator::new(
                projections
                    .iter()
                    .map(|p| CalcOperator::new(None, p.clone(), output.clone(), updating))
                    .collect(),
            )
        });
        let stream = Stream {
            vertex,
            schema: expanded,
            updating,
            attrs,
            updated_by: input.updated_by,
        };
        let width = input.schema.fields().len();
        let group: Vec<Expr> = (width..=width + n)
            .map(|i| Expr::Column(Column::from_name(stream.schema.field(i).name())))
            .collect();
        self.aggregate(stream, &group, aggr, schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion_expr::col;

    #[test]
    fn ids_mark_the_missing_expressions_and_number_repeats() {
        let (a, b) = (col("a"), col("b"));
        let distinct = [a.clone(), b.clone()];
        let cube = sets_of(&GroupingSet::Cube(distinct.to_vec()));
        assert_eq!(cube[1], std::slice::from_ref(&a));
        assert_eq!(grouping_ids(&distinct, &cube), [0b00, 0b01, 0b10, 0b11]);
        let rollup = sets_of(&GroupingSet::Rollup(distinct.to_vec()));
        assert_eq!(
            rollup,
            [vec![a.clone(), b.clone()], vec![a.clone()], vec![]]
        );
        assert_eq!(grouping_ids(&distinct, &rollup), [0b00, 0b01, 0b11]);
        // The same set twice: the second carries ordinal 1 above the mask bits.
        let twice = [vec![a.clone()], vec![a.clone()], vec![b]];
        assert_eq!(grouping_ids(&distinct, &twice), [0b001, 0b101, 0b010]);
    }
}
