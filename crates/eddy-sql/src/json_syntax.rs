//! Flink's syntax of `JSON_OBJECT(KEY k VALUE v, ...)` and of the `ON NULL`
//! clauses (`JSON_OBJECT(.. NULL|ABSENT ON NULL)`, `JSON_ARRAY(.. ABSENT|NULL
//! ON NULL)`), which DataFusion's parser does not read: rewritten in the text
//! before parsing into plain calls (`JSON_OBJECT(k , v, ...)`), with blanks
//! where words go, so that what follows keeps its position. A clause other
//! than the default renames the call to the function that applies it.
//!
//! The predicate `x IS [NOT] JSON [VALUE | SCALAR | ARRAY | OBJECT]` is
//! rewritten in the text into `x IS [NOT] DISTINCT FROM
//! __eddy_is_json('KIND')`, an operator of the same precedence the parser
//! reads, and after parsing ([`is_json_calls`]) into `[NOT] is_json(x, 'KIND')`.

use std::ops::ControlFlow;

use datafusion_sql::sqlparser::ast::{
    visit_expressions_mut, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Statement,
    UnaryOperator, Value,
};
use datafusion_sql::sqlparser::tokenizer::{Token, Whitespace};

use crate::error::SqlResult;

fn is_word(t: &Token, word: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

fn blanks(n: usize) -> impl Iterator<Item = Token> {
    std::iter::repeat_n(Token::Whitespace(Whitespace::Space), n)
}

/// The marker of an `IS JSON` predicate between the two rewrites.
const IS_JSON_MARKER: &str = "__eddy_is_json";

/// `sql` with the KEY / VALUE and default ON NULL words of JSON_OBJECT and
/// JSON_ARRAY calls and the `IS JSON` predicates rewritten (see the module
/// docs).
pub fn rewrite(sql: &str) -> SqlResult<String> {
    let sql = is_json_text(sql)?;
    let upper = sql.to_ascii_uppercase();
    if !upper.contains("JSON_OBJECT") && !upper.contains("JSON_ARRAY") {
        return Ok(sql);
    }
    let tokens: Vec<Token> = crate::script::tokenize(&sql)?
        .into_iter()
        .map(|t| t.token)
        .collect();
    let significant =
        |from: usize| (from..tokens.len()).find(|&i| !matches!(tokens[i], Token::Whitespace(_)));
    // Open calls: whether it is JSON_OBJECT, the depth inside its
    // parentheses, and where its name is in the output.
    let mut calls: Vec<(bool, usize, usize)> = Vec::new();
    let mut depth = 0usize;
    // Whether the next significant token starts an argument of the innermost call.
    let mut argument_start = false;
    // Whether the current argument of the innermost call had its VALUE word.
    let mut had_value = false;
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        let inside = calls.last().filter(|(_, d, _)| *d == depth).copied();
        if let Some((object, _, callee)) = inside {
            // `NULL ON NULL` (objects) / `ABSENT ON NULL` (arrays) are the
            // defaults; the other clause renames the call.
            let (default, other) = if object {
                ("NULL", "ABSENT")
            } else {
                ("ABSENT", "NULL")
            };
            if is_word(token, default) || is_word(token, other) {
                let on = significant(i + 1).filter(|&k| is_word(&tokens[k], "ON"));
                let null = on
                    .and_then(|k| significant(k + 1))
                    .filter(|&k| is_word(&tokens[k], "NULL"));
                let close = null
                    .and_then(|k| significant(k + 1))
                    .filter(|&k| matches!(tokens[k], Token::RParen));
                if let (Some(_), Some(null)) = (close, null) {
                    if is_word(token, other) {
                        let renamed = if object {
                            crate::functions::json::ABSENT_ON_NULL
                        } else {
                            crate::functions::json::NULL_ON_NULL
                        };
                        out[callee] = Token::make_word(renamed, None);
                    }
                    for t in &tokens[i..=null] {
                        out.extend(blanks(t.to_string().chars().count()));
                    }
                    i = null + 1;
                    continue;
                }
            }
            if object && argument_start && is_word(token, "KEY") {
                out.extend(blanks(3));
                i += 1;
                continue;
            }
            if object && !had_value && !argument_start && is_word(token, "VALUE") {
                out.push(Token::Comma);
                out.extend(blanks(4));
                had_value = true;
                i += 1;
                continue;
            }
        }
        match token {
            Token::Whitespace(_) => {}
            Token::LParen => {
                depth += 1;
                let callee = out.iter().rposition(|t| !matches!(t, Token::Whitespace(_)));
                let word = callee.map(|k| &out[k]);
                let object = word.is_some_and(|t| is_word(t, "JSON_OBJECT"));
                if object || word.is_some_and(|t| is_word(t, "JSON_ARRAY")) {
                    calls.push((object, depth, callee.unwrap_or_default()));
                    argument_start = true;
                    had_value = false;
                } else {
                    argument_start = false;
                }
            }
            Token::RParen => {
                if calls.last().is_some_and(|(_, d, _)| *d == depth) {
                    calls.pop();
                }
                depth = depth.saturating_sub(1);
                argument_start = false;
            }
            Token::Comma => {
                argument_start = inside.is_some();
                if inside.is_some() {
                    had_value = false;
                }
            }
            _ => argument_start = false,
        }
        out.push(token.clone());
        i += 1;
    }
    Ok(out.iter().map(|t| t.to_string()).collect())
}

