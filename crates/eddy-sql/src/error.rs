//! Errors of the SQL front: one clear sentence in SQL terms, with a position when
//! there is one, and the underlying error (DataFusion's, Arrow's, the runtime's)
//! kept as the [`source`](std::error::Error::source).
//!
//! Messages never show the planner's internals: Debug dumps of the parser's or
//! planner's structures are cut off, Arrow type names become SQL type names, and
//! a position is either right or absent (never `line 0`).

use std::fmt;
use std::sync::Arc;

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

impl Position {
    /// A position, or `None` for line or column 0 (what the parser gives
    /// nodes it did not read from the text).
    pub fn new(line: u64, column: u64) -> Option<Position> {
        (line > 0 && column > 0).then_some(Position { line, column })
    }
}

/// What went wrong with a statement.
#[derive(Clone, Debug)]
pub struct SqlError {
    /// The message, one sentence.
    pub message: String,
    /// Where in the script, when known.
    pub position: Option<Position>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    culprit: Option<Box<crate::exec::failure::Culprit>>,
}

/// The result type of the SQL front.
pub type SqlResult<T> = std::result::Result<T, SqlError>;

/// The message of statements nested beyond what the parser or planner take.
pub const TOO_DEEP: &str = "the statement nests too deeply";

impl SqlError {
    /// An error without a position.
    pub fn new(message: impl Into<String>) -> Self {
        SqlError {
            message: message.into(),
            position: None,
            source: None,
            culprit: None,
        }
    }

    /// An error at `line`, `column` (no position when either is 0).
    pub fn at(message: impl Into<String>, line: u64, column: u64) -> Self {
        SqlError::new(message).with_position(Position::new(line, column))
    }

    /// A feature eddy does not support.
    pub fn unsupported(what: impl fmt::Display) -> Self {
        SqlError::new(format!("unsupported: {what}"))
    }

    /// The same error at `position` (when it has none yet).
    pub fn with_position(mut self, position: Option<Position>) -> Self {
        if self.position.is_none() {
            self.position = position;
        }
        self
    }

    /// The same error, caused by `source`.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// The same error, about an expression that failed at run time (see
    /// [`crate::exec::failure`]).
    pub fn with_culprit(mut self, culprit: crate::exec::failure::Culprit) -> Self {
        self.culprit = Some(Box::new(culprit));
        self
    }

    /// The expression that failed at run time, if this is such an error.
    pub fn culprit(&self) -> Option<&crate::exec::failure::Culprit> {
        self.culprit.as_deref()
    }

    pub(crate) fn culprit_mut(&mut self) -> Option<&mut crate::exec::failure::Culprit> {
        self.culprit.as_deref_mut()
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

impl PartialEq for SqlError {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message && self.position == other.position
    }
}

impl Eq for SqlError {}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "line {}, column {}: {}", p.line, p.column, self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for SqlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

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
            return (message[..at].to_string(), Position::new(line, column));
        }
    }
    (message.to_string(), None)
}

/// Text that only a Debug dump of the parser's or planner's structures has.
const DUMP_MARKERS: [&str; 12] = [
    "Ident {",
    "span:",
    "Span(",
    "Location(",
    "Location {",
    "Expr::",
    "Identifier(",
    "quote_style",
    "Column {",
    "Some(",
    "Box(",
    "Value(",
];

/// The first position a Debug dump names (`Location(3,14)`), if any.
fn dumped_position(text: &str) -> Option<Position> {
    let mut rest = text;
    while let Some(at) = rest.find("Location(") {
        rest = &rest[at + "Location(".len()..];
        let inner = rest.split(')').next().unwrap_or_default();
        let mut parts = inner.split(',').map(|p| p.trim().parse::<u64>().ok());
        if let (Some(Some(line)), Some(Some(column))) = (parts.next(), parts.next()) {
            if let Some(p) = Position::new(line, column) {
                return Some(p);
            }
        }
    }
    None
}

