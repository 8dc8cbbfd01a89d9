//! Flink's group window functions: `GROUP BY TUMBLE(ts, size)`,
//! `HOP(ts, slide, size)` or `SESSION(ts, gap)`, with `TUMBLE_START(...)`,
//! `_END` and `_ROWTIME` (and the HOP/SESSION twins) in the select list. They
//! are rewritten into the window TVF of the same windows before planning: the
//! table in FROM becomes the TVF (a SESSION partitioned by the other GROUP BY
//! columns), the group window becomes `window_start, window_end, window_time`,
//! and the auxiliary functions become those columns. A subquery in FROM is
//! hoisted out as an input of its own ([`Hoisted`]), which the planner plans
//! first and the TVF reads as it reads a view, with its time attributes.

use std::ops::ControlFlow;

use datafusion_sql::sqlparser::ast::{
    visit_expressions_mut, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr,
    Ident, ObjectName, ObjectNamePart, Query, Select, SetExpr, TableAlias, TableFactor,
};
use datafusion_sql::sqlparser::tokenizer::Token;

use crate::error::{SqlError, SqlResult};
use crate::tvf::{self, TvfCall, TvfKind};

/// The name prefix of a hoisted subquery.
pub const SUBQUERY: &str = "__eddy_window_input_";

/// A subquery a group window reads, taken out of its query: the TVF reads it
/// by `name`.
pub type Hoisted = (String, Query);

/// Rewrites every group window of `query`; the TVF calls it creates are pushed
/// to `calls` (numbered by their position there), the subqueries they read to
/// `hoisted`.
pub fn rewrite(
    query: &mut Query,
    calls: &mut Vec<TvfCall>,
    hoisted: &mut Vec<Hoisted>,
) -> SqlResult<()> {
    if let Some(with) = &mut query.with {
        for cte in &mut with.cte_tables {
            rewrite(&mut cte.query, calls, hoisted)?;
        }
    }
    rewrite_set(&mut query.body, calls, hoisted)
}

fn rewrite_set(
    body: &mut SetExpr,
    calls: &mut Vec<TvfCall>,
    hoisted: &mut Vec<Hoisted>,
) -> SqlResult<()> {
    match body {
        SetExpr::Select(select) => rewrite_select(select, calls, hoisted),
        SetExpr::Query(q) => rewrite(q, calls, hoisted),
        SetExpr::SetOperation { left, right, .. } => {
            rewrite_set(left, calls, hoisted)?;
            rewrite_set(right, calls, hoisted)
        }
        _ => Ok(()),
    }
}

/// The group window a function call names, if any.
fn window_kind(name: &ObjectName) -> Option<TvfKind> {
    match name.to_string().to_ascii_uppercase().as_str() {
        "TUMBLE" => Some(TvfKind::Tumble),
        "HOP" => Some(TvfKind::Hop),
        "SESSION" => Some(TvfKind::Session),
        _ => None,
    }
}

