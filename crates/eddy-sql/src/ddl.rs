//! Parsing Flink's DDL: `CREATE TABLE` with computed columns, a watermark, a
//! primary key and connector options, and `CREATE VIEW`.

use std::collections::{BTreeMap, BTreeSet};

use arrow::datatypes::DataType;
use datafusion_sql::sqlparser::ast::Expr as SqlExpr;
use datafusion_sql::sqlparser::dialect::GenericDialect;
use datafusion_sql::sqlparser::keywords::Keyword;
use datafusion_sql::sqlparser::parser::{Parser, ParserError};
use datafusion_sql::sqlparser::tokenizer::{Token, TokenWithSpan};

use crate::error::SqlResult;

/// A column as written in `CREATE TABLE`.
#[derive(Clone, Debug)]
pub enum ColumnSpec {
    /// `name TYPE [NOT NULL]`: read from the connector.
    Physical {
        /// The name.
        name: String,
        /// The Arrow type.
        data_type: DataType,
        /// Whether it may be NULL.
        nullable: bool,
    },
    /// `name AS expr`: computed from the other columns.
    Computed {
        /// The name.
        name: String,
        /// The expression.
        expr: Box<SqlExpr>,
    },
}

impl ColumnSpec {
    /// The column's name.
    pub fn name(&self) -> &str {
        match self {
            ColumnSpec::Physical { name, .. } | ColumnSpec::Computed { name, .. } => name,
        }
    }
}

/// A parsed `CREATE TABLE`.
#[derive(Clone, Debug)]
pub struct CreateTable {
    /// The table name.
    pub name: String,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// The columns in order.
    pub columns: Vec<ColumnSpec>,
    /// `WATERMARK FOR column AS expr`.
    pub watermark: Option<(String, SqlExpr)>,
    /// `PRIMARY KEY (...) NOT ENFORCED`.
    pub primary_key: Vec<String>,
    /// The `WITH (...)` options.
    pub options: BTreeMap<String, String>,
    /// `METADATA [FROM 'key']` columns: column name → metadata key.
    pub metadata: BTreeMap<String, String>,
    /// The `METADATA ... VIRTUAL` columns: read, never written.
    pub virtual_metadata: BTreeSet<String>,
}

/// A parsed `CREATE VIEW`.
#[derive(Clone, Debug)]
pub struct CreateView {
    /// The view name.
    pub name: String,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// Column names given after the view name, if any.
    pub columns: Vec<String>,
    /// The query's text.
    pub query: String,
}

/// Tokens of a statement, with `>>` split into two `>` so that nested types
/// such as `ARRAY<ROW<a INT>>` parse.
fn tokens(sql: &str) -> SqlResult<Vec<TokenWithSpan>> {
    let tokens = crate::script::tokenize(sql)?;
    let mut out = Vec::with_capacity(tokens.len());
    for t in tokens {
        if t.token == Token::ShiftRight {
            out.push(TokenWithSpan::new(Token::Gt, t.span));
            out.push(TokenWithSpan::new(Token::Gt, t.span));
        } else {
            out.push(t);
        }
    }
    Ok(out)
}

fn is_word(t: &Token, word: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

fn error_at(p: &Parser<'_>, message: &str) -> ParserError {
    let t = p.peek_token();
    ParserError::ParserError(format!(
        "{message}, found: {} at Line: {}, Column: {}",
        t.token, t.span.start.line, t.span.start.column
    ))
}

/// Parses `CREATE [TEMPORARY] TABLE [IF NOT EXISTS] name (...) [WITH (...)]`.
pub fn parse_create_table(sql: &str) -> SqlResult<CreateTable> {
    let dialect = GenericDialect {};
    let mut p = Parser::new(&dialect).with_tokens_with_locations(tokens(sql)?);
    Ok(create_table(&mut p)?)
}

fn create_table(p: &mut Parser<'_>) -> Result<CreateTable, ParserError> {
    p.expect_keyword(Keyword::CREATE)?;
    let _ = p.parse_keyword(Keyword::TEMPORARY);
    p.expect_keyword(Keyword::TABLE)?;
    let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = object_name(p)?;
    p.expect_token(&Token::LParen)?;
    let mut table = CreateTable {
        name,
        if_not_exists,
        columns: Vec::new(),
        watermark: None,
        primary_key: Vec::new(),
        options: BTreeMap::new(),
        metadata: BTreeMap::new(),
        virtual_metadata: BTreeSet::new(),
    };
    loop {
        let next = p.peek_token().token;
        if is_word(&next, "WATERMARK") {
            p.next_token();
            p.expect_keyword(Keyword::FOR)?;
            let column = p.parse_identifier()?.value;
            p.expect_keyword(Keyword::AS)?;
            let expr = p.parse_expr()?;
            table.watermark = Some((column, expr));
        } else if is_word(&next, "PRIMARY") || is_word(&next, "CONSTRAINT") {
            if p.parse_keyword(Keyword::CONSTRAINT) {
                p.parse_identifier()?;
            }
            p.expect_keywords(&[Keyword::PRIMARY, Keyword::KEY])?;
            p.expect_token(&Token::LParen)?;
            table.primary_key = p.parse_comma_separated(|p| Ok(p.parse_identifier()?.value))?;
            p.expect_token(&Token::RParen)?;
            if !p.parse_keywords(&[Keyword::NOT, Keyword::ENFORCED]) {
                return Err(error_at(
                    p,
                    "Expected: NOT ENFORCED after PRIMARY KEY (eddy, like Flink, does not enforce keys)",
                ));
            }
        } else {
            let name = p.parse_identifier()?.value;
            if p.parse_keyword(Keyword::AS) {
                let expr = p.parse_expr()?;
                table.columns.push(ColumnSpec::Computed {
                    name,
                    expr: Box::new(expr),
                });
            } else {
                let (data_type, nullable) = crate::types::parse_type(p)?;
                if is_word(&p.peek_token().token, "METADATA") {
                    p.next_token();
                    let key = if p.parse_keyword(Keyword::FROM) {
                        p.parse_literal_string()?
                    } else {
                        name.clone()
                    };
                    if p.parse_keyword(Keyword::VIRTUAL) {
                        table.virtual_metadata.insert(name.clone());
                    }
                    table.metadata.insert(name.clone(), key);
                }
                let nullable = if p.parse_keywords(&[Keyword::PRIMARY, Keyword::KEY]) {
                    if !p.parse_keywords(&[Keyword::NOT, Keyword::ENFORCED]) {
                        return Err(error_at(p, "Expected: NOT ENFORCED after PRIMARY KEY"));
                    }
                    table.primary_key = vec![name.clone()];
                    false
                } else {
                    nullable
                };
                if p.parse_keyword(Keyword::COMMENT) {
                    p.parse_literal_string()?;
                }
                table.columns.push(ColumnSpec::Physical {
                    name,
                    data_type,
                    nullable,
                });
            }
        }
        if p.consume_token(&Token::RParen) {
            break;
        }
        if !p.consume_token(&Token::Comma) {
            return Err(error_at(p, "Expected: , or )"));
        }
    }
    if p.parse_keyword(Keyword::COMMENT) {
        p.parse_literal_string()?;
    }
    if p.parse_keyword(Keyword::PARTITIONED) {
        return Err(error_at(p, "PARTITIONED BY is not supported"));
    }
    if p.parse_keyword(Keyword::WITH) {
        p.expect_token(&Token::LParen)?;
        if !p.consume_token(&Token::RParen) {
            loop {
                let key = p.parse_literal_string()?;
                p.expect_token(&Token::Eq)?;
                let value = p.parse_literal_string()?;
                table.options.insert(key, value);
                if !p.consume_token(&Token::Comma) {
                    break;
                }
            }
            p.expect_token(&Token::RParen)?;
        }
    }
    expect_end(p)?;
    Ok(table)
}

fn object_name(p: &mut Parser<'_>) -> Result<String, ParserError> {
    let name = p.parse_object_name(false)?;
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|part| part.as_ident().map(|i| i.value.clone()))
        .collect();
    Ok(parts.last().cloned().unwrap_or_default())
}