/// Cuts a Debug dump off a message: the text stops before the bracket that
/// opens the dump (`... expression GroupingSet(GroupingSets([...]))` becomes
/// `... expression GroupingSet`).
pub fn without_dump(text: &str) -> String {
    let Some(marker) = DUMP_MARKERS.iter().filter_map(|m| text.find(m)).min() else {
        return text.to_string();
    };
    let mut open: Vec<usize> = Vec::new();
    for (i, c) in text[..marker].char_indices() {
        match c {
            '(' | '{' | '[' => open.push(i),
            ')' | '}' | ']' => {
                open.pop();
            }
            _ => {}
        }
    }
    let cut = open.first().copied().unwrap_or(marker);
    let kept = text[..cut].trim_end();
    // A dumped node's name (`MatchRecognize {`) is no use either when what
    // precedes it already says what failed.
    kept.trim_end_matches(|c: char| c.is_whitespace() || c == ':' || c == ',')
        .to_string()
}

/// Arrow's type names in a message, as SQL names: `Int32` is `INT`,
/// `Utf8` is `STRING`, `Timestamp(ms)` is `TIMESTAMP(3)`.
pub fn sql_type_names(text: &str) -> String {
    static NAMES: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let Some(re) = NAMES.get_or_init(|| {
        regex::Regex::new(
            r"\b(Int8|Int16|Int32|Int64|UInt8|UInt16|UInt32|UInt64|Float16|Float32|Float64|Utf8View|LargeUtf8|Utf8|Boolean|Date32|Date64|Binary|Null|Timestamp\((s|ms|us|ns|Second|Millisecond|Microsecond|Nanosecond)(, *[^)]*)?\)|Decimal128\((\d+), *(-?\d+)\))",
        )
        .ok()
    }) else {
        return text.to_string();
    };
    re.replace_all(text, |c: &regex::Captures<'_>| {
        let name = &c[1];
        if let (Some(p), Some(s)) = (c.get(4), c.get(5)) {
            return format!("DECIMAL({}, {})", p.as_str(), s.as_str());
        }
        if let Some(unit) = c.get(2) {
            let precision = match unit.as_str() {
                "s" | "Second" => 0,
                "ms" | "Millisecond" => 3,
                "us" | "Microsecond" => 6,
                _ => 9,
            };
            let ltz = c.get(3).is_some();
            return if ltz {
                format!("TIMESTAMP_LTZ({precision})")
            } else {
                format!("TIMESTAMP({precision})")
            };
        }
        match name {
            "Int8" | "UInt8" => "TINYINT",
            "Int16" | "UInt16" => "SMALLINT",
            "Int32" | "UInt32" => "INT",
            "Int64" | "UInt64" => "BIGINT",
            "Float16" | "Float32" => "FLOAT",
            "Float64" => "DOUBLE",
            "Utf8" | "Utf8View" | "LargeUtf8" => "STRING",
            "Boolean" => "BOOLEAN",
            "Date32" | "Date64" => "DATE",
            "Binary" => "BYTES",
            "Null" => "NULL",
            other => other,
        }
        .to_string()
    })
    .into_owned()
}

/// A message fit to show: its first line, no Debug dump, SQL type names.
pub fn clean(text: &str) -> String {
    let first = text.lines().next().unwrap_or_default();
    sql_type_names(&without_dump(first))
}

impl From<ParserError> for SqlError {
    fn from(e: ParserError) -> Self {
        let text = match &e {
            ParserError::TokenizerError(s) | ParserError::ParserError(s) => s.clone(),
            ParserError::RecursionLimitExceeded => TOO_DEEP.to_string(),
        };
        let (message, position) = split_position(&text);
        let message = if message == TOO_DEEP {
            message
        } else {
            format!("SQL parse error: {}", clean(&message))
        };
        SqlError::new(message)
            .with_position(position)
            .with_source(e)
    }
}

impl From<DataFusionError> for SqlError {
    fn from(e: DataFusionError) -> Self {
        let diagnosed = e
            .diagnostic()
            .and_then(|d| d.span)
            .and_then(|s| Position::new(s.start.line, s.start.column));
        let root = e.find_root();
        let (text, unsupported) = match root {
            DataFusionError::SQL(p, _) => {
                return SqlError::from(p.as_ref().clone())
                    .with_position(diagnosed)
                    .with_source(e);
            }
            DataFusionError::NotImplemented(s) => (s.clone(), true),
            DataFusionError::Plan(s)
            | DataFusionError::Execution(s)
            | DataFusionError::Internal(s) => (s.clone(), false),
            DataFusionError::SchemaError(s, _) => (s.to_string(), false),
            DataFusionError::ArrowError(a, _) => (arrow_reason(a), false),
            other => (other.to_string(), false),
        };
        let text = text
            .replace("Schema error: ", "")
            .replace("Error during planning: ", "")
            .replace("This feature is not implemented: ", "");
        let dumped = dumped_position(&text);
        let (message, position) = split_position(&clean(&text));
        let message = if unsupported && !message.starts_with("unsupported") {
            format!("unsupported: {message}")
        } else {
            message
        };
        SqlError::new(message)
            .with_position(diagnosed.or(position).or(dumped))
            .with_source(e)
    }
}

