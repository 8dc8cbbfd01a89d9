//! A registered table's `WITH` options, read with the table's name at hand
//! for errors (shared by the `kafka` and `jdbc` tables).

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use eddy_sql::{SqlError, SqlResult};

/// Flink's error for a bad option value.
pub(crate) fn option_error(table: &str, option: &str, message: impl std::fmt::Display) -> SqlError {
    SqlError::new(format!("option '{option}' of table {table}: {message}"))
}

/// A table's options.
pub(crate) struct Options<'a> {
    /// The table's name.
    pub table: &'a str,
    /// Its options.
    pub options: &'a BTreeMap<String, String>,
}

impl Options<'_> {
    /// The option's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }

    /// The option's value, which must be there and not blank.
    pub fn required(&self, key: &str) -> SqlResult<&str> {
        self.get(key)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| SqlError::new(format!("table {} needs the option '{key}'", self.table)))
    }

    /// A number of milliseconds.
    pub fn millis(&self, key: &str) -> SqlResult<i64> {
        let text = self.required(key)?;
        text.trim().parse().map_err(|_| {
            option_error(
                self.table,
                key,
                format!("'{text}' is not a number of milliseconds"),
            )
        })
    }

    /// A number (`what` names its kind for the error), or `default`.
    pub fn number<T: FromStr>(&self, key: &str, what: &str, default: T) -> SqlResult<T> {
        match self.get(key) {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse()
                .map_err(|_| option_error(self.table, key, format!("'{text}' is not {what}"))),
        }
    }

    /// A duration in Flink's notation (`1 s`, `500ms`, `2 min`), or `default`.
    pub fn duration(&self, key: &str, default: Duration) -> SqlResult<Duration> {
        match self.get(key) {
            None => Ok(default),
            Some(text) => {
                eddy::core::time::parse_duration(text).map_err(|e| option_error(self.table, key, e))
            }
        }
    }
}
