//! Runtime errors of expressions in SQL terms.
//!
//! When an expression fails on a batch (a cast of a string that is no number,
//! a division by zero), [`expression_error`] finds the smallest sub-expression
//! that fails on its own and says what it is in SQL (`CAST(customer AS INT)`)
//! and why (`'alice' is not an INT`). The session then finds that expression in
//! the statement's text ([`locate`]) to give the error its position.

use std::sync::Arc;

use arrow::array::RecordBatch;
use datafusion_common::{DataFusionError, ScalarValue};
use datafusion_physical_expr::expressions::{
    BinaryExpr, CastExpr, Column, IsNotNullExpr, IsNullExpr, Literal, NegativeExpr, NotExpr,
    TryCastExpr,
};
use datafusion_physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion_sql::sqlparser::ast::{Expr as SqlExpr, Spanned, Visit, Visitor};
use datafusion_sql::sqlparser::dialect::GenericDialect;
use datafusion_sql::sqlparser::parser::Parser;

use crate::error::{Position, SqlError};
use crate::types::sql_name;

/// Which kind of expression failed, to find it in the statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CulpritKind {
    /// `CAST(x AS T)`.
    Cast,
    /// A binary operator, by its SQL spelling (`/`, `+`).
    Operator(String),
    /// A function call, by name.
    Function(String),
    /// Anything else.
    Other,
}

/// The expression that failed at run time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Culprit {
    /// What kind of expression.
    pub kind: CulpritKind,
    /// The expression as SQL, rebuilt from the plan (`CAST(customer AS INT)`).
    pub text: String,
    /// Why it failed, in SQL terms (`'alice' is not an INT`).
    pub reason: String,
    /// The first row it failed on, in the batch it was evaluated on.
    pub row: Option<usize>,
    /// Where that row was read from (`file:line`), when known (see
    /// [`crate::exec::origin`]).
    pub origin: Option<String>,
}

impl Culprit {
    /// The error's message, with `text` as the expression's spelling.
    fn message(&self, text: &str) -> String {
        match &self.origin {
            Some(origin) => format!(
                "{text} failed: {} (in the row read from {origin})",
                self.reason
            ),
            None => format!("{text} failed: {}", self.reason),
        }
    }
}

/// The error of `expr` failing with `error` on `batch`, in SQL terms: the
/// smallest failing sub-expression, as SQL, and the reason.
pub fn expression_error(
    expr: &Arc<dyn PhysicalExpr>,
    batch: &RecordBatch,
    error: DataFusionError,
) -> SqlError {
    let culprit_expr = smallest_failing(expr, batch);
    let reason = reason(&error);
    let row = first_failing_row(culprit_expr, batch);
    let culprit = Culprit {
        kind: kind(culprit_expr),
        text: render(culprit_expr),
        reason,
        row,
        origin: row.and_then(|row| crate::exec::origin::location(batch, row)),
    };
    SqlError::new(culprit.message(&culprit.text))
        .with_culprit(culprit)
        .with_source(error)
}

/// Names the input row of an expression error that has no origin yet: the
/// expression was evaluated on rows of `input` (row `i` being `input`'s row
/// `to_input(i)`). Any other error is returned as it is.
pub fn with_input_origin(
    error: eddy_core::Error,
    input: &RecordBatch,
    to_input: impl Fn(usize) -> Option<usize>,
) -> eddy_core::Error {
    let eddy_core::Error::External(boxed) = error else {
        return error;
    };
    let mut sql = match boxed.downcast::<SqlError>() {
        Ok(sql) => sql,
        Err(other) => return eddy_core::Error::External(other),
    };
    if let Some(culprit) = sql.culprit_mut() {
        if culprit.origin.is_none() {
            culprit.origin = culprit
                .row
                .and_then(&to_input)
                .and_then(|row| crate::exec::origin::location(input, row));
            if culprit.origin.is_some() {
                sql.message = culprit.message(&culprit.text);
            }
        }
    }
    eddy_core::Error::External(sql)
}

