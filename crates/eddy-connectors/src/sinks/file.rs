//! Writing records into part files of a directory, exactly once: as lines of
//! text, or in a bulk format ([`PartFormat`], e.g. Parquet), rolled at every
//! checkpoint.
//!
//! Part files are named `part-<lineage>-<attempt>-<subtask>-<n>`: the lineage of
//! the run (see [`eddy_runtime::RunContext`]), the run and attempt that wrote it,
//! the subtask, and a counter. Files whose names start with `.` are never part of
//! the result.
//!
//! Without checkpointing, each subtask writes `.part-...inprogress` and renames it
//! to `part-...` when its input ends.
//!
//! The directory may be in an object store (`s3://bucket/prefix`, see
//! [`eddy_fs`]). There the in-progress file is written in a local staging
//! directory; at the barrier it is uploaded as the parts of a multipart upload
//! of its final name, not completed (pre-commit: the upload's id and parts go
//! into the checkpoint); the checkpoint's completion completes the upload
//! (commit), and the object appears whole. A completion retried after a crash
//! finds the object and leaves it. Uploads of attempts that failed before
//! their checkpoint stay incomplete and invisible; as with Flink, a bucket
//! lifecycle rule that aborts incomplete multipart uploads reclaims them.
//!
//! With checkpointing, the sink is a two-phase commit: rows go to the in-progress
//! file; at a checkpoint barrier the file is closed and renamed to
//! `.part-...pending` (pre-commit, recorded in the checkpoint); when the checkpoint
//! completes, its pending files are renamed to their final names (commit).
//!
//! Recovery keeps the committed output exactly that of the restored checkpoint.
//! The sink's state at a checkpoint records, for every attempt of the lineage that
//! wrote into the directory, how many part files each of its subtasks had closed:
//! those files are the output up to that checkpoint. On restore, the pending files
//! of the checkpoint are committed again (idempotently); the lineage's files beyond
//! it (written after the checkpoint, even if a newer checkpoint that later proved
//! corrupt had committed them) are moved into `.discarded/`, so the replay does not
//! write them twice; uncommitted files of failed attempts are deleted. A start from
//! the beginning in the same lineage (`-s latest` with no checkpoint left) sets
//! aside everything the lineage had committed.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy_core::{Error, Records, Result};
use eddy_fs::multipart::PendingUpload;
use eddy_runtime::operators::SinkWriter;
use eddy_runtime::OperatorContext;
use serde::{Deserialize, Serialize};

use super::part::{LineParts, PartFormat, PartWriter};

/// What the sink checkpoints: the files pre-committed for each checkpoint, and
/// how far every attempt of the lineage had written.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct SinkState {
    subtask: u32,
    /// The directory the files were written to (a restored job may write elsewhere).
    directory: PathBuf,
    pending: Vec<(u64, Vec<String>)>,
    /// The lineage the files belong to.
    lineage: String,
    /// `(attempt, subtask, files)`: the attempt's subtask had closed `files` part
    /// files (counters `0..files`) by this checkpoint.
    written: Vec<(String, u32, u64)>,
    /// `(name, upload id, part ids)`: the pending files that are multipart
    /// uploads (in an object store).
    uploads: Vec<(String, String, Vec<String>)>,
}

/// The state before multipart uploads.
#[derive(Deserialize)]
struct SinkStateV2 {
    subtask: u32,
    directory: PathBuf,
    pending: Vec<(u64, Vec<String>)>,
    lineage: String,
    written: Vec<(String, u32, u64)>,
}

impl From<SinkStateV2> for SinkState {
    fn from(v2: SinkStateV2) -> Self {
        SinkState {
            subtask: v2.subtask,
            directory: v2.directory,
            pending: v2.pending,
            lineage: v2.lineage,
            written: v2.written,
            uploads: Vec::new(),
        }
    }
}

/// The state of checkpoint format 1, before lineages: it restores with no
/// history, so no file of the older runs is ever set aside.
#[derive(Deserialize)]
struct SinkStateV1 {
    subtask: u32,
    directory: PathBuf,
    pending: Vec<(u64, Vec<String>)>,
}

impl From<SinkStateV1> for SinkState {
    fn from(v1: SinkStateV1) -> Self {
        SinkState {
            subtask: v1.subtask,
            directory: v1.directory,
            pending: v1.pending,
            ..SinkState::default()
        }
    }
}

/// The parts of a part file's name.
#[derive(Debug, PartialEq, Eq)]
struct PartName<'a> {
    lineage: &'a str,
    attempt: &'a str,
    subtask: u32,
    counter: u64,
}

