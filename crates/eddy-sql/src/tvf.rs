//! Window table-valued functions: `TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), size))`.
//!
//! DataFusion's parser does not know Flink's `TABLE t` and `DESCRIPTOR(col)`
//! arguments, so a query's window TVF calls are taken out before parsing: each
//! call is replaced by a placeholder table name (`__eddy_tvf_<n>`), padded so that
//! the positions of the text after it do not move, and recorded as a [`TvfCall`].
//! The planner resolves the placeholder to a table with the input's columns plus
//! `window_start`, `window_end` and `window_time`.

use datafusion_sql::sqlparser::tokenizer::{Token, TokenWithSpan, Whitespace};

use crate::error::{SqlError, SqlResult};

/// The prefix of placeholder table names.
pub const PLACEHOLDER: &str = "__eddy_tvf_";

/// Which window function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TvfKind {
    /// `TUMBLE(data, timecol, size [, offset])`.
    Tumble,
    /// `HOP(data, timecol, slide, size [, offset])`.
    Hop,
    /// `CUMULATE(data, timecol, step, size [, offset])`.
    Cumulate,
    /// `SESSION(data [PARTITION BY cols], timecol, gap)`.
    Session,
}

impl TvfKind {
    fn from_name(name: &str) -> Option<TvfKind> {
        match name.to_ascii_uppercase().as_str() {
            "TUMBLE" => Some(TvfKind::Tumble),
            "HOP" => Some(TvfKind::Hop),
            "CUMULATE" => Some(TvfKind::Cumulate),
            "SESSION" => Some(TvfKind::Session),
            _ => None,
        }
    }

    /// The function's name.
    pub fn name(self) -> &'static str {
        match self {
            TvfKind::Tumble => "TUMBLE",
            TvfKind::Hop => "HOP",
            TvfKind::Cumulate => "CUMULATE",
            TvfKind::Session => "SESSION",
        }
    }
}

/// One window TVF call taken out of a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TvfCall {
    /// The function.
    pub kind: TvfKind,
    /// The input table or view (for a subquery input, the name it is
    /// planned under).
    pub table: String,
    /// The input when it is a subquery, `TUMBLE((SELECT ...), ...)`: its text.
    pub subquery: Option<String>,
    /// `PARTITION BY` columns (SESSION).
    pub partition_by: Vec<String>,
    /// The time attribute column.
    pub time_column: String,
    /// The interval arguments in milliseconds, in the order of the signature
    /// (TUMBLE: size, offset; HOP: slide, size, offset; CUMULATE: step, size,
    /// offset; SESSION: gap).
    pub intervals: Vec<i64>,
    /// Where the call starts in the query.
    pub line: u64,
    /// Where the call starts in the query.
    pub column: u64,
}

impl TvfCall {
    /// The input as a message names it.
    pub fn input_name(&self) -> String {
        match self.subquery {
            Some(_) => "its subquery input".to_string(),
            None => self.table.clone(),
        }
    }
}

fn is_word(t: &Token, word: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

fn significant(tokens: &[TokenWithSpan], from: usize) -> Option<usize> {
    (from..tokens.len()).find(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))
}