/// The first row `expr` fails on (it fails on the whole `batch`), found by
/// halving: a row's failure does not depend on the rows after it.
fn first_failing_row(expr: &Arc<dyn PhysicalExpr>, batch: &RecordBatch) -> Option<usize> {
    let (mut ok, mut failing) = (0, batch.num_rows());
    while failing - ok > 1 {
        let mid = ok + (failing - ok) / 2;
        if fails(expr, &batch.slice(0, mid)) {
            failing = mid;
        } else {
            ok = mid;
        }
    }
    let row = failing.checked_sub(1)?;
    fails(expr, &batch.slice(row, 1)).then_some(row)
}

fn fails(expr: &Arc<dyn PhysicalExpr>, batch: &RecordBatch) -> bool {
    expr.evaluate(batch)
        .and_then(|v| v.into_array(batch.num_rows()))
        .is_err()
}

/// Descends into the children that fail on their own.
fn smallest_failing<'a>(
    expr: &'a Arc<dyn PhysicalExpr>,
    batch: &RecordBatch,
) -> &'a Arc<dyn PhysicalExpr> {
    let mut current = expr;
    // Bounded: the planner limits how deeply expressions nest.
    loop {
        let next = current
            .children()
            .into_iter()
            .find(|child| fails(child, batch));
        match next {
            Some(child) => current = child,
            None => return current,
        }
    }
}

fn reason(error: &DataFusionError) -> String {
    match error.find_root() {
        DataFusionError::ArrowError(a, _) => crate::error::arrow_reason(a),
        DataFusionError::Execution(s) | DataFusionError::Internal(s) => crate::error::clean(s),
        other => crate::error::clean(&other.to_string()),
    }
}

fn kind(expr: &Arc<dyn PhysicalExpr>) -> CulpritKind {
    let any: &dyn PhysicalExpr = expr.as_ref();
    if any.downcast_ref::<CastExpr>().is_some() || any.downcast_ref::<TryCastExpr>().is_some() {
        CulpritKind::Cast
    } else if let Some(b) = any.downcast_ref::<BinaryExpr>() {
        CulpritKind::Operator(b.op().to_string())
    } else if let Some(f) = any.downcast_ref::<ScalarFunctionExpr>() {
        CulpritKind::Function(f.name().to_ascii_uppercase())
    } else {
        CulpritKind::Other
    }
}

fn literal(value: &ScalarValue) -> String {
    if value.is_null() {
        return "NULL".into();
    }
    match value {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => {
            format!("'{}'", s.replace('\'', "''"))
        }
        other => other.to_string(),
    }
}

/// An expression of the plan as SQL, with SQL type names.
pub fn render(expr: &Arc<dyn PhysicalExpr>) -> String {
    let any: &dyn PhysicalExpr = expr.as_ref();
    let child = |e: &Arc<dyn PhysicalExpr>| {
        let text = render(e);
        if (e.as_ref() as &dyn PhysicalExpr)
            .downcast_ref::<BinaryExpr>()
            .is_some()
        {
            format!("({text})")
        } else {
            text
        }
    };
    if let Some(c) = any.downcast_ref::<Column>() {
        c.name().rsplit('.').next().unwrap_or(c.name()).to_string()
    } else if let Some(l) = any.downcast_ref::<Literal>() {
        literal(l.value())
    } else if let Some(c) = any.downcast_ref::<CastExpr>() {
        format!("CAST({} AS {})", render(c.expr()), sql_name(c.cast_type()))
    } else if let Some(c) = any.downcast_ref::<TryCastExpr>() {
        format!(
            "TRY_CAST({} AS {})",
            render(c.expr()),
            sql_name(c.cast_type())
        )
    } else if let Some(b) = any.downcast_ref::<BinaryExpr>() {
        format!("{} {} {}", child(b.left()), b.op(), child(b.right()))
    } else if let Some(f) = any.downcast_ref::<ScalarFunctionExpr>() {
        let args: Vec<String> = f.args().iter().map(render).collect();
        format!("{}({})", f.name().to_ascii_uppercase(), args.join(", "))
    } else if let Some(n) = any.downcast_ref::<NegativeExpr>() {
        format!("-{}", child(n.arg()))
    } else if let Some(n) = any.downcast_ref::<NotExpr>() {
        format!("NOT {}", child(n.arg()))
    } else if let Some(n) = any.downcast_ref::<IsNullExpr>() {
        format!("{} IS NULL", child(n.arg()))
    } else if let Some(n) = any.downcast_ref::<IsNotNullExpr>() {
        format!("{} IS NOT NULL", child(n.arg()))
    } else {
        crate::error::clean(&expr.to_string())
    }
}

