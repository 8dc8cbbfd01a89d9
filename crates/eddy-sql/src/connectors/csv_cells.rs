//! CSV lines split straight into one text column per table column, with no
//! allocation per field: a line's fields are found as byte ranges (the line
//! is scanned for the delimiter and the quote with `memchr`), checked for
//! their count, then appended to the columns. Only a quoted field holding a
//! doubled quote is copied, once, to undouble it.
//!
//! The rules are the CSV format's in [`super::lines`]: a field that starts
//! with the quote is quoted up to the next lone quote, which must end the
//! line or be followed by the delimiter; a quote anywhere else is text.

use arrow::array::{Array, StringArray, StringBuilder, TimestampMillisecondArray};

/// Where one field of a line is: its bytes, without quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
    quoted: bool,
    /// Quoted and holding a doubled quote.
    escaped: bool,
}

/// Splits a line on an ASCII delimiter and quote into `spans`, or says why
/// it cannot be split (a column is counted in characters, from 1).
fn split_line(
    line: &str,
    delimiter: u8,
    quote: u8,
    spans: &mut Vec<Span>,
) -> std::result::Result<(), String> {
    let bytes = line.as_bytes();
    let column = |at: usize| line[..at].chars().count() + 1;
    spans.clear();
    let mut at = 0;
    loop {
        if bytes.get(at) == Some(&quote) {
            let start = at + 1;
            let mut from = start;
            let mut escaped = false;
            let end = loop {
                match memchr::memchr(quote, &bytes[from..]) {
                    None => {
                        return Err(format!(
                            "the quoted field starting at column {} is not closed on this line",
                            column(at)
                        ))
                    }
                    Some(k) if bytes.get(from + k + 1) == Some(&quote) => {
                        escaped = true;
                        from += k + 2;
                    }
                    Some(k) => break from + k,
                }
            };
            spans.push(Span {
                start,
                end,
                quoted: true,
                escaped,
            });
            match bytes.get(end + 1) {
                None => return Ok(()),
                Some(b) if *b == delimiter => at = end + 2,
                Some(_) => {
                    let next = line[end + 1..].chars().next().unwrap_or_default();
                    return Err(format!(
                        "unexpected '{next}' at column {} after the closing quote of a field",
                        column(end + 1)
                    ));
                }
            }
        } else {
            match memchr::memchr(delimiter, &bytes[at..]) {
                Some(k) => {
                    spans.push(Span {
                        start: at,
                        end: at + k,
                        quoted: false,
                        escaped: false,
                    });
                    at += k + 1;
                }
                None => {
                    spans.push(Span {
                        start: at,
                        end: bytes.len(),
                        quoted: false,
                        escaped: false,
                    });
                    return Ok(());
                }
            }
        }
    }
}

/// How a field's text becomes a cell of its column.
#[derive(Clone, Copy, Debug)]
pub(super) struct CellRule {
    /// The column is a DECIMAL: Flink writes `1E+2`, which is read as `100`.
    pub decimal: bool,
}

/// The text columns of a batch of CSV lines.
pub(super) struct CsvCells {
    delimiter: char,
    quote: char,
    null_literal: Option<String>,
    rules: Vec<CellRule>,
    columns: Vec<StringBuilder>,
    spans: Vec<Span>,
    unescaped: String,
}

impl CsvCells {
    /// Columns for lines of `rules.len()` fields.
    pub fn new(
        delimiter: char,
        quote: char,
        null_literal: Option<String>,
        rules: Vec<CellRule>,
        capacity: usize,
    ) -> Self {
        let columns = rules
            .iter()
            .map(|_| StringBuilder::with_capacity(capacity, capacity * 8))
            .collect();
        CsvCells {
            delimiter,
            quote,
            null_literal,
            rules,
            columns,
            spans: Vec::new(),
            unescaped: String::new(),
        }
    }

