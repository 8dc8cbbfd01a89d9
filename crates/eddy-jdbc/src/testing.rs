//! Test support: [`TestPostgres`], a PostgreSQL server of its own for one
//! test (Debian's `postgresql` package, installed with apt-get on first use
//! when missing), initialised in a temporary directory with password
//! authentication, listening on a free port of 127.0.0.1, and stopped by its
//! PID on drop.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::connection::{block_on, connect, ConnectionOptions};

type TestResult<T> = std::result::Result<T, String>;

/// The user every test server has.
pub const USER: &str = "eddy";
/// Its password.
pub const PASSWORD: &str = "eddy-test-secret";

/// A PostgreSQL server for one test.
pub struct TestPostgres {
    child: Child,
    port: u16,
    dir: PathBuf,
}

/// The directory of PostgreSQL's server binaries (the newest installed),
/// installing Debian's package first if there is none.
pub fn server_binaries() -> TestResult<PathBuf> {
    if let Some(path) = std::env::var_os("EDDY_TEST_POSTGRES_BIN") {
        return Ok(PathBuf::from(path));
    }
    if let Some(found) = installed() {
        return Ok(found);
    }
    static INSTALL: Mutex<()> = Mutex::new(());
    let _guard = INSTALL.lock().map_err(|_| "install lock poisoned")?;
    if let Some(found) = installed() {
        return Ok(found);
    }
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q", "postgresql"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
    };
    let mut output = install().map_err(|e| format!("running apt-get: {e}"))?;
    if !output.status.success() {
        let _ = Command::new("apt-get").args(["update", "-q"]).output();
        output = install().map_err(|e| format!("running apt-get: {e}"))?;
    }
    installed().ok_or_else(|| {
        format!(
            "PostgreSQL is not installed and `apt-get install postgresql` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn installed() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// The uid and gid of the `postgres` user, for a server started by root
/// (PostgreSQL refuses to run as root).
fn postgres_user() -> TestResult<Option<(u32, u32)>> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        == Some("0");
    if !root {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| e.to_string())?;
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&"postgres") && fields.len() > 3)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        })
        .map(Some)
        .ok_or_else(|| "running as root, and there is no postgres user to run the server as".into())
}

fn free_port() -> TestResult<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding a port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("reading the port: {e}"))
}

fn as_server_user(command: &mut Command, user: Option<(u32, u32)>) -> &mut Command {
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
    }
    command
}

impl TestPostgres {
    /// Initialises and starts a server, and waits until it accepts the test user.
    pub fn start() -> TestResult<TestPostgres> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let bin = server_binaries()?;
        let user = postgres_user()?;
        let port = free_port()?;
        let dir = std::env::temp_dir().join(format!(
            "eddy-pg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let password_file = dir.join("password");
        std::fs::write(&password_file, PASSWORD).map_err(|e| e.to_string())?;
        if let Some((uid, gid)) = user {
            for path in [&dir, &password_file] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid))
                    .map_err(|e| format!("chown {}: {e}", path.display()))?;
            }
        }
        let output = as_server_user(&mut Command::new(bin.join("initdb")), user)
            .arg("-D")
            .arg(dir.join("data"))
            .args([
                "-U",
                USER,
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .arg(format!("--pwfile={}", password_file.display()))
            .current_dir(&dir)
            .output()
            .map_err(|e| format!("running initdb: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let log = std::fs::File::create(dir.join("server.log")).map_err(|e| e.to_string())?;
        let child = as_server_user(&mut Command::new(bin.join("postgres")), user)
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-p", &port.to_string(), "-k"])
            .arg(&dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting postgres: {e}"))?;
        let server = TestPostgres { child, port, dir };
        server.wait_ready(Duration::from_secs(30))?;
        Ok(server)
    }

    fn wait_ready(&self, timeout: Duration) -> TestResult<()> {
        let started = Instant::now();
        let mut last = String::new();
        while started.elapsed() < timeout {
            match self.execute("SELECT 1") {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        Err(format!(
            "the test server did not accept connections on port {} within {timeout:?} ({last}); its log:\n{log}",
            self.port
        ))
    }

    /// `jdbc:postgresql://127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("jdbc:postgresql://127.0.0.1:{}/postgres", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's directory (data, socket and log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Connection options of the test user.
    pub fn connection(&self) -> ConnectionOptions {
        ConnectionOptions {
            username: Some(USER.into()),
            password: Some(PASSWORD.into()),
            connect_timeout: Duration::from_secs(5),
            ..ConnectionOptions::new(self.url())
        }
    }

    /// Runs `sql` (one or more statements).
    pub fn execute(&self, sql: &str) -> TestResult<()> {
        let options = self.connection();
        block_on(async {
            let client = connect(&options).await.map_err(|e| e.to_string())?;
            client.batch_execute(sql).await.map_err(|e| e.to_string())
        })
        .map_err(|e| e.to_string())?
    }

    /// The rows of `query` as text (`None` for NULL).
    pub fn query(&self, query: &str) -> TestResult<Vec<Vec<Option<String>>>> {
        let options = self.connection();
        block_on(async {
            let client = connect(&options).await.map_err(|e| e.to_string())?;
            let messages = client
                .simple_query(query)
                .await
                .map_err(|e| e.to_string())?;
            Ok(messages
                .into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_string))
                            .collect(),
                    ),
                    _ => None,
                })
                .collect())
        })
        .map_err(|e| e.to_string())?
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        // Immediate shutdown (SIGQUIT), then make sure.
        let _ = Command::new("kill")
            .args(["-QUIT", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
