//! Connecting to PostgreSQL: Flink's `jdbc:postgresql://host:port/database`
//! URLs, credentials, one shared I/O runtime for every connection of the
//! process, and the columns of a database table.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls};

use crate::error::{JdbcError, JdbcResult};

/// Where and as whom to connect (Flink's `url`, `username`, `password`).
#[derive(Clone, Debug)]
pub struct ConnectionOptions {
    /// `jdbc:postgresql://host[:port][,host2[:port2]]/database[?user=..&password=..]`.
    pub url: String,
    /// The user (`username`; overrides one in the URL).
    pub username: Option<String>,
    /// The password (`password`; overrides one in the URL).
    pub password: Option<String>,
    /// How long to wait for a connection (`connection.max-retry-timeout`, 60 s).
    pub connect_timeout: Duration,
}

impl ConnectionOptions {
    /// Options for `url` with no credentials and the default timeout.
    pub fn new(url: impl Into<String>) -> Self {
        ConnectionOptions {
            url: url.into(),
            username: None,
            password: None,
            connect_timeout: Duration::from_secs(60),
        }
    }

    /// The client configuration the URL and credentials describe.
    pub fn client_config(&self) -> JdbcResult<tokio_postgres::Config> {
        let bad = |message: &str| {
            JdbcError::option(
                "url",
                format!(
                    "{message} in '{}' (expected jdbc:postgresql://host:port/database)",
                    self.url
                ),
            )
        };
        let rest = self
            .url
            .strip_prefix("jdbc:postgresql://")
            .or_else(|| self.url.strip_prefix("postgresql://"))
            .or_else(|| self.url.strip_prefix("postgres://"))
            .ok_or_else(|| {
                if self.url.starts_with("jdbc:") {
                    bad("eddy's JDBC connector speaks to PostgreSQL only")
                } else {
                    bad("not a JDBC URL")
                }
            })?;
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (hosts, database) = location.split_once('/').unwrap_or((location, ""));
        let mut config = tokio_postgres::Config::new();
        if hosts.is_empty() {
            return Err(bad("no host"));
        }
        for host in hosts.split(',') {
            let (name, port) = match host.rsplit_once(':') {
                Some((name, port)) => (
                    name,
                    port.parse::<u16>()
                        .map_err(|_| bad(&format!("bad port '{port}'")))?,
                ),
                None => (host, 5432),
            };
            config.host(name).port(port);
        }
        if !database.is_empty() {
            config.dbname(database);
        }
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "user" => {
                    config.user(value);
                }
                "password" => {
                    config.password(value);
                }
                "ApplicationName" | "applicationName" => {
                    config.application_name(value);
                }
                "connectTimeout" => {
                    let seconds: u64 = value
                        .parse()
                        .map_err(|_| bad(&format!("bad connectTimeout '{value}'")))?;
                    config.connect_timeout(Duration::from_secs(seconds));
                }
                "sslmode" if matches!(value, "disable" | "allow" | "prefer") => {}
                "sslmode" => return Err(bad("TLS connections are not supported yet (sslmode)")),
                // Other pgjdbc parameters tune the Java driver; they have no meaning here.
                _ => {}
            }
        }
        if let Some(user) = &self.username {
            config.user(user);
        }
        if let Some(password) = &self.password {
            config.password(password);
        }
        if config.get_user().is_none() {
            return Err(JdbcError::option(
                "username",
                "no user (set 'username', or user= in the URL)",
            ));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(self.connect_timeout);
        }
        Ok(config)
    }

    /// `host:port/database` of the URL, for messages (never the password).
    pub fn describe(&self) -> String {
        let rest = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, r)| r);
        rest.split('?').next().unwrap_or(rest).to_string()
    }
}

/// The runtime running every connection of the process (one I/O thread; the
/// tasks wait on it with [`block_on`]).
pub(crate) fn runtime() -> JdbcResult<&'static Runtime> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("eddy-jdbc")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| JdbcError::internal("starting the I/O runtime", e.clone()))
}

/// Wakes a thread parked in [`block_on`].
struct Unpark(std::thread::Thread);