impl<'a> PartName<'a> {
    /// Parses `part-<lineage>-<attempt>-<subtask>-<n>`.
    fn parse(name: &'a str) -> Option<Self> {
        let mut parts = name.strip_prefix("part-")?.split('-');
        let (lineage, attempt, subtask, counter) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(PartName {
            lineage,
            attempt,
            subtask: subtask.parse().ok()?,
            counter: counter.parse().ok()?,
        })
    }
}

/// The committed name behind a file of the directory, and whether the file is
/// committed (`false`: in progress or pending).
fn committed_name(file: &str) -> Option<(String, bool)> {
    if file.starts_with("part-") {
        return Some((file.to_string(), true));
    }
    let rest = file.strip_prefix(".part-")?;
    let name = rest
        .strip_suffix(".inprogress")
        .or_else(|| rest.strip_suffix(".pending"))?;
    Some((format!("part-{name}"), false))
}

/// The directory committed files beyond a restored checkpoint are moved into.
const DISCARDED: &str = ".discarded";

/// Writes records into part files of a directory; see the module docs.
pub struct FileSink<T> {
    directory: PathBuf,
    /// How records are written into a part file.
    parts: PartFormat<T>,
    roll_size: u64,
    roll_interval: Option<Duration>,
    /// `<lineage>-<attempt>`: the name prefix of this attempt's files.
    run: String,
    lineage: String,
    attempt: String,
    subtask: usize,
    part: u64,
    /// What earlier attempts of the lineage had written (from the restored state).
    inherited: Vec<(String, u32, u64)>,
    current: Option<OpenPart<T>>,
    /// Closed files waiting for the next checkpoint barrier.
    closed: Vec<String>,
    pending: Vec<(u64, Vec<String>)>,
    checkpointing: bool,
    restored: Vec<SinkState>,
    /// Where in-progress files are written when the directory is in an object
    /// store.
    staging: Option<PathBuf>,
    /// The pending files that are multipart uploads not completed yet.
    uploads: BTreeMap<String, PendingUpload>,
}

/// The part file being written: its name, writer, size so far and opening time.
struct OpenPart<T> {
    name: String,
    writer: Box<dyn PartWriter<T>>,
    size: u64,
    opened: Instant,
}

fn in_progress(name: &str) -> String {
    format!(".{name}.inprogress")
}

fn pending_name(name: &str) -> String {
    format!(".{name}.pending")
}

impl FileSink<String> {
    /// A sink writing each record as it is, followed by a line ending (a
    /// record may hold several lines).
    pub fn of_lines(directory: impl Into<PathBuf>) -> Self {
        FileSink::with_parts(directory, LineParts::text())
    }
}

impl<T: Send + 'static> FileSink<T> {
    /// A sink writing `format(record)` lines into `directory`.
    pub fn new(
        directory: impl Into<PathBuf>,
        format: Arc<dyn Fn(&T) -> String + Send + Sync>,
    ) -> Self {
        FileSink::with_parts(directory, LineParts::format(format))
    }
}

