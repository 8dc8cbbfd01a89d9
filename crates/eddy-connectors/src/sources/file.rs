//! A bounded source reading text files line by line.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::{Context, Poll};

use eddy_core::{Error, Records, Result, StreamRecord};
use eddy_runtime::{OperatorContext, SourceEvent, SourceReader};

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
/// line by line. With `p` subtasks, subtask `i` reads the files whose index is
/// `i` modulo `p`. A missing path or an unreadable file fails the job with an
/// error naming the path; a line that is not UTF-8 fails it naming the file and
/// line (or, [`with_skipped_lines`](TextFileSource::with_skipped_lines), is
/// skipped and counted). A UTF-8 byte order mark at the start of a file is
/// not part of its first line.
///
/// Its checkpointed position is the byte offset and line number reached in every
/// file, so a restore (at any parallelism) continues each file exactly where it
/// stopped.
pub struct TextFileSource {
    path: PathBuf,
    files: Vec<PathBuf>,
    /// The file being read: its name, reader, last line read and the byte
    /// offset after it.
    current: Option<(Arc<str>, BufReader<File>, u64, u64)>,
    next_file: usize,
    batch_size: usize,
    buffer: Vec<u8>,
    /// Byte offset and line number reached per file; `u64::MAX` offset: done.
    positions: BTreeMap<String, (u64, u64)>,
    restored: BTreeMap<String, (u64, u64)>,
    skipped: Option<SkippedLines>,
}

const DONE: u64 = u64::MAX;

/// The UTF-8 byte order mark, dropped from the start of a file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

impl TextFileSource {
    /// A source over `path` (a file or a directory).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        TextFileSource {
            path: path.into(),
            files: Vec::new(),
            current: None,
            next_file: 0,
            batch_size: 1024,
            buffer: Vec::new(),
            positions: BTreeMap::new(),
            restored: BTreeMap::new(),
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

    fn read_batch(&mut self) -> Result<Option<Vec<StreamRecord<TextLine>>>> {
        let mut batch = Vec::with_capacity(self.batch_size);
        while batch.len() < self.batch_size {
            if self.current.is_none() {
                let Some(path) = self.files.get(self.next_file) else {
                    break;
                };
                self.next_file += 1;
                let key = path.to_string_lossy().to_string();
                let (offset, line) = self.positions.get(&key).copied().unwrap_or((0, 0));
                if offset == DONE {
                    continue;
                }
                let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
                if offset > 0 {
                    file.seek(SeekFrom::Start(offset))
                        .map_err(|e| Error::io(path, e))?;
                }
                let name: Arc<str> = Arc::from(key.as_str());
                self.current = Some((name, BufReader::with_capacity(1 << 16, file), line, offset));
            }
            let Some((name, reader, line_number, offset)) = self.current.as_mut() else {
                break;
            };
            self.buffer.clear();
            let read = reader
                .read_until(b'\n', &mut self.buffer)
                .map_err(|e| Error::io(name.as_ref(), e))?;
            if read == 0 {
                self.positions
                    .insert(name.to_string(), (DONE, *line_number));
                self.current = None;
                continue;
            }
            *line_number += 1;
            *offset += read as u64;
            let mut end = self.buffer.len();
            if self.buffer[..end].ends_with(b"\n") {
                end -= 1;
            }
            if self.buffer[..end].ends_with(b"\r") {
                end -= 1;
            }
            let start = if *line_number == 1 && self.buffer.starts_with(BOM) {
                BOM.len().min(end)
            } else {
                0
            };
            let text = match std::str::from_utf8(&self.buffer[start..end]) {
                Ok(text) => text,
                Err(e) => {
                    let location = format!("{name}:{line_number}");
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
                path: name.clone(),
                line_number: *line_number,
                text: text.to_string(),
            }));
        }
        // Positions are taken between batches: the file being read is
        // where this batch ends.
        if let Some((name, _, line_number, offset)) = &self.current {
            self.positions
                .insert(name.to_string(), (*offset, *line_number));
        }
        Ok((!batch.is_empty()).then_some(batch))
    }
}

impl SourceReader for TextFileSource {
    type Out = Records<TextLine>;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let all = Self::list_files(&self.path)?;
        self.files = all
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % ctx.parallelism.max(1) == ctx.subtask)
            .map(|(_, f)| f)
            .collect();
        for file in &self.files {
            let key = file.to_string_lossy().to_string();
            if let Some(position) = self.restored.get(&key) {
                self.positions.insert(key, *position);
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