impl std::task::Wake for Unpark {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to completion on the calling thread, with [`runtime`] as the
/// context for its I/O and timers. A task thread may itself belong to another
/// runtime (e.g. a TaskManager's blocking pool), where that runtime's
/// `block_on` is refused; this works from any thread.
///
/// The future runs unconstrained by tokio's cooperative budget: the task
/// thread may be a worker of another runtime, whose exhausted budget would
/// defer the future's wake-up to that runtime's next turn, which never comes
/// while this thread waits here.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> JdbcResult<F::Output> {
    let _context = runtime()?.enter();
    let mut future = std::pin::pin!(tokio::task::unconstrained(future));
    let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    loop {
        match std::future::Future::poll(future.as_mut(), &mut cx) {
            std::task::Poll::Ready(output) => return Ok(output),
            std::task::Poll::Pending => std::thread::park(),
        }
    }
}

/// Opens a connection, whose I/O runs on [`runtime`].
pub(crate) async fn connect(options: &ConnectionOptions) -> JdbcResult<Client> {
    let config = options.client_config()?;
    let context = || format!("connecting to {}", options.describe());
    let (client, connection) =
        match tokio::time::timeout(options.connect_timeout, config.connect(NoTls)).await {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(JdbcError::database(context(), &e)),
            Err(_) => {
                return Err(JdbcError::Database {
                    context: context(),
                    message: format!("no connection within {:?}", options.connect_timeout),
                    transient: true,
                })
            }
        };
    tokio::spawn(async move {
        // Errors surface on the client's next request.
        let _ = connection.await;
    });
    Ok(client)
}

/// A column of a database table.
#[derive(Clone, Debug)]
pub(crate) struct DbColumn {
    /// Its name, as the database spells it.
    pub name: String,
    /// Its type.
    pub ty: Type,
}

/// The columns of `table`, in the database's order.
pub(crate) async fn table_columns(client: &Client, table: &str) -> JdbcResult<Vec<DbColumn>> {
    let statement = client
        .prepare(&format!(
            "SELECT * FROM {} LIMIT 0",
            crate::dialect::name(table)
        ))
        .await
        .map_err(|e| JdbcError::database(format!("reading the columns of table {table}"), &e))?;
    Ok(statement
        .columns()
        .iter()
        .map(|c| DbColumn {
            name: c.name().to_string(),
            ty: c.type_().clone(),
        })
        .collect())
}

/// The database column for eddy's column `name`: the same name, or the same
/// name in another case (PostgreSQL folds unquoted names to lower case).
pub(crate) fn find_column<'a>(columns: &'a [DbColumn], name: &str) -> Option<&'a DbColumn> {
    columns
        .iter()
        .find(|c| c.name == name)
        .or_else(|| columns.iter().find(|c| c.name.eq_ignore_ascii_case(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_as_flink_writes_them() {
        let mut options = ConnectionOptions::new("jdbc:postgresql://127.0.0.1:5433/shop?user=a");
        let config = options.client_config().expect("valid");
        assert_eq!(config.get_ports(), &[5433]);
        assert_eq!(config.get_dbname(), Some("shop"));
        assert_eq!(config.get_user(), Some("a"));
        options.username = Some("b".into());
        assert_eq!(
            options.client_config().expect("valid").get_user(),
            Some("b")
        );
        assert_eq!(options.describe(), "127.0.0.1:5433/shop");
        let default_port = ConnectionOptions {
            username: Some("u".into()),
            ..ConnectionOptions::new("jdbc:postgresql://db/x")
        };
        assert_eq!(
            default_port.client_config().expect("valid").get_ports(),
            &[5432]
        );
    }

    #[test]
    fn bad_urls_name_the_option() {
        for url in [
            "jdbc:mysql://h/db?user=a",
            "http://h/db",
            "jdbc:postgresql://h:port/db?user=a",
            "jdbc:postgresql:///db?user=a",
            "jdbc:postgresql://h/db?user=a&sslmode=require",
        ] {
            let e = ConnectionOptions::new(url).client_config().expect_err(url);
            assert!(e.to_string().contains("'url'"), "{url}: {e}");
        }
        let e = ConnectionOptions::new("jdbc:postgresql://h/db")
            .client_config()
            .expect_err("no user");
        assert!(e.to_string().contains("username"), "{e}");
    }
}
