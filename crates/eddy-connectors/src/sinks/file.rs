//! Writing records as lines of text into part files of a directory, exactly once.
//!
//! Without checkpointing, each subtask writes `.part-<run>-<subtask>-<n>.inprogress`
//! and renames it to `part-<run>-<subtask>-<n>` when its input ends.
//!
//! With checkpointing, the sink is a two-phase commit: rows go to the in-progress
//! file; at a checkpoint barrier the file is closed and renamed to
//! `.part-...pending` (pre-commit, recorded in the checkpoint); when the checkpoint
//! completes, its pending files are renamed to their final names (commit). After a
//! failure, the pending files of the restored checkpoint are committed again
//! (idempotently), and files written after it are discarded. Files whose names start
//! with `.` are never part of the result.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy_core::{Error, Records, Result};
use eddy_runtime::operators::SinkWriter;
use eddy_runtime::OperatorContext;
use serde::{Deserialize, Serialize};

/// What the sink checkpoints: the files pre-committed for each checkpoint.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct SinkState {
    subtask: u32,
    /// The directory the files were written to (a restored job may write elsewhere).
    directory: PathBuf,
    pending: Vec<(u64, Vec<String>)>,
}

/// Writes one line per record into part files of a directory; see the module docs.
pub struct FileSink<T> {
    directory: PathBuf,
    format: Arc<dyn Fn(&T) -> String + Send + Sync>,
    roll_size: u64,
    roll_interval: Option<Duration>,
    run: String,
    subtask: usize,
    part: u64,
    current: Option<(String, BufWriter<File>, u64, Instant)>,
    /// Closed files waiting for the next checkpoint barrier.
    closed: Vec<String>,
    pending: Vec<(u64, Vec<String>)>,
    checkpointing: bool,
    restored: Vec<SinkState>,
    line: String,
}

fn in_progress(name: &str) -> String {
    format!(".{name}.inprogress")
}

fn pending_name(name: &str) -> String {
    format!(".{name}.pending")
}

impl<T> FileSink<T> {
    /// A sink writing `format(record)` lines into `directory`.
    pub fn new(
        directory: impl Into<PathBuf>,
        format: Arc<dyn Fn(&T) -> String + Send + Sync>,
    ) -> Self {
        FileSink {
            directory: directory.into(),
            format,
            roll_size: 128 * 1024 * 1024,
            roll_interval: None,
            run: String::new(),
            subtask: 0,
            part: 0,
            current: None,
            closed: Vec::new(),
            pending: Vec::new(),
            checkpointing: false,
            restored: Vec::new(),
            line: String::new(),
        }
    }

    /// Starts a new part file once the current one holds `bytes`.
    pub fn with_roll_size(mut self, bytes: u64) -> Self {
        self.roll_size = bytes.max(1);
        self
    }

    /// Starts a new part file once the current one is `interval` old.
    pub fn with_rollover_interval(mut self, interval: Duration) -> Self {
        self.roll_interval = Some(interval);
        self
    }

    fn path(&self, name: &str) -> PathBuf {
        self.directory.join(name)
    }

    /// Closes the current in-progress file; with checkpointing it waits for the
    /// next barrier, without it is committed at once.
    fn close_current(&mut self) -> Result<()> {
        let Some((name, mut writer, _, _)) = self.current.take() else {
            return Ok(());
        };
        let path = self.path(&in_progress(&name));
        writer.flush().map_err(|e| Error::io(&path, e))?;
        let file = writer
            .into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        if self.checkpointing {
            let target = self.path(&pending_name(&name));
            fs::rename(&path, &target).map_err(|e| Error::io(&target, e))?;
            self.closed.push(name);
        } else {
            let target = self.path(&name);
            fs::rename(&path, &target).map_err(|e| Error::io(&target, e))?;
        }
        Ok(())
    }

