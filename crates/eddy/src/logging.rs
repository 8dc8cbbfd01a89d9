//! Logs: one file per process, written through `tracing`, rolled by size.
//!
//! With `env.log.dir` set (Flink's key), the process writes its log to
//! `<dir>/eddy-<role>-<host>.log`: job state changes, checkpoints, restores,
//! restarts and failures with their whole cause chain. The level is `RUST_LOG`
//! if set (tracing's filter syntax), else `rootLogger.level` (`INFO` by default,
//! as Flink's log4j configuration names it). A file that reaches
//! [`MAX_FILE_SIZE`] is renamed to `.1` (older ones shift up to
//! [`KEPT_FILES`]) and a new one is started. The REST API lists and serves the
//! files (`/jobmanager/logs`).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use eddy_core::{Config, Error, Result};

/// Configuration key: the directory of the log file.
pub const LOG_DIR: &str = "env.log.dir";
/// Configuration key: the log level (`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`,
/// `OFF`).
pub const LOG_LEVEL: &str = "rootLogger.level";
/// The size at which the log file rolls over.
pub const MAX_FILE_SIZE: u64 = 64 << 20;
/// Rolled files kept beside the current one.
pub const KEPT_FILES: u32 = 5;

/// The log file of this process, once logging was set up.
static LOG_FILE: OnceLock<PathBuf> = OnceLock::new();

/// Sets up this process's log file if `env.log.dir` is set (once per process;
/// later calls return the same path). `role` names the process in the file name
/// (`local` for the embedded runtime).
pub fn init(config: &Config, role: &str) -> Result<Option<PathBuf>> {
    let Some(dir) = config
        .get_str(LOG_DIR)
        .map(str::trim)
        .filter(|d| !d.is_empty())
    else {
        return Ok(None);
    };
    if let Some(path) = LOG_FILE.get() {
        return Ok(Some(path.clone()));
    }
    let filter = filter(config)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::InvalidConfig {
        key: LOG_DIR.into(),
        message: format!("cannot create the log directory '{dir}': {e}"),
    })?;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    let path = Path::new(dir).join(format!("eddy-{role}-{host}.log"));
    let file = RollingFile::open(&path, MAX_FILE_SIZE).map_err(|e| Error::InvalidConfig {
        key: LOG_DIR.into(),
        message: format!("cannot write the log file '{}': {e}", path.display()),
    })?;
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_thread_names(true)
        .with_writer(Mutex::new(file))
        .try_init();
    if installed.is_err() {
        // Another subscriber (a test harness's) owns this process's events.
        return Ok(None);
    }
    let path = LOG_FILE.get_or_init(|| path).clone();
    tracing::info!(
        "eddy {} ({role}) logging to {}",
        env!("CARGO_PKG_VERSION"),
        path.display()
    );
    Ok(Some(path))
}

/// Sets up logging for a cluster process (JobManager, TaskManager): its log
/// file when `env.log.dir` is set, else standard error, so that registrations,
/// lost TaskManagers and failures are always seen.
pub fn init_or_stderr(config: &Config, role: &str) -> Result<Option<PathBuf>> {
    if let Some(path) = init(config, role)? {
        return Ok(Some(path));
    }
    if config
        .get_str(LOG_DIR)
        .is_some_and(|d| !d.trim().is_empty())
    {
        return Ok(None);
    }
    let filter = filter(config)?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
    Ok(None)
}

/// The filter of `RUST_LOG`, else of `rootLogger.level`.
fn filter(config: &Config) -> Result<tracing_subscriber::EnvFilter> {
    let spec = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => spec,
        _ => level(config)?.to_string(),
    };
    tracing_subscriber::EnvFilter::try_new(&spec).map_err(|e| Error::InvalidConfig {
        key: LOG_LEVEL.into(),
        message: format!("'{spec}' is not a log level: {e}"),
    })
}

/// The level `rootLogger.level` names.
fn level(config: &Config) -> Result<&'static str> {
    let value = config.get_str(LOG_LEVEL).unwrap_or("INFO");
    Ok(match value.trim().to_ascii_uppercase().as_str() {
        "TRACE" | "ALL" => "trace",
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" => "warn",
        "ERROR" | "FATAL" => "error",
        "OFF" => "off",
        _ => {
            return Err(Error::InvalidConfig {
                key: LOG_LEVEL.into(),
                message: format!(
                    "'{value}' is not a log level (TRACE, DEBUG, INFO, WARN, ERROR or OFF)"
                ),
            })
        }
    })
}

/// A log file that rolls over by size.
struct RollingFile {
    path: PathBuf,
    file: File,
    size: u64,
    max: u64,
}

impl RollingFile {
    fn open(path: &Path, max: u64) -> io::Result<RollingFile> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(RollingFile {
            path: path.to_path_buf(),
            file,
            size,
            max,
        })
    }

    /// `<file>.1` ... `<file>.KEPT_FILES`, oldest dropped; a new current file.
    fn roll(&mut self) -> io::Result<()> {
        let rolled = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        let _ = std::fs::remove_file(rolled(KEPT_FILES));
        for n in (1..KEPT_FILES).rev() {
            let _ = std::fs::rename(rolled(n), rolled(n + 1));
        }
        std::fs::rename(&self.path, rolled(1))?;
        *self = RollingFile::open(&self.path, self.max)?;
        Ok(())
    }
}

impl Write for RollingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.size > 0 && self.size + buf.len() as u64 > self.max {
            self.roll()?;
        }
        let written = self.file.write(buf)?;
        self.size += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_flinks_names_and_a_bad_one_names_the_key() {
        let mut config = Config::new();
        assert_eq!(level(&config).ok(), Some("info"));
        config.set(LOG_LEVEL, "warn");
        assert_eq!(level(&config).ok(), Some("warn"));
        config.set(LOG_LEVEL, "LOUD");
        let error = level(&config)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains(LOG_LEVEL), "{error}");
    }

    #[test]
    fn a_full_file_rolls_over_and_old_ones_are_dropped() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("eddy-test.log");
        let max = 1000;
        let mut file = RollingFile::open(&path, max)?;
        let line = vec![b'x'; (max / 2 + 1) as usize];
        for _ in 0..(2 * KEPT_FILES + 4) {
            file.write_all(&line)?;
        }
        assert!(path.exists());
        for n in 1..=KEPT_FILES {
            assert!(
                dir.path().join(format!("eddy-test.log.{n}")).exists(),
                "{n}"
            );
        }
        assert!(!dir
            .path()
            .join(format!("eddy-test.log.{}", KEPT_FILES + 1))
            .exists());
        assert!(std::fs::metadata(&path)?.len() <= max);
        Ok(())
    }
}
