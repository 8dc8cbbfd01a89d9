//! The process's log files in `env.log.dir`, as the REST API lists and serves
//! them: the JobManager's own, and a TaskManager's, which it reads here and
//! sends to the JobManager over RPC ([`super::messages::ToTaskManager::Logs`]).
//!
//! Only files eddy writes there (`eddy-*.log`, rolled `eddy-*.log.N`) are
//! listed or read; any other name is not found, so a request cannot reach
//! another file of the machine.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use eddy_core::Config;
use serde::{Deserialize, Serialize};

/// Configuration key: the log directory (as `eddy::logging` writes it).
pub const LOG_DIR: &str = "env.log.dir";

/// The most bytes of one file a TaskManager sends to the JobManager: a larger
/// file comes as its last part, from its first whole line.
pub const MAX_REMOTE_BYTES: u64 = 8 << 20;

/// One log file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogFile {
    /// Its name in the log directory.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, in milliseconds since the epoch.
    pub mtime: i64,
}

/// Whether `name` is a log file eddy writes.
pub fn is_log(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("eddy-") else {
        return false;
    };
    let base = match rest.rsplit_once(".log.") {
        Some((base, n)) if n.parse::<u32>().is_ok() => base,
        _ => match rest.strip_suffix(".log") {
            Some(base) => base,
            None => return false,
        },
    };
    !base.is_empty() && !base.contains('/') && !base.contains("..")
}

/// The log files of the process's log directory, by name (none without one).
pub fn list(config: &Config) -> Vec<LogFile> {
    let Some(dir) = config.get_str(LOG_DIR) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<LogFile> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let meta = e.metadata().ok()?;
            let mtime = meta
                .modified()
                .ok()?
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_millis() as i64;
            (is_log(&name) && meta.is_file()).then_some(LogFile {
                name,
                size: meta.len(),
                mtime,
            })
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}

/// The text of log file `name`: with `tail`, its last `tail` bytes from the
/// first whole line in them; at most `max` bytes either way. The error says
/// why the file cannot be read (it is not one of the log files, or reading
/// failed).
pub fn read(config: &Config, name: &str, tail: Option<u64>, max: u64) -> Result<Vec<u8>, String> {
    let known = list(config).into_iter().any(|f| f.name == name);
    let dir = config.get_str(LOG_DIR).map(PathBuf::from);
    let (true, Some(dir)) = (known && is_log(name), dir) else {
        return Err(format!("Log file {name} not found"));
    };
    let unreadable = |e: std::io::Error| format!("Log file {name} cannot be read: {e}");
    let mut file = std::fs::File::open(dir.join(name)).map_err(unreadable)?;
    let size = file.metadata().map_err(unreadable)?.len();
    let tail = tail.unwrap_or(u64::MAX).min(max);
    let start = size.saturating_sub(tail);
    file.seek(SeekFrom::Start(start)).map_err(unreadable)?;
    let mut text = Vec::new();
    file.take(tail).read_to_end(&mut text).map_err(unreadable)?;
    if start > 0 {
        // Start at the first whole line.
        let first = text
            .iter()
            .position(|b| *b == b'\n')
            .map_or(text.len(), |i| i + 1);
        text.drain(..first);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_eddys_log_files_are_served() {
        assert!(is_log("eddy-sql-client-vm.log"));
        assert!(is_log("eddy-local-vm.log.3"));
        assert!(!is_log("eddy-local-vm.log.x"));
        assert!(!is_log("eddy-.log"));
        assert!(!is_log("passwd"));
        assert!(!is_log("eddy-../../etc/passwd.log"));
        assert!(!is_log("other.log"));
    }

    #[test]
    fn a_tail_starts_at_a_whole_line_and_max_caps_it() {
        let dir = tempfile::tempdir().unwrap();
        let text = "first line\nsecond line\nthird line\n";
        std::fs::write(dir.path().join("eddy-tm-vm.log"), text).unwrap();
        std::fs::write(dir.path().join("secret.txt"), "no").unwrap();
        let mut config = Config::new();
        config.set(LOG_DIR, dir.path().display().to_string());
        let names: Vec<String> = list(&config).into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["eddy-tm-vm.log"]);
        let read = |tail, max| read(&config, "eddy-tm-vm.log", tail, max).unwrap();
        assert_eq!(read(None, u64::MAX), text.as_bytes());
        assert_eq!(read(Some(15), u64::MAX), b"third line\n");
        assert_eq!(read(None, 15), b"third line\n");
        assert!(super::read(&config, "secret.txt", None, u64::MAX).is_err());
    }
}