    /// Appends the fields of `line` as a row, or says why it is not one (and
    /// appends nothing).
    pub fn push(&mut self, line: &str) -> std::result::Result<(), String> {
        if self.delimiter.is_ascii() && self.quote.is_ascii() {
            split_line(
                line,
                self.delimiter as u8,
                self.quote as u8,
                &mut self.spans,
            )?;
            self.check_count()?;
            for (c, span) in self.spans.iter().enumerate() {
                let text = if span.escaped {
                    let doubled = [self.quote; 2].iter().collect::<String>();
                    self.unescaped.clear();
                    self.unescaped.push_str(
                        &line[span.start..span.end].replace(&doubled, &self.quote.to_string()),
                    );
                    self.unescaped.as_str()
                } else {
                    &line[span.start..span.end]
                };
                append(
                    &mut self.columns[c],
                    self.rules[c],
                    self.null_literal.as_deref(),
                    text,
                    span.quoted,
                );
            }
            return Ok(());
        }
        let fields = super::lines::split_csv(line, self.delimiter, self.quote)?;
        if fields.len() != self.rules.len() {
            return Err(count_error(self.rules.len(), fields.len()));
        }
        for (c, (text, quoted)) in fields.iter().enumerate() {
            append(
                &mut self.columns[c],
                self.rules[c],
                self.null_literal.as_deref(),
                text,
                *quoted,
            );
        }
        Ok(())
    }

    fn check_count(&self) -> std::result::Result<(), String> {
        match self.spans.len() == self.rules.len() {
            true => Ok(()),
            false => Err(count_error(self.rules.len(), self.spans.len())),
        }
    }

    /// The text columns of the rows pushed.
    pub fn finish(mut self) -> Vec<StringArray> {
        self.columns.iter_mut().map(StringBuilder::finish).collect()
    }
}

fn count_error(expected: usize, found: usize) -> String {
    format!("expected {expected} fields, found {found}")
}

fn append(
    column: &mut StringBuilder,
    rule: CellRule,
    null_literal: Option<&str>,
    text: &str,
    quoted: bool,
) {
    // As in Flink, an empty field is an empty text: a STRING's value, and a
    // parse error of any other type (NULL with `ignore-parse-errors`).
    let is_null = !quoted && null_literal == Some(text);
    if is_null {
        column.append_null();
    } else if rule.decimal && text.contains(['e', 'E']) {
        match super::lines::plain_decimal(text) {
            Some(plain) => column.append_value(plain),
            None => column.append_value(text),
        }
    } else {
        column.append_value(text);
    }
}

/// The column of `texts` as TIMESTAMP(3) when every value is written as
/// `yyyy-MM-dd HH:mm:ss[.fff]` (or with a `T`), the way Flink writes them,
/// read without a general parser; `None` when some value is written
/// otherwise (the caller's cast then reads, or rejects, them all).
pub(super) fn timestamp_millis_column(texts: &StringArray) -> Option<TimestampMillisecondArray> {
    let mut values = Vec::with_capacity(texts.len());
    for i in 0..texts.len() {
        values.push(match texts.is_null(i) {
            true => 0,
            false => timestamp_millis(texts.value(i).as_bytes())?,
        });
    }
    Some(TimestampMillisecondArray::new(
        values.into(),
        texts.nulls().cloned(),
    ))
}

