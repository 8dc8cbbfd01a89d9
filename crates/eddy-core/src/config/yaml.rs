//! Flink's `config.yaml`: nested or flat keys in a YAML subset, flattened to
//! the dotted keys eddy reads.
//!
//! ```
//! use eddy_core::config::yaml;
//! let text = "\
//! jobmanager:      # the JobManager
//!   rpc:
//!     address: localhost
//!     port: 6123
//! taskmanager.numberOfTaskSlots: 2
//! pipeline.name: 'my job'   # quoted
//! ";
//! let pairs = yaml::parse(text, "conf/config.yaml").unwrap();
//! assert_eq!(pairs, vec![
//!     ("jobmanager.rpc.address".to_string(), "localhost".to_string()),
//!     ("jobmanager.rpc.port".to_string(), "6123".to_string()),
//!     ("taskmanager.numberOfTaskSlots".to_string(), "2".to_string()),
//!     ("pipeline.name".to_string(), "my job".to_string()),
//! ]);
//! let err = yaml::parse("a:\n\tb: 1\n", "c.yaml").unwrap_err();
//! assert!(err.to_string().contains("c.yaml:2"), "{err}");
//! ```
//!
//! Mappings (by indentation, spaces only), scalars (plain, `'single'` or
//! `"double"` quoted) and flow lists (`[a, b]`, read as Flink's `a;b`) are
//! understood; anything else (block lists, anchors, multi-line scalars) is an
//! error naming the file and line, never a silent misreading.

use crate::error::{Error, Result};

/// The `(key, value)` pairs of `text`, in order; `origin` names the file in
/// errors.
pub fn parse(text: &str, origin: &str) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    // The open mappings: their indentation and dotted key.
    let mut open: Vec<(usize, String)> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let error = |message: &str| Error::InvalidConfig {
            key: String::new(),
            message: format!("{origin}:{line_no}: {message}"),
        };
        let line = strip_comment(raw);
        if line.trim().is_empty() || line.trim() == "---" {
            continue;
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        let body = &line[indent..];
        if body.starts_with('\t') {
            return Err(error("indentation must be spaces, not tabs"));
        }
        if body.starts_with("- ") || body == "-" {
            return Err(error(
                "block lists are not supported; write a list as [a, b] or 'a;b'",
            ));
        }
        let Some((key, value)) = split_key(body) else {
            return Err(error("expected 'key: value'"));
        };
        while open.last().is_some_and(|(i, _)| *i >= indent) {
            open.pop();
        }
        if open.is_empty() && indent > 0 && pairs.is_empty() {
            return Err(error("the first key must not be indented"));
        }
        let key = unquote(key.trim()).map_err(|m| error(&m))?;
        let full = match open.last() {
            Some((_, prefix)) => format!("{prefix}.{key}"),
            None => key,
        };
        let value = value.trim();
        if value.is_empty() {
            open.push((indent, full));
            continue;
        }
        if value.starts_with('&')
            || value.starts_with('*')
            || value.starts_with('|')
            || value.starts_with('>')
        {
            return Err(error(
                "anchors, aliases and block scalars are not supported",
            ));
        }
        pairs.push((full, scalar(value).map_err(|m| error(&m))?));
    }
    Ok(pairs)
}

/// `line` without a trailing `# comment` (a `#` inside quotes stays).
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if i == 0 || line[..i].ends_with([' ', '\t']) => return &line[..i],
            _ => {}
        }
    }
    line
}

/// The key and the rest of a `key: value` line.
fn split_key(body: &str) -> Option<(&str, &str)> {
    let mut quote = None;
    for (i, c) in body.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ':') if body[i + 1..].is_empty() || body[i + 1..].starts_with(' ') => {
                return Some((&body[..i], &body[i + 1..]))
            }
            _ => {}
        }
    }
    None
}

/// A scalar or a flow list as a configuration value.
fn scalar(value: &str) -> std::result::Result<String, String> {
    if let Some(inner) = value.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| "a flow list must end with ']'".to_string())?;
        let items = inner
            .split(',')
            .map(|item| unquote(item.trim()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        return Ok(items
            .into_iter()
            .filter(|i| !i.is_empty())
            .collect::<Vec<_>>()
            .join(";"));
    }
    if value.starts_with('{') {
        return Err("flow mappings are not supported; nest the keys".into());
    }
    unquote(value)
}

/// A plain or quoted scalar's text.
fn unquote(text: &str) -> std::result::Result<String, String> {
    if let Some(inner) = text.strip_prefix('\'') {
        let inner = inner
            .strip_suffix('\'')
            .ok_or_else(|| format!("unterminated quote in {text}"))?;
        return Ok(inner.replace("''", "'"));
    }
    if let Some(inner) = text.strip_prefix('"') {
        let inner = inner
            .strip_suffix('"')
            .ok_or_else(|| format!("unterminated quote in {text}"))?;
        return Ok(inner.replace("\\\"", "\"").replace("\\\\", "\\"));
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_closes_by_indentation_and_bad_lines_name_their_line() {
        let text = "a:\n  b:\n    c: 1\n  d: 2\ne: \"x # y\"\nf: [1, 'two']\n";
        assert_eq!(
            parse(text, "f").unwrap(),
            vec![
                ("a.b.c".into(), "1".into()),
                ("a.d".into(), "2".into()),
                ("e".into(), "x # y".into()),
                ("f".into(), "1;two".into()),
            ]
        );
        for (bad, line) in [
            ("a: 1\nb:\n  - x\n", 3),
            ("a 1\n", 1),
            ("a: 'open\n", 1),
            ("a: &anchor 1\n", 1),
            ("a: {b: 1}\n", 1),
        ] {
            let err = parse(bad, "conf/config.yaml").unwrap_err().to_string();
            assert!(
                err.contains(&format!("conf/config.yaml:{line}:")),
                "{bad:?}: {err}"
            );
        }
    }
}
