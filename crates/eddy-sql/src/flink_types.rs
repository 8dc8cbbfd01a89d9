//! Result types where DataFusion's differ from Flink's, fixed in the statement
//! before planning: `GROUPING(...)` and `GROUPING_ID(...)` are `BIGINT` in
//! Flink (DataFusion computes an `INT`), so each call is wrapped in a cast.

use std::ops::ControlFlow;

use datafusion_sql::sqlparser::ast::{visit_expressions_mut, CastKind, DataType, Expr, Statement};

/// Casts every `GROUPING` and `GROUPING_ID` call of `statement` to `BIGINT`.
pub fn rewrite(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Function(f) = expr {
            let name = f.name.to_string();
            if name.eq_ignore_ascii_case("GROUPING") || name.eq_ignore_ascii_case("GROUPING_ID") {
                let call = std::mem::replace(
                    expr,
                    Expr::value(datafusion_sql::sqlparser::ast::Value::Null),
                );
                *expr = Expr::Cast {
                    kind: CastKind::Cast,
                    expr: Box::new(call),
                    data_type: DataType::BigInt(None),
                    array: false,
                    format: None,
                };
            }
        }
        ControlFlow::<()>::Continue(())
    });
}
