//! `JSON_VALUE`, `JSON_QUERY` and `JSON_EXISTS` with Flink's defaults (lax
//! mode, `NULL ON EMPTY`, `NULL ON ERROR`, `FALSE ON ERROR`, no wrapper), and
//! `JSON_ARRAY` / `JSON_OBJECT` building JSON text (`ABSENT ON NULL` for
//! arrays, `NULL ON NULL` for objects, Flink's defaults).
//!
//! Paths are SQL/JSON paths: `$`, then `.key`, `."quoted key"` and `[index]`
//! steps, after an optional `lax` or `strict`. The document is checked once,
//! then walked as text, so `JSON_QUERY` returns objects with their keys in the
//! document's order (compacted, as Flink writes them).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanBuilder, StringBuilder};
use arrow::datatypes::DataType;
use datafusion_common::Result;
use datafusion_expr::{ScalarUDF, Volatility};

use super::{arity, function, row, strings};

/// One step of a path.
#[derive(Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// The steps of a path, or `None` when it is not one eddy reads.
fn parse_path(path: &str) -> Option<Vec<Step>> {
    let path = path.trim();
    let path = path
        .strip_prefix("lax")
        .or_else(|| path.strip_prefix("strict"))
        .map_or(path, str::trim_start);
    let mut rest = path.strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(".\"") {
            let end = after.find('"')?;
            steps.push(Step::Key(after[..end].to_string()));
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let key = &after[..end];
            if key.is_empty() || key == "*" || key.contains(char::is_whitespace) {
                return None;
            }
            steps.push(Step::Key(key.to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            steps.push(Step::Index(after[..end].trim().parse().ok()?));
            rest = &after[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

/// The raw text `steps` lead to in `doc`, or `None` when it is not there (or
/// `doc` is not JSON).
fn select<'a>(doc: &'a str, steps: &[Step]) -> Option<&'a str> {
    serde_json::from_str::<serde::de::IgnoredAny>(doc).ok()?;
    let mut current = doc.trim();
    for step in steps {
        current = match step {
            Step::Key(key) => member(current, key)?,
            Step::Index(i) => element(current, *i)?,
        };
    }
    Some(current)
}

/// Where the JSON value starting at byte `at` of valid JSON `text` ends.
fn value_end(text: &str, at: usize) -> usize {
    let bytes = text.as_bytes();
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let mut i = at;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => {
                    in_string = false;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth == 0 => return i,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                b',' if depth == 0 => return i,
                _ => {}
            }
        }
        i += 1;
    }
    i
}

/// The values of a JSON object or array (`open` is `{` or `[`), each with its
/// key text for an object, in document order.
fn entries(text: &str, open: u8) -> Option<Vec<(Option<&str>, &str)>> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&open) {
        return None;
    }
    let mut out = Vec::new();
    let mut i = 1;
    loop {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b',') {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] == b'}' || bytes[i] == b']' {
            return Some(out);
        }
        let mut key = None;
        if open == b'{' {
            let end = value_end(text, i);
            key = Some(&text[i..end]);
            i = end;
            while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b':') {
                i += 1;
            }
        }
        let end = value_end(text, i);
        out.push((key, text[i..end].trim()));
        i = end;
    }
}

/// The value of `key` in a JSON object (the last one, as a parser keeps).
fn member<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    entries(text, b'{')?
        .into_iter()
        .rev()
        .find(|(k, _)| {
            k.and_then(|k| serde_json::from_str::<String>(k).ok())
                .as_deref()
                == Some(key)
        })
        .map(|(_, v)| v)
}

/// Element `index` of a JSON array.
fn element(text: &str, index: usize) -> Option<&str> {
    entries(text, b'[')?.get(index).map(|(_, v)| *v)
}

/// `text` without the whitespace between its tokens.
fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// `JSON_VALUE`: a scalar as text (a string without its quotes); objects,
/// arrays, `null` and anything missing give NULL.
fn json_value(doc: &str, steps: &[Step]) -> Option<String> {
    let raw = select(doc, steps)?;
    match raw.as_bytes().first()? {
        b'{' | b'[' | b'n' => None,
        b'"' => serde_json::from_str::<String>(raw).ok(),
        _ => Some(raw.to_string()),
    }
}

