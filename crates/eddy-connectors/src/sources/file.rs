//! A bounded source reading text files line by line.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::{Context, Poll};

use eddy_core::config::options;
use eddy_core::{Error, Records, Result, StreamRecord};
use eddy_runtime::{OperatorContext, SourceEvent, SourceReader};

use super::splits::{self, Position, Split, DONE};
use super::SkippedLines;

/// One line of a text file and where it came from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TextLine {
    /// The file.
    pub path: Arc<str>,
    /// The line number, starting at 1.
    pub line_number: u64,
    /// The line, without its line ending.
    pub text: String,
}

impl TextLine {
    /// `path:line`, for error messages.
    pub fn location(&self) -> String {
        format!("{}:{}", self.path, self.line_number)
    }
}

/// Reads a file, or every file under a directory (recursively, sorted by path,
/// skipping names that start with `.` or `_`; see [`list_files`](super::list_files)),
/// line by line. Files larger than the split size (`source.file.split-size`,
/// [`DEFAULT_SPLIT_SIZE`](super::splits::DEFAULT_SPLIT_SIZE) bytes by default) are read in byte
/// ranges, and the splits of all files are dealt to the subtasks in turn
/// ([`splits`](super::splits)). A missing path or an
/// unreadable file fails the job with an error naming the path; a line that
/// is not UTF-8 fails it naming the file and line (or,
/// [`with_skipped_lines`](TextFileSource::with_skipped_lines), is skipped and
/// counted). A UTF-8 byte order mark at the start of a file is not part of
/// its first line.
///
/// Its checkpointed position is the byte offset and line number reached in every
/// split, so a restore (at any parallelism) continues each split exactly where it
/// stopped.
pub struct TextFileSource {
    path: PathBuf,
    /// Set by [`TextFileSource::with_split_size`], else `source.file.split-size`.
    split_size: Option<u64>,
    splits: Vec<Split>,
    current: Option<Reading>,
    next_split: usize,
    batch_size: usize,
    buffer: Vec<u8>,
    /// Byte offset and line number reached per split; `DONE` offset: done.
    positions: BTreeMap<String, Position>,
    restored: BTreeMap<String, Position>,
    /// The file, offset and line number where the last split read ended, so
    /// the next split of the same file need not count its lines again.
    last_end: Option<(PathBuf, Position)>,
    skipped: Option<SkippedLines>,
}

/// The split being read.
struct Reading {
    name: Arc<str>,
    key: String,
    reader: BufReader<eddy_fs::Reader>,
    /// The last line read and the byte offset after it.
    line: u64,
    offset: u64,
    end: u64,
}

/// The UTF-8 byte order mark, dropped from the start of a file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

