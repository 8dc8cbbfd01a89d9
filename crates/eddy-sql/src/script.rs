//! Cutting a SQL script into statements, each with its position in the script.

use datafusion_sql::sqlparser::dialect::GenericDialect;
use datafusion_sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer, Whitespace};

use crate::error::{SqlError, SqlResult};

/// One statement of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawStatement {
    /// The text, without the terminating `;`.
    pub text: String,
    /// The line of its first character in the script, from 1.
    pub line: u64,
    /// The column of its first character in the script, from 1.
    pub column: u64,
}

impl RawStatement {
    /// Moves an error's position (relative to this statement) into the script.
    pub fn locate(&self, mut e: SqlError) -> SqlError {
        if e.position.is_none() && e.message.contains("found: EOF") {
            // The parser gives no position for the end of input: point after
            // the statement's last character.
            let line = self.text.matches('\n').count() as u64 + 1;
            let column = self
                .text
                .rsplit('\n')
                .next()
                .map_or(0, |l| l.chars().count()) as u64
                + 1;
            e.position = Some(crate::error::Position { line, column });
        }
        e.offset(self.line, self.column)
    }
}

/// Byte offsets of script positions.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { text, starts }
    }

    fn offset(&self, loc: Location) -> usize {
        let Some(&start) = self.starts.get(loc.line.saturating_sub(1) as usize) else {
            return self.text.len();
        };
        let line = &self.text[start..];
        line.char_indices()
            .nth(loc.column.saturating_sub(1) as usize)
            .map_or(self.text.len(), |(i, _)| start + i)
    }
}

fn is_word(t: &Token, word: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

fn is_trivia(t: &Token) -> bool {
    matches!(t, Token::Whitespace(_))
}

fn words_at(tokens: &[TokenWithSpan], words: &[&str]) -> bool {
    let mut it = tokens.iter().filter(|t| !is_trivia(&t.token));
    words
        .iter()
        .all(|w| it.next().is_some_and(|t| is_word(&t.token, w)))
}

/// The tokens of SQL text with their positions; a tokenizer error (an unclosed
/// string, say) names its line and column.
pub fn tokenize(sql: &str) -> SqlResult<Vec<TokenWithSpan>> {
    let dialect = GenericDialect {};
    Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| {
            SqlError::at(
                format!("SQL parse error: {}", e.message),
                e.location.line,
                e.location.column,
            )
        })
}

/// Splits a script at top-level semicolons. A statement set (`EXECUTE STATEMENT
/// SET BEGIN ... END` or `BEGIN STATEMENT SET; ... END`) is one statement.
pub fn split(script: &str) -> SqlResult<Vec<RawStatement>> {
    let tokens = tokenize(script)?;
    let lines = Lines::new(script);
    let mut statements = Vec::new();
    let mut start: Option<usize> = None;
    let mut in_set = false;
    for (i, t) in tokens.iter().enumerate() {
        if start.is_none() {
            if is_trivia(&t.token) || t.token == Token::SemiColon {
                continue;
            }
            start = Some(i);
            in_set = words_at(&tokens[i..], &["EXECUTE", "STATEMENT", "SET"])
                || words_at(&tokens[i..], &["BEGIN", "STATEMENT", "SET"]);
        }
        let Some(first) = start else { continue };
        let end_of_set = in_set && {
            let previous = tokens[..i]
                .iter()
                .rev()
                .find(|t| !is_trivia(&t.token))
                .map(|t| &t.token);
            previous.is_some_and(|p| is_word(p, "END"))
        };
        if t.token == Token::SemiColon && (!in_set || end_of_set) {
            statements.push(cut(&lines, &tokens[first..i]));
            start = None;
        }
    }
    if let Some(first) = start {
        let rest = &tokens[first..];
        if rest.iter().any(|t| !is_trivia(&t.token)) {
            statements.push(cut(&lines, rest));
        }
    }
    Ok(statements)
}

fn cut(lines: &Lines<'_>, tokens: &[TokenWithSpan]) -> RawStatement {
    let first = &tokens[0];
    let last = tokens
        .iter()
        .rev()
        .find(|t| {
            !matches!(
                t.token,
                Token::Whitespace(Whitespace::Space | Whitespace::Newline | Whitespace::Tab)
            )
        })
        .unwrap_or(first);
    let from = lines.offset(first.span.start);
    let to = lines.offset(last.span.end).max(from);
    RawStatement {
        text: lines.text[from..to].to_string(),
        line: first.span.start.line,
        column: first.span.start.column,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn splits_with_positions() {
        let script =
            "SET 'a' = 'b';\n-- comment\nCREATE TABLE t (x INT)\n  WITH ('c' = ';');\n  SELECT 1";
        let s = split(script).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].text, "SET 'a' = 'b'");
        assert!(s[1].text.ends_with("WITH ('c' = ';')"), "{}", s[1].text);
        assert_eq!(
            (s[2].text.as_str(), s[2].line, s[2].column),
            ("SELECT 1", 5, 3)
        );
    }

    #[test]
    fn statement_sets_stay_whole() {
        let script = "EXECUTE STATEMENT SET BEGIN\nINSERT INTO a SELECT 1;\nINSERT INTO b SELECT 2;\nEND;\nSELECT 3;";
        let s = split(script).unwrap();
        assert_eq!(s.len(), 2);
        assert!(s[0].text.ends_with("END"), "{}", s[0].text);
        assert_eq!(s[1].text, "SELECT 3");
    }
}
