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
        /// Whether trying again may succeed (a broken connection, a
        /// serialization failure, a server shutting down), rather than fail the
        /// same way (a bad statement, a violated constraint).
        transient: bool,
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
        // SQLSTATE classes worth a retry: connection exceptions (08),
        // transaction rollbacks (40), insufficient resources (53), operator
        // intervention such as a shutdown (57) and system errors (58).
        let transient = match error.as_db_error() {
            Some(db) => ["08", "40", "53", "57", "58"]
                .iter()
                .any(|class| db.code().code().starts_with(class)),
            None => true,
        };
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
            transient,
        }
    }

    /// A failure of the connector's own machinery (no database involved).
    pub fn internal(context: impl Into<String>, message: impl Into<String>) -> Self {
        JdbcError::Database {
            context: context.into(),
            message: message.into(),
            transient: false,
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
        matches!(
            self,
            JdbcError::Database {
                transient: true,
                ..
            }
        )
    }
}

impl From<JdbcError> for eddy_core::Error {
    fn from(error: JdbcError) -> Self {
        eddy_core::Error::External(Box::new(error))
    }
}

/// A result of the JDBC connector.
pub type JdbcResult<T> = std::result::Result<T, JdbcError>;