/// `yyyy-MM-dd HH:mm:ss[.f[f[f]]]` (or with a `T`) as milliseconds since
/// 1970-01-01 00:00:00, if the text is exactly that and a valid time.
fn timestamp_millis(text: &[u8]) -> Option<i64> {
    if text.len() < 19 || text.len() > 23 {
        return None;
    }
    let digits = |from: usize, to: usize| -> Option<i64> {
        text[from..to].iter().try_fold(0i64, |v, b| {
            b.is_ascii_digit().then(|| v * 10 + i64::from(b - b'0'))
        })
    };
    let separators = text[4] == b'-'
        && text[7] == b'-'
        && (text[10] == b' ' || text[10] == b'T')
        && text[13] == b':'
        && text[16] == b':';
    if !separators {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 7)?, digits(8, 10)?);
    let (hour, minute, second) = (digits(11, 13)?, digits(14, 16)?, digits(17, 19)?);
    let millis = match text.len() {
        19 => 0,
        20 => return None,
        n => {
            if text[19] != b'.' {
                return None;
            }
            digits(20, n)? * [100, 10, 1][n - 21]
        }
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Days from 1970-01-01 of the proleptic Gregorian date.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

/// The value of row `i` of a text column, or `""` for NULL.
pub(super) fn text_at(column: &StringArray, i: usize) -> &str {
    if column.is_null(i) {
        ""
    } else {
        column.value(i)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn fields(line: &str) -> std::result::Result<Vec<(String, bool)>, String> {
        let mut spans = Vec::new();
        split_line(line, b',', b'"', &mut spans)?;
        Ok(spans
            .iter()
            .map(|s| (line[s.start..s.end].replace("\"\"", "\""), s.quoted))
            .collect())
    }

    #[test]
    fn splits_as_the_reference_splitter() {
        for line in [
            "1,\"a,b\",\"say \"\"hi\"\"\",",
            "a\"b,c",
            "",
            ",",
            "\"\"",
            "\"\",\"\"",
            "x,\"\"\"\"",
            "1,\"open",
            "\"a\"b,c",
            "\"é\"ü,c",
            "é,\"ö",
            "\"abc\"\"",
        ] {
            assert_eq!(
                fields(line),
                super::super::lines::split_csv(line, ',', '"'),
                "{line}"
            );
        }
    }

    #[test]
    fn rows_become_columns_with_nulls_and_plain_decimals() {
        let rule = |decimal| CellRule { decimal };
        let mut cells = CsvCells::new(
            ',',
            '"',
            Some("N".into()),
            vec![rule(false), rule(false), rule(true)],
            4,
        );
        cells.push("a,,1E+2").unwrap();
        cells.push("\"\",N,\"N\"").unwrap();
        assert_eq!(cells.push("1,2").unwrap_err(), "expected 3 fields, found 2");
        cells.push("\"x\"\"y\",3,2.5").unwrap();
        let columns = cells.finish();
        assert_eq!(columns[0].len(), 3);
        assert_eq!(columns[0].value(0), "a");
        assert_eq!(columns[0].value(1), "");
        assert_eq!(columns[0].value(2), "x\"y");
        assert!(!columns[1].is_null(0) && columns[1].is_null(1));
        assert_eq!(columns[1].value(0), "");
        assert_eq!(columns[2].value(0), "100");
        assert_eq!(columns[2].value(1), "N");
        assert_eq!(text_at(&columns[1], 0), "");
    }

    #[test]
    fn timestamps_as_the_general_cast_reads_them() {
        use arrow::compute::cast;
        use arrow::datatypes::{DataType, TimeUnit};
        let texts = StringArray::from(vec![
            Some("2026-01-01 00:00:00.123"),
            Some("1970-01-01T00:00:00"),
            None,
            Some("1969-12-31 23:59:59.9"),
            Some("2024-02-29 12:34:56.07"),
            Some("0001-01-01 00:00:00"),
            Some("9999-12-31 23:59:59.999"),
        ]);
        let fast = timestamp_millis_column(&texts).unwrap();
        let general = cast(&texts, &DataType::Timestamp(TimeUnit::Millisecond, None)).unwrap();
        assert_eq!(&fast as &dyn Array, general.as_ref());
        for other in [
            "2023-02-29 00:00:00",
            "2026-13-01 00:00:00",
            "2026-01-01 24:00:00",
            "2026-01-01 00:00:00.",
            "2026-01-01 00:00:00.1234",
            "2026-01-01",
            "2026-01-01 00:00:00Z",
            "2026/01/01 00:00:00",
            "+026-01-01 00:00:00",
        ] {
            assert_eq!(timestamp_millis(other.as_bytes()), None, "{other}");
        }
    }

    #[test]
    fn other_delimiters_and_quotes() {
        let rule = CellRule { decimal: false };
        let mut cells = CsvCells::new(';', '\'', None, vec![rule; 2], 2);
        cells.push("'a;b';c").unwrap();
        let mut wide = CsvCells::new('¦', '"', None, vec![rule; 2], 2);
        wide.push("a¦\"b¦c\"").unwrap();
        let (columns, wide) = (cells.finish(), wide.finish());
        assert_eq!((columns[0].value(0), columns[1].value(0)), ("a;b", "c"));
        assert_eq!((wide[0].value(0), wide[1].value(0)), ("a", "b¦c"));
    }
}
