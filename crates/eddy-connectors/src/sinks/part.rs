//! How a [`FileSink`](super::FileSink) writes records into one part file:
//! lines of text ([`LineParts`]), or a bulk format of a higher crate (Parquet)
//! that writes its footer when the file is finished.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::Arc;

use eddy_core::Records;

/// Writes records into one part file.
pub trait PartWriter<T>: Send {
    /// Writes `records`; returns how many bytes the file grew by (an estimate
    /// for a bulk format that buffers), for the rolling policy.
    fn write(&mut self, records: &Records<T>) -> std::io::Result<u64>;

    /// Finishes the file (a bulk format writes its footer) and returns it with
    /// everything written to it.
    fn finish(self: Box<Self>) -> std::io::Result<File>;
}

/// Opens a [`PartWriter`] over a new part file.
pub type PartFormat<T> = Arc<dyn Fn(File) -> std::io::Result<Box<dyn PartWriter<T>>> + Send + Sync>;

/// Each record as one line: `format(record)`, or the record itself when it
/// is its own text.
pub struct LineParts<T> {
    writer: BufWriter<File>,
    format: Arc<dyn Fn(&T) -> String + Send + Sync>,
    as_text: Option<fn(&T) -> &str>,
    line: String,
}

impl<T: Send + 'static> LineParts<T> {
    /// Lines of `format(record)`.
    pub fn format(format: Arc<dyn Fn(&T) -> String + Send + Sync>) -> PartFormat<T> {
        Self::of(format, None)
    }

    fn of(
        format: Arc<dyn Fn(&T) -> String + Send + Sync>,
        as_text: Option<fn(&T) -> &str>,
    ) -> PartFormat<T> {
        Arc::new(move |file| {
            Ok(Box::new(LineParts {
                writer: BufWriter::with_capacity(1 << 16, file),
                format: format.clone(),
                as_text,
                line: String::new(),
            }) as Box<dyn PartWriter<T>>)
        })
    }
}

impl LineParts<String> {
    /// Each record as it is (a record may hold several lines).
    pub fn text() -> PartFormat<String> {
        Self::of(Arc::new(String::clone), Some(String::as_str))
    }
}

impl<T: Send> PartWriter<T> for LineParts<T> {
    fn write(&mut self, records: &Records<T>) -> std::io::Result<u64> {
        let mut bytes = 0;
        for record in records {
            let text = match self.as_text {
                Some(as_text) => as_text(&record.value),
                None => {
                    self.line.clear();
                    self.line.push_str(&(self.format)(&record.value));
                    &self.line
                }
            };
            self.writer.write_all(text.as_bytes())?;
            self.writer.write_all(b"\n")?;
            bytes += text.len() as u64 + 1;
        }
        Ok(bytes)
    }

    fn finish(self: Box<Self>) -> std::io::Result<File> {
        self.writer.into_inner().map_err(|e| e.into_error())
    }
}