/// Arrow's error as a sentence in SQL terms, without Arrow's prefixes.
pub fn arrow_reason(e: &arrow::error::ArrowError) -> String {
    use arrow::error::ArrowError;
    match e {
        ArrowError::DivideByZero => "division by zero".to_string(),
        ArrowError::CastError(s) => cast_reason(s),
        ArrowError::ArithmeticOverflow(s) => {
            let what = s.trim_start_matches("Overflow happened on: ");
            format!("{} overflows", sql_type_names(what))
        }
        ArrowError::ComputeError(s)
        | ArrowError::InvalidArgumentError(s)
        | ArrowError::ParseError(s)
        | ArrowError::NotYetImplemented(s) => clean(s),
        other => clean(&other.to_string()),
    }
}

/// Arrow's cast errors as SQL says them: `'abc' is not an INT`.
fn cast_reason(s: &str) -> String {
    static CASTS: std::sync::OnceLock<Option<(regex::Regex, regex::Regex)>> =
        std::sync::OnceLock::new();
    let patterns = CASTS.get_or_init(|| {
        Some((
            regex::Regex::new(r"^Cannot cast string '(.*)' to value of (.+) type$").ok()?,
            regex::Regex::new(r"^Can't cast value (.+) to type (.+)$").ok()?,
        ))
    });
    if let Some((text, value)) = patterns {
        if let Some(c) = text.captures(s) {
            let ty = sql_type_names(&c[2]);
            return format!("'{}' is not {} {ty}", &c[1], article(&ty));
        }
        if let Some(c) = value.captures(s) {
            return format!("{} is out of the range of {}", &c[1], sql_type_names(&c[2]));
        }
    }
    clean(s)
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['A', 'E', 'I', 'O', 'U']) {
        "an"
    } else {
        "a"
    }
}

impl From<eddy_core::Error> for SqlError {
    fn from(e: eddy_core::Error) -> Self {
        if let eddy_core::Error::External(inner) = &e {
            if let Some(sql) = inner.downcast_ref::<SqlError>() {
                return sql.clone();
            }
        }
        SqlError::new(clean(&e.to_string())).with_source(e)
    }
}

impl From<arrow::error::ArrowError> for SqlError {
    fn from(e: arrow::error::ArrowError) -> Self {
        SqlError::new(arrow_reason(&e)).with_source(e)
    }
}

/// Converts into the runtime's error type (operators run inside the runtime).
pub(crate) fn runtime(e: impl fmt::Display) -> eddy_core::Error {
    eddy_core::Error::Other(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dumps_are_cut_off() {
        assert_eq!(
            without_dump("Physical plan does not support logical expression GroupingSet(GroupingSets([[Column(Column { relation: None })]]))"),
            "Physical plan does not support logical expression GroupingSet"
        );
        assert_eq!(
            without_dump("Unsupported Interval Expression with last_field Some(Second)"),
            "Unsupported Interval Expression with last_field"
        );
        assert_eq!(without_dump("No field named x."), "No field named x.");
    }

    #[test]
    fn arrow_types_read_as_sql() {
        assert_eq!(
            sql_type_names("Timestamp(ms) = Int64, Utf8, Decimal128(10, 2)"),
            "TIMESTAMP(3) = BIGINT, STRING, DECIMAL(10, 2)"
        );
        assert_eq!(
            cast_reason("Cannot cast string 'abc' to value of Int32 type"),
            "'abc' is not an INT"
        );
    }

    #[test]
    fn no_position_zero() {
        assert_eq!(SqlError::at("x", 0, 0).position, None);
        assert_eq!(
            dumped_position("Span(Location(0,0)..Location(1,4))"),
            Some(Position { line: 1, column: 4 })
        );
    }
}