/// `JSON_QUERY`: an object or array as compact JSON; scalars give NULL (no
/// wrapper).
fn json_query(doc: &str, steps: &[Step]) -> Option<String> {
    let raw = select(doc, steps)?;
    matches!(raw.as_bytes().first()?, b'{' | b'[').then(|| compact(raw))
}

/// Applies `f` to every (document, path) pair; a path eddy cannot read gives
/// NULL, as an error does.
fn map_json(
    arrays: &[ArrayRef],
    rows: usize,
    f: fn(&str, &[Step]) -> Option<String>,
) -> Result<ArrayRef> {
    let (docs, paths) = (arrays[0].as_string::<i32>(), arrays[1].as_string::<i32>());
    let mut out = StringBuilder::with_capacity(rows, rows * 8);
    let mut parsed: Option<(String, Option<Vec<Step>>)> = None;
    for i in 0..rows {
        let (d, p) = (row(&arrays[0], i), row(&arrays[1], i));
        if docs.is_null(d) || paths.is_null(p) {
            out.append_null();
            continue;
        }
        let path = paths.value(p);
        if parsed.as_ref().is_none_or(|(text, _)| text != path) {
            parsed = Some((path.to_string(), parse_path(path)));
        }
        match parsed.as_ref().and_then(|(_, s)| s.as_ref()) {
            Some(steps) => out.append_option(f(docs.value(d), steps)),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn json_exists(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let (docs, paths) = (arrays[0].as_string::<i32>(), arrays[1].as_string::<i32>());
    let mut out = BooleanBuilder::with_capacity(rows);
    for i in 0..rows {
        let (d, p) = (row(&arrays[0], i), row(&arrays[1], i));
        if docs.is_null(d) || paths.is_null(p) {
            out.append_null();
            continue;
        }
        let found =
            parse_path(paths.value(p)).is_some_and(|steps| select(docs.value(d), &steps).is_some());
        out.append_value(found);
    }
    Ok(Arc::new(out.finish()))
}

/// `x IS JSON kind`, as Flink: whether the text starts with a JSON value of
/// the kind (`VALUE`: any; `SCALAR`: not an array or object); NULL is not
/// JSON (false, never NULL).
fn is_json(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let (docs, kinds) = (arrays[0].as_string::<i32>(), arrays[1].as_string::<i32>());
    let mut out = BooleanBuilder::with_capacity(rows);
    for i in 0..rows {
        let (d, k) = (row(&arrays[0], i), row(&arrays[1], i));
        if docs.is_null(d) || kinds.is_null(k) {
            out.append_value(false);
            continue;
        }
        // The first value decides, as Jackson's reading of a tree does.
        let first = serde_json::Deserializer::from_str(docs.value(d))
            .into_iter::<serde::de::IgnoredAny>()
            .next();
        let valid = matches!(first, Some(Ok(_)));
        let text = docs.value(d).trim_start();
        let fits = match kinds.value(k) {
            "SCALAR" => !text.starts_with(['[', '{']),
            "ARRAY" => text.starts_with('['),
            "OBJECT" => text.starts_with('{'),
            _ => true,
        };
        out.append_value(valid && fits);
    }
    Ok(Arc::new(out.finish()))
}

/// Value `i` of `array` as JSON text: numbers and booleans as themselves,
/// the result of another JSON_OBJECT or JSON_ARRAY (`raw`) as the JSON it is,
/// any other value as a string of its SQL text; `None` for NULL.
fn json_of(array: &ArrayRef, i: usize, raw: bool) -> Option<String> {
    use arrow::datatypes::DataType as D;
    if array.is_null(i) {
        return None;
    }
    let text = crate::connectors::format::cell(array, i)?;
    let as_is = match array.data_type() {
        D::Boolean => true,
        D::Int8
        | D::Int16
        | D::Int32
        | D::Int64
        | D::UInt8
        | D::UInt16
        | D::UInt32
        | D::UInt64
        | D::Float32
        | D::Float64
        | D::Decimal128(..) => serde_json::from_str::<serde_json::Number>(&text).is_ok(),
        _ => raw && serde_json::from_str::<serde_json::Value>(&text).is_ok(),
    };
    Some(if as_is {
        if matches!(array.data_type(), D::Boolean) {
            text.to_ascii_lowercase()
        } else {
            text
        }
    } else {
        serde_json::Value::String(text).to_string()
    })
}

/// `JSON_ARRAY(v, ...)`: the non-null values as a JSON array.
fn json_array(arrays: &[ArrayRef], raw: &[bool], rows: usize, absent: bool) -> Result<ArrayRef> {
    let mut out = StringBuilder::new();
    for i in 0..rows {
        let values: Vec<String> = arrays
            .iter()
            .zip(raw)
            .filter_map(|(a, raw)| match json_of(a, row(a, i), *raw) {
                None if !absent => Some("null".to_string()),
                value => value,
            })
            .collect();
        out.append_value(format!("[{}]", values.join(",")));
    }
    Ok(Arc::new(out.finish()))
}

/// `JSON_OBJECT(k VALUE v, ...)`, planned as `json_object(k, v, ...)`: the
/// pairs in their order as a JSON object, NULL values as `null`; a NULL key
/// is an error.
fn json_object(arrays: &[ArrayRef], raw: &[bool], rows: usize, absent: bool) -> Result<ArrayRef> {
    let mut out = StringBuilder::new();
    for i in 0..rows {
        let mut members = Vec::with_capacity(arrays.len() / 2);
        for (pair, raw) in arrays.chunks(2).zip(raw.chunks(2)) {
            let (key, value) = (&pair[0], &pair[1]);
            if key.is_null(row(key, i)) {
                return datafusion_common::exec_err!("JSON_OBJECT: a key is NULL");
            }
            let name = crate::connectors::format::cell(key, row(key, i)).unwrap_or_default();
            let value = match json_of(value, row(value, i), raw[1]) {
                Some(value) => value,
                None if absent => continue,
                None => "null".into(),
            };
            members.push(format!("{}:{value}", serde_json::Value::String(name)));
        }
        out.append_value(format!("{{{}}}", members.join(",")));
    }
    Ok(Arc::new(out.finish()))
}

/// The field metadata marking the result of JSON_OBJECT / JSON_ARRAY, so that
/// an enclosing one takes it as JSON rather than as a string.
const JSON_MARK: &str = "eddy.json";

/// `JSON_OBJECT` or `JSON_ARRAY`, with their default `ON NULL` clause
/// (`NULL ON NULL` for objects, `ABSENT ON NULL` for arrays) or the other one
/// (planned under [`ABSENT_ON_NULL`] / [`NULL_ON_NULL`] names).
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonBuilder {
    object: bool,
    /// NULL values are left out (`ABSENT ON NULL`) rather than written.
    absent: bool,
    signature: datafusion_expr::Signature,
}

/// The name `JSON_OBJECT(.. ABSENT ON NULL)` is planned under.
pub const ABSENT_ON_NULL: &str = "json_object_absent_on_null";

/// The name `JSON_ARRAY(.. NULL ON NULL)` is planned under.
pub const NULL_ON_NULL: &str = "json_array_null_on_null";

impl JsonBuilder {
    fn new(object: bool, absent: bool) -> Self {
        JsonBuilder {
            object,
            absent,
            signature: datafusion_expr::Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl datafusion_expr::ScalarUDFImpl for JsonBuilder {
    fn name(&self) -> &str {
        match (self.object, self.absent) {
            (true, false) => "json_object",
            (true, true) => ABSENT_ON_NULL,
            (false, true) => "json_array",
            (false, false) => NULL_ON_NULL,
        }
    }
    fn signature(&self) -> &datafusion_expr::Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn return_field_from_args(
        &self,
        args: datafusion_expr::ReturnFieldArgs,
    ) -> Result<arrow::datatypes::FieldRef> {
        if self.object && !args.arg_fields.len().is_multiple_of(2) {
            return datafusion_common::plan_err!(
                "JSON_OBJECT takes KEY k VALUE v pairs, not {} arguments",
                args.arg_fields.len()
            );
        }
        let mark = std::collections::HashMap::from([(JSON_MARK.to_string(), "true".to_string())]);
        Ok(Arc::new(
            arrow::datatypes::Field::new(self.name(), DataType::Utf8, false).with_metadata(mark),
        ))
    }
    fn invoke_with_args(
        &self,
        args: datafusion_expr::ScalarFunctionArgs,
    ) -> Result<datafusion_expr::ColumnarValue> {
        let raw: Vec<bool> = args
            .arg_fields
            .iter()
            .map(|f| f.metadata().contains_key(JSON_MARK))
            .collect();
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, datafusion_expr::ColumnarValue::Scalar(_)));
        let arrays = datafusion_expr::ColumnarValue::values_to_arrays(&args.args)?;
        let rows = if scalar { 1 } else { args.number_rows };
        let out = if self.object {
            json_object(&arrays, &raw, rows, self.absent)?
        } else {
            json_array(&arrays, &raw, rows, self.absent)?
        };
        Ok(if scalar {
            datafusion_expr::ColumnarValue::Scalar(datafusion_common::ScalarValue::try_from_array(
                &out, 0,
            )?)
        } else {
            datafusion_expr::ColumnarValue::Array(out)
        })
    }
}

/// The JSON functions.
pub(super) fn functions() -> Vec<Arc<ScalarUDF>> {
    use Volatility::Immutable;
    vec![
        Arc::new(ScalarUDF::new_from_impl(JsonBuilder::new(false, true))),
        Arc::new(ScalarUDF::new_from_impl(JsonBuilder::new(false, false))),
        Arc::new(ScalarUDF::new_from_impl(JsonBuilder::new(true, false))),
        Arc::new(ScalarUDF::new_from_impl(JsonBuilder::new(true, true))),
        function(
            "json_value",
            Immutable,
            DataType::Utf8,
            |t| {
                arity("JSON_VALUE", t, 2..=2)?;
                Ok(strings(t))
            },
            |a, n| map_json(a, n, json_value),
        ),
        function(
            "json_query",
            Immutable,
            DataType::Utf8,
            |t| {
                arity("JSON_QUERY", t, 2..=2)?;
                Ok(strings(t))
            },
            |a, n| map_json(a, n, json_query),
        ),
        function(
            "is_json",
            Immutable,
            DataType::Boolean,
            |t| {
                arity("IS JSON", t, 2..=2)?;
                Ok(strings(t))
            },
            is_json,
        ),
        function(
            "json_exists",
            Immutable,
            DataType::Boolean,
            |t| {
                arity("JSON_EXISTS", t, 2..=2)?;
                Ok(strings(t))
            },
            json_exists,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_keys_quoted_keys_and_indexes_or_nothing() {
        assert_eq!(
            parse_path("lax $.a.\"b c\"[2].d"),
            Some(vec![
                Step::Key("a".into()),
                Step::Key("b c".into()),
                Step::Index(2),
                Step::Key("d".into())
            ])
        );
        assert_eq!(parse_path("$"), Some(vec![]));
        for bad in ["a.b", "$.", "$.a[x]", "$.*", "$[*]", "$.a b"] {
            assert_eq!(parse_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn values_and_queries_as_flink_returns_them() {
        let doc = r#"{"a": {"b": [10, 20, {"c": "x \" y"}]}, "n": null, "f": 1.50}"#;
        let path = |p: &str| parse_path(p).unwrap();
        assert_eq!(json_value(doc, &path("$.a.b[1]")).as_deref(), Some("20"));
        assert_eq!(
            json_value(doc, &path("$.a.b[2].c")).as_deref(),
            Some("x \" y")
        );
        assert_eq!(json_value(doc, &path("$.f")).as_deref(), Some("1.50"));
        assert_eq!(json_value(doc, &path("$.n")), None);
        assert_eq!(json_value(doc, &path("$.a")), None);
        assert_eq!(json_value("not json", &path("$")), None);
        assert_eq!(
            json_query(doc, &path("$.a.b")).as_deref(),
            Some(r#"[10,20,{"c":"x \" y"}]"#)
        );
        assert_eq!(json_query(doc, &path("$.f")), None);
    }
}
