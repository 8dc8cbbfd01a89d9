//! `TIMESTAMPADD(unit, n, ts)` and `TIMESTAMPDIFF(unit, t1, t2)` name their unit
//! with a bare keyword (`SECOND`), which sqlparser reads as a column. Before
//! planning the keyword becomes a string literal, which the functions read.

use std::ops::ControlFlow;

use datafusion_sql::sqlparser::ast::{
    visit_expressions_mut, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Statement, Value,
    ValueWithSpan,
};

/// The units the two functions take (Flink's `timeIntervalUnit`).
pub const UNITS: [&str; 8] = [
    "SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR",
];

/// Turns the unit keyword of every `TIMESTAMPADD` and `TIMESTAMPDIFF` call of
/// `statement` into a string.
pub fn rewrite(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Function(f) = expr {
            let name = f.name.to_string().to_ascii_uppercase();
            if name == "TIMESTAMPADD" || name == "TIMESTAMPDIFF" {
                if let FunctionArguments::List(list) = &mut f.args {
                    if let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(first))) =
                        list.args.first_mut()
                    {
                        if let Expr::Identifier(unit) = first {
                            let unit_name = unit.value.to_ascii_uppercase();
                            if unit.quote_style.is_none() && UNITS.contains(&unit_name.as_str()) {
                                *first = Expr::Value(ValueWithSpan::from(
                                    Value::SingleQuotedString(unit_name),
                                ));
                            }
                        }
                    }
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
}
