//! A bounded source reading text files line by line.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::{Context, Poll};

use eddy_core::{Error, Records, Result, StreamRecord};
use eddy_runtime::{OperatorContext, SourceEvent, SourceReader};

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

/// Reads a file, or every file of a directory (sorted by name, skipping names that
/// start with `.` or `_`), line by line. With `p` subtasks, subtask `i` reads the
/// files whose index is `i` modulo `p`. A missing path or an unreadable file fails
/// the job with an error naming the path; a line that is not UTF-8 fails it naming
/// the file and line.
///
/// Its checkpointed position is the byte offset and line number reached in every
/// file, so a restore (at any parallelism) continues each file exactly where it
/// stopped.
pub struct TextFileSource {
    path: PathBuf,
    files: Vec<PathBuf>,
    current: Option<(Arc<str>, BufReader<File>, u64)>,
    next_file: usize,
    batch_size: usize,
    buffer: Vec<u8>,
    /// Byte offset and line number reached per file; `u64::MAX` offset: done.
    positions: BTreeMap<String, (u64, u64)>,
    restored: BTreeMap<String, (u64, u64)>,
}

const DONE: u64 = u64::MAX;

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
        }
    }

    /// The files under `path`, as every subtask sees them.
    pub fn list_files(path: &Path) -> Result<Vec<PathBuf>> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_file() {
            return Ok(vec![path.to_path_buf()]);
        }
        let mut files = Vec::new();
        for entry in std::fs::read_dir(path).map_err(|e| Error::io(path, e))? {
            let entry = entry.map_err(|e| Error::io(path, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            let file_type = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
            if file_type.is_file() {
                files.push(entry.path());
            }
        }
        files.sort();
        Ok(files)
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
                self.current = Some((name, BufReader::with_capacity(1 << 16, file), line));
            }
            let Some((name, reader, line_number)) = self.current.as_mut() else {
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
            let position = self.positions.entry(name.to_string()).or_insert((0, 0));
            *position = (position.0 + read as u64, *line_number);
            let mut end = self.buffer.len();
            if self.buffer[..end].ends_with(b"\n") {
                end -= 1;
            }
            if self.buffer[..end].ends_with(b"\r") {
                end -= 1;
            }
            let text =
                std::str::from_utf8(&self.buffer[..end]).map_err(|e| Error::MalformedRecord {
                    location: format!("{name}:{line_number}"),
                    message: format!("not valid UTF-8 ({e})"),
                })?;
            batch.push(StreamRecord::new(TextLine {
                path: name.clone(),
                line_number: *line_number,
                text: text.to_string(),
            }));
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
            Ok(None) => Ok(SourceEvent::End),
            Err(e) => Err(e),
        })
    }
}
