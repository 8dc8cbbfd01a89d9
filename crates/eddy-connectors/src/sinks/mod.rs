//! Sinks.

mod collect;
mod file;
mod part;
mod print;

pub use collect::{CollectSink, DiscardSink};
pub use file::FileSink;
pub use part::{LineParts, PartFormat, PartWriter};
pub use print::PrintSink;