/// Takes the window TVF calls out of `sql`; returns the rewritten text and the
/// calls, numbered from `first`.
pub fn extract(sql: &str, first: usize) -> SqlResult<(String, Vec<TvfCall>)> {
    let tokens = crate::script::tokenize(sql)?;
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut calls = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if let Some((mut call, end)) = match_call(&tokens, i)? {
            if call.subquery.is_some() {
                call.table = subquery_name(first + calls.len());
            }
            let start = &tokens[i].span.start;
            let stop = &tokens[end].span.end;
            let name = format!("{PLACEHOLDER}{}", first + calls.len());
            out.push(Token::make_word(&name, None));
            // Keep the positions of what follows: same lines, and the same
            // column when the call fits on one line.
            if stop.line > start.line {
                for _ in start.line..stop.line {
                    out.push(Token::Whitespace(Whitespace::Newline));
                }
                out.push(Token::Whitespace(Whitespace::Space));
                for _ in 1..stop.column.saturating_sub(1) {
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
        } else {
            out.push(tokens[i].token.clone());
            i += 1;
        }
    }
    let text: String = out.iter().map(|t| t.to_string()).collect();
    Ok((text, calls))
}

/// Matches `TABLE ( KIND ( args ) )` at `i`; returns the call and the index of
/// the last `)`.
fn match_call(tokens: &[TokenWithSpan], i: usize) -> SqlResult<Option<(TvfCall, usize)>> {
    if !is_word(&tokens[i].token, "TABLE") {
        return Ok(None);
    }
    let Some(open) = significant(tokens, i + 1) else {
        return Ok(None);
    };
    if tokens[open].token != Token::LParen {
        return Ok(None);
    }
    let Some(fname) = significant(tokens, open + 1) else {
        return Ok(None);
    };
    let kind = match &tokens[fname].token {
        Token::Word(w) => match TvfKind::from_name(&w.value) {
            Some(k) => k,
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    let Some(inner_open) = significant(tokens, fname + 1) else {
        return Ok(None);
    };
    if tokens[inner_open].token != Token::LParen {
        return Ok(None);
    }
    let at = &tokens[fname].span.start;
    let err = |msg: String| SqlError::at(msg, at.line, at.column);
    // Split the arguments at top-level commas; keep each one's text too.
    let mut args: Vec<Vec<&Token>> = vec![Vec::new()];
    let mut texts = vec![String::new()];
    let mut depth = 0;
    let mut j = inner_open + 1;
    loop {
        let Some(t) = tokens.get(j) else {
            return Err(err(format!("{} is not closed", kind.name())));
        };
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen if depth == 0 => break,
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 => {
                args.push(Vec::new());
                texts.push(String::new());
                j += 1;
                continue;
            }
            Token::Whitespace(_) => {
                if let Some(text) = texts.last_mut() {
                    text.push_str(&t.token.to_string());
                }
                j += 1;
                continue;
            }
            _ => {}
        }
        if let Some(last) = args.last_mut() {
            last.push(&t.token);
        }
        if let Some(text) = texts.last_mut() {
            text.push_str(&t.token.to_string());
        }
        j += 1;
    }
    let Some(close) = significant(tokens, j + 1) else {
        return Err(err(format!("TABLE({} ...) is not closed", kind.name())));
    };
    if tokens[close].token != Token::RParen {
        return Err(err(format!("TABLE({} ...) is not closed", kind.name())));
    }
    let call = parse_args(kind, args, &texts, at.line, at.column).map_err(err)?;
    Ok(Some((call, close)))
}

fn ident(t: &Token) -> Option<String> {
    match t {
        Token::Word(w) => Some(w.value.clone()),
        _ => None,
    }
}

/// The name the subquery input of call `index` (numbered as the placeholders
/// are) is planned under.
pub fn subquery_name(index: usize) -> String {
    format!("__eddy_window_input_{index}")
}

/// Splits `(inner) rest` at the `)` that closes the first `(`, skipping
/// quoted strings and identifiers.
fn parenthesized(text: &str) -> Option<(&str, &str)> {
    let body = text.strip_prefix('(')?;
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in body.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') if depth == 0 => return Some((&body[..i], &body[i + 1..])),
            (None, ')') => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The arguments of a call, as tokens and as the text they were written in.
fn parse_args(
    kind: TvfKind,
    args: Vec<Vec<&Token>>,
    texts: &[String],
    line: u64,
    column: u64,
) -> Result<TvfCall, String> {
    let mut call = TvfCall {
        kind,
        table: String::new(),
        subquery: None,
        partition_by: Vec::new(),
        time_column: String::new(),
        intervals: Vec::new(),
        line,
        column,
    };
    let names: &[&str] = match kind {
        TvfKind::Tumble => &["DATA", "TIMECOL", "SIZE", "OFFSET"],
        TvfKind::Hop => &["DATA", "TIMECOL", "SLIDE", "SIZE", "OFFSET"],
        TvfKind::Cumulate => &["DATA", "TIMECOL", "STEP", "SIZE", "OFFSET"],
        TvfKind::Session => &["DATA", "TIMECOL", "GAP"],
    };
    let mut slots: Vec<Option<Vec<&Token>>> = vec![None; names.len()];
    // The text of the DATA argument, for a subquery input.
    let mut data_text = "";
    for (position, mut arg) in args.into_iter().enumerate() {
        let mut slot = position;
        let mut text = texts.get(position).map_or("", String::as_str);
        if arg.len() > 2 && *arg[1] == Token::Arrow || arg.len() > 2 && *arg[1] == Token::RArrow {
            text = text
                .split_once("=>")
                .or_else(|| text.split_once("->"))
                .map_or(text, |(_, rest)| rest);
            let name = ident(arg[0]).unwrap_or_default().to_ascii_uppercase();
            slot = names
                .iter()
                .position(|n| *n == name)
                .ok_or_else(|| format!("{} has no parameter {name}", kind.name()))?;
            arg.drain(..2);
        }
        if slot >= names.len() {
            return Err(format!(
                "{} takes at most {} arguments",
                kind.name(),
                names.len()
            ));
        }
        if slot == 0 {
            data_text = text.trim();
        }
        slots[slot] = Some(arg);
    }
    let data = slots[0]
        .take()
        .ok_or_else(|| format!("{} needs its input: TABLE name", kind.name()))?;
    let mut rest: Vec<&Token> = Vec::new();
    if data.first() == Some(&&Token::LParen) {
        // A subquery input, as Flink takes it: `TUMBLE((SELECT ...), ...)`.
        let (inner, _) = parenthesized(data_text)
            .ok_or_else(|| format!("the first argument of {} is not closed", kind.name()))?;
        // Named by `extract`, which numbers the calls.
        call.subquery = Some(inner.to_string());
        // What follows the subquery's `)` (a PARTITION BY).
        let mut depth = 0;
        for (i, t) in data.iter().enumerate() {
            match t {
                Token::LParen => depth += 1,
                Token::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        rest = data[i + 1..].to_vec();
                        break;
                    }
                }
                _ => {}
            }
        }
    } else if data.len() >= 2 && is_word(data[0], "TABLE") && *data[1] == Token::LParen {
        return Err(format!(
            "the input of {} is TABLE name or a subquery in parentheses without TABLE: {}((SELECT ...), DESCRIPTOR(...), ...)",
            kind.name(),
            kind.name()
        ));
    } else if data.len() < 2 || !is_word(data[0], "TABLE") {
        return Err(format!(
            "the first argument of {} must be TABLE name",
            kind.name()
        ));
    }
    if call.subquery.is_none() {
        call.table =
            ident(data[1]).ok_or_else(|| "expected a table name after TABLE".to_string())?;
        rest = data[2..].to_vec();
    }
    if !rest.is_empty() {
        if rest.len() >= 3 && is_word(rest[0], "PARTITION") && is_word(rest[1], "BY") {
            call.partition_by = rest[2..].iter().filter_map(|t| ident(t)).collect();
        } else {
            return Err(match call.subquery {
                Some(_) => format!(
                    "unexpected text after the subquery input of {}",
                    kind.name()
                ),
                None => format!("unexpected text after TABLE {}", call.table),
            });
        }
    }
    let timecol = slots[1]
        .take()
        .ok_or_else(|| format!("{} needs DESCRIPTOR(time column)", kind.name()))?;
    match timecol.as_slice() {
        [d, Token::LParen, c, Token::RParen] if is_word(d, "DESCRIPTOR") => {
            call.time_column = ident(c).unwrap_or_default();
        }
        _ => {
            return Err(format!(
                "the second argument of {} must be DESCRIPTOR(column)",
                kind.name()
            ))
        }
    }
    for (k, slot) in slots.into_iter().enumerate().skip(2) {
        match slot {
            Some(tokens) => {
                let ms = crate::interval::millis(&tokens).unwrap_or_else(|| {
                    Err(format!(
                        "{} of {} must be an interval such as INTERVAL '10' SECOND",
                        names[k],
                        kind.name()
                    ))
                })?;
                if ms <= 0 && names[k] != "OFFSET" {
                    return Err(format!("{} of {} must be positive", names[k], kind.name()));
                }
                call.intervals.push(ms);
            }
            None if names[k] == "OFFSET" => call.intervals.push(0),
            None => return Err(format!("{} needs its {} argument", kind.name(), names[k])),
        }
    }
    Ok(call)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_subquery_input_keeps_its_text_and_a_partition_by_after_it() {
        let sql = "SELECT * FROM TABLE(SESSION((SELECT a, ')' AS b, ts FROM t WHERE (a > 1)) PARTITION BY a, DESCRIPTOR(ts), INTERVAL '5' SECOND))";
        let (_, calls) = extract(sql, 3).unwrap();
        assert_eq!(
            calls[0].subquery.as_deref(),
            Some("SELECT a, ')' AS b, ts FROM t WHERE (a > 1)")
        );
        assert_eq!(calls[0].table, subquery_name(3));
        assert_eq!(calls[0].partition_by, vec!["a".to_string()]);
        assert_eq!(parenthesized("(a (b)) c"), Some(("a (b)", " c")));
        assert_eq!(parenthesized("(a"), None);
    }

    #[test]
    fn extracts_calls_and_keeps_positions() {
        let sql = "SELECT * FROM TABLE(\n  HOP(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) x WHERE y";
        let (text, calls) = extract(sql, 0).unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].kind, TvfKind::Hop);
        assert_eq!(calls[0].table, "bid");
        assert_eq!(calls[0].time_column, "dateTime");
        assert_eq!(calls[0].intervals, vec![2000, 10000, 0]);
        let old = sql.lines().nth(1).unwrap().find(" x WHERE").unwrap();
        let new = text.lines().nth(1).unwrap().find(" x WHERE").unwrap();
        assert_eq!(old, new, "{text}");
        assert!(text.starts_with("SELECT * FROM __eddy_tvf_0"));
    }

    #[test]
    fn named_and_session_arguments() {
        let sql = "SELECT * FROM TABLE(SESSION(TABLE bid PARTITION BY bidder, DESCRIPTOR(ts), INTERVAL '5' MINUTES))";
        let (_, calls) = extract(sql, 3).unwrap();
        assert_eq!(calls[0].partition_by, vec!["bidder"]);
        assert_eq!(calls[0].intervals, vec![300_000]);
        let sql = "SELECT * FROM TABLE(TUMBLE(DATA => TABLE t, TIMECOL => DESCRIPTOR(ts), SIZE => INTERVAL '1' HOUR))";
        let (_, calls) = extract(sql, 0).unwrap();
        assert_eq!(calls[0].intervals, vec![3_600_000, 0]);
    }

    #[test]
    fn bad_arguments_are_explained() {
        let e = extract(
            "SELECT * FROM TABLE(TUMBLE(TABLE t, ts, INTERVAL '1' HOUR))",
            0,
        )
        .unwrap_err();
        assert!(e.message.contains("DESCRIPTOR(column)"), "{e}");
    }
}
