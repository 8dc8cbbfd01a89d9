//! Writing records as lines of text into part files of a directory.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

use eddy_core::{Error, Records, Result};
use eddy_runtime::operators::SinkWriter;
use eddy_runtime::OperatorContext;

/// Writes one line per record into part files of a directory. Each subtask writes
/// `.part-<run>-<subtask>-<n>.inprogress` and renames it to `part-<run>-<subtask>-<n>`
/// when its input ends (or when the file exceeds the rolling size), so files whose
/// names start with `.` are never part of the result. `<run>` is unique per job run,
/// so runs into the same directory never overwrite each other.
pub struct FileSink<T> {
    directory: PathBuf,
    format: Arc<dyn Fn(&T) -> String + Send + Sync>,
    roll_size: u64,
    run: String,
    subtask: usize,
    part: u64,
    current: Option<(PathBuf, BufWriter<File>, u64)>,
    line: String,
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
            run: String::new(),
            subtask: 0,
            part: 0,
            current: None,
            line: String::new(),
        }
    }

    /// Starts a new part file once the current one holds `bytes`.
    pub fn with_roll_size(mut self, bytes: u64) -> Self {
        self.roll_size = bytes.max(1);
        self
    }

    fn in_progress_path(&self) -> PathBuf {
        self.directory.join(format!(
            ".part-{}-{}-{}.inprogress",
            self.run, self.subtask, self.part
        ))
    }

    fn final_path(&self) -> PathBuf {
        self.directory
            .join(format!("part-{}-{}-{}", self.run, self.subtask, self.part))
    }

    fn commit_current(&mut self) -> Result<()> {
        if let Some((path, mut writer, _)) = self.current.take() {
            writer.flush().map_err(|e| Error::io(&path, e))?;
            let file = writer
                .into_inner()
                .map_err(|e| Error::io(&path, e.into_error()))?;
            file.sync_all().map_err(|e| Error::io(&path, e))?;
            let target = self.final_path();
            std::fs::rename(&path, &target).map_err(|e| Error::io(&target, e))?;
            self.part += 1;
        }
        Ok(())
    }
}

impl<T: Send + 'static> SinkWriter<T> for FileSink<T> {
    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        std::fs::create_dir_all(&self.directory).map_err(|e| Error::io(&self.directory, e))?;
        self.subtask = ctx.subtask;
        self.run = ctx
            .config
            .get_str("eddy.internal.run-id")
            .map(str::to_string)
            .unwrap_or_else(|| format!("{:x}", eddy_core::time::now_millis()));
        Ok(())
    }

    fn write_batch(&mut self, records: Records<T>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        if self.current.is_none() {
            let path = self.in_progress_path();
            let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
            self.current = Some((path, BufWriter::with_capacity(1 << 16, file), 0));
        }
        if let Some((path, writer, size)) = self.current.as_mut() {
            for record in &records {
                self.line.clear();
                self.line.push_str(&(self.format)(&record.value));
                self.line.push('\n');
                writer
                    .write_all(self.line.as_bytes())
                    .map_err(|e| Error::io(path.as_path(), e))?;
                *size += self.line.len() as u64;
            }
            if *size >= self.roll_size {
                self.commit_current()?;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.commit_current()
    }
}
