//! Sinks for tests and benchmarks: collect into memory, or discard.

use std::sync::{Arc, Mutex};

use eddy_core::{Records, Result};
use eddy_runtime::operators::SinkWriter;

/// Appends every value to a shared vector (all subtasks into one), for tests.
pub struct CollectSink<T> {
    values: Arc<Mutex<Vec<T>>>,
}

impl<T> CollectSink<T> {
    /// A sink appending to `values`.
    pub fn new(values: Arc<Mutex<Vec<T>>>) -> Self {
        CollectSink { values }
    }
}

impl<T: Send + 'static> SinkWriter<T> for CollectSink<T> {
    fn write_batch(&mut self, records: Records<T>) -> Result<()> {
        let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        values.extend(records.into_iter().map(|r| r.value));
        Ok(())
    }
}

/// Drops every record (Flink's `blackhole`/`DiscardingSink`).
#[derive(Clone, Copy, Debug, Default)]
pub struct DiscardSink;

impl<T: Send + 'static> SinkWriter<T> for DiscardSink {
    fn write_batch(&mut self, records: Records<T>) -> Result<()> {
        drop(records);
        Ok(())
    }
}
