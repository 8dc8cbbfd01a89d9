//! Flink's names for unnamed SELECT items: `a.b` (a field or a qualified column)
//! is named `b`; any other unnamed expression is named `EXPR$<position>`. A name
//! that repeats in one select list gets a suffix (`dateTime`, `dateTime0`).

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
            uniquify(&mut select.projection);
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

/// Renames the later of repeated names in a select list (without wildcards,
/// whose names are not known here).
fn uniquify(items: &mut [SelectItem]) {
    let name = |item: &SelectItem| match item {
        SelectItem::UnnamedExpr(Expr::Identifier(i)) => Some(i.value.clone()),
        SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
        _ => None,
    };
    let names: Option<Vec<String>> = items.iter().map(name).collect();
    let Some(names) = names else {
        return;
    };
    let mut taken: std::collections::HashSet<String> = std::collections::HashSet::new();
    for (item, name) in items.iter_mut().zip(&names) {
        if taken.insert(name.clone()) {
            continue;
        }
        let unique = (0..)
            .map(|k| format!("{name}{k}"))
            .find(|n| !names.contains(n) && !taken.contains(n))
            .unwrap_or_default();
        taken.insert(unique.clone());
        let expr = match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e.clone(),
            _ => continue,
        };
        *item = SelectItem::ExprWithAlias {
            expr,
            alias: Ident::new(unique),
        };
    }
}