impl<T> FileSink<T> {
    /// A sink writing part files of `parts` into `directory`.
    pub fn with_parts(directory: impl Into<PathBuf>, parts: PartFormat<T>) -> Self {
        FileSink {
            directory: directory.into(),
            parts,
            roll_size: 128 * 1024 * 1024,
            roll_interval: None,
            run: String::new(),
            lineage: String::new(),
            attempt: String::new(),
            subtask: 0,
            part: 0,
            inherited: Vec::new(),
            current: None,
            closed: Vec::new(),
            pending: Vec::new(),
            checkpointing: false,
            restored: Vec::new(),
            staging: None,
            uploads: BTreeMap::new(),
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

    /// Where the in-progress file of part `name` is written.
    fn in_progress_path(&self, name: &str) -> PathBuf {
        match &self.staging {
            Some(staging) => staging.join(name),
            None => self.path(&in_progress(name)),
        }
    }

    /// Closes the current in-progress file; with checkpointing it waits for the
    /// next barrier, without it is committed at once.
    fn close_current(&mut self) -> Result<()> {
        let Some(OpenPart { name, writer, .. }) = self.current.take() else {
            return Ok(());
        };
        let path = self.in_progress_path(&name);
        let file = writer.finish().map_err(|e| Error::io(&path, e))?;
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        drop(file);
        if self.staging.is_some() {
            let target = self.path(&name);
            if self.checkpointing {
                let upload = eddy_fs::multipart::upload_pending(&path, &target)
                    .map_err(|e| Error::io(&target, e))?;
                self.uploads.insert(name.clone(), upload);
            } else {
                eddy_fs::multipart::upload(&path, &target).map_err(|e| Error::io(&target, e))?;
            }
            let _ = std::fs::remove_file(&path);
        } else {
            let target = if self.checkpointing {
                self.path(&pending_name(&name))
            } else {
                self.path(&name)
            };
            eddy_fs::rename(&path, &target).map_err(|e| Error::io(&target, e))?;
        }
        if self.checkpointing {
            self.closed.push(name);
        }
        Ok(())
    }

    fn commit(&mut self, name: &str) -> Result<()> {
        match self.uploads.remove(name) {
            Some(upload) => complete_upload(&self.directory, name, &upload),
            None => commit_in(&self.directory, name),
        }
    }
    /// Commits the restored checkpoint's pending files of the old subtasks this
    /// subtask is responsible for; subtask 0 also sets aside the lineage's files
    /// beyond the checkpoint and deletes uncommitted files of failed attempts.
    fn recover(&mut self, parallelism: usize) -> Result<()> {
        let mut keep: Vec<String> = Vec::new();
        let mut written: BTreeMap<(String, u32), u64> = BTreeMap::new();
        for state in std::mem::take(&mut self.restored) {
            for (attempt, subtask, files) in &state.written {
                let entry = written.entry((attempt.clone(), *subtask)).or_default();
                *entry = (*entry).max(*files);
            }
            let uploads: BTreeMap<&String, PendingUpload> = state
                .uploads
                .iter()
                .map(|(name, id, parts)| {
                    let upload = PendingUpload {
                        upload_id: id.clone(),
                        parts: parts.clone(),
                    };
                    (name, upload)
                })
                .collect();
            for (_, names) in &state.pending {
                keep.extend(names.iter().cloned());
                if state.subtask as usize % parallelism == self.subtask {
                    for name in names {
                        match uploads.get(name) {
                            Some(upload) => complete_upload(&state.directory, name, upload)?,
                            None => commit_in(&state.directory, name)?,
                        }
                    }
                }
            }
        }
        if self.subtask == 0 {
            self.clean_directory(&keep, &written)?;
            // Subtask 0 carries the lineage's history on into its checkpoints.
            self.inherited = written
                .into_iter()
                .map(|((attempt, subtask), files)| (attempt, subtask, files))
                .collect();
        }
        Ok(())
    }

    /// Sets aside the lineage's committed files that the restored state does not
    /// cover and deletes uncommitted files of other attempts; see the module docs.
    fn clean_directory(
        &self,
        keep: &[String],
        written: &BTreeMap<(String, u32), u64>,
    ) -> Result<()> {
        let entries = eddy_fs::list(&self.directory).map_err(|e| Error::io(&self.directory, e))?;
        let mut discarded = Vec::new();
        for entry in entries.into_iter().filter(|e| !e.is_dir) {
            let file = entry.name;
            let path = self.directory.join(&file);
            let Some((name, committed)) = committed_name(&file) else {
                continue;
            };
            let part = PartName::parse(&name);
            if let Some(part) = &part {
                if part.lineage == self.lineage && part.attempt == self.attempt {
                    continue; // this attempt's own files, being written now
                }
            }
            if !committed {
                if !keep.contains(&name) {
                    let _ = eddy_fs::remove_file(&path);
                }
                continue;
            }
            let Some(part) = part.filter(|p| p.lineage == self.lineage) else {
                continue; // another job's output
            };
            let covered = written
                .get(&(part.attempt.to_string(), part.subtask))
                .is_some_and(|files| part.counter < *files);
            if !covered {
                let aside = self.directory.join(DISCARDED);
                eddy_fs::create_dir_all(&aside).map_err(|e| Error::io(&aside, e))?;
                let target = aside.join(&file);
                eddy_fs::rename(&path, &target).map_err(|e| Error::io(&target, e))?;
                discarded.push(file);
            }
        }
        if !discarded.is_empty() {
            discarded.sort();
            eprintln!(
                "eddy: file sink {}: {} part file(s) committed after the restored checkpoint \
                 moved to {} (the replay writes their records again): {}",
                self.directory.display(),
                discarded.len(),
                self.directory.join(DISCARDED).display(),
                discarded.join(", ")
            );
        }
        Ok(())
    }
}

impl<T: Send + 'static> SinkWriter<T> for FileSink<T> {
    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        eddy_fs::create_dir_all(&self.directory).map_err(|e| Error::io(&self.directory, e))?;
        self.subtask = ctx.subtask;
        self.checkpointing = ctx.checkpointing;
        self.lineage = ctx.run.lineage.clone();
        self.attempt = ctx.run.attempt_name();
        self.run = format!("{}-{}", self.lineage, self.attempt);
        if eddy_fs::is_remote(&self.directory) {
            remove_dead_staging();
            let staging = std::env::temp_dir().join(format!(
                "{STAGING}{}-{}-{}",
                std::process::id(),
                self.run,
                self.subtask
            ));
            std::fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
            self.staging = Some(staging);
        }
        if self.checkpointing {
            self.recover(ctx.parallelism.max(1))?;
        }
        Ok(())
    }

