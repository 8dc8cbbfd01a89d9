//! Test support: [`TestS3`], an S3-compatible server (the `moto` package from
//! PyPI, installed on first use under `~/.cache/eddy-moto`) started on a free
//! port of 127.0.0.1 and stopped, by its PID, on drop.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server package and version the tests use.
pub const SERVER_PACKAGE: &str = "moto[server]==5.2.5";

type TestResult<T> = std::result::Result<T, String>;

/// An S3 server process for one test.
pub struct TestS3 {
    child: Child,
    port: u16,
}

fn cache_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".cache").join("eddy-moto")
}

fn python() -> TestResult<&'static str> {
    ["python3", "python"]
        .into_iter()
        .find(|p| Command::new(p).arg("--version").output().is_ok())
        .ok_or_else(|| "no python3 to run the test S3 server".to_string())
}

/// The directory the server package is installed in, installing it first if
/// needed (into a fresh directory renamed into place, so concurrent tests do not
/// clash).
pub fn server_package() -> TestResult<PathBuf> {
    let target = cache_dir().join("pkg");
    if target.join("moto").join("server.py").exists() {
        return Ok(target);
    }
    std::fs::create_dir_all(cache_dir()).map_err(|e| format!("creating the cache dir: {e}"))?;
    let staging = cache_dir().join(format!("pkg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let output = Command::new(python()?)
        .args(["-m", "pip", "install", "--quiet", "--target"])
        .arg(&staging)
        .arg(SERVER_PACKAGE)
        .output()
        .map_err(|e| format!("running pip: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "pip install {SERVER_PACKAGE} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    if std::fs::rename(&staging, &target).is_err() {
        // Another test installed it meanwhile.
        let _ = std::fs::remove_dir_all(&staging);
    }
    Ok(target)
}

fn free_port() -> TestResult<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding a port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("reading the port: {e}"))
}

impl TestS3 {
    /// Starts a server and waits until it accepts connections.
    pub fn start() -> TestResult<TestS3> {
        let package = server_package()?;
        let port = free_port()?;
        let child = Command::new(python()?)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .env("PYTHONPATH", &package)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting the S3 server: {e}"))?;
        let server = TestS3 { child, port };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "the test S3 server did not listen on port {port} within 60 s"
        ))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The `s3.*` configuration that reaches this server (path-style requests,
    /// any keys).
    pub fn config(&self) -> Vec<(String, String)> {
        vec![
            ("s3.endpoint".into(), self.endpoint()),
            ("s3.access-key".into(), "eddy".into()),
            ("s3.secret-key".into(), "eddy-secret".into()),
            ("s3.path.style.access".into(), "true".into()),
            ("s3.region".into(), "us-east-1".into()),
        ]
    }

    /// Configures this process's S3 file system for this server.
    pub fn configure(&self) {
        let config = self.config();
        crate::configure(config.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }

    /// Creates `bucket` (a name of 3 or more characters).
    pub fn create_bucket(&self, bucket: &str) -> TestResult<()> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))
            .map_err(|e| format!("connecting to the S3 server: {e}"))?;
        use std::io::{Read, Write};
        write!(
            stream,
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .map_err(|e| format!("creating bucket {bucket}: {e}"))?;
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .map_err(|e| format!("creating bucket {bucket}: {e}"))?;
        if answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200") {
            Ok(())
        } else {
            Err(format!(
                "creating bucket {bucket}: {}",
                answer.lines().next().unwrap_or("")
            ))
        }
    }

    /// Kills the server (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        self.kill();
    }
}
