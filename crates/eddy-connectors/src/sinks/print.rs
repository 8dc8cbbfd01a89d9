//! Printing to standard output.

use std::io::Write;
use std::sync::Arc;

use eddy_core::{Error, Records, Result};
use eddy_runtime::operators::SinkWriter;
use eddy_runtime::OperatorContext;

/// Prints every record on its own line; with parallelism above 1 each line starts
/// with `subtask> ` (1-based), as Flink's `print()` does.
pub struct PrintSink<T> {
    format: Arc<dyn Fn(&T) -> String + Send + Sync>,
    prefix: String,
}

impl<T> PrintSink<T> {
    /// A print sink formatting records with `format`.
    pub fn new(format: Arc<dyn Fn(&T) -> String + Send + Sync>) -> Self {
        PrintSink {
            format,
            prefix: String::new(),
        }
    }
}

impl<T: Send + 'static> SinkWriter<T> for PrintSink<T> {
    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        if ctx.parallelism > 1 {
            self.prefix = format!("{}> ", ctx.subtask + 1);
        }
        Ok(())
    }

    fn write_batch(&mut self, records: Records<T>) -> Result<()> {
        let mut text = String::new();
        for record in &records {
            text.push_str(&self.prefix);
            text.push_str(&(self.format)(&record.value));
            text.push('\n');
        }
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        match lock.write_all(text.as_bytes()) {
            Ok(()) => Ok(()),
            // A closed pipe (e.g. `| head`) is not the job's failure.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            Err(e) => Err(Error::io("<stdout>", e)),
        }
    }
}