fn expect_end(p: &mut Parser<'_>) -> Result<(), ParserError> {
    if p.peek_token().token == Token::EOF {
        Ok(())
    } else {
        Err(error_at(p, "Expected: end of statement"))
    }
}

/// Parses `CREATE [TEMPORARY] VIEW [IF NOT EXISTS] name [(cols)] AS query`.
pub fn parse_create_view(sql: &str) -> SqlResult<CreateView> {
    let dialect = GenericDialect {};
    let tokens = tokens(sql)?;
    let mut p = Parser::new(&dialect).with_tokens_with_locations(tokens.clone());
    let header = (|| -> Result<_, ParserError> {
        p.expect_keyword(Keyword::CREATE)?;
        let _ = p.parse_keyword(Keyword::TEMPORARY);
        p.expect_keyword(Keyword::VIEW)?;
        let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
        let name = object_name(&mut p)?;
        let columns = if p.consume_token(&Token::LParen) {
            let c = p.parse_comma_separated(|p| Ok(p.parse_identifier()?.value))?;
            p.expect_token(&Token::RParen)?;
            c
        } else {
            Vec::new()
        };
        p.expect_keyword(Keyword::AS)?;
        Ok((name, if_not_exists, columns))
    })()?;
    // The query is the rest of the text, from the token after AS.
    let start = p.peek_token().span.start;
    let offset = offset_of(sql, start.line, start.column);
    Ok(CreateView {
        name: header.0,
        if_not_exists: header.1,
        columns: header.2,
        query: sql[offset..].to_string(),
    })
}

/// The byte offset of a line and column (both from 1) in `text`.
pub(crate) fn offset_of(text: &str, line: u64, column: u64) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    text[start..]
        .char_indices()
        .nth(column.saturating_sub(1) as usize)
        .map_or(text.len(), |(i, _)| start + i)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_flink_ddl() {
        let t = parse_create_table(
            "CREATE TABLE datagen (\n event_type int,\n bid ROW<auction BIGINT, `dateTime` TIMESTAMP(3)>,\n `dateTime` AS bid.`dateTime`,\n WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND,\n PRIMARY KEY (event_type) NOT ENFORCED\n) WITH ('connector' = 'nexmark', 'events.num' = '10')",
        )
        .unwrap();
        assert_eq!(t.name, "datagen");
        assert_eq!(t.columns.len(), 3);
        assert_eq!(t.watermark.as_ref().unwrap().0, "dateTime");
        assert_eq!(t.primary_key, vec!["event_type"]);
        assert_eq!(t.options["connector"], "nexmark");
    }

    #[test]
    fn errors_have_positions() {
        let e = parse_create_table("CREATE TABLE t (\n  a INT,\n  b FOO\n)").unwrap_err();
        assert_eq!(e.position.map(|p| (p.line, p.column)), Some((3, 5)), "{e}");
        assert!(e.message.contains("unknown data type FOO"), "{e}");
    }

    #[test]
    fn view_keeps_query_text() {
        let v = parse_create_view("CREATE VIEW v AS SELECT a FROM t WHERE a > 1").unwrap();
        assert_eq!(v.query, "SELECT a FROM t WHERE a > 1");
    }
}
