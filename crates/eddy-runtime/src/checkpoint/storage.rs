//! Checkpoint files: one state file per operator subtask, then `_metadata`, written
//! last and atomically. Every file carries a CRC-32 of its payload; a missing,
//! truncated or corrupt file makes the whole checkpoint invalid, and restore falls
//! back to the previous complete one.
//!
//! Layout (see `docs/checkpoint-format.md`; [`super::runs`] owns the run
//! directories and their `_job` records):
//!
//! ```text
//! <checkpoint dir>/<job id>/_job
//! <checkpoint dir>/<job id>/chk-<id>/_metadata
//! <checkpoint dir>/<job id>/chk-<id>/<uid>-<subtask>.state
//! <savepoint dir>/savepoint-<job>-<id>-<timestamp>/...   (same files)
//! ```
//!
//! Every path may be local or in an object store (`s3://bucket/...`): all file
//! access goes through [`eddy_fs`].

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use eddy_core::{Error, KeyGroupRange, Result};
use serde::{Deserialize, Serialize};

use super::{CompletedCheckpoint, OperatorEntry, OperatorSubtaskState};
use crate::operator::OperatorSnapshot;

const STATE_MAGIC: &[u8; 8] = b"EDDYST\x00\x01";
const METADATA_MAGIC: &[u8; 8] = b"EDDYMD\x00\x01";
/// The version of the metadata and state file format written. Version 2 added the
/// job id, the lineage and the job's operators to `_metadata`; version 1 files
/// still restore (without them).
pub const FORMAT_VERSION: u32 = 2;
/// The name of the metadata file.
pub const METADATA_FILE: &str = "_metadata";

/// One operator subtask's entry in `_metadata`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubtaskEntry {
    /// The operator uid.
    pub uid: String,
    /// The subtask index.
    pub subtask: u32,
    /// The operator's parallelism at the checkpoint.
    pub parallelism: u32,
    /// The job's number of key groups.
    pub max_parallelism: u32,
    /// The key groups the subtask owned (inclusive).
    pub key_groups: [u32; 2],
    /// The state file, relative to the checkpoint directory.
    pub file: String,
    /// The state file's payload size.
    pub size: u64,
    /// The CRC-32 of the state file's payload.
    pub crc32: u32,
    /// Whether the file holds keyed state or timers, split by key group on
    /// restore. Metadata written before this field existed reads as `true`.
    #[serde(default = "assumed")]
    pub keyed: bool,
    /// Whether the file holds operator state, which every subtask receives on
    /// restore. Metadata written before this field existed reads as `true`.
    #[serde(default = "assumed")]
    pub operator: bool,
}

fn assumed() -> bool {
    true
}

impl SubtaskEntry {
    /// The entry of `state`, written to `file` with `size` payload bytes and
    /// checksum `crc32`.
    pub fn of(state: &OperatorSubtaskState, file: String, size: u64, crc32: u32) -> Self {
        SubtaskEntry {
            uid: state.uid.clone(),
            subtask: state.subtask,
            parallelism: state.parallelism,
            max_parallelism: state.max_parallelism,
            key_groups: [state.key_group_range.start, state.key_group_range.end],
            file,
            size,
            crc32,
            keyed: state.snapshot.keyed.is_some() || !state.snapshot.timers.is_empty(),
            operator: !state.snapshot.operator.is_empty(),
        }
    }
}

/// The contents of `_metadata`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The file format version.
    pub format_version: u32,
    /// The job name.
    pub job: String,
    /// The id of the run that took it (format 2).
    #[serde(default)]
    pub job_id: String,
    /// The run's lineage (format 2; see [`CompletedCheckpoint::lineage`]).
    #[serde(default)]
    pub lineage: String,
    /// Every operator of the job, with or without state (format 2).
    #[serde(default)]
    pub operators: Vec<OperatorEntry>,
    /// The checkpoint id.
    pub checkpoint_id: u64,
    /// When the checkpoint was triggered.
    pub timestamp: i64,
    /// Whether this is a savepoint.
    pub is_savepoint: bool,
    /// One entry per operator subtask.
    pub subtasks: Vec<SubtaskEntry>,
}

/// A file name made of the characters of `name` that are safe in paths.
pub fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() {
        "job".into()
    } else {
        s
    }
}

/// The directory of checkpoint `id` in the directory of a run.
pub fn checkpoint_dir(run_dir: &Path, id: u64) -> PathBuf {
    run_dir.join(format!("chk-{id}"))
}

