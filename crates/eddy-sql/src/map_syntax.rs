//! Flink's map value constructor `MAP[k1, v1, k2, v2, ...]`, which DataFusion's
//! parser reads as a subscript of a column named `map` ("Expected: :"):
//! rewritten in the text before parsing into the call `MAP(k1, v1, ...)`, of
//! the same length so that positions in error messages still hold. `MAP` is
//! a reserved word in Flink, so an unquoted `MAP` before `[` is always the
//! constructor; the function registry plans `MAP(...)` as `make_map`.

use datafusion_sql::sqlparser::tokenizer::Token;

use crate::error::SqlResult;

fn is_map(token: &Token) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("MAP"))
}

/// `sql` with every `MAP[...]` constructor written as a call (see the module
/// docs).
pub fn rewrite(sql: &str) -> SqlResult<String> {
    if !sql.to_ascii_uppercase().contains("MAP") {
        return Ok(sql.to_string());
    }
    let tokens = crate::script::tokenize(sql)?;
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    // For each open `[`: whether it opened a constructor.
    let mut open: Vec<bool> = Vec::new();
    for token in tokens.into_iter().map(|t| t.token) {
        let token = match token {
            Token::LBracket => {
                let before = out
                    .iter()
                    .rev()
                    .find(|t| !matches!(t, Token::Whitespace(_)));
                let constructor = before.is_some_and(is_map);
                open.push(constructor);
                if constructor {
                    Token::LParen
                } else {
                    Token::LBracket
                }
            }
            Token::RBracket if open.pop() == Some(true) => Token::RParen,
            other => other,
        };
        out.push(token);
    }
    Ok(out.iter().map(|t| t.to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_become_calls_of_the_same_length() {
        let sql =
            "SELECT MAP['a', ARRAY[1, 2]], map ['k', m['x']], `map`['y'], MAP[MAP[1, 2], 3] FROM t";
        let rewritten = rewrite(sql).expect("rewrites");
        assert_eq!(
            rewritten,
            "SELECT MAP('a', ARRAY[1, 2]), map ('k', m['x']), `map`['y'], MAP(MAP(1, 2), 3) FROM t"
        );
        assert_eq!(rewritten.len(), sql.len());
        // Brackets in strings and comments are not tokens.
        let quoted = "SELECT 'MAP[' AS s -- MAP[\nFROM t";
        assert_eq!(rewrite(quoted).expect("rewrites"), quoted);
    }
}
