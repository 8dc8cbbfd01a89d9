//! `table FOR SYSTEM_TIME AS OF time` (lookup joins). DataFusion's parser does
//! not read the clause, so it is taken out of the text before parsing: the
//! table name becomes a placeholder (`__eddy_lookup_N`) that the planner
//! resolves to a lookup source, and the clause becomes blanks, so that what
//! follows keeps its position.

use datafusion_sql::sqlparser::tokenizer::{Token, TokenWithSpan, Whitespace};

use crate::error::SqlResult;

/// The prefix of lookup placeholders.
pub const PLACEHOLDER: &str = "__eddy_lookup_";

/// One `FOR SYSTEM_TIME AS OF` clause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupCall {
    /// The table read as of the time.
    pub table: String,
    /// The time: a column of the other side of the join (`B.p_time`).
    pub time: Vec<String>,
    /// Where the table name starts.
    pub line: u64,
    /// Where the table name starts.
    pub column: u64,
}

fn is_word(t: &Token, word: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

fn next_significant(tokens: &[TokenWithSpan], from: usize) -> Option<usize> {
    (from..tokens.len()).find(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))
}

/// Matches `name FOR SYSTEM_TIME AS OF a.b` at `i`; returns the call and the
/// index of the last token of the time column.
fn match_clause(tokens: &[TokenWithSpan], i: usize) -> Option<(LookupCall, usize)> {
    let Token::Word(table) = &tokens[i].token else {
        return None;
    };
    let mut at = i;
    for word in ["FOR", "SYSTEM_TIME", "AS", "OF"] {
        at = next_significant(tokens, at + 1)?;
        if !is_word(&tokens[at].token, word) {
            return None;
        }
    }
    let mut time = Vec::new();
    at = next_significant(tokens, at + 1)?;
    loop {
        let Token::Word(part) = &tokens[at].token else {
            return None;
        };
        time.push(part.value.clone());
        match tokens.get(at + 1).map(|t| &t.token) {
            Some(Token::Period) => at += 2,
            _ => break,
        }
    }
    let start = tokens[i].span.start;
    Some((
        LookupCall {
            table: table.value.clone(),
            time,
            line: start.line,
            column: start.column,
        },
        at,
    ))
}

/// Takes the `FOR SYSTEM_TIME AS OF` clauses out of `sql`; returns the
/// rewritten text and the clauses, numbered from `first`.
pub fn extract(sql: &str, first: usize) -> SqlResult<(String, Vec<LookupCall>)> {
    let tokens = crate::script::tokenize(sql)?;
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut calls = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let Some((call, end)) = match_clause(&tokens, i) else {
            out.push(tokens[i].token.clone());
            i += 1;
            continue;
        };
        let name = format!("{PLACEHOLDER}{}", first + calls.len());
        out.push(Token::make_word(&name, None));
        let (start, stop) = (tokens[i].span.start, tokens[end].span.end);
        if stop.line > start.line {
            for _ in start.line..stop.line {
                out.push(Token::Whitespace(Whitespace::Newline));
            }
            for _ in 1..stop.column {
                out.push(Token::Whitespace(Whitespace::Space));
            }
        } else {
            let width = stop.column.saturating_sub(start.column) as usize;
            for _ in name.len()..width {
                out.push(Token::Whitespace(Whitespace::Space));
            }
        }
        calls.push(call);
        i = end + 1;
    }
    Ok((out.iter().map(|t| t.to_string()).collect(), calls))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_clause_out_and_keeps_positions() {
        let sql =
            "SELECT * FROM b JOIN side_input FOR SYSTEM_TIME AS OF b.p_time AS s ON b.k = s.k";
        let (text, calls) = extract(sql, 0).unwrap_or_default();
        assert_eq!(
            calls,
            vec![LookupCall {
                table: "side_input".into(),
                time: vec!["b".into(), "p_time".into()],
                line: 1,
                column: 22
            }]
        );
        assert_eq!(text.len(), sql.len());
        assert!(text.contains("JOIN __eddy_lookup_0 "));
        assert!(text.ends_with(" AS s ON b.k = s.k"));
    }
}