fn framed(magic: &[u8; 8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 20);
    out.extend_from_slice(magic);
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

fn unframe<'a>(magic: &[u8; 8], bytes: &'a [u8], path: &Path) -> Result<&'a [u8]> {
    let corrupt = |what: &str| Error::State(format!("{}: {what}", path.display()));
    if bytes.len() < 20 || &bytes[..8] != magic {
        return Err(corrupt("not an eddy checkpoint file (bad header)"));
    }
    let crc = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[12..20]);
    let len = u64::from_le_bytes(len) as usize;
    let payload = &bytes[20..];
    if payload.len() != len {
        return Err(corrupt(&format!(
            "truncated: expected {len} bytes of payload, found {}",
            payload.len()
        )));
    }
    if crc32fast::hash(payload) != crc {
        return Err(corrupt("checksum mismatch"));
    }
    Ok(payload)
}

/// Writes `snapshot` into the state file `path`, framed as [`framed`] does, without
/// holding its encoding in memory: the payload streams through a CRC to the file,
/// then the header's CRC and length are filled in. Returns the payload's size and
/// CRC. In an object store the file is one object, framed in memory.
pub(crate) fn write_state_file(path: &Path, snapshot: &OperatorSnapshot) -> Result<(u64, u32)> {
    if eddy_fs::is_remote(path) {
        let payload = postcard::to_stdvec(snapshot).map_err(Error::state)?;
        let crc = crc32fast::hash(&payload);
        eddy_fs::write(path, &framed(STATE_MAGIC, &payload)).map_err(|e| Error::io(path, e))?;
        return Ok((payload.len() as u64, crc));
    }
    let mut file = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut header = [0u8; 20];
    header[..8].copy_from_slice(STATE_MAGIC);
    file.write_all(&header).map_err(|e| Error::io(path, e))?;
    // Buffered before the checksum: postcard writes a byte at a time.
    let mut out = BufWriter::with_capacity(
        1 << 20,
        Crc32Writer {
            inner: file,
            crc: crc32fast::Hasher::new(),
            len: 0,
            error: None,
        },
    );
    let written = match postcard::to_io(snapshot, &mut out) {
        Ok(_) => out.flush().map_err(|e| Error::io(path, e)),
        Err(e) => Err(Error::state(e)),
    };
    let (out, _) = out.into_parts();
    if let Err(e) = written {
        return Err(match out.error {
            Some(io) => Error::io(path, io),
            None => e,
        });
    }
    let (crc, len, mut file) = (out.crc.finalize(), out.len, out.inner);
    file.seek(SeekFrom::Start(8))
        .and_then(|_| file.write_all(&crc.to_le_bytes()))
        .and_then(|_| file.write_all(&len.to_le_bytes()))
        .and_then(|_| file.sync_all())
        .map_err(|e| Error::io(path, e))?;
    Ok((len, crc))
}

/// A writer that counts and checksums what passes through it, and keeps the first
/// I/O error (the serializer reports only that writing failed).
struct Crc32Writer<W> {
    inner: W,
    crc: crc32fast::Hasher,
    len: u64,
    error: Option<std::io::Error>,
}

