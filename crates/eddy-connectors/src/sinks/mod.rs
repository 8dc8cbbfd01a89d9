//! Sinks.

mod collect;
mod file;
mod print;

pub use collect::{CollectSink, DiscardSink};
pub use file::FileSink;
pub use print::PrintSink;
