//! The SQL client's informational statements: `SHOW FUNCTIONS`, `SHOW CATALOGS`,
//! `SHOW DATABASES`, `SHOW CURRENT CATALOG|DATABASE`, `SHOW CREATE TABLE|VIEW`
//! and `HELP`. eddy has one catalog and one database, named as Flink names its
//! defaults.

use crate::catalog::Catalog;
use crate::error::{SqlError, SqlResult};
use crate::exec::changelog::RowKind;
use crate::session::Output;
use crate::types::sql_name;

/// The one catalog's name.
pub const CATALOG: &str = "default_catalog";
/// The one database's name.
pub const DATABASE: &str = "default_database";

/// A one-column table of `values`.
fn column(name: &str, values: impl IntoIterator<Item = String>) -> Output {
    Output::Rows {
        columns: vec![name.to_string()],
        rows: values
            .into_iter()
            .map(|v| (RowKind::Insert, vec![Some(v)]))
            .collect(),
        changelog: false,
    }
}

/// `SHOW FUNCTIONS`: every function the planner knows, sorted.
pub fn functions() -> Output {
    let registry = crate::functions::registry();
    let mut names: Vec<String> = registry
        .scalars
        .keys()
        .chain(registry.aggregates.keys())
        .chain(registry.windows.keys())
        .map(|n| n.to_ascii_uppercase())
        .collect();
    names.sort();
    names.dedup();
    column("function name", names)
}

/// `SHOW CATALOGS`, `SHOW DATABASES`, `SHOW CURRENT CATALOG|DATABASE`.
pub fn namespace(words: &[&str]) -> Option<Output> {
    Some(match words {
        ["SHOW", "CATALOGS"] => column("catalog name", [CATALOG.to_string()]),
        ["SHOW", "DATABASES"] => column("database name", [DATABASE.to_string()]),
        ["SHOW", "CURRENT", "CATALOG"] => column("current catalog name", [CATALOG.to_string()]),
        ["SHOW", "CURRENT", "DATABASE"] => column("current database name", [DATABASE.to_string()]),
        _ => return None,
    })
}

fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `SHOW CREATE TABLE t` / `SHOW CREATE VIEW v`: the statement that creates it.
pub fn create_statement(catalog: &Catalog, text: &str) -> SqlResult<Output> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let (kind, name) = match words.as_slice() {
        [_, _, kind, name] => (kind.to_ascii_uppercase(), name.trim_matches('`')),
        _ => {
            return Err(SqlError::new(
                "expected SHOW CREATE TABLE <name> or SHOW CREATE VIEW <name>",
            ))
        }
    };
    let ddl = match kind.as_str() {
        "TABLE" => {
            let table = catalog
                .tables
                .get(name)
                .ok_or_else(|| SqlError::new(format!("Table '{name}' was not found")))?;
            let mut lines: Vec<String> = Vec::new();
            for (i, field) in table.schema.fields().iter().enumerate() {
                let line = match table.computed_text.get(i).and_then(Option::as_ref) {
                    Some(expr) => format!("  {} AS {expr}", quote(field.name())),
                    None => {
                        let null = if field.is_nullable() { "" } else { " NOT NULL" };
                        format!(
                            "  {} {}{null}",
                            quote(field.name()),
                            sql_name(field.data_type())
                        )
                    }
                };
                lines.push(line);
            }
            if let Some(w) = &table.watermark {
                let column = table.schema.field(w.column).name();
                lines.push(format!("  WATERMARK FOR {} AS {}", quote(column), w.text));
            }
            if !table.primary_key.is_empty() {
                let keys: Vec<String> = table.primary_key.iter().map(|k| quote(k)).collect();
                lines.push(format!("  PRIMARY KEY ({}) NOT ENFORCED", keys.join(", ")));
            }
            let options: Vec<String> = table
                .options
                .iter()
                .map(|(k, v)| format!("  {} = {}", literal(k), literal(v)))
                .collect();
            format!(
                "CREATE TABLE {}.{}.{} (\n{}\n) WITH (\n{}\n)\n",
                quote(CATALOG),
                quote(DATABASE),
                quote(name),
                lines.join(",\n"),
                options.join(",\n")
            )
        }
        "VIEW" => {
            let view = catalog
                .views
                .get(name)
                .ok_or_else(|| SqlError::new(format!("View '{name}' was not found")))?;
            format!(
                "CREATE VIEW {}.{}.{} AS\n{}\n",
                quote(CATALOG),
                quote(DATABASE),
                quote(name),
                view.query.trim()
            )
        }
        other => {
            return Err(SqlError::new(format!(
                "SHOW CREATE {other} is not supported; use TABLE or VIEW"
            )))
        }
    };
    Ok(Output::Text(ddl))
}

/// `HELP`: the statements the client takes.
pub fn help() -> Output {
    let rows = [
        ("CLEAR", "Clears the terminal."),
        ("HELP", "Prints the available commands."),
        ("QUIT/EXIT", "Quits the SQL shell."),
        (
            "SET",
            "Sets a session property: SET 'key' = 'value'. Lists them without arguments.",
        ),
        ("RESET", "Resets a session property: RESET 'key'."),
        (
            "CREATE TABLE / VIEW",
            "Creates a table (WITH connector options) or a view.",
        ),
        ("DROP TABLE / VIEW", "Drops a table or a view."),
        (
            "SHOW TABLES / VIEWS / FUNCTIONS",
            "Lists tables, views or functions.",
        ),
        (
            "SHOW CATALOGS / DATABASES",
            "Lists the catalog and the database (one each).",
        ),
        (
            "SHOW CREATE TABLE / VIEW",
            "Prints the statement that creates a table or view.",
        ),
        ("DESCRIBE", "Describes a table's columns."),
        ("EXPLAIN", "Prints the plan of a query."),
        (
            "SELECT",
            "Runs a query and shows its rows (or changelog) as they come.",
        ),
        (
            "INSERT INTO",
            "Submits a job writing into a table; prints its job id.",
        ),
        (
            "EXECUTE STATEMENT SET",
            "Submits several INSERTs as one job.",
        ),
        ("SHOW JOBS", "Lists the jobs of this process."),
        (
            "STOP JOB",
            "STOP JOB '<id>' [WITH SAVEPOINT] [WITH DRAIN]: stops a job.",
        ),
    ];
    Output::Rows {
        columns: vec!["command".into(), "description".into()],
        rows: rows
            .iter()
            .map(|(c, d)| {
                (
                    RowKind::Insert,
                    vec![Some(c.to_string()), Some(d.to_string())],
                )
            })
            .collect(),
        changelog: false,
    }
}