/// `x IS [NOT] JSON [kind]` → `x IS [NOT] DISTINCT FROM __eddy_is_json('KIND')`.
fn is_json_text(sql: &str) -> SqlResult<String> {
    if !sql.to_ascii_uppercase().contains("JSON") {
        return Ok(sql.to_string());
    }
    let tokens: Vec<Token> = crate::script::tokenize(sql)?
        .into_iter()
        .map(|t| t.token)
        .collect();
    let significant =
        |from: usize| (from..tokens.len()).find(|&i| !matches!(tokens[i], Token::Whitespace(_)));
    let mut out: Vec<String> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if is_word(&tokens[i], "IS") {
            let not = significant(i + 1).filter(|&k| is_word(&tokens[k], "NOT"));
            let json =
                significant(not.map_or(i, |k| k) + 1).filter(|&k| is_word(&tokens[k], "JSON"));
            if let Some(json) = json {
                let kind = significant(json + 1).filter(|&k| {
                    ["VALUE", "SCALAR", "ARRAY", "OBJECT"]
                        .iter()
                        .any(|w| is_word(&tokens[k], w))
                });
                let (kind_name, last) = match kind {
                    Some(k) => (tokens[k].to_string().to_ascii_uppercase(), k),
                    None => ("VALUE".to_string(), json),
                };
                let operator = if not.is_some() {
                    "IS DISTINCT FROM"
                } else {
                    "IS NOT DISTINCT FROM"
                };
                out.push(format!("{operator} {IS_JSON_MARKER}('{kind_name}')"));
                i = last + 1;
                continue;
            }
        }
        out.push(tokens[i].to_string());
        i += 1;
    }
    Ok(out.concat())
}

/// Turns the markers of [`is_json_text`] into calls of `is_json`.
pub fn is_json_calls(statement: &mut Statement) {
    let kind_of = |e: &Expr| -> Option<String> {
        let Expr::Function(f) = e else { return None };
        if !f.name.to_string().eq_ignore_ascii_case(IS_JSON_MARKER) {
            return None;
        }
        let FunctionArguments::List(list) = &f.args else {
            return None;
        };
        match list.args.first()? {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v))) => match &v.value {
                Value::SingleQuotedString(s) => Some(s.clone()),
                _ => None,
            },
            _ => None,
        }
    };
    let _ = visit_expressions_mut(statement, |e: &mut Expr| {
        let (left, right, negated) = match e {
            Expr::IsNotDistinctFrom(l, r) => (l, r, false),
            Expr::IsDistinctFrom(l, r) => (l, r, true),
            _ => return ControlFlow::<()>::Continue(()),
        };
        if let Some(kind) = kind_of(right) {
            let call = format!("is_json(__x, '{kind}')");
            let mut parsed = datafusion_sql::sqlparser::parser::Parser::new(
                &datafusion_sql::sqlparser::dialect::GenericDialect {},
            )
            .try_with_sql(&call)
            .and_then(|mut p| p.parse_expr());
            if let Ok(Expr::Function(f)) = &mut parsed {
                if let FunctionArguments::List(list) = &mut f.args {
                    list.args[0] = FunctionArg::Unnamed(FunctionArgExpr::Expr((**left).clone()));
                }
                let call = Expr::Function(f.clone());
                *e = if negated {
                    Expr::UnaryOp {
                        op: UnaryOperator::Not,
                        expr: Box::new(Expr::Nested(Box::new(call))),
                    }
                } else {
                    call
                };
            }
        }
        ControlFlow::Continue(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_become_arguments_in_place() {
        let sql = "SELECT JSON_OBJECT(KEY 'a' VALUE 1, 'b' VALUE JSON_OBJECT(KEY 'c' VALUE x NULL ON NULL)) FROM t";
        let out = rewrite(sql).expect("rewrites");
        assert_eq!(out.len(), sql.len());
        assert_eq!(
            out.split_whitespace().collect::<Vec<_>>().join(" "),
            "SELECT JSON_OBJECT( 'a' , 1, 'b' , JSON_OBJECT( 'c' , x )) FROM t"
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        );
        let arrays =
            rewrite("SELECT JSON_ARRAY(1, NULL ABSENT ON NULL), 'KEY VALUE'").expect("rewrites");
        assert!(
            arrays.contains("'KEY VALUE'") && !arrays.contains("ABSENT"),
            "{arrays}"
        );
        assert_eq!(
            rewrite("SELECT a AS value FROM t").expect("same"),
            "SELECT a AS value FROM t"
        );
    }
}