    fn commit(&self, name: &str) -> Result<()> {
        commit_in(&self.directory, name)
    }
    /// Commits the restored checkpoint's pending files of the old subtasks this
    /// subtask is responsible for, and (subtask 0) removes files of failed runs.
    fn recover(&mut self, parallelism: usize) -> Result<()> {
        let mut keep: Vec<String> = Vec::new();
        for state in std::mem::take(&mut self.restored) {
            for (_, names) in &state.pending {
                keep.extend(names.iter().cloned());
                if state.subtask as usize % parallelism == self.subtask {
                    for name in names {
                        commit_in(&state.directory, name)?;
                    }
                }
            }
        }
        if self.subtask == 0 {
            let entries =
                fs::read_dir(&self.directory).map_err(|e| Error::io(&self.directory, e))?;
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().to_string();
                let Some(rest) = file.strip_prefix(".part-") else {
                    continue;
                };
                let name = rest
                    .strip_suffix(".inprogress")
                    .or_else(|| rest.strip_suffix(".pending"))
                    .map(|n| format!("part-{n}"));
                let Some(name) = name else { continue };
                let ours = name.starts_with(&format!("part-{}-", self.run));
                if !ours && !keep.contains(&name) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        Ok(())
    }
}

impl<T: Send + 'static> SinkWriter<T> for FileSink<T> {
    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        fs::create_dir_all(&self.directory).map_err(|e| Error::io(&self.directory, e))?;
        self.subtask = ctx.subtask;
        self.checkpointing = ctx.checkpointing;
        let job_run = ctx
            .config
            .get_str("eddy.internal.run-id")
            .map(str::to_string)
            .unwrap_or_else(|| format!("{:x}", eddy_core::time::now_millis()));
        let restored_from = ctx.restored.as_ref().map_or(0, |r| r.checkpoint_id);
        self.run = format!("{job_run}-{restored_from}");
        if self.checkpointing {
            self.recover(ctx.parallelism.max(1))?;
        }
        Ok(())
    }

    fn write_batch(&mut self, records: Records<T>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        if self.current.as_ref().is_some_and(|(_, _, size, opened)| {
            *size >= self.roll_size || self.roll_interval.is_some_and(|i| opened.elapsed() >= i)
        }) {
            self.close_current()?;
        }
        if self.current.is_none() {
            let name = format!("part-{}-{}-{}", self.run, self.subtask, self.part);
            self.part += 1;
            let path = self.path(&in_progress(&name));
            let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
            self.current = Some((
                name,
                BufWriter::with_capacity(1 << 16, file),
                0,
                Instant::now(),
            ));
        }
        if let Some((name, writer, size, _)) = self.current.as_mut() {
            for record in &records {
                self.line.clear();
                self.line.push_str(&(self.format)(&record.value));
                self.line.push('\n');
                writer
                    .write_all(self.line.as_bytes())
                    .map_err(|e| Error::io(self.directory.join(in_progress(name)), e))?;
                *size += self.line.len() as u64;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        // With checkpointing the final checkpoint pre-commits and commits the rest.
        if !self.checkpointing {
            self.close_current()?;
        }
        Ok(())
    }

    fn snapshot(&mut self, checkpoint_id: u64) -> Result<Vec<u8>> {
        self.close_current()?;
        if !self.closed.is_empty() {
            self.pending
                .push((checkpoint_id, std::mem::take(&mut self.closed)));
        }
        let state = SinkState {
            subtask: self.subtask as u32,
            directory: self.directory.clone(),
            pending: self.pending.clone(),
        };
        postcard::to_stdvec(&state).map_err(Error::state)
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|(id, _)| *id <= checkpoint_id);
        self.pending = waiting;
        for (_, names) in done {
            for name in names {
                self.commit(&name)?;
            }
        }
        Ok(())
    }

    fn restore(&mut self, states: Vec<Vec<u8>>) -> Result<()> {
        for bytes in states.iter().filter(|b| !b.is_empty()) {
            let state: SinkState = postcard::from_bytes(bytes)
                .map_err(|e| Error::state(format!("file sink state cannot be decoded: {e}")))?;
            self.restored.push(state);
        }
        Ok(())
    }
}

/// Renames a pending part file of `directory` to its final name; a file already
/// committed (a retry after a crash) is fine, a missing one is an error.
fn commit_in(directory: &std::path::Path, name: &str) -> Result<()> {
    let from = directory.join(pending_name(name));
    let to = directory.join(name);
    match fs::rename(&from, &to) {
        Ok(()) => Ok(()),
        // Already committed (a retry after a crash between commit and completion).
        Err(_) if to.exists() => Ok(()),
        Err(e) => Err(Error::io(&from, e)),
    }
}