fn arguments(args: &FunctionArguments) -> Vec<&Expr> {
    match args {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The column a plain or qualified identifier names, with its qualifier.
fn column(e: &Expr) -> Option<(Vec<Ident>, String)> {
    match e {
        Expr::Identifier(i) => Some((Vec::new(), i.value.clone())),
        Expr::CompoundIdentifier(parts) => {
            let (last, qualifier) = parts.split_last()?;
            Some((qualifier.to_vec(), last.value.clone()))
        }
        _ => None,
    }
}

fn millis(e: &Expr) -> Option<Result<i64, String>> {
    let text = e.to_string();
    let tokens = crate::script::tokenize(&text).ok()?;
    let tokens: Vec<&Token> = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    crate::interval::millis(&tokens)
}

fn qualified(qualifier: &[Ident], name: &str) -> Expr {
    if qualifier.is_empty() {
        Expr::Identifier(Ident::new(name))
    } else {
        let mut parts = qualifier.to_vec();
        parts.push(Ident::new(name));
        Expr::CompoundIdentifier(parts)
    }
}

fn rewrite_select(
    select: &mut Select,
    calls: &mut Vec<TvfCall>,
    hoisted: &mut Vec<Hoisted>,
) -> SqlResult<()> {
    for from in &mut select.from {
        for factor in std::iter::once(&mut from.relation)
            .chain(from.joins.iter_mut().map(|j| &mut j.relation))
        {
            if let TableFactor::Derived { subquery, .. } = factor {
                rewrite(subquery, calls, hoisted)?;
            }
        }
    }
    let GroupByExpr::Expressions(group, _) = &mut select.group_by else {
        return Ok(());
    };
    let Some((at, kind, function)) = group.iter().enumerate().find_map(|(i, e)| match e {
        Expr::Function(f) => window_kind(&f.name).map(|k| (i, k, f.clone())),
        _ => None,
    }) else {
        return Ok(());
    };
    let name = kind.name();
    let args = arguments(&function.args);
    let expected = if kind == TvfKind::Hop { 3 } else { 2 };
    if args.len() != expected {
        return Err(SqlError::new(format!(
            "{name} in GROUP BY takes {expected} arguments (a time attribute and {}), found {}",
            if kind == TvfKind::Hop {
                "the slide and size"
            } else if kind == TvfKind::Session {
                "the gap"
            } else {
                "the size"
            },
            args.len()
        )));
    }
    let Some((qualifier, time_column)) = column(args[0]) else {
        return Err(SqlError::new(format!(
            "the first argument of {name} in GROUP BY must be a time attribute column, found {}",
            args[0]
        )));
    };
    let mut intervals = Vec::new();
    for a in &args[1..] {
        let ms = millis(a)
            .unwrap_or_else(|| {
                Err(format!(
                    "{name} in GROUP BY expects an INTERVAL literal, found {a}"
                ))
            })
            .map_err(SqlError::new)?;
        intervals.push(ms);
    }
    match kind {
        TvfKind::Tumble => intervals.push(0),
        TvfKind::Hop => intervals.push(0),
        _ => {}
    }
    let mut partition_by = Vec::new();
    for (i, e) in group.iter().enumerate() {
        if i == at {
            continue;
        }
        match column(e) {
            Some((_, c)) => partition_by.push(c),
            None if kind == TvfKind::Session => {
                return Err(SqlError::unsupported(format!(
                    "grouping a SESSION group window by the expression {e} (group by columns)"
                )))
            }
            None => {}
        }
    }
    if kind != TvfKind::Session {
        partition_by.clear();
    }
    let [from] = select.from.as_mut_slice() else {
        return Err(SqlError::unsupported(format!(
            "a {name} group window over several tables (use a window TVF over a view)"
        )));
    };
    if !from.joins.is_empty() {
        return Err(SqlError::unsupported(format!(
            "a {name} group window over a join (use a window TVF over a view)"
        )));
    }
    let index = calls.len();
    // The input: a table or view by name, or a subquery hoisted under a name
    // of its own.
    let (table, alias) = match &from.relation {
        TableFactor::Table { name, alias, .. } => {
            let own = name.0.last().and_then(|p| match p {
                ObjectNamePart::Identifier(i) => Some(i.clone()),
                _ => None,
            });
            let alias = alias.clone().or_else(|| {
                own.map(|name| TableAlias {
                    explicit: false,
                    name,
                    columns: Vec::new(),
                    at: None,
                })
            });
            (name.to_string(), alias)
        }
        TableFactor::Derived {
            lateral: false,
            subquery,
            alias,
            ..
        } => {
            let input = format!("{SUBQUERY}{index}");
            hoisted.push((input.clone(), (**subquery).clone()));
            (input, alias.clone())
        }
        _ => {
            return Err(SqlError::unsupported(format!(
                "a {name} group window over {} (use a window TVF over a view)",
                from.relation
            )))
        }
    };
    let span = function.name.0.first().and_then(|p| match p {
        ObjectNamePart::Identifier(i) => Some(i.span),
        _ => None,
    });
    calls.push(TvfCall {
        kind,
        table,
        subquery: None,
        partition_by,
        time_column,
        intervals,
        line: span.map_or(0, |s| s.start.line),
        column: span.map_or(0, |s| s.start.column),
    });
    from.relation = TableFactor::Table {
        name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(format!(
            "{}{index}",
            tvf::PLACEHOLDER
        )))]),
        alias,
        args: None,
        with_hints: Vec::new(),
        version: None,
        with_ordinality: false,
        partitions: Vec::new(),
        json_path: None,
        sample: None,
        index_hints: Vec::new(),
    };
    group.splice(
        at..=at,
        [
            qualified(&qualifier, "window_start"),
            qualified(&qualifier, "window_end"),
            qualified(&qualifier, "window_time"),
        ],
    );
    // The auxiliary functions of this window become its columns.
    let mut mismatch = None;
    let mut replace = |e: &mut Expr| {
        if let Expr::Function(f) = e {
            let upper = f.name.to_string().to_ascii_uppercase();
            let column = ["_START", "_END", "_ROWTIME"]
                .iter()
                .find_map(|suffix| upper.strip_suffix(suffix).map(|k| (k.to_string(), *suffix)));
            if let Some((k, suffix)) = column {
                if ["TUMBLE", "HOP", "SESSION"].contains(&k.as_str()) {
                    if k != name {
                        mismatch = Some(upper.clone());
                    }
                    let target = match suffix {
                        "_START" => "window_start",
                        "_END" => "window_end",
                        _ => "window_time",
                    };
                    *e = qualified(&qualifier, target);
                }
            }
        }
        ControlFlow::<()>::Continue(())
    };
    for item in &mut select.projection {
        let _ = visit_expressions_mut(item, &mut replace);
    }
    if let Some(having) = &mut select.having {
        let _ = visit_expressions_mut(having, &mut replace);
    }
    if let Some(f) = mismatch {
        return Err(SqlError::new(format!(
            "{f} does not match the {name} group window of its query"
        )));
    }
    Ok(())
}
