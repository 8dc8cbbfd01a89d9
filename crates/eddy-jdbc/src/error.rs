//! The errors of the JDBC connector.

/// What went wrong talking to the database or configuring the connector.
#[derive(Debug, thiserror::Error)]
pub enum JdbcError {
    /// The database or the connection to it failed (unreachable server, wrong
    /// credentials, missing table, rejected statement, ...).
    #[error("JDBC {context}: {message}")]
    Database {
        /// What the connector was doing.
        context: String,
        /// The database's (or the client's) message.
        message: String,
    },
    /// A connector option is missing or has a bad value.
    #[error("JDBC connector option '{option}': {message}")]
    Option {
        /// The option (builder method or SQL option name).
        option: String,
        /// What is wrong.
        message: String,
    },
    /// The table's columns do not fit the database table's.
    #[error("JDBC table {table}: {message}")]
    Schema {
        /// The database table.
        table: String,
        /// What does not fit.
        message: String,
    },
    /// A value could not be converted between eddy and the database.
    #[error("JDBC value of column {column} of table {table}: {message}")]
    Value {
        /// The database table.
        table: String,
        /// The column.
        column: String,
        /// What is wrong.
        message: String,
    },
}

impl JdbcError {
    /// A database error while doing `context`, with the server's detail when
    /// it sent one.
    pub fn database(context: impl Into<String>, error: &tokio_postgres::Error) -> Self {
        let message = match error.as_db_error() {
            Some(db) => {
                let mut message = format!("{}: {}", db.severity(), db.message());
                if let Some(detail) = db.detail() {
                    message.push_str(&format!(" ({detail})"));
                }
                message
            }
            None => {
                let mut message = error.to_string();
                let mut source = std::error::Error::source(error);
                while let Some(s) = source {
                    message.push_str(&format!(": {s}"));
                    source = s.source();
                }
                message
            }
        };
        JdbcError::Database {
            context: context.into(),
            message,
        }
    }

    /// A bad or missing option.
    pub fn option(option: impl Into<String>, message: impl Into<String>) -> Self {
        JdbcError::Option {
            option: option.into(),
            message: message.into(),
        }
    }

    /// Whether retrying may help (the connection broke, or the server is
    /// briefly unavailable), as opposed to an error the statement will hit again.
    pub fn is_transient(&self) -> bool {
        matches!(self, JdbcError::Database { .. })
    }
}

impl From<JdbcError> for eddy_core::Error {
    fn from(error: JdbcError) -> Self {
        eddy_core::Error::External(Box::new(error))
    }
}

/// A result of the JDBC connector.
pub type JdbcResult<T> = std::result::Result<T, JdbcError>;