/// Collects the statement's expressions of one kind, with their positions.
struct Sites<'a> {
    kind: &'a CulpritKind,
    found: Vec<(String, Position)>,
}

impl Visitor for Sites<'_> {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &SqlExpr) -> std::ops::ControlFlow<()> {
        let matches = match (self.kind, expr) {
            (CulpritKind::Cast, SqlExpr::Cast { .. }) => true,
            (CulpritKind::Operator(op), SqlExpr::BinaryOp { op: o, .. }) => o.to_string() == *op,
            (CulpritKind::Function(name), SqlExpr::Function(f)) => {
                f.name.to_string().eq_ignore_ascii_case(name)
            }
            _ => false,
        };
        if matches {
            let start = expr.span().start;
            if let Some(p) = Position::new(start.line, start.column) {
                self.found.push((expr.to_string(), p));
            }
        }
        std::ops::ControlFlow::Continue(())
    }
}

fn squeeze(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase()
}

/// The keyword `CAST` (or `TRY_CAST`) before the position of a cast's operand.
fn cast_keyword(sql: &str, operand: Position) -> Option<Position> {
    let offset = crate::ddl::offset_of(sql, operand.line, operand.column);
    let before = sql[..offset].trim_end();
    let before = before.strip_suffix('(')?.trim_end();
    let word_start = before
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let word = &before[word_start..];
    if !(word.eq_ignore_ascii_case("CAST") || word.eq_ignore_ascii_case("TRY_CAST")) {
        return None;
    }
    let line_start = sql[..word_start].rfind('\n').map_or(0, |i| i + 1);
    let line = sql[..word_start].matches('\n').count() as u64 + 1;
    let column = sql[line_start..word_start].chars().count() as u64 + 1;
    Position::new(line, column)
}

/// Gives a runtime error of an expression the position of that expression in
/// the statement `sql`, and the statement's own spelling of it. The
/// expression is found by kind and text; when the text differs (a cast the
/// planner added), the only expression of its kind, if there is one.
pub fn locate(error: SqlError, sql: &str) -> SqlError {
    let Some(culprit) = error.culprit().cloned() else {
        return error;
    };
    if error.position.is_some() || culprit.kind == CulpritKind::Other {
        return error;
    }
    let text = match sql.trim_start().get(..7) {
        Some(head) if head.eq_ignore_ascii_case("EXPLAIN") => return error,
        _ => sql,
    };
    let Ok(statements) = Parser::parse_sql(&GenericDialect {}, text) else {
        return error;
    };
    let mut sites = Sites {
        kind: &culprit.kind,
        found: Vec::new(),
    };
    for s in &statements {
        let _ = s.visit(&mut sites);
    }
    let wanted = squeeze(&culprit.text);
    let site =
        sites
            .found
            .iter()
            .find(|(t, _)| squeeze(t) == wanted)
            .or(if sites.found.len() == 1 {
                sites.found.first()
            } else {
                None
            });
    let Some((spelled, position)) = site else {
        return error;
    };
    let position = match culprit.kind {
        CulpritKind::Cast => cast_keyword(sql, *position).unwrap_or(*position),
        _ => *position,
    };
    let mut located = error;
    located.message = culprit.message(spelled);
    located.position = Some(position);
    located
}