impl<W: Write> Write for Crc32Writer<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self.inner.write(bytes) {
            Ok(n) => {
                self.crc.update(&bytes[..n]);
                self.len += n as u64;
                Ok(n)
            }
            Err(e) => {
                let kind = e.kind();
                self.error.get_or_insert(e);
                Err(kind.into())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a completed checkpoint into `dir`: every state file, then `_metadata`
/// through a temporary name, fsync and rename. (A running job's tasks write their
/// own state files, see [`super::store`], and the coordinator only the metadata.)
pub fn write(dir: &Path, job: &str, job_id: &str, checkpoint: &CompletedCheckpoint) -> Result<()> {
    eddy_fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut subtasks = Vec::with_capacity(checkpoint.states.len());
    for state in &checkpoint.states {
        let file = format!("{}-{}.state", slug(&state.uid), state.subtask);
        let (size, crc32) = write_state_file(&dir.join(&file), &state.snapshot)?;
        subtasks.push(SubtaskEntry::of(state, file, size, crc32));
    }
    write_metadata(dir, &Metadata::of(job, job_id, checkpoint, subtasks))
}

impl Metadata {
    /// The metadata of `checkpoint` (its states are described by `subtasks`).
    pub fn of(
        job: &str,
        job_id: &str,
        checkpoint: &CompletedCheckpoint,
        subtasks: Vec<SubtaskEntry>,
    ) -> Self {
        Metadata {
            format_version: FORMAT_VERSION,
            job: job.to_string(),
            job_id: job_id.to_string(),
            lineage: checkpoint.lineage.clone(),
            operators: checkpoint.operators.clone(),
            checkpoint_id: checkpoint.id,
            timestamp: checkpoint.timestamp,
            is_savepoint: checkpoint.is_savepoint,
            subtasks,
        }
    }
}

/// Writes `_metadata` into `dir` (whose state files are written) so that it
/// appears whole or not at all (locally through a temporary name, fsync and
/// rename; in an object store as one object).
pub fn write_metadata(dir: &Path, metadata: &Metadata) -> Result<()> {
    eddy_fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let json = serde_json::to_vec_pretty(metadata).map_err(|e| Error::State(e.to_string()))?;
    let target = dir.join(METADATA_FILE);
    eddy_fs::write_atomic(&target, &framed(METADATA_MAGIC, &json))
        .map_err(|e| Error::io(&target, e))
}

/// Reads and verifies a checkpoint or savepoint; `path` is its directory or its
/// `_metadata` file. Any missing, truncated or corrupt file is an error naming it.
pub fn read(path: &Path) -> Result<CompletedCheckpoint> {
    let (dir, metadata) = read_metadata(path)?;
    let mut states = Vec::with_capacity(metadata.subtasks.len());
    for entry in &metadata.subtasks {
        states.push(OperatorSubtaskState {
            uid: entry.uid.clone(),
            subtask: entry.subtask,
            parallelism: entry.parallelism,
            max_parallelism: entry.max_parallelism,
            key_group_range: KeyGroupRange::new(entry.key_groups[0], entry.key_groups[1]),
            snapshot: read_state_file(&dir.join(&entry.file), entry.crc32)?,
        });
    }
    Ok(CompletedCheckpoint {
        id: metadata.checkpoint_id,
        timestamp: metadata.timestamp,
        is_savepoint: metadata.is_savepoint,
        states,
        lineage: metadata.lineage,
        operators: metadata.operators,
    })
}

/// Reads and verifies one state file against the checksum `_metadata` gives it.
pub fn read_state_file(file: &Path, crc32: u32) -> Result<OperatorSnapshot> {
    let bytes = eddy_fs::read(file).map_err(|e| Error::io(file, e))?;
    let payload = unframe(STATE_MAGIC, &bytes, file)?;
    if crc32fast::hash(payload) != crc32 {
        return Err(Error::State(format!(
            "{}: does not match the checksum in _metadata",
            file.display()
        )));
    }
    postcard::from_bytes(payload).map_err(|e| Error::State(format!("{}: {e}", file.display())))
}

/// Reads and verifies the `_metadata` of a checkpoint or savepoint (`path` is its
/// directory or the file itself), without its state files; returns the
/// checkpoint's directory too.
pub fn read_metadata(path: &Path) -> Result<(PathBuf, Metadata)> {
    let dir = if path.file_name().is_some_and(|n| n == METADATA_FILE) {
        path.parent().unwrap_or(Path::new(".")).to_path_buf()
    } else {
        path.to_path_buf()
    };
    let metadata_path = dir.join(METADATA_FILE);
    let bytes = eddy_fs::read(&metadata_path).map_err(|e| Error::io(&metadata_path, e))?;
    let json = unframe(METADATA_MAGIC, &bytes, &metadata_path)?;
    let metadata: Metadata = serde_json::from_slice(json)
        .map_err(|e| Error::State(format!("{}: {e}", metadata_path.display())))?;
    if !(1..=FORMAT_VERSION).contains(&metadata.format_version) {
        return Err(Error::State(format!(
            "{}: format version {} is not supported (this eddy reads 1 to {FORMAT_VERSION})",
            metadata_path.display(),
            metadata.format_version
        )));
    }
    Ok((dir, metadata))
}

/// The checkpoint directories of a run, newest first.
pub fn list(run_dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut found: Vec<(u64, PathBuf)> = eddy_fs::list(run_dir)
        .into_iter()
        .flatten()
        .filter(|e| e.is_dir)
        .filter_map(|e| {
            let id = e.name.strip_prefix("chk-")?.parse().ok()?;
            Some((id, run_dir.join(&e.name)))
        })
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    found
}

/// The newest checkpoint of a run with an id of at most `at_most` that reads
/// back completely, and a message for every newer one that was skipped (missing
/// or corrupt files).
pub fn latest(
    run_dir: &Path,
    at_most: u64,
) -> (Option<(PathBuf, CompletedCheckpoint)>, Vec<String>) {
    let mut skipped = Vec::new();
    for (_, dir) in list(run_dir).into_iter().filter(|(id, _)| *id <= at_most) {
        match read(&dir) {
            Ok(checkpoint) => return (Some((dir, checkpoint)), skipped),
            Err(e) => skipped.push(format!("skipping checkpoint {}: {e}", dir.display())),
        }
    }
    (None, skipped)
}

/// Keeps the newest `keep` complete checkpoints of a run and deletes the others,
/// including incomplete ones older than the newest complete one. Returns how many
/// complete checkpoints the run holds.
pub fn prune(run_dir: &Path, keep: usize) -> usize {
    let mut complete = 0;
    for (_, dir) in list(run_dir) {
        let is_complete = eddy_fs::exists(&dir.join(METADATA_FILE));
        if is_complete && complete < keep {
            complete += 1;
            continue;
        }
        if complete > 0 {
            let _ = eddy_fs::remove_dir_all(&dir);
        }
    }
    complete
}

/// Deletes every checkpoint of a run (retention on cancellation, or a finished
/// job), keeping the run's record.
pub fn delete_all(run_dir: &Path) {
    for (_, dir) in list(run_dir) {
        let _ = eddy_fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn checkpoint(id: u64) -> CompletedCheckpoint {
        CompletedCheckpoint {
            id,
            timestamp: 7,
            is_savepoint: false,
            states: vec![OperatorSubtaskState {
                uid: "window/count".into(),
                subtask: 0,
                parallelism: 1,
                max_parallelism: 128,
                key_group_range: KeyGroupRange::new(0, 127),
                snapshot: OperatorSnapshot {
                    keyed: None,
                    timers: vec![(0, vec![1, 2, 3])],
                    operator: vec![9; 100],
                    deferred_keyed: None,
                },
            }],
            lineage: "0badcafe".into(),
            operators: vec![OperatorEntry {
                uid: "window/count".into(),
                parallelism: 1,
                source: false,
            }],
        }
    }

    #[test]
    fn round_trip_and_fallback_on_corruption() {
        let base = tempfile::tempdir().unwrap();
        for id in 1..=3 {
            write(
                &checkpoint_dir(base.path(), id),
                "job",
                "id",
                &checkpoint(id),
            )
            .unwrap();
        }
        let (found, skipped) = latest(base.path(), u64::MAX);
        assert_eq!(found.unwrap().1, checkpoint(3));
        assert!(skipped.is_empty());

        // Flip a byte in the newest state file: checksum mismatch, fall back to 2.
        let state = checkpoint_dir(base.path(), 3).join("window-count-0.state");
        let mut bytes = fs::read(&state).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&state, bytes).unwrap();
        let (found, skipped) = latest(base.path(), u64::MAX);
        assert_eq!(found.unwrap().1.id, 2);
        assert!(skipped[0].contains("checksum mismatch"), "{skipped:?}");

        // Truncate the metadata of 2 and remove a state file of... fall back to 1.
        let meta = checkpoint_dir(base.path(), 2).join(METADATA_FILE);
        let bytes = fs::read(&meta).unwrap();
        fs::write(&meta, &bytes[..bytes.len() / 2]).unwrap();
        let (found, skipped) = latest(base.path(), u64::MAX);
        assert_eq!(found.unwrap().1.id, 1);
        assert!(skipped[1].contains("truncated"), "{skipped:?}");

        fs::remove_file(checkpoint_dir(base.path(), 1).join("window-count-0.state")).unwrap();
        let (found, skipped) = latest(base.path(), u64::MAX);
        assert!(found.is_none());
        assert_eq!(skipped.len(), 3);
    }

    #[test]
    fn prune_keeps_the_newest() {
        let base = tempfile::tempdir().unwrap();
        for id in 1..=4 {
            write(&checkpoint_dir(base.path(), id), "j", "id", &checkpoint(id)).unwrap();
        }
        fs::create_dir_all(checkpoint_dir(base.path(), 5)).unwrap(); // in progress
        assert_eq!(prune(base.path(), 2), 2);
        let ids: Vec<u64> = list(base.path()).into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, vec![5, 4, 3]);
    }
}
