//! The statements the connector sends, in PostgreSQL's dialect (Flink's
//! `PostgresDialect`): multi-row inserts, upserts on the primary key
//! (`INSERT .. ON CONFLICT (key) DO UPDATE SET`), deletes and selects by key,
//! and range scans.

/// PostgreSQL's limit of parameters per statement.
pub(crate) const MAX_PARAMETERS: usize = 65_535;

/// A table or column name as the statement spells it: as written when it is a
/// plain identifier (so PostgreSQL folds it as Flink's JDBC connector has it
/// folded), quoted otherwise. Dotted names (`schema.table`) are taken part by
/// part.
pub(crate) fn name(identifier: &str) -> String {
    identifier
        .split('.')
        .map(|part| {
            let plain = part
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if plain {
                part.to_string()
            } else {
                format!("\"{}\"", part.replace('"', "\"\""))
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn list(names: &[String]) -> String {
    names.iter().map(|n| name(n)).collect::<Vec<_>>().join(", ")
}

/// `($1, $2), ($3, $4)`: `rows` tuples of `width` parameters.
fn tuples(rows: usize, width: usize) -> String {
    let mut text = String::with_capacity(rows * width * 5);
    for r in 0..rows {
        if r > 0 {
            text.push_str(", ");
        }
        text.push('(');
        for c in 0..width {
            if c > 0 {
                text.push_str(", ");
            }
            text.push_str(&format!("${}", r * width + c + 1));
        }
        text.push(')');
    }
    text
}

/// How many rows of `width` parameters one statement may carry.
pub(crate) fn rows_per_statement(width: usize, wanted: usize) -> usize {
    (MAX_PARAMETERS / width.max(1)).clamp(1, wanted.max(1))
}

/// `INSERT INTO t (a, b) VALUES (..), (..)`.
pub(crate) fn insert(table: &str, columns: &[String], rows: usize) -> String {
    insert_values(table, columns, &tuples(rows, columns.len()))
}

fn insert_values(table: &str, columns: &[String], values: &str) -> String {
    format!(
        "INSERT INTO {} ({}) VALUES {values}",
        name(table),
        list(columns),
    )
}

/// The write of one row of NULLs, to `EXPLAIN` (planning it finds a missing
/// unique constraint on the key without writing anything).
pub(crate) fn probe(table: &str, columns: &[String], keys: &[String]) -> String {
    let nulls = format!("({})", vec!["NULL"; columns.len()].join(", "));
    let insert = insert_values(table, columns, &nulls);
    if keys.is_empty() {
        insert
    } else {
        format!("{insert} {}", on_conflict(columns, keys))
    }
}

/// An insert that updates the row of the same key instead (no two rows of
/// one statement may share a key).
pub(crate) fn upsert(table: &str, columns: &[String], keys: &[String], rows: usize) -> String {
    format!(
        "{} {}",
        insert(table, columns, rows),
        on_conflict(columns, keys)
    )
}

/// `ON CONFLICT (key) DO UPDATE SET ..` (or `DO NOTHING` when every column is the key).
fn on_conflict(columns: &[String], keys: &[String]) -> String {
    let updates: Vec<String> = columns
        .iter()
        .filter(|c| !keys.contains(c))
        .map(|c| format!("{0} = EXCLUDED.{0}", name(c)))
        .collect();
    let action = if updates.is_empty() {
        "DO NOTHING".to_string()
    } else {
        format!("DO UPDATE SET {}", updates.join(", "))
    };
    format!("ON CONFLICT ({}) {action}", list(keys))
}

/// `(k1, k2) IN ((..), (..))`, or `k IN (.., ..)` for one key column.
fn key_match(keys: &[String], rows: usize) -> String {
    if keys.len() == 1 {
        let params: Vec<String> = (1..=rows).map(|i| format!("${i}")).collect();
        format!("{} IN ({})", name(&keys[0]), params.join(", "))
    } else {
        format!("({}) IN ({})", list(keys), tuples(rows, keys.len()))
    }
}

/// Deletes the rows of `rows` keys.
pub(crate) fn delete(table: &str, keys: &[String], rows: usize) -> String {
    format!(
        "DELETE FROM {} WHERE {}",
        name(table),
        key_match(keys, rows)
    )
}

/// Selects `columns` of the rows of `rows` keys.
pub(crate) fn select_by_keys(
    table: &str,
    columns: &[String],
    keys: &[String],
    rows: usize,
) -> String {
    format!(
        "SELECT {} FROM {} WHERE {}",
        list(columns),
        name(table),
        key_match(keys, rows)
    )
}

/// Selects `columns` of the whole table, or of the rows whose `partition`
/// column lies between the two parameters.
pub(crate) fn scan(table: &str, columns: &[String], partition: Option<&str>) -> String {
    let mut text = format!("SELECT {} FROM {}", list(columns), name(table));
    if let Some(column) = partition {
        text.push_str(&format!(" WHERE {} BETWEEN $1 AND $2", name(column)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn statements_read_as_postgres_expects() {
        let columns = names(&["id", "total"]);
        let keys = names(&["id"]);
        assert_eq!(
            upsert("counts", &columns, &keys, 2),
            "INSERT INTO counts (id, total) VALUES ($1, $2), ($3, $4) ON CONFLICT (id) DO UPDATE SET total = EXCLUDED.total"
        );
        assert_eq!(
            upsert("k", &keys, &keys, 1),
            "INSERT INTO k (id) VALUES ($1) ON CONFLICT (id) DO NOTHING"
        );
        assert_eq!(
            delete("counts", &keys, 2),
            "DELETE FROM counts WHERE id IN ($1, $2)"
        );
        assert_eq!(
            select_by_keys("s.t", &columns, &names(&["a", "b"]), 2),
            "SELECT id, total FROM s.t WHERE (a, b) IN (($1, $2), ($3, $4))"
        );
        assert_eq!(
            scan("t", &columns, Some("id")),
            "SELECT id, total FROM t WHERE id BETWEEN $1 AND $2"
        );
        assert_eq!(
            probe("t", &columns, &keys),
            "INSERT INTO t (id, total) VALUES (NULL, NULL) ON CONFLICT (id) DO UPDATE SET total = EXCLUDED.total"
        );
        assert_eq!(name("Order Lines"), "\"Order Lines\"");
        assert_eq!(name("a\"b"), "\"a\"\"b\"");
        assert_eq!(rows_per_statement(3, 100_000), 21_845);
        assert_eq!(rows_per_statement(3, 500), 500);
    }
}
