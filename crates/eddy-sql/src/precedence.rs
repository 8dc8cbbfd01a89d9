//! Repairs of operator precedence where sqlparser's parse differs from
//! Calcite's (Flink's parser).
//!
//! sqlparser parses the right operand of `IS [NOT] DISTINCT FROM` as a whole
//! expression, so `a IS NOT DISTINCT FROM b AND c < d` becomes
//! `a IS NOT DISTINCT FROM (b AND c < d)`. In Calcite the predicate binds
//! tighter than `AND` and `OR`: `(a IS NOT DISTINCT FROM b) AND c < d`.

use std::ops::ControlFlow;

use datafusion_sql::sqlparser::ast::{visit_expressions_mut, BinaryOperator, Expr, Statement};

/// Re-associates every `IS [NOT] DISTINCT FROM` of `statement` whose right
/// operand took in an `AND` or `OR`.
pub fn repair(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        rotate(expr);
        ControlFlow::<()>::Continue(())
    });
}

/// `x IS [NOT] DISTINCT FROM (l AND r)` to `(x IS [NOT] DISTINCT FROM l) AND r`
/// (also for `OR`), until the right operand is no `AND` or `OR`.
fn rotate(expr: &mut Expr) {
    let (Expr::IsDistinctFrom(_, right) | Expr::IsNotDistinctFrom(_, right)) = &*expr else {
        return;
    };
    if !matches!(
        **right,
        Expr::BinaryOp {
            op: BinaryOperator::And | BinaryOperator::Or,
            ..
        }
    ) {
        return;
    }
    let negated = matches!(expr, Expr::IsNotDistinctFrom(..));
    let placeholder = Expr::Identifier(datafusion_sql::sqlparser::ast::Ident::new(""));
    let (Expr::IsDistinctFrom(x, right) | Expr::IsNotDistinctFrom(x, right)) =
        std::mem::replace(expr, placeholder)
    else {
        return;
    };
    let Expr::BinaryOp { left, op, right } = *right else {
        return;
    };
    let mut inner = if negated {
        Expr::IsNotDistinctFrom(x, left)
    } else {
        Expr::IsDistinctFrom(x, left)
    };
    rotate(&mut inner);
    *expr = Expr::BinaryOp {
        left: Box::new(inner),
        op,
        right,
    };
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use datafusion_sql::sqlparser::ast::SetExpr;
    use datafusion_sql::sqlparser::dialect::GenericDialect;
    use datafusion_sql::sqlparser::parser::Parser;

    /// The WHERE clause of `sql` after the repair.
    fn selection(sql: &str) -> Expr {
        let mut statement = Parser::parse_sql(&GenericDialect {}, sql)
            .unwrap()
            .remove(0);
        repair(&mut statement);
        let Statement::Query(query) = statement else {
            panic!("not a query")
        };
        let SetExpr::Select(select) = *query.body else {
            panic!("not a select")
        };
        select.selection.unwrap()
    }

    fn split(expr: Expr) -> (Expr, BinaryOperator, Expr) {
        let Expr::BinaryOp { left, op, right } = expr else {
            panic!("not a binary operation: {expr}")
        };
        (*left, op, *right)
    }

    #[test]
    fn distinct_from_binds_tighter_than_and_or() {
        let (left, op, right) = split(selection(
            "SELECT 1 FROM t WHERE a IS DISTINCT FROM b AND c OR d",
        ));
        assert_eq!((op, right.to_string()), (BinaryOperator::Or, "d".into()));
        let (left, op, right) = split(left);
        assert_eq!((op, right.to_string()), (BinaryOperator::And, "c".into()));
        assert_eq!(left.to_string(), "a IS DISTINCT FROM b");
        assert!(matches!(left, Expr::IsDistinctFrom(..)));
        let (left, op, _) = split(selection(
            "SELECT 1 FROM t WHERE a IS NOT DISTINCT FROM b + 1 AND c < d",
        ));
        assert_eq!(op, BinaryOperator::And);
        assert_eq!(left.to_string(), "a IS NOT DISTINCT FROM b + 1");
    }
}
