//! Flink's day-time interval literals in milliseconds, for the arguments eddy
//! reads itself before planning: window TVF sizes (`TUMBLE(..., INTERVAL '1.5'
//! SECOND)`) and group windows (`GROUP BY TUMBLE(ts, INTERVAL '0.005' SECOND)`).
//!
//! The forms are Calcite's: `INTERVAL '<n>' <unit>` with a unit of DAY, HOUR,
//! MINUTE or SECOND (only SECOND takes a fraction: `'1.5'`, `'0.005'`), an
//! optional precision (`SECOND(1, 3)`), and ranges such as `INTERVAL '1:30'
//! MINUTE TO SECOND` or `INTERVAL '1 02:03:04.5' DAY TO SECOND`. Fractions
//! below a millisecond are cut off, as Flink keeps day-time intervals in
//! milliseconds. `MILLISECOND` is accepted too (an eddy extension).
//!
//! ```
//! use eddy_sql::interval::millis;
//! let tokens = eddy_sql::script::tokenize("INTERVAL '1.5' SECOND").unwrap();
//! let tokens: Vec<_> = tokens.iter().map(|t| &t.token).collect();
//! assert_eq!(millis(&tokens), Some(Ok(1500)));
//! ```

use datafusion_sql::sqlparser::tokenizer::Token;

/// A unit of a day-time interval, by its length in milliseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Unit {
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
}

impl Unit {
    fn parse(token: &Token) -> Option<Unit> {
        let Token::Word(w) = token else { return None };
        if w.quote_style.is_some() {
            return None;
        }
        let word = w.value.to_ascii_uppercase();
        Some(match word.strip_suffix('S').unwrap_or(&word) {
            "MILLISECOND" => Unit::Millisecond,
            "SECOND" => Unit::Second,
            "MINUTE" => Unit::Minute,
            "HOUR" => Unit::Hour,
            "DAY" => Unit::Day,
            _ => return None,
        })
    }

    fn millis(self) -> i64 {
        match self {
            Unit::Millisecond => 1,
            Unit::Second => 1_000,
            Unit::Minute => 60_000,
            Unit::Hour => 3_600_000,
            Unit::Day => 86_400_000,
        }
    }

    /// The unit below this one, where a range's next field is.
    fn next(self) -> Option<Unit> {
        match self {
            Unit::Day => Some(Unit::Hour),
            Unit::Hour => Some(Unit::Minute),
            Unit::Minute => Some(Unit::Second),
            Unit::Second | Unit::Millisecond => None,
        }
    }

    /// The exclusive bound of a field that is not the leading one.
    fn bound(self) -> i64 {
        match self {
            Unit::Hour => 24,
            Unit::Minute | Unit::Second => 60,
            Unit::Day | Unit::Millisecond => i64::MAX,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Unit::Millisecond => "MILLISECOND",
            Unit::Second => "SECOND",
            Unit::Minute => "MINUTE",
            Unit::Hour => "HOUR",
            Unit::Day => "DAY",
        }
    }
}

/// Skips a precision such as `(1, 3)` after a unit.
fn skip_precision<'a, 'b>(tokens: &'b [&'a Token]) -> Option<&'b [&'a Token]> {
    match tokens {
        [Token::LParen, Token::Number(..), Token::RParen, rest @ ..] => Some(rest),
        [Token::LParen, Token::Number(..), Token::Comma, Token::Number(..), Token::RParen, rest @ ..] => {
            Some(rest)
        }
        [Token::LParen, ..] => None,
        rest => Some(rest),
    }
}