impl TextFileSource {
    /// A source over `path` (a file or a directory).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        TextFileSource {
            path: path.into(),
            split_size: None,
            splits: Vec::new(),
            current: None,
            next_split: 0,
            batch_size: 1024,
            buffer: Vec::new(),
            positions: BTreeMap::new(),
            restored: BTreeMap::new(),
            last_end: None,
            skipped: None,
        }
    }

    /// The files under `path`, as every subtask sees them (see
    /// [`list_files`](super::list_files)).
    pub fn list_files(path: &Path) -> Result<Vec<PathBuf>> {
        super::list_files(path)
    }

    /// Skips lines that are not UTF-8, counting them in `skipped`, instead of
    /// failing the job.
    pub fn with_skipped_lines(mut self, skipped: SkippedLines) -> Self {
        self.skipped = Some(skipped);
        self
    }

    /// Cuts files into splits of `bytes` bytes, whatever the job's
    /// `source.file.split-size` (default [`DEFAULT_SPLIT_SIZE`](super::splits::DEFAULT_SPLIT_SIZE)).
    pub fn with_split_size(mut self, bytes: u64) -> Self {
        self.split_size = Some(bytes.max(1));
        self
    }

    /// Opens split `split` where its reading stands: at its restored
    /// position, or at its first line. `None` when it is done.
    fn open_split(&mut self, split: &Split) -> Result<Option<Reading>> {
        let path = &split.path;
        let saved = self.positions.get(&split.key).copied();
        if saved.is_some_and(|(offset, _)| offset == DONE) {
            return Ok(None);
        }
        let mut file = eddy_fs::open(path).map_err(|e| Error::io(path, e))?;
        let (offset, line) = match saved {
            Some(position) => position,
            None if split.start == 0 => (0, 0),
            None => {
                // The first line that starts in the split: past the line
                // ending at or after the byte before it.
                file.seek(SeekFrom::Start(split.start - 1))
                    .map_err(|e| Error::io(path, e))?;
                let mut reader = BufReader::with_capacity(1 << 16, &mut file);
                self.buffer.clear();
                let read = reader
                    .read_until(b'\n', &mut self.buffer)
                    .map_err(|e| Error::io(path, e))?;
                let offset = split.start - 1 + read as u64;
                (offset, self.lines_before(path, offset)?)
            }
        };
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io(path, e))?;
        Ok(Some(Reading {
            name: Arc::from(path.to_string_lossy().as_ref()),
            key: split.key.clone(),
            reader: BufReader::with_capacity(1 << 16, file),
            line,
            offset,
            end: split.end,
        }))
    }

    /// The number of lines of `path` that end before byte `offset` (a line
    /// start), counted from where the last split of the same file ended.
    fn lines_before(&self, path: &Path, offset: u64) -> Result<u64> {
        let (from, mut lines) = match &self.last_end {
            Some((p, (end, line))) if p == path && *end <= offset => (*end, *line),
            _ => (0, 0),
        };
        let mut file = eddy_fs::open(path).map_err(|e| Error::io(path, e))?;
        file.seek(SeekFrom::Start(from))
            .map_err(|e| Error::io(path, e))?;
        let mut rest = std::io::Read::take(file, offset - from);
        let mut chunk = vec![0u8; 1 << 20];
        loop {
            let n = std::io::Read::read(&mut rest, &mut chunk).map_err(|e| Error::io(path, e))?;
            if n == 0 {
                break;
            }
            lines += memchr::memchr_iter(b'\n', &chunk[..n]).count() as u64;
        }
        Ok(lines)
    }

    fn read_batch(&mut self) -> Result<Option<Vec<StreamRecord<TextLine>>>> {
        let mut batch = Vec::with_capacity(self.batch_size);
        while batch.len() < self.batch_size {
            if self.current.is_none() {
                let Some(split) = self.splits.get(self.next_split).cloned() else {
                    break;
                };
                self.next_split += 1;
                self.current = self.open_split(&split)?;
                if self.current.is_none() {
                    continue;
                }
            }
            let Some(reading) = self.current.as_mut() else {
                break;
            };
            self.buffer.clear();
            let read = if reading.offset >= reading.end {
                0
            } else {
                reading
                    .reader
                    .read_until(b'\n', &mut self.buffer)
                    .map_err(|e| Error::io(reading.name.as_ref(), e))?
            };
            if read == 0 {
                self.positions
                    .insert(reading.key.clone(), (DONE, reading.line));
                let path = PathBuf::from(reading.name.as_ref());
                self.last_end = Some((path, (reading.offset, reading.line)));
                self.current = None;
                continue;
            }
            reading.line += 1;
            reading.offset += read as u64;
            let line_number = reading.line;
            let mut end = self.buffer.len();
            if self.buffer[..end].ends_with(b"\n") {
                end -= 1;
            }
            if self.buffer[..end].ends_with(b"\r") {
                end -= 1;
            }
            let start = if line_number == 1 && self.buffer.starts_with(BOM) {
                BOM.len().min(end)
            } else {
                0
            };
            let text = match std::str::from_utf8(&self.buffer[start..end]) {
                Ok(text) => text,
                Err(e) => {
                    let location = format!("{}:{line_number}", reading.name);
                    let message = format!("not valid UTF-8 ({e})");
                    match &self.skipped {
                        Some(skipped) => {
                            skipped.skip(&location, &message);
                            continue;
                        }
                        None => return Err(Error::MalformedRecord { location, message }),
                    }
                }
            };
            batch.push(StreamRecord::new(TextLine {
                path: reading.name.clone(),
                line_number,
                text: text.to_string(),
            }));
        }
        // Positions are taken between batches: the split being read is
        // where this batch ends.
        if let Some(reading) = &self.current {
            self.positions
                .insert(reading.key.clone(), (reading.offset, reading.line));
        }
        Ok((!batch.is_empty()).then_some(batch))
    }
}

impl SourceReader for TextFileSource {
    type Out = Records<TextLine>;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let mut files = Vec::new();
        for file in Self::list_files(&self.path)? {
            let size = eddy_fs::len(&file).map_err(|e| Error::io(&file, e))?;
            files.push((file, size));
        }
        let split_size = match self.split_size {
            Some(bytes) => bytes,
            None => ctx.config.get(&options::FILE_SPLIT_SIZE)?,
        };
        let all = splits::plan(&files, split_size);
        self.splits = splits::assigned(all, ctx.subtask, ctx.parallelism);
        for split in &self.splits {
            if let Some(position) = splits::restored_position(split, &self.restored) {
                self.positions.insert(split.key.clone(), position);
            }
        }
        self.batch_size = super::batch_size(ctx);
        if let Some(skipped) = &self.skipped {
            skipped.open(ctx);
        }
        Ok(())
    }

    fn snapshot_position(&mut self) -> Result<Vec<u8>> {
        let positions: Vec<(&String, &(u64, u64))> = self.positions.iter().collect();
        postcard::to_stdvec(&positions).map_err(Error::state)
    }

    fn restore_positions(&mut self, positions: Vec<Vec<u8>>) -> Result<()> {
        for bytes in positions.iter().filter(|b| !b.is_empty()) {
            let entries: Vec<(String, (u64, u64))> = postcard::from_bytes(bytes).map_err(|e| {
                Error::state(format!("file source position cannot be decoded: {e}"))
            })?;
            self.restored.extend(entries);
        }
        Ok(())
    }

    fn poll_next(&mut self, _: &mut Context<'_>) -> Poll<Result<SourceEvent<Records<TextLine>>>> {
        Poll::Ready(match self.read_batch() {
            Ok(Some(batch)) => Ok(SourceEvent::Batch(batch)),
            Ok(None) => {
                if let Some(skipped) = &self.skipped {
                    skipped.report();
                }
                Ok(SourceEvent::End)
            }
            Err(e) => Err(e),
        })
    }
}
