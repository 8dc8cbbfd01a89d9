//! How deeply a statement may nest, checked on its tokens before anything
//! parses or plans it.
//!
//! The parser builds a chain of binary operators (`1 + 1 + ... + 1`) in a loop,
//! but everything after it (planning, type coercion, evaluation, even dropping
//! the tree) recurses once per level, so a long enough chain overflows the
//! stack and aborts the process. [`check_depth`] bounds, from the tokens, how
//! deep the expression trees of a statement can be: every open parenthesis,
//! bracket or `CASE`, plus every operator in the current run of operators of
//! each enclosing group (a comma or a clause keyword starts a new run). The
//! bound is above the real depth, never below it, so a statement that passes
//! cannot nest deeper than [`MAX_DEPTH`].

use datafusion_sql::sqlparser::tokenizer::{Token, TokenWithSpan};

use crate::error::{Position, SqlError, SqlResult, TOO_DEEP};

/// The deepest an expression may nest: operators in a chain plus enclosing
/// parentheses, function calls, `CASE` and subqueries.
pub const MAX_DEPTH: usize = 1000;

/// How far the parser itself follows nested parentheses, subqueries and
/// function calls (sqlparser's default recursion limit).
pub const PARSER_NESTING: usize = 50;

/// Words that start a new expression: the operators before them are not
/// part of the expression after them.
const SEPARATORS: [&str; 24] = [
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP",
    "BY",
    "HAVING",
    "ORDER",
    "LIMIT",
    "ON",
    "JOIN",
    "UNION",
    "WHEN",
    "THEN",
    "ELSE",
    "AS",
    "WITH",
    "VALUES",
    "SET",
    "INSERT",
    "INTO",
    "PARTITION",
    "OVER",
    "WINDOW",
    "USING",
];

/// Words that are operators.
const OPERATOR_WORDS: [&str; 12] = [
    "AND", "OR", "NOT", "IS", "IN", "LIKE", "ILIKE", "BETWEEN", "SIMILAR", "COLLATE", "AT", "DIV",
];

fn word(t: &Token) -> Option<String> {
    match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
        _ => None,
    }
}

fn is_operator(t: &Token) -> bool {
    match t {
        Token::Plus
        | Token::Minus
        | Token::Mul
        | Token::Div
        | Token::Mod
        | Token::StringConcat
        | Token::Eq
        | Token::DoubleEq
        | Token::Neq
        | Token::Lt
        | Token::Gt
        | Token::LtEq
        | Token::GtEq
        | Token::Spaceship
        | Token::Caret
        | Token::Ampersand
        | Token::Pipe
        | Token::ShiftLeft
        | Token::ShiftRight
        | Token::DoubleColon
        | Token::Arrow
        | Token::LongArrow
        | Token::Tilde
        | Token::ExclamationMark => true,
        Token::Word(_) => word(t).is_some_and(|w| OPERATOR_WORDS.contains(&w.as_str())),
        _ => false,
    }
}

/// One open group: a parenthesis, a bracket or a `CASE`.
struct Group {
    case: bool,
    run: usize,
}

/// What the scan of a statement found.
struct Scan {
    /// The first token past [`MAX_DEPTH`], if any.
    too_deep: Option<Position>,
    /// The first token at the deepest nesting of groups.
    deepest: Option<Position>,
}

fn scan(tokens: &[TokenWithSpan]) -> Scan {
    let mut groups = vec![Group {
        case: false,
        run: 0,
    }];
    let mut depth = 0usize;
    let mut max_nesting = 0usize;
    let mut result = Scan {
        too_deep: None,
        deepest: None,
    };
    for t in tokens {
        if matches!(t.token, Token::Whitespace(_)) {
            continue;
        }
        let at = Position::new(t.span.start.line, t.span.start.column);
        let w = word(&t.token);
        let opens =
            matches!(t.token, Token::LParen | Token::LBracket) || w.as_deref() == Some("CASE");
        let closes = matches!(t.token, Token::RParen | Token::RBracket)
            || (w.as_deref() == Some("END") && groups.last().is_some_and(|g| g.case));
        if opens {
            if t.token == Token::LBracket {
                // `a[1][2]` chains like an operator.
                if let Some(g) = groups.last_mut() {
                    g.run += 1;
                    depth += 1;
                }
            }
            groups.push(Group {
                case: w.is_some(),
                run: 0,
            });
            depth += 1;
            if groups.len() > max_nesting {
                max_nesting = groups.len();
                result.deepest = at;
            }
        } else if closes {
            if groups.len() > 1 {
                if let Some(g) = groups.pop() {
                    depth = depth.saturating_sub(1 + g.run);
                }
            }
        } else if t.token == Token::Comma || w.as_deref().is_some_and(|w| SEPARATORS.contains(&w)) {
            if let Some(g) = groups.last_mut() {
                depth = depth.saturating_sub(g.run);
                g.run = 0;
            }
        } else if is_operator(&t.token) {
            if let Some(g) = groups.last_mut() {
                g.run += 1;
                depth += 1;
            }
        }
        if depth > MAX_DEPTH && result.too_deep.is_none() {
            result.too_deep = at;
        }
    }
    result
}

/// Rejects a statement whose expressions may nest deeper than [`MAX_DEPTH`],
/// naming where. Statements that do not tokenize pass: the parser reports
/// those.
pub fn check_depth(sql: &str) -> SqlResult<()> {
    let Ok(tokens) = crate::script::tokenize(sql) else {
        return Ok(());
    };
    let s = scan(&tokens);
    if s.too_deep.is_some() {
        return Err(SqlError::new(format!(
            "{TOO_DEEP}: an expression here goes more than {MAX_DEPTH} operators, parentheses, function calls or subqueries deep"
        ))
        .with_position(s.too_deep));
    }
    Ok(())
}

/// Gives the parser's "nests too deeply" error the position of the deepest
/// nesting in `sql`, and says what the limit is.
pub fn locate_nesting(error: SqlError, sql: &str) -> SqlError {
    if error.position.is_some() || error.message != TOO_DEEP {
        return error;
    }
    let deepest = crate::script::tokenize(sql)
        .ok()
        .and_then(|tokens| scan(&tokens).deepest);
    let mut e = error.with_position(deepest);
    e.message = format!(
        "{TOO_DEEP}: parentheses, subqueries, function calls and CASE nest at most about {PARSER_NESTING} deep"
    );
    e
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn long_chains_are_too_deep() {
        let sql = format!("SELECT {}", vec!["1"; 1500].join(" + "));
        let e = check_depth(&sql).unwrap_err();
        assert!(e.message.starts_with(TOO_DEEP), "{e}");
        assert_eq!(e.position.map(|p| p.line), Some(1));
    }

    #[test]
    fn wide_statements_are_not() {
        let items: Vec<String> = (0..3000).map(|i| format!("a + {i}")).collect();
        check_depth(&format!("SELECT {} FROM t", items.join(", "))).unwrap();
        let cases = format!(
            "SELECT CASE {} END",
            (0..2000)
                .map(|i| format!("WHEN a = {i} THEN {i}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        check_depth(&cases).unwrap();
    }
}