    fn write_batch(&mut self, records: Records<T>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        if self.current.as_ref().is_some_and(|part| {
            part.size >= self.roll_size
                || self
                    .roll_interval
                    .is_some_and(|i| part.opened.elapsed() >= i)
        }) {
            self.close_current()?;
        }
        if self.current.is_none() {
            let name = format!("part-{}-{}-{}", self.run, self.subtask, self.part);
            self.part += 1;
            let path = self.in_progress_path(&name);
            let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
            let writer = (self.parts)(file).map_err(|e| Error::io(&path, e))?;
            self.current = Some(OpenPart {
                name,
                writer,
                size: 0,
                opened: Instant::now(),
            });
        }
        let Some(part) = self.current.as_mut() else {
            return Ok(());
        };
        match part.writer.write(&records) {
            Ok(bytes) => {
                part.size += bytes;
                Ok(())
            }
            Err(e) => {
                let name = part.name.clone();
                Err(Error::io(self.in_progress_path(&name), e))
            }
        }
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
        let mut written = self.inherited.clone();
        written.push((self.attempt.clone(), self.subtask as u32, self.part));
        let state = SinkState {
            subtask: self.subtask as u32,
            directory: self.directory.clone(),
            pending: self.pending.clone(),
            lineage: self.lineage.clone(),
            written,
            uploads: self
                .uploads
                .iter()
                .map(|(name, u)| (name.clone(), u.upload_id.clone(), u.parts.clone()))
                .collect(),
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
                .or_else(|_| postcard::from_bytes::<SinkStateV2>(bytes).map(SinkState::from))
                .or_else(|_| postcard::from_bytes::<SinkStateV1>(bytes).map(SinkState::from))
                .map_err(|e| Error::state(format!("file sink state cannot be decoded: {e}")))?;
            self.restored.push(state);
        }
        Ok(())
    }
}

/// The name prefix of staging directories, followed by the process id.
const STAGING: &str = "eddy-staging-";

/// Removes the staging directories of processes that are gone (killed before
/// they could remove their own): their in-progress files are replayed anyway.
fn remove_dead_staging() {
    // Only where a process's liveness shows in /proc.
    if !cfg!(target_os = "linux") {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(STAGING)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl<T> Drop for FileSink<T> {
    fn drop(&mut self) {
        if let Some(staging) = &self.staging {
            let _ = std::fs::remove_dir_all(staging);
        }
    }
}

/// Completes the multipart upload of part file `name` of `directory` (done
/// before is fine).
fn complete_upload(directory: &Path, name: &str, upload: &PendingUpload) -> Result<()> {
    let target = directory.join(name);
    eddy_fs::multipart::complete(&target, upload).map_err(|e| Error::io(&target, e))
}

/// Renames a pending part file of `directory` to its final name; a file already
/// committed (a retry after a crash) is fine, a missing one is an error.
fn commit_in(directory: &Path, name: &str) -> Result<()> {
    let from = directory.join(pending_name(name));
    let to = directory.join(name);
    match eddy_fs::rename(&from, &to) {
        Ok(()) => Ok(()),
        // Already committed (a retry after a crash between commit and completion).
        Err(_) if eddy_fs::exists(&to) => {
            // A copy in an object store may have stopped before deleting the source.
            let _ = eddy_fs::remove_file(&from);
            Ok(())
        }
        Err(e) => Err(Error::io(&from, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_parse_back() {
        assert_eq!(
            PartName::parse("part-0a1b2c3d-9f8e7d6cx2-3-17"),
            Some(PartName {
                lineage: "0a1b2c3d",
                attempt: "9f8e7d6cx2",
                subtask: 3,
                counter: 17
            })
        );
        assert_eq!(PartName::parse("part-a-b-c"), None);
        assert_eq!(PartName::parse("part-a-b-1-2-3"), None);
        assert_eq!(
            committed_name(".part-a-b-1-2.pending"),
            Some(("part-a-b-1-2".into(), false))
        );
        assert_eq!(
            committed_name("part-a-b-1-2"),
            Some(("part-a-b-1-2".into(), true))
        );
        assert_eq!(committed_name("_SUCCESS"), None);
    }
}
