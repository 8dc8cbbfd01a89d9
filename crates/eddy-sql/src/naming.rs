//! Flink's names for unnamed SELECT items: `a.b` (a field or a qualified column)
//! is named `b`; any other unnamed expression is named `EXPR$<position>`.

use datafusion_sql::sqlparser::ast::{
    Expr, Ident, Query, SelectItem, SetExpr, TableFactor, TableWithJoins,
};

/// Names the unnamed SELECT items of a query and of its subqueries.
pub fn name_columns(query: &mut Query) {
    if let Some(with) = &mut query.with {
        for cte in &mut with.cte_tables {
            name_columns(&mut cte.query);
        }
    }
    set_expr(&mut query.body);
}

fn set_expr(body: &mut SetExpr) {
    match body {
        SetExpr::Select(select) => {
            for table in &mut select.from {
                from(table);
            }
            for (position, item) in select.projection.iter_mut().enumerate() {
                if let SelectItem::UnnamedExpr(expr) = item {
                    let alias = match expr {
                        Expr::Identifier(_) => continue,
                        Expr::CompoundIdentifier(parts) => match parts.last() {
                            Some(last) => last.clone(),
                            None => continue,
                        },
                        _ => Ident::new(format!("EXPR${position}")),
                    };
                    *item = SelectItem::ExprWithAlias {
                        expr: expr.clone(),
                        alias,
                    };
                }
            }
        }
        SetExpr::Query(q) => name_columns(q),
        SetExpr::SetOperation { left, right, .. } => {
            set_expr(left);
            set_expr(right);
        }
        _ => {}
    }
}

fn from(table: &mut TableWithJoins) {
    factor(&mut table.relation);
    for join in &mut table.joins {
        factor(&mut join.relation);
    }
}

fn factor(f: &mut TableFactor) {
    match f {
        TableFactor::Derived { subquery, .. } => name_columns(subquery),
        TableFactor::NestedJoin {
            table_with_joins, ..
        } => from(table_with_joins),
        _ => {}
    }
}
