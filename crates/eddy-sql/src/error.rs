//! Errors of the SQL front: one clear sentence, with a position when there is one.

use std::fmt;

use datafusion_common::DataFusionError;
use datafusion_sql::sqlparser::parser::ParserError;

/// A position in the SQL script: line and column, both from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: u64,
    /// Column, from 1.
    pub column: u64,
}

/// What went wrong with a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlError {
    /// The message, one sentence.
    pub message: String,
    /// Where in the script, when known.
    pub position: Option<Position>,
}

/// The result type of the SQL front.
pub type SqlResult<T> = std::result::Result<T, SqlError>;

impl SqlError {
    /// An error without a position.
    pub fn new(message: impl Into<String>) -> Self {
        SqlError {
            message: message.into(),
            position: None,
        }
    }

    /// An error at `line`, `column`.
    pub fn at(message: impl Into<String>, line: u64, column: u64) -> Self {
        SqlError {
            message: message.into(),
            position: Some(Position { line, column }),
        }
    }

    /// A feature eddy does not support.
    pub fn unsupported(what: impl fmt::Display) -> Self {
        SqlError::new(format!("unsupported: {what}"))
    }

    /// Moves a position relative to a statement to the script: the statement
    /// starts at `line`, `column` of the script.
    pub fn offset(mut self, line: u64, column: u64) -> Self {
        if let Some(p) = &mut self.position {
            if p.line == 1 {
                p.column += column.saturating_sub(1);
            }
            p.line += line.saturating_sub(1);
        }
        self
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "line {}, column {}: {}", p.line, p.column, self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for SqlError {}

/// Splits `"... at Line: 3, Column: 14"` into the message and the position.
fn split_position(message: &str) -> (String, Option<Position>) {
    if let Some(at) = message.rfind(" at Line: ") {
        let rest = &message[at + " at Line: ".len()..];
        let mut parts = rest.split(", Column: ");
        let line = parts.next().and_then(|l| l.trim().parse().ok());
        let column = parts.next().and_then(|c| {
            c.trim()
                .trim_end_matches(|ch: char| !ch.is_ascii_digit())
                .parse()
                .ok()
        });
        if let (Some(line), Some(column)) = (line, column) {
            return (message[..at].to_string(), Some(Position { line, column }));
        }
    }
    (message.to_string(), None)
}

impl From<ParserError> for SqlError {
    fn from(e: ParserError) -> Self {
        let text = match e {
            ParserError::TokenizerError(s) | ParserError::ParserError(s) => s,
            ParserError::RecursionLimitExceeded => "the statement nests too deeply".to_string(),
        };
        let (message, position) = split_position(&text);
        SqlError {
            message: format!("SQL parse error: {message}"),
            position,
        }
    }
}

impl From<DataFusionError> for SqlError {
    fn from(e: DataFusionError) -> Self {
        let e = e.find_root();
        let text = match &e {
            DataFusionError::SQL(p, _) => return SqlError::from(p.as_ref().clone()),
            DataFusionError::Plan(s)
            | DataFusionError::Execution(s)
            | DataFusionError::NotImplemented(s)
            | DataFusionError::Internal(s) => s.clone(),
            DataFusionError::SchemaError(s, _) => s.to_string(),
            other => other.to_string(),
        };
        let text = text
            .lines()
            .next()
            .unwrap_or_default()
            .replace("Schema error: ", "")
            .replace("Error during planning: ", "");
        let (message, position) = split_position(&text);
        SqlError { message, position }
    }
}

impl From<eddy_core::Error> for SqlError {
    fn from(e: eddy_core::Error) -> Self {
        SqlError::new(e.to_string())
    }
}

impl From<arrow::error::ArrowError> for SqlError {
    fn from(e: arrow::error::ArrowError) -> Self {
        SqlError::new(e.to_string())
    }
}

/// Converts into the runtime's error type (operators run inside the runtime).
pub(crate) fn runtime(e: impl fmt::Display) -> eddy_core::Error {
    eddy_core::Error::Other(e.to_string())
}
