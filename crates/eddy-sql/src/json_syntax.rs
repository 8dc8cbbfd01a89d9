//! Flink's syntax of `JSON_OBJECT(KEY k VALUE v, ...)` and of the default
//! `ON NULL` clauses (`JSON_OBJECT(.. NULL ON NULL)`, `JSON_ARRAY(.. ABSENT ON
//! NULL)`), which DataFusion's parser does not read: rewritten in the text
//! before parsing into plain calls (`JSON_OBJECT(k , v, ...)`), with blanks
//! where words go, so that what follows keeps its position.

use datafusion_sql::sqlparser::tokenizer::{Token, Whitespace};

use crate::error::SqlResult;

fn is_word(t: &Token, word: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

fn blanks(n: usize) -> impl Iterator<Item = Token> {
    std::iter::repeat_n(Token::Whitespace(Whitespace::Space), n)
}

/// `sql` with the KEY / VALUE and default ON NULL words of JSON_OBJECT and
/// JSON_ARRAY calls rewritten (see the module docs).
pub fn rewrite(sql: &str) -> SqlResult<String> {
    let upper = sql.to_ascii_uppercase();
    if !upper.contains("JSON_OBJECT") && !upper.contains("JSON_ARRAY") {
        return Ok(sql.to_string());
    }
    let tokens: Vec<Token> = crate::script::tokenize(sql)?
        .into_iter()
        .map(|t| t.token)
        .collect();
    let significant =
        |from: usize| (from..tokens.len()).find(|&i| !matches!(tokens[i], Token::Whitespace(_)));
    // Open calls: whether it is JSON_OBJECT, and the depth inside its parentheses.
    let mut calls: Vec<(bool, usize)> = Vec::new();
    let mut depth = 0usize;
    // Whether the next significant token starts an argument of the innermost call.
    let mut argument_start = false;
    // Whether the current argument of the innermost call had its VALUE word.
    let mut had_value = false;
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        let inside = calls.last().filter(|(_, d)| *d == depth).copied();
        if let Some((object, _)) = inside {
            // `NULL ON NULL` (objects) / `ABSENT ON NULL` (arrays): the defaults.
            let default = if object { "NULL" } else { "ABSENT" };
            if is_word(token, default) {
                let on = significant(i + 1).filter(|&k| is_word(&tokens[k], "ON"));
                let null = on
                    .and_then(|k| significant(k + 1))
                    .filter(|&k| is_word(&tokens[k], "NULL"));
                let close = null
                    .and_then(|k| significant(k + 1))
                    .filter(|&k| matches!(tokens[k], Token::RParen));
                if let (Some(_), Some(null)) = (close, null) {
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
                let callee = out
                    .iter()
                    .rev()
                    .find(|t| !matches!(t, Token::Whitespace(_)));
                let object = callee.is_some_and(|t| is_word(t, "JSON_OBJECT"));
                if object || callee.is_some_and(|t| is_word(t, "JSON_ARRAY")) {
                    calls.push((object, depth));
                    argument_start = true;
                    had_value = false;
                } else {
                    argument_start = false;
                }
            }
            Token::RParen => {
                if calls.last().is_some_and(|(_, d)| *d == depth) {
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