/// Whole digits.
fn digits(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Seconds with an optional fraction, in milliseconds (cut below a millisecond).
fn seconds(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let whole = if whole.is_empty() && !fraction.is_empty() {
        0
    } else {
        digits(whole)?
    };
    if !fraction.is_empty() && digits(fraction).is_none() {
        return None;
    }
    let millis: String = fraction.chars().chain("000".chars()).take(3).collect();
    whole.checked_mul(1000)?.checked_add(millis.parse().ok()?)
}

/// The value of `text` for the units `from` to `to`, in milliseconds.
fn value(text: &str, from: Unit, to: Unit) -> Option<i64> {
    let text = text.trim();
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    // The fields: `d h:m:s`, a space after the days, colons after that.
    let mut fields: Vec<&str> = Vec::new();
    let rest = if from == Unit::Day && to != Unit::Day {
        let (days, rest) = text.split_once(' ')?;
        fields.push(days);
        rest.trim_start()
    } else {
        text
    };
    if !(from == Unit::Day && to == Unit::Day) {
        fields.extend(rest.split(':'));
    } else {
        fields.push(rest);
    }
    let mut unit = from;
    let mut total: i64 = 0;
    for (i, field) in fields.iter().enumerate() {
        let last = i + 1 == fields.len();
        if last != (unit == to) {
            return None;
        }
        let ms = match unit {
            Unit::Second => seconds(field)?,
            _ => digits(field)?.checked_mul(unit.millis())?,
        };
        if i > 0 && ms >= unit.bound().saturating_mul(unit.millis()) {
            return None;
        }
        total = total.checked_add(ms)?;
        if !last {
            unit = unit.next()?;
        }
    }
    Some(if negative { -total } else { total })
}

/// `INTERVAL '<n>' <unit>` (or without the keyword) in milliseconds: `None`
/// when the tokens are no day-time interval literal at all, an error in
/// Calcite's words when the text does not fit its unit.
pub fn millis(tokens: &[&Token]) -> Option<Result<i64, String>> {
    let tokens: Vec<&Token> = tokens
        .iter()
        .copied()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let tokens = match tokens.as_slice() {
        [Token::Word(w), rest @ ..] if w.value.eq_ignore_ascii_case("INTERVAL") => rest,
        rest => rest,
    };
    let (negative, tokens) = match tokens {
        [Token::Minus, rest @ ..] => (true, rest),
        rest => (false, rest),
    };
    let (text, from, rest) = match tokens {
        [Token::SingleQuotedString(s), unit, rest @ ..] => (s.clone(), Unit::parse(unit)?, rest),
        [Token::Number(n, _), unit, rest @ ..] => (n.clone(), Unit::parse(unit)?, rest),
        _ => return None,
    };
    let mut rest = skip_precision(rest)?;
    let mut to = from;
    if let [Token::Word(w), unit, after @ ..] = rest {
        if w.value.eq_ignore_ascii_case("TO") {
            to = Unit::parse(unit)?;
            rest = skip_precision(after)?;
        }
    }
    if !rest.is_empty() || to > from || from == Unit::Millisecond && to != from {
        return None;
    }
    let qualifier = if to == from {
        from.name().to_string()
    } else {
        format!("{} TO {}", from.name(), to.name())
    };
    // Only seconds take a fraction.
    let fraction_ok = to == Unit::Second || !text.contains('.');
    Some(
        value(&text, from, to)
            .filter(|_| fraction_ok)
            .map(|ms| if negative { -ms } else { ms })
            .ok_or_else(|| {
                format!("Illegal interval literal format '{text}' for INTERVAL {qualifier}")
            }),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(sql: &str) -> Option<Result<i64, String>> {
        let tokens = crate::script::tokenize(sql).unwrap();
        let tokens: Vec<&Token> = tokens
            .iter()
            .map(|t| &t.token)
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .collect();
        millis(&tokens)
    }

    #[test]
    fn whole_units() {
        assert_eq!(parse("INTERVAL '10' SECOND"), Some(Ok(10_000)));
        assert_eq!(parse("INTERVAL '5' MINUTES"), Some(Ok(300_000)));
        assert_eq!(parse("INTERVAL '2' DAY"), Some(Ok(172_800_000)));
        assert_eq!(parse("INTERVAL '-1' HOUR"), Some(Ok(-3_600_000)));
        assert_eq!(parse("INTERVAL '250' MILLISECOND"), Some(Ok(250)));
        assert_eq!(parse("'3' SECOND"), Some(Ok(3_000)));
    }

    #[test]
    fn fractional_seconds() {
        assert_eq!(parse("INTERVAL '0.005' SECOND"), Some(Ok(5)));
        assert_eq!(parse("INTERVAL '1.5' SECOND"), Some(Ok(1_500)));
        assert_eq!(parse("INTERVAL '.25' SECOND"), Some(Ok(250)));
        assert_eq!(parse("INTERVAL '1.5' SECOND(1, 3)"), Some(Ok(1_500)));
        assert_eq!(parse("INTERVAL '0.0005' SECOND"), Some(Ok(0)));
        assert_eq!(parse("INTERVAL '2.0009' SECOND"), Some(Ok(2_000)));
    }

    #[test]
    fn ranges() {
        assert_eq!(parse("INTERVAL '1:30' MINUTE TO SECOND"), Some(Ok(90_000)));
        assert_eq!(
            parse("INTERVAL '1:30.5' MINUTE TO SECOND"),
            Some(Ok(90_500))
        );
        assert_eq!(parse("INTERVAL '2:03' HOUR TO MINUTE"), Some(Ok(7_380_000)));
        assert_eq!(
            parse("INTERVAL '1 02:03:04.005' DAY TO SECOND"),
            Some(Ok(93_784_005))
        );
        assert_eq!(parse("INTERVAL '1 2' DAY TO HOUR"), Some(Ok(93_600_000)));
    }

    #[test]
    fn what_calcite_rejects() {
        assert_eq!(
            parse("INTERVAL '1.5' MINUTE"),
            Some(Err(
                "Illegal interval literal format '1.5' for INTERVAL MINUTE".into()
            ))
        );
        assert!(matches!(
            parse("INTERVAL '1:60' MINUTE TO SECOND"),
            Some(Err(_))
        ));
        assert!(matches!(
            parse("INTERVAL '1:2:3' MINUTE TO SECOND"),
            Some(Err(_))
        ));
        assert!(matches!(parse("INTERVAL 'x' SECOND"), Some(Err(_))));
        assert_eq!(parse("INTERVAL '1' MONTH"), None);
        assert_eq!(parse("ts"), None);
    }
}
